#!/usr/bin/env python3
"""Two datacenters on loopback, one persistent server each (`-server -bootstrap -data-dir`,
Consul's WAN timings), joined over the WAN:

1. a KV read answered locally against the same read sent to the other datacenter with
   `?dc=` (forwarded over the server RPC): sequential latency (REQS requests, one at a
   time) and throughput (`wrk`, 16 connections, WRK_S seconds);
2. a prepared query's execute answered locally against the same query falling over to
   the other datacenter (REQS requests each), and the time from marking the last local
   instance critical to the first execute that answers from the other datacenter;
3. WAN failure detection: the other datacenter's server is killed (`kill -9`) and the
   time until `?dc=` answers `Remote DC has no server currently reachable` is taken
   (FAIL_SAMPLES samples; each restarts the server first).

Usage: scripts/bench.sh wan   (or python3 scripts/bench/wan.py)
Env: REQS [2000]  WRK_S [5]  FAIL_SAMPLES [2]  OUT [target/bench/wan.md]
     DISCO_BIN [target/release/disco]
Every process started is killed at exit (process groups); traffic stays on 127.0.0.1.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, http_call, kill_group, report, until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
REQS = int(os.environ.get("REQS", "2000"))
WRK_S = int(os.environ.get("WRK_S", "5"))
FAIL_SAMPLES = int(os.environ.get("FAIL_SAMPLES", "2"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/wan.md"))


class Server:
    """One datacenter's server."""

    def __init__(self, work, dc):
        self.dc = dc
        self.dir = os.path.join(work, dc)
        os.makedirs(self.dir, exist_ok=True)
        self.http, self.wan = free_port(), free_port()
        self.args = [BIN, "agent", "-server", "-bootstrap", "-node", f"{dc}-s1", "-datacenter", dc,
                     "-bind", "127.0.0.1", "-client", "127.0.0.1", "-http-port", str(self.http),
                     "-dns-port", "-1", "-serf-lan-port", str(free_port()), "-serf-wan-port",
                     str(self.wan), "-server-port", str(free_port()), "-data-dir",
                     os.path.join(self.dir, "data"), "-log-level", "warn"]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=open(os.path.join(self.dir, "agent.log"), "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        until(f"{self.dc} to lead", lambda: json.loads(self.get("/v1/status/leader")), deadline=60)

    def stop(self):
        if self.proc:
            kill_group(self.proc)
            self.proc = None

    def get(self, path):
        return http_call(self.http, "GET", path)

    def put(self, path, body=b""):
        return http_call(self.http, "PUT", path, body)


def timed(f, n):
    """Latencies of n sequential calls of f, in ms."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def wrk(url):
    """Requests per second and p50/p99 latency (ms) of wrk at 16 connections."""
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{WRK_S}s", "--latency", url],
                         capture_output=True, text=True, timeout=WRK_S + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return rps, lat(50), lat(99)


def register_web(s, node, addr, status):
    body = json.dumps({"Node": node, "Address": addr,
                       "Service": {"ID": "web", "Service": "web", "Port": 80},
                       "Checks": [{"CheckID": "web-alive", "Name": "web", "Status": status,
                                   "ServiceID": "web"}]}).encode()
    s.put("/v1/catalog/register", body)


def main():
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="disco-bench-wan-")
    dc1, dc2 = Server(work, "dc1"), Server(work, "dc2")
    try:
        dc1.start()
        dc2.start()
        dc2.put(f"/v1/agent/join/127.0.0.1:{dc1.wan}?wan=1")
        until("dc1 to know dc2", lambda: b"dc2" in dc1.get("/v1/catalog/datacenters"), deadline=60)
        dc1.put("/v1/kv/bench/key", b"v" * 100)
        dc2.put("/v1/kv/bench/key", b"v" * 100)
        dc1.get("/v1/kv/bench/key?dc=dc2")  # the RPC connection, made once
        local = timed(lambda: dc1.get("/v1/kv/bench/key"), REQS)
        cross = timed(lambda: dc1.get("/v1/kv/bench/key?dc=dc2"), REQS)
        base = f"http://127.0.0.1:{dc1.http}/v1/kv/bench/key"
        w_local = wrk(base)
        w_cross = wrk(base + "?dc=dc2")

        register_web(dc1, "n1", "10.1.0.1", "passing")
        register_web(dc2, "m1", "10.2.0.1", "passing")
        q = json.dumps({"Name": "web", "Service": {"Service": "web", "OnlyPassing": True,
                                                    "Failover": {"NearestN": 1}}}).encode()
        http_call(dc1.http, "POST", "/v1/query", q)
        n = max(50, REQS // 10)
        ex_local = timed(lambda: dc1.get("/v1/query/web/execute"), n)
        switch = []
        for _ in range(5):
            register_web(dc1, "n1", "10.1.0.1", "critical")
            t = time.perf_counter()
            until("failover", lambda: json.loads(dc1.get("/v1/query/web/execute"))["Datacenter"] == "dc2",
                  deadline=30, step=0.001)
            switch.append((time.perf_counter() - t) * 1000)
            register_web(dc1, "n1", "10.1.0.1", "passing")
        register_web(dc1, "n1", "10.1.0.1", "critical")
        ex_failover = timed(lambda: dc1.get("/v1/query/web/execute"), n)

        detect = []
        for _ in range(FAIL_SAMPLES):
            if dc2.proc is None:
                dc2.start()
            until("dc2 alive in the WAN pool", lambda: any(
                m["Name"] == "dc2-s1.dc2" and m["Status"] == 1
                for m in json.loads(dc1.get("/v1/agent/members?wan=1"))), deadline=120)
            dc1.get("/v1/kv/bench/key?dc=dc2")
            dc2.stop()
            t = time.monotonic()

            def unreachable():
                try:
                    dc1.get("/v1/kv/bench/key?dc=dc2")
                except urllib.error.HTTPError as e:
                    return b"no server currently reachable" in e.read()
                return False
            until("dc2 seen failed", unreachable, deadline=180, step=0.1)
            detect.append(time.monotonic() - t)
    finally:
        dc1.stop()
        dc2.stop()
        shutil.rmtree(work, ignore_errors=True)

    def row(name, xs):
        return f"| {name} | {statistics.median(xs):.2f} | {pct(xs, 0.99):.2f} |"
    text = "\n".join([
        "# Two datacenters over the WAN (loopback, one server each)",
        "",
        f"Sequential requests ({REQS} each for KV, {n} for queries), ms:",
        "",
        "| request | p50 | p99 |",
        "|---|---:|---:|",
        row("KV read, local", local),
        row("KV read, `?dc=` other datacenter", cross),
        row("prepared query execute, local instances", ex_local),
        row("prepared query execute, failed over", ex_failover),
        "",
        f"wrk, 16 connections, {WRK_S} s:",
        "",
        "| request | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| KV read, local | {w_local[0]:.0f} | {w_local[1]:.2f} | {w_local[2]:.2f} |",
        f"| KV read, `?dc=` other datacenter | {w_cross[0]:.0f} | {w_cross[1]:.2f} | {w_cross[2]:.2f} |",
        "",
        "Failover: from the write that makes the last local instance critical returning to the "
        "first execute answering from the other datacenter (polled every ms), ms: "
        + ", ".join(f"{x:.1f}" for x in switch),
        "",
        "WAN failure detection (Consul's WAN timings): from `kill -9` of the other datacenter's "
        "server to `Remote DC has no server currently reachable`, s: "
        + ", ".join(f"{x:.1f}" for x in detect),
        "",
    ])
    report(OUT, text)


if __name__ == "__main__":
    main()
