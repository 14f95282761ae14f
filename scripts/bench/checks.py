#!/usr/bin/env python3
"""Health-check load on one client agent: SERVICES services with an HTTP check each (against
nginx on loopback, INTERVAL apart) and TTL_CHECKS TTL checks updated TTL_RATE times a second
each (wrk with scripts/bench/ttl.lua; every update carries a new note, so output-only changes
are rate-limited by check_update_interval). The agent forwards to one server (fsyncing).

Measured over STEADY_S seconds of steady state:
  * CPU of the client agent (% of one core) and its VmRSS,
  * catalog writes that reach the server (Raft entries per second, and check statuses pushed),
  * how late checks start (p50/p99/max schedule lag, from the agent's own histogram),
  * the TTL update rate actually achieved, and its latency.
Every process runs in its own process group and is killed at exit; traffic stays on 127.0.0.1.

Usage: scripts/bench.sh checks   (or python3 scripts/bench/checks.py)
Env: SERVICES [1000]  TTL_CHECKS [1000]  TTL_RATE [10]  INTERVAL [1s]  STEADY_S [30]
     DISCO_BIN [target/release/disco]  OUT [target/bench/checks.md]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import cpu_seconds, free_port, kill_group, report, rss_mib, until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SERVICES = int(os.environ.get("SERVICES", "1000"))
TTL_CHECKS = int(os.environ.get("TTL_CHECKS", "1000"))
TTL_RATE = float(os.environ.get("TTL_RATE", "10"))
INTERVAL = os.environ.get("INTERVAL", "1s")
STEADY_S = float(os.environ.get("STEADY_S", "30"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/checks.md"))
TTL_LUA = os.path.join(ROOT, "scripts/bench/ttl.lua")


def log(*a):
    print("[checks]", *a, file=sys.stderr, flush=True)


def call(port, method, path, body=None, timeout=10):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def gauges(port):
    m = call(port, "GET", "/v1/agent/metrics")
    out = {g["Name"]: g["Value"] for g in m.get("Gauges", [])}
    out.update({c["Name"]: c["Count"] for c in m.get("Counters", [])})
    return out


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, log_path, **kw):
        f = open(log_path, "wb")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            kill_group(p)


def agent_args(work, name, http, serf, extra):
    return [BIN, "agent", "-node", name, "-bind", "127.0.0.1", "-client", "127.0.0.1",
            "-http-port", str(http), "-dns-port", "-1", "-serf-wan-port", "-1",
            "-serf-lan-port", str(serf), "-data-dir", os.path.join(work, name),
            "-log-level", "warn"] + extra


def main():
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} not installed (apt-get install wrk nginx-light)")
    work = tempfile.mkdtemp(prefix="disco-checks-bench-")
    procs = Procs()
    try:
        # nginx: the backend every HTTP check probes.
        nginx_port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off; worker_processes 1; pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {work}/body;
  server {{ listen 127.0.0.1:{nginx_port}; location / {{ return 200 "ok\\n"; }} }} }}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        procs.start([nginx, "-c", conf, "-p", work], os.path.join(work, "nginx.log"))

        s_http, s_serf = free_port(), free_port()
        procs.start(agent_args(work, "srv", s_http, s_serf,
                               ["-server", "-bootstrap", "-server-port", str(free_port())]),
                    os.path.join(work, "srv.log"))
        until("server leader", lambda: call(s_http, "GET", "/v1/status/leader"))
        c_http, c_serf = free_port(), free_port()
        client = procs.start(agent_args(work, "cli", c_http, c_serf,
                                        ["-join", f"127.0.0.1:{s_serf}", "-server-port", str(free_port())]),
                             os.path.join(work, "cli.log"))
        until("client ready", lambda: call(c_http, "GET", "/v1/catalog/nodes"))
        log(f"registering {SERVICES} HTTP-checked services and {TTL_CHECKS} TTL checks")
        t0 = time.monotonic()
        for i in range(SERVICES):
            body = {"ID": f"web-{i}", "Name": "web", "Port": 10000 + i,
                    "Check": {"HTTP": f"http://127.0.0.1:{nginx_port}/health/{i}", "Interval": INTERVAL}}
            call(c_http, "PUT", "/v1/agent/service/register", json.dumps(body).encode())
        for i in range(TTL_CHECKS):
            body = {"ID": f"job-{i}", "Name": "job", "Port": 20000 + i,
                    "Check": {"CheckID": f"ttl-{i}", "TTL": "60s", "Status": "passing"}}
            call(c_http, "PUT", "/v1/agent/service/register", json.dumps(body).encode())
        reg_s = time.monotonic() - t0
        log(f"registered in {reg_s:.1f}s; waiting for every HTTP check to pass")

        def all_passing():
            checks = call(c_http, "GET", "/v1/agent/checks")
            return sum(1 for c in checks.values() if c["Status"] == "passing") >= SERVICES + TTL_CHECKS
        until("checks passing", all_passing, deadline=120)

        # Steady state, with the TTL updates running.
        conns = 16
        delay_ms = conns * 1000.0 / (TTL_CHECKS * TTL_RATE) if TTL_RATE > 0 else 0.0
        env = dict(os.environ, TTL_CHECKS=str(TTL_CHECKS), DELAY_MS=f"{delay_ms:.3f}")
        wrk = None if TTL_RATE <= 0 else subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{int(STEADY_S) + 4}s", "--latency",
                                "-s", TTL_LUA, f"http://127.0.0.1:{c_http}"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
        time.sleep(2)
        g0, cpu0, t0 = gauges(c_http), cpu_seconds(client.pid), time.monotonic()
        idx0 = int(call(s_http, "GET", "/v1/agent/self")["Stats"]["raft"]["applied_index"])
        rss_peak = 0.0
        while time.monotonic() - t0 < STEADY_S:
            time.sleep(1)
            rss_peak = max(rss_peak, rss_mib(client.pid))
        g1, cpu1, t1 = gauges(c_http), cpu_seconds(client.pid), time.monotonic()
        idx1 = int(call(s_http, "GET", "/v1/agent/self")["Stats"]["raft"]["applied_index"])
        out = wrk.communicate(timeout=60)[0] if wrk else ""

        dt = t1 - t0
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        ttl_rps = float(m.group(1)) if m else 0.0
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        ttl_p99 = (float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]) if p99 else 0.0
        pushed = g1.get("consul.agent.check.updates_pushed", 0) - g0.get("consul.agent.check.updates_pushed", 0)
        runs = g1.get("consul.agent.checks.runs", 0) - g0.get("consul.agent.checks.runs", 0)
        rows = [
            ("services with an HTTP check", f"{SERVICES} (interval {INTERVAL}, nginx on loopback)"),
            ("TTL checks", f"{TTL_CHECKS}, target {TTL_RATE:g} updates/s each"),
            ("registration of all of them (sequential HTTP calls)", f"{reg_s:.1f} s"),
            ("HTTP check runs per second", f"{runs / dt:,.0f}"),
            ("TTL updates per second achieved (wrk, 16 conns)", f"{ttl_rps:,.0f}"),
            ("TTL update latency p99", f"{ttl_p99:.2f} ms"),
            ("client agent CPU", f"{100 * (cpu1 - cpu0) / dt:.1f} % of one core"),
            ("client agent RSS (peak)", f"{rss_peak:.1f} MiB"),
            ("Raft entries applied per second on the server", f"{(idx1 - idx0) / dt:.2f}"),
            ("check statuses pushed per second", f"{pushed / dt:.2f}"),
            ("schedule lag p50 / p99 / max", "{:.2f} / {:.2f} / {:.1f} ms".format(
                g1.get("consul.agent.checks.schedule_lag_p50_ms", 0),
                g1.get("consul.agent.checks.schedule_lag_p99_ms", 0),
                g1.get("consul.agent.checks.schedule_lag_max_ms", 0))),
        ]
        text = "| measure | value |\n|---|---:|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)
        report(OUT, text)
    finally:
        procs.stop()
        if os.environ.get("KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work dir kept: {work}")


if __name__ == "__main__":
    main()
