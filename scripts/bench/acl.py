#!/usr/bin/env python3
"""What ACL enforcement costs: one disco server (`-server -bootstrap -data-dir`, fsync on
every commit) run twice on loopback, first with ACLs off, then with ACLs on (default deny)
and every request carrying a token whose policy holds RULES prefix rules (the one that
matters, `key_prefix "bench/"` write, among others), with the same load: KV get, KV put and
a health read of 10 instances (`?passing`), each at CONNS connections for SECONDS_PER_RUN
seconds with wrk (scripts/bench/kv.lua, TOKEN set for the ACL run). The two agents never
run together. Ratios are ACLs-on over ACLs-off.

Usage: scripts/bench.sh acl   (or python3 scripts/bench/acl.py)
Env: SECONDS_PER_RUN [10]  CONNS ["16"]  TESTS ["get put health"]  RULES [20]
     OUT [target/bench/acl.md]  DISCO_BIN [target/release/disco]
Every process started is killed at exit (process groups); traffic stays on 127.0.0.1.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
from loopback import free_port, kill_group, until  # noqa: E402

SECONDS = int(os.environ.get("SECONDS_PER_RUN", "10"))
CONNS = [int(c) for c in os.environ.get("CONNS", "16").split()]
TESTS = os.environ.get("TESTS", "get put health").split()
RULES = max(1, int(os.environ.get("RULES", "20")))
OUT = os.environ.get("OUT", os.path.join(cluster.ROOT, "target/bench/acl.md"))
MGMT = "3f1c7a52-9d4e-4b8a-8c61-0e5b2d7f9a13"
READ_KEYS = 1000


def log(*a):
    print("[acl]", *a, file=sys.stderr, flush=True)


def start(work, acl):
    http = free_port()
    cfg = os.path.join(work, "config.json")
    conf = {}
    if acl:
        conf = {"acl": {"enabled": True, "default_policy": "deny",
                        "tokens": {"initial_management": MGMT, "agent": MGMT}}}
    with open(cfg, "w") as f:
        json.dump(conf, f)
    args = [cluster.BIN, "agent", "-server", "-bootstrap", "-node", "bench", "-bind",
            "127.0.0.1", "-client", "127.0.0.1", "-http-port", str(http), "-dns-port", "-1",
            "-serf-lan-port", str(free_port()), "-serf-wan-port", "-1",
            "-server-port", str(free_port()), "-data-dir", os.path.join(work, "data"),
            "-log-level", "warn", "-config-file", cfg]
    proc = subprocess.Popen(args, stdout=open(os.path.join(work, "agent.log"), "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    hdr = {"X-Consul-Token": MGMT} if acl else {}
    until("a leader and the management token",
          lambda: cluster.call(http, "GET", "/v1/kv/none", headers=hdr)[0] == 404, deadline=60)
    return proc, http, hdr


def token_for(http, hdr):
    """A token whose policy has RULES prefix rules; returns its secret."""
    rules = ['key_prefix "bench/" { policy = "write" }',
             'service_prefix "" { policy = "read" }', 'node_prefix "" { policy = "read" }']
    rules += [f'key_prefix "other-{i}/" {{ policy = "read" }}' for i in range(RULES - 3)]
    body = json.dumps({"Name": "bench", "Rules": "\n".join(rules)}).encode()
    st, out = cluster.call(http, "PUT", "/v1/acl/policy", body, headers=hdr)
    assert st == 200, out
    body = json.dumps({"Description": "bench", "Policies": [{"Name": "bench"}]}).encode()
    st, out = cluster.call(http, "PUT", "/v1/acl/token", body, headers=hdr)
    assert st == 200, out
    return json.loads(out)["SecretID"]


def seed(http, hdr):
    for i in range(READ_KEYS):
        st, _ = cluster.call(http, "PUT", f"/v1/kv/bench/key-{i}", b"v" * 100, headers=hdr)
        assert st == 200
    for i in range(1, 11):
        body = json.dumps({"ID": f"web-{i}", "Name": "web", "Port": 8000 + i}).encode()
        st, _ = cluster.call(http, "PUT", "/v1/agent/service/register", body, headers=hdr)
        assert st == 200
    until("10 web instances", lambda: len(json.loads(cluster.call(
        http, "GET", "/v1/health/service/web?passing", headers=hdr)[1])) == 10, deadline=30)


def run(acl):
    work = tempfile.mkdtemp(prefix="disco-bench-acl.")
    proc = None
    rows = {}
    try:
        proc, http, hdr = start(work, acl)
        seed(http, hdr)
        token = token_for(http, hdr) if acl else ""
        for test in TESTS:
            for c in CONNS:
                os.environ["TOKEN"] = token
                r = cluster.wrk(f"http://127.0.0.1:{http}", "disco", test, c,
                                f"acl{int(acl)}-{test}-{c}-{int(time.time())}")
                os.environ.pop("TOKEN", None)
                if r is None or int(r.get("app_errs", "1")) > 0 or int(r.get("non2xx", "1")) > 0:
                    log(f"{test} c={c} acl={acl}: errors {r}")
                rows[(test, c)] = r
                log(f"acl={'on' if acl else 'off'} {test} c={c}: {r and r['rps']} req/s")
    finally:
        if proc is not None:
            kill_group(proc)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main():
    off = run(False)
    on = run(True)
    lines = ["| test | conns | ACLs off req/s | ACLs on req/s | on/off | p99 off ms | p99 on ms |",
             "|---|---|---|---|---|---|---|"]
    for test in TESTS:
        for c in CONNS:
            a, b = off.get((test, c)), on.get((test, c))
            if not a or not b:
                lines.append(f"| {test} | {c} | — | — | — | — | — |")
                continue
            ratio = float(b["rps"]) / float(a["rps"])
            lines.append(f"| {test} | {c} | {float(a['rps']):,.0f} | {float(b['rps']):,.0f} | "
                         f"{ratio:.2f} | {float(a['p99_ms']):.2f} | {float(b['p99_ms']):.2f} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
