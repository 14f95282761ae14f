#!/usr/bin/env python3
"""Coordination benchmark: three disco servers against a three-member etcd 3.4, on loopback.

Rows, each for LOCK_SECONDS at every client count in CONNS, all requests to the leader:
  * lock cycle: disco `PUT /v1/session/create` → `PUT /v1/kv/<k>?acquire=` → `?release=` →
    `PUT /v1/session/destroy/<id>`; etcd `/v3/lease/grant` → `/v3/lock/lock` →
    `/v3/lock/unlock` → `/v3/lease/revoke` (its JSON gateway). Each client locks its own
    name, so the row measures the cycle, not contention.
  * txn: one four-operation transaction per request: disco `PUT /v1/txn` with four KV sets,
    etcd `/v3/kv/txn` with four puts in its success branch.
Clients are CLIENT_PROCS processes of keep-alive connections (Python), the same for both.

Usage: scripts/bench.sh locks   (or python3 scripts/bench/locks.py)
Env: CONNS ["1 16 64"]  LOCK_SECONDS [10]  TARGETS ["disco etcd"]  CLIENT_PROCS [4]
     OUT [target/bench/locks.md]  DISCO_BIN [target/release/disco]  PERFLAB [../shared/perflab]
Every process started is killed at exit (process groups); traffic stays on 127.0.0.1.
"""

import base64
import http.client
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
from loopback import report, until  # noqa: E402

CONNS = [int(c) for c in os.environ.get("CONNS", "1 16 64").split()]
SECONDS = float(os.environ.get("LOCK_SECONDS", "10"))
TARGETS = os.environ.get("TARGETS", "disco etcd").split()
PROCS = max(1, int(os.environ.get("CLIENT_PROCS", "4")))
OUT = os.environ.get("OUT", os.path.join(cluster.ROOT, "target/bench/locks.md"))


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Conn:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(self, method, path, body=b""):
        self.c.request(method, path, body)
        r = self.c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
        return data


def disco_lock(c, name):
    sid = json.loads(c.call("PUT", "/v1/session/create", b'{"LockDelay":"0s"}'))["ID"]
    if c.call("PUT", f"/v1/kv/{name}?acquire={sid}").strip() != b"true":
        raise RuntimeError("acquire refused")
    c.call("PUT", f"/v1/kv/{name}?release={sid}")
    c.call("PUT", f"/v1/session/destroy/{sid}")


def etcd_lock(c, name):
    lease = json.loads(c.call("POST", "/v3/lease/grant", b'{"TTL": 15}'))["ID"]
    held = json.loads(c.call("POST", "/v3/lock/lock",
                             json.dumps({"name": b64(name), "lease": lease}).encode()))
    c.call("POST", "/v3/lock/unlock", json.dumps({"key": held["key"]}).encode())
    c.call("POST", "/v3/lease/revoke", json.dumps({"ID": lease}).encode())


def disco_txn(c, name):
    v = b64("x" * 100)
    ops = [{"KV": {"Verb": "set", "Key": f"{name}/{i}", "Value": v}} for i in range(4)]
    c.call("PUT", "/v1/txn", json.dumps(ops).encode())


def etcd_txn(c, name):
    v = b64("x" * 100)
    ops = [{"request_put": {"key": b64(f"{name}/{i}"), "value": v}} for i in range(4)]
    c.call("POST", "/v3/kv/txn", json.dumps({"success": ops}).encode())


OPS = {("disco", "lock"): disco_lock, ("etcd", "lock"): etcd_lock,
       ("disco", "txn"): disco_txn, ("etcd", "txn"): etcd_txn}


def worker_proc(system, row, port, first, count, seconds, out):
    """`count` client threads in this process; puts (done, latencies) on `out`."""
    op = OPS[(system, row)]
    lats, errors = [], []
    stop_at = time.monotonic() + seconds

    def client(i):
        c = Conn(port)
        name = f"locks/p{os.getpid()}-c{i}"
        while time.monotonic() < stop_at:
            t = time.monotonic()
            try:
                op(c, name)
            except Exception as e:  # one failure ends this client; reported below
                errors.append(str(e))
                return
            lats.append(time.monotonic() - t)

    threads = [threading.Thread(target=client, args=(first + i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((lats, errors[:3]))


def run_row(system, row, port, conns):
    procs = min(PROCS, conns)
    q = multiprocessing.Queue()
    ps = []
    first = 0
    for p in range(procs):
        n = conns // procs + (1 if p < conns % procs else 0)
        ps.append(multiprocessing.Process(target=worker_proc,
                                          args=(system, row, port, first, n, SECONDS, q)))
        first += n
    t0 = time.monotonic()
    for p in ps:
        p.start()
    lats, errors = [], []
    for _ in ps:
        l, e = q.get(timeout=SECONDS + 120)
        lats += l
        errors += e
    for p in ps:
        p.join(timeout=30)
    took = max(time.monotonic() - t0, SECONDS)
    lats.sort()
    pct = (lambda f: lats[min(len(lats) - 1, int(f * len(lats)))] * 1000) if lats else (lambda f: 0)
    if errors:
        cluster.log(f"{system} {row} x{conns}: errors: {errors}")
    return {"rate": len(lats) / took, "p50": pct(0.5), "p99": pct(0.99), "errors": len(errors)}


def main():
    if not os.access(cluster.BIN, os.X_OK):
        sys.exit(f"disco binary not found: {cluster.BIN} (cargo build --release)")
    results = {}
    for name in TARGETS:
        work = tempfile.mkdtemp(prefix=f"disco-locks-{name}-")
        system = (cluster.Disco if name == "disco" else cluster.Etcd)(work)
        try:
            # A newly formed cluster names its leader a moment before it takes writes.
            until("writes accepted", lambda: system.put_via(system.leader(), "bench/ready"), 60)
            port = system.leader_port()
            if name == "disco":
                # Sessions need the node's serfHealth check, which the leader registers
                # when it reconciles the new members.
                until("serfHealth registered", lambda: b"serfHealth" in Conn(port).call(
                    "GET", f"/v1/health/node/{system.leader_name()}"), 60)
            for row in ("lock", "txn"):
                for conns in CONNS:
                    cluster.log(f"{name} {row} x{conns}")
                    results[(name, row, conns)] = run_row(name, row, port, conns)
        finally:
            system.stop()
            shutil.rmtree(work, ignore_errors=True)
    lines = ["| row | clients | disco per s | disco p50 / p99 (ms) | etcd per s | etcd p50 / p99 (ms) | disco/etcd |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    label = {"lock": "lock cycle (4 requests)", "txn": "4-operation txn"}
    for row in ("lock", "txn"):
        for conns in CONNS:
            d = results.get(("disco", row, conns))
            e = results.get(("etcd", row, conns))
            cell = (lambda r: (f"{r['rate']:,.0f}", f"{r['p50']:.2f} / {r['p99']:.2f}")
                    if r else ("–", "–"))
            ratio = f"{d['rate'] / e['rate']:.2f}" if d and e and e["rate"] else "–"
            lines.append(f"| {label[row]} | {conns} | {cell(d)[0]} | {cell(d)[1]} | "
                         f"{cell(e)[0]} | {cell(e)[1]} | {ratio} |")
    report(OUT, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
