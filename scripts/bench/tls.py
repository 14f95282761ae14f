#!/usr/bin/env python3
"""What TLS costs: HTTPS against HTTP on one disco server, and the server RPC in mutual TLS
against plaintext through a client agent.

1. Per request: one server (`-server -bootstrap -data-dir`) serving HTTP and HTTPS (its
   certificate from `disco tls`); wrk runs KV get and a health read (`?passing`, 10
   instances) at CONNS keep-alive connections for SECONDS_PER_RUN seconds, first over HTTP,
   then over HTTPS (never at once).
2. Per connection: one client opens a new connection, sends one GET and closes, in a loop
   for SECONDS_PER_RUN seconds: connections per second over HTTP and over HTTPS (a full
   TLS 1.3 handshake each time, the CA verified).
3. Through the RPC: a server and a client agent, once plaintext and once with mutual TLS and
   verify_server_hostname on the RPC; wrk reads KV through the client agent (each read
   forwarded over the RPC's one multiplexed connection).

Usage: scripts/bench.sh tls   (or python3 scripts/bench/tls.py)
Env: SECONDS_PER_RUN [10]  CONNS ["16"]  OUT [target/bench/tls.md]  DISCO_BIN
Every process started is killed at exit (process groups); traffic stays on 127.0.0.1.
"""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
from loopback import free_port, kill_group, until  # noqa: E402

SECONDS = int(os.environ.get("SECONDS_PER_RUN", "10"))
CONNS = [int(c) for c in os.environ.get("CONNS", "16").split()]
OUT = os.environ.get("OUT", os.path.join(cluster.ROOT, "target/bench/tls.md"))
READ_KEYS = 1000


def log(*a):
    print("[tls]", *a, file=sys.stderr, flush=True)


def certs(work):
    for args in (["ca", "create"], ["cert", "create", "-server"], ["cert", "create", "-client"]):
        subprocess.run([cluster.BIN, "tls", *args], cwd=work, check=True, capture_output=True)
    return {k: os.path.join(work, f) for k, f in (
        ("ca", "consul-agent-ca.pem"), ("cert", "dc1-server-consul-0.pem"),
        ("key", "dc1-server-consul-0-key.pem"), ("ccert", "dc1-client-consul-0.pem"),
        ("ckey", "dc1-client-consul-0-key.pem"))}


def agent(work, name, conf, server, join=None):
    """Start an agent; returns (process, http port, serf port)."""
    http, serf = free_port(), free_port()
    cfg = os.path.join(work, f"{name}.json")
    with open(cfg, "w") as f:
        json.dump(conf, f)
    args = [cluster.BIN, "agent", "-node", name, "-bind", "127.0.0.1", "-client", "127.0.0.1",
            "-http-port", str(http), "-dns-port", "-1", "-serf-lan-port", str(serf),
            "-serf-wan-port", "-1", "-data-dir", os.path.join(work, f"{name}-data"),
            "-log-level", "warn", "-config-file", cfg]
    if server:
        args += ["-server", "-bootstrap", "-server-port", str(free_port())]
    if join:
        args += ["-join", f"127.0.0.1:{join}"]
    proc = subprocess.Popen(args, stdout=open(os.path.join(work, f"{name}.log"), "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    until(f"{name} answers with a leader",
          lambda: cluster.call(http, "GET", "/v1/kv/none")[0] == 404, deadline=60)
    return proc, http, serf


def seed(http):
    for i in range(READ_KEYS):
        st, _ = cluster.call(http, "PUT", f"/v1/kv/bench/key-{i}", b"v" * 100)
        assert st == 200
    for i in range(1, 11):
        body = json.dumps({"ID": f"web-{i}", "Name": "web", "Port": 8000 + i}).encode()
        assert cluster.call(http, "PUT", "/v1/agent/service/register", body)[0] == 200
    until("10 web instances", lambda: len(json.loads(cluster.call(
        http, "GET", "/v1/health/service/web?passing")[1])) == 10, deadline=30)


def bench(url, test, c, tag):
    r = cluster.wrk(url, "disco", test, c, f"{tag}-{test}-{c}-{int(time.time())}", SECONDS)
    if r is None or int(r.get("app_errs", "1")) > 0 or int(r.get("non2xx", "1")) > 0:
        log(f"{tag} {test} c={c}: errors {r}")
    log(f"{tag} {test} c={c}: {r and r['rps']} req/s")
    return r


def connections_per_second(port, ctx):
    """New connection, one GET, close; as many as fit in SECONDS, one after another."""
    n, end = 0, time.monotonic() + SECONDS
    while time.monotonic() < end:
        if ctx is None:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        else:
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
        c.request("GET", "/v1/status/leader")
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 200
        n += 1
    return n / SECONDS


def row(name, a, b):
    if not a or not b:
        return f"| {name} | — | — | — | — | — |"
    ratio = float(b["rps"]) / float(a["rps"])
    return (f"| {name} | {float(a['rps']):,.0f} | {float(b['rps']):,.0f} | {ratio:.2f} | "
            f"{float(a['p99_ms']):.2f} | {float(b['p99_ms']):.2f} |")


def main():
    work = tempfile.mkdtemp(prefix="disco-bench-tls.")
    procs = []
    lines = []
    try:
        c = certs(work)
        https = free_port()
        conf = {"ports": {"https": https},
                "tls": {"defaults": {"ca_file": c["ca"], "cert_file": c["cert"],
                                     "key_file": c["key"]}}}
        proc, http_port, _ = agent(work, "web", conf, server=True)
        procs.append(proc)
        seed(http_port)
        lines += ["Per request (keep-alive connections, wrk):", "",
                  "| test, conns | HTTP req/s | HTTPS req/s | HTTPS/HTTP | p99 HTTP ms | p99 HTTPS ms |",
                  "|---|---|---|---|---|---|"]
        for test in ("get", "health"):
            for n in CONNS:
                a = bench(f"http://127.0.0.1:{http_port}", test, n, "http")
                b = bench(f"https://127.0.0.1:{https}", test, n, "https")
                lines.append(row(f"{test}, {n}", a, b))
        ctx = ssl.create_default_context(cafile=c["ca"])
        plain = connections_per_second(http_port, None)
        tls = connections_per_second(https, ctx)
        log(f"connections/s: http {plain:.0f}, https {tls:.0f}")
        lines += ["", "Per connection (one client: connect, one GET, close):", "",
                  "| HTTP conn/s | HTTPS conn/s | HTTPS/HTTP |", "|---|---|---|",
                  f"| {plain:,.0f} | {tls:,.0f} | {tls / plain:.2f} |"]
        kill_group(proc)
        procs.clear()

        results = {}
        for mode in ("plain", "mtls"):
            rpc = {}
            client = {}
            if mode == "mtls":
                rpc = {"tls": {"defaults": {"ca_file": c["ca"], "cert_file": c["cert"],
                                            "key_file": c["key"], "verify_incoming": True,
                                            "verify_outgoing": True},
                               "internal_rpc": {"verify_server_hostname": True}}}
                client = {"tls": {"defaults": {"ca_file": c["ca"], "cert_file": c["ccert"],
                                               "key_file": c["ckey"], "verify_outgoing": True},
                                  "internal_rpc": {"verify_server_hostname": True}}}
            sp, s_http, s_serf = agent(work, f"s-{mode}", rpc, server=True)
            procs.append(sp)
            seed(s_http)
            cp, c_http, _ = agent(work, f"c-{mode}", client, server=False, join=s_serf)
            procs.append(cp)
            results[mode] = {n: bench(f"http://127.0.0.1:{c_http}", "get", n, f"rpc-{mode}")
                             for n in CONNS}
            for p in procs:
                kill_group(p)
            procs.clear()
        lines += ["", "KV get through a client agent (forwarded over the server RPC):", "",
                  "| conns | plaintext req/s | mTLS req/s | mTLS/plain | p99 plain ms | p99 mTLS ms |",
                  "|---|---|---|---|---|---|"]
        for n in CONNS:
            lines.append(row(str(n), results["plain"].get(n), results["mtls"].get(n)))
    finally:
        for p in procs:
            kill_group(p)
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
