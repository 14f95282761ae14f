#!/usr/bin/env python3
"""Idle footprint: what an agent costs while nothing happens.

Starts one server (`-server -bootstrap`, a data dir), one client agent joined to it (a data
dir, one service with a 10 s TTL check passed every 5 s by this script, as an idle node
running a service looks), and one `-dev` agent, all on 127.0.0.1. After IDLE_SETTLE_S it
samples each process's CPU time (utime + stime from /proc) and VmRSS over IDLE_SECONDS.

Output: OUT [target/bench/idle.md] (markdown for docs/benchmarks.md), printed too.
Env: DISCO_BIN [target/release/disco]  IDLE_SETTLE_S [10]  IDLE_SECONDS [60]
Every process started is killed (its process group) on exit.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import cpu_seconds, free_port, http_call, kill_group, report, rss_mib, single_server, until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SETTLE = float(os.environ.get("IDLE_SETTLE_S", "10"))
SECONDS = float(os.environ.get("IDLE_SECONDS", "60"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/idle.md"))


def agent(work, name, args):
    http = free_port()
    log = open(os.path.join(work, f"{name}.log"), "wb")
    proc = subprocess.Popen([BIN, "agent", "-node", name, "-bind", "127.0.0.1", "-client", "127.0.0.1",
                             "-http-port", str(http), "-dns-port", "-1", "-log-level", "warn"] + args,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, http


def main():
    work = tempfile.mkdtemp(prefix="disco-idle-")
    procs = []
    try:
        s_http, s_serf = free_port(), free_port()
        server = single_server(BIN, work, s_http, serf=s_serf, log_name="server.log")
        procs.append(server)
        client, c_http = agent(work, "client", [
            "-data-dir", os.path.join(work, "client"), "-serf-lan-port", str(free_port()),
            "-serf-wan-port", "-1", "-join", f"127.0.0.1:{s_serf}"])
        procs.append(client)
        dev, d_http = agent(work, "dev", ["-dev", "-serf-lan-port", str(free_port()),
                                          "-serf-wan-port", "-1", "-server-port", str(free_port())])
        procs.append(dev)
        until("client joined", lambda: len(json.loads(http_call(c_http, "GET", "/v1/agent/members"))) == 2)
        until("dev agent leads", lambda: json.loads(http_call(d_http, "GET", "/v1/status/leader")))
        svc = json.dumps({"Name": "web", "ID": "web1", "Port": 80,
                          "Check": {"CheckID": "web1-ttl", "TTL": "10s"}}).encode()
        http_call(c_http, "PUT", "/v1/agent/service/register", svc)
        who = {"server": server, "client": client, "dev (-dev)": dev}
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline:
            http_call(c_http, "PUT", "/v1/agent/check/pass/web1-ttl")
            time.sleep(min(5, max(0.0, deadline - time.monotonic())))
        cpu0 = {n: cpu_seconds(p.pid) for n, p in who.items()}
        t0 = time.monotonic()
        peak = {n: 0.0 for n in who}
        while time.monotonic() - t0 < SECONDS:
            http_call(c_http, "PUT", "/v1/agent/check/pass/web1-ttl")
            for n, p in who.items():
                peak[n] = max(peak[n], rss_mib(p.pid))
            time.sleep(min(5, max(0.0, SECONDS - (time.monotonic() - t0))))
        elapsed = time.monotonic() - t0
        rows = ["| agent | CPU over %.0f s idle (%% of one core) | VmRSS at the end (MiB) | highest sampled VmRSS (MiB) |" % elapsed,
                "|---|---:|---:|---:|"]
        for n, p in who.items():
            cpu = (cpu_seconds(p.pid) - cpu0[n]) / elapsed * 100
            rows.append(f"| {n} | {cpu:.2f} | {rss_mib(p.pid):.1f} | {peak[n]:.1f} |")
        report(OUT, "\n".join(rows) + "\n")
    finally:
        for p in procs:
            kill_group(p)


if __name__ == "__main__":
    main()
