#!/usr/bin/env python3
"""Catalog memory: what a registered service instance costs a server.

Starts one server (`-server -bootstrap`, a data dir) on 127.0.0.1 and registers, through
`PUT /v1/catalog/register`, CATALOG_NODES nodes with CATALOG_PER_NODE instances each. The
instances use CATALOG_NAMES service names (so names repeat across nodes, as a real fleet's
do), every instance of a name carries the same two tags, and every instance has one
passing service check. VmRSS is read before the load and after it settles; the report gives
bytes per instance (the check and its share of the node included).

Output: OUT [target/bench/catalog.md], printed too.
Env: DISCO_BIN [target/release/disco]  CATALOG_NODES [500]  CATALOG_PER_NODE [20]
     CATALOG_NAMES [50]  CATALOG_THREADS [8]
Every process started is killed (its process group) on exit.
"""

import http.client
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, http_call, kill_group, report, rss_mib, single_server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
NODES = int(os.environ.get("CATALOG_NODES", "500"))
PER_NODE = int(os.environ.get("CATALOG_PER_NODE", "20"))
NAMES = int(os.environ.get("CATALOG_NAMES", "50"))
THREADS = int(os.environ.get("CATALOG_THREADS", "8"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/catalog.md"))


def registration(n, i):
    name = f"service-{(n * PER_NODE + i) % NAMES:03}"
    sid = f"{name}-{n:05}-{i:03}"
    return {
        "Node": f"node-{n:05}.example.internal",
        "Address": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
        "Datacenter": "dc1",
        "Service": {"ID": sid, "Service": name, "Tags": ["primary", "v1.2.3"], "Port": 8000 + i},
        "Check": {"CheckID": f"service:{sid}", "Name": f"Service '{name}' check", "Status": "passing",
                  "ServiceID": sid, "Output": "HTTP GET http://localhost/health: 200 OK"},
    }


def load(port, nodes):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in nodes:
        for i in range(PER_NODE):
            conn.request("PUT", "/v1/catalog/register", json.dumps(registration(n, i)))
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError(f"register: {r.status} {body[:200]!r}")
    conn.close()


def main():
    work = tempfile.mkdtemp(prefix="disco-catalog-")
    proc = None
    try:
        port = free_port()
        proc = single_server(BIN, work, port)
        time.sleep(1)
        before = rss_mib(proc.pid)
        t0 = time.monotonic()
        threads = [threading.Thread(target=load, args=(port, range(k, NODES, THREADS)))
                   for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        count = len(json.loads(http_call(port, "GET", "/v1/catalog/services")))
        time.sleep(3)
        after = rss_mib(proc.pid)
        total = NODES * PER_NODE
        per = (after - before) * 1024 * 1024 / total
        rows = ["| instances (nodes × per node, names) | register/s | VmRSS before / after (MiB) | bytes per instance |",
                "|---|---:|---:|---:|",
                f"| {total:,} ({NODES} × {PER_NODE}, {count} names) | {total / took:,.0f} | "
                f"{before:.1f} / {after:.1f} | {per:,.0f} |"]
        report(OUT, "\n".join(rows) + "\n")
    finally:
        if proc:
            kill_group(proc)


if __name__ == "__main__":
    main()
