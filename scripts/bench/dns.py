#!/usr/bin/env python3
"""DNS throughput: disco answering `<name>.service.consul` for SERVICES registered services
(live health data, each instance with a passing check) beside Debian's dnsmasq serving the
same names from a hosts file, both on loopback. Two load generators, each with a random mix
of the names:

- dnsperf (Debian) at 2, 10 and 100 outstanding queries, with its mean latency. At a few
  outstanding queries dnsperf's throughput is far below outstanding / latency: its receiver
  counts a completion only after waking the sender, which can then find the window still full
  and wait, while the receiver waits 100 ms for an answer to a query never sent. The
  `ceiling` column (outstanding / mean latency) shows what the latency allows.
- `examples/dns_load.rs`: CONCURRENCY closed loops (one query in flight each, no thread
  hand-off) at 1, 2 and 10, with p50/p99 latency.

Ratios are disco/dnsmasq.

Usage: scripts/bench.sh dns   (or python3 scripts/bench/dns.py)
Env: SERVICES [1000]  SECONDS_PER_RUN [10]  OUTSTANDING ["2 10 100"]  LOOPS ["1 2 10"]
     DISCO_BIN [target/release/disco]  OUT [target/bench/dns.md]
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, http_call, kill_group, report, single_server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SERVICES = int(os.environ.get("SERVICES", "1000"))
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "10"))
OUTSTANDING = [int(x) for x in os.environ.get("OUTSTANDING", "2 10 100").split()]
LOOPS = [int(x) for x in os.environ.get("LOOPS", "1 2 10").split()]
LOAD_BIN = os.path.join(ROOT, "target/release/examples/dns_load")
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/dns.md"))


def log(*a):
    print("[dns]", *a, file=sys.stderr, flush=True)


call = http_call


def dns_load(port, names_file, loops):
    """(qps, p50 µs, p99 µs) of `loops` closed-loop clients."""
    out = subprocess.run([LOAD_BIN, f"127.0.0.1:{port}", names_file, str(loops), str(SECONDS)],
                         capture_output=True, text=True, timeout=SECONDS + 60, check=True).stdout
    r = json.loads(out)
    return r["qps"], r["p50_us"], r["p99_us"]


def dnsperf(port, qfile, outstanding):
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(SECONDS),
                          "-q", str(outstanding), "-c", "1", "-T", "1"],
                         capture_output=True, text=True, timeout=SECONDS + 60).stdout
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    lat = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    return float(qps.group(1)) if qps else 0.0, float(lat.group(1)) * 1e6 if lat else 0.0


def main():
    for tool in ("dnsperf",):
        if shutil.which(tool) is None:
            sys.exit("dnsperf not installed (apt-get install dnsperf)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "dns_load"], cwd=ROOT, check=True)
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    work = tempfile.mkdtemp(prefix="disco-dns-bench-")
    procs = []
    try:
        http, dns_port = free_port(), free_port()
        procs.append(single_server(BIN, work, http, dns_port=dns_port, log_name="disco.log"))
        log(f"registering {SERVICES} services")
        hosts = []
        for i in range(SERVICES):
            ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            body = {"Node": f"node-{i % 100}", "Address": f"10.200.0.{i % 100}",
                    "Service": {"ID": f"svc-{i}", "Service": f"svc{i}", "Address": ip, "Port": 80},
                    "Check": {"CheckID": f"chk-{i}", "Name": "c", "Status": "passing", "ServiceID": f"svc-{i}"}}
            call(http, "PUT", "/v1/catalog/register", json.dumps(body).encode())
            hosts.append(f"{ip} svc{i}.service.consul")
        hosts_file = os.path.join(work, "hosts")
        with open(hosts_file, "w") as f:
            f.write("\n".join(hosts) + "\n")
        mport = free_port()
        procs.append(subprocess.Popen(
            [dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", f"--addn-hosts={hosts_file}",
             "--user=root", "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={mport}",
             "--cache-size=10000", "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(1)
        names = [f"svc{i}.service.consul" for i in range(SERVICES)]
        qfile = os.path.join(work, "queries")
        with open(qfile, "w") as f:
            for _ in range(50000):
                f.write(f"{random.choice(names)} A\n")
        names_file = os.path.join(work, "names")
        with open(names_file, "w") as f:
            f.write("\n".join(names) + "\n")
        rows = []
        for n in OUTSTANDING:
            d, dlat = dnsperf(dns_port, qfile, n)
            m, mlat = dnsperf(mport, qfile, n)
            log(f"dnsperf {n} outstanding: disco {d:.0f} qps ({dlat:.0f} µs), dnsmasq {m:.0f} qps ({mlat:.0f} µs)")
            rows.append((n, d, dlat, m, mlat))
        loops = []
        for c in LOOPS:
            d = dns_load(dns_port, names_file, c)
            m = dns_load(mport, names_file, c)
            log(f"{c} closed loops: disco {d}, dnsmasq {m}")
            loops.append((c, d, m))
        ratio = lambda d, m: f"{d / m:.2f}" if m else "-"
        text = ["| dnsperf, outstanding | disco QPS | dnsmasq QPS | disco/dnsmasq "
                "| disco mean latency (µs), ceiling QPS | dnsmasq mean latency (µs), ceiling QPS |",
                "|---:|---:|---:|---:|---:|---:|"]
        for n, d, dlat, m, mlat in rows:
            ceil = lambda lat: f"{n / lat * 1e6:,.0f}" if lat else "-"
            text.append(f"| {n} | {d:,.0f} | {m:,.0f} | {ratio(d, m)} "
                        f"| {dlat:.0f}, {ceil(dlat)} | {mlat:.0f}, {ceil(mlat)} |")
        text.append("")
        text.append("| closed loops (dns_load) | disco QPS | dnsmasq QPS | disco/dnsmasq "
                    "| disco p50 / p99 (µs) | dnsmasq p50 / p99 (µs) |")
        text.append("|---:|---:|---:|---:|---:|---:|")
        for c, d, m in loops:
            text.append(f"| {c} | {d[0]:,.0f} | {m[0]:,.0f} | {ratio(d[0], m[0])} "
                        f"| {d[1]:.0f} / {d[2]:.0f} | {m[1]:.0f} / {m[2]:.0f} |")
        out = "\n".join(text) + "\n"
        report(OUT, out)
    finally:
        for p in procs:
            kill_group(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
