#!/usr/bin/env python3
"""DNS throughput: disco answering `<name>.service.consul` for SERVICES registered services
(live health data, each instance with a passing check) beside Debian's dnsmasq serving the
same names from a hosts file, both on loopback, both loaded by dnsperf (Debian) with a
random mix of the names at 2, 10 and 100 outstanding queries. Plus p50/p99 latency of a
serial client (one query at a time, from Python). Ratios are disco/dnsmasq.

Usage: scripts/bench.sh dns   (or python3 scripts/bench/dns.py)
Env: SERVICES [1000]  SECONDS_PER_RUN [10]  OUTSTANDING ["2 10 100"]  SERIAL [2000]
     DISCO_BIN [target/release/disco]  OUT [target/bench/dns.md]
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, http_call, kill_group  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SERVICES = int(os.environ.get("SERVICES", "1000"))
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "10"))
OUTSTANDING = [int(x) for x in os.environ.get("OUTSTANDING", "2 10 100").split()]
SERIAL = int(os.environ.get("SERIAL", "2000"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/dns.md"))


def log(*a):
    print("[dns]", *a, file=sys.stderr, flush=True)


call = http_call


def query_packet(qid, name):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return header + q + struct.pack(">HH", 1, 1)


def serial_latency(port, names):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    times = []
    for i in range(SERIAL):
        pkt = query_packet(i & 0xFFFF, random.choice(names))
        t0 = time.perf_counter()
        s.sendto(pkt, ("127.0.0.1", port))
        try:
            s.recv(4096)
        except socket.timeout:
            continue
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(p * (len(times) - 1)))]
    return pct(0.5), pct(0.99)


def blocking_clients(port, names, clients, seconds=3):
    """QPS of `clients` threads, each sending one query and waiting for its answer."""
    import threading
    counts = [0] * clients

    def worker(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        end, i = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            s.sendto(query_packet(i & 0xFFFF, random.choice(names)), ("127.0.0.1", port))
            i += 1
            try:
                s.recv(4096)
                counts[k] += 1
            except socket.timeout:
                pass

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def dnsperf(port, qfile, outstanding):
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(SECONDS),
                          "-q", str(outstanding), "-c", "1", "-T", "1"],
                         capture_output=True, text=True, timeout=SECONDS + 60).stdout
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    return float(qps.group(1)) if qps else 0.0, int(lost.group(1)) if lost else -1


def main():
    for tool in ("dnsperf",):
        if shutil.which(tool) is None:
            sys.exit("dnsperf not installed (apt-get install dnsperf)")
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    work = tempfile.mkdtemp(prefix="disco-dns-bench-")
    procs = []
    try:
        http, dns_port = free_port(), free_port()
        procs.append(subprocess.Popen(
            [BIN, "agent", "-server", "-bootstrap", "-node", "bench", "-bind", "127.0.0.1",
             "-client", "127.0.0.1", "-http-port", str(http), "-dns-port", str(dns_port),
             "-serf-lan-port", str(free_port()), "-serf-wan-port", "-1", "-server-port", str(free_port()),
             "-data-dir", os.path.join(work, "data"), "-log-level", "warn"],
            stdout=open(os.path.join(work, "disco.log"), "wb"), stderr=subprocess.STDOUT,
            start_new_session=True))
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                if json.loads(call(http, "GET", "/v1/status/leader")):
                    break
            except Exception:
                pass
            time.sleep(0.1)
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
        rows = []
        for n in OUTSTANDING:
            d, dl = dnsperf(dns_port, qfile, n)
            m, ml = dnsperf(mport, qfile, n)
            log(f"outstanding {n}: disco {d:.0f} qps (lost {dl}), dnsmasq {m:.0f} qps (lost {ml})")
            rows.append((n, d, dl, m, ml))
        blocking = [(c, blocking_clients(dns_port, names, c), blocking_clients(mport, names, c)) for c in (1, 2)]
        dp = serial_latency(dns_port, names)
        mp = serial_latency(mport, names)
        text = ["| outstanding queries | disco QPS | dnsmasq QPS | disco/dnsmasq |", "|---:|---:|---:|---:|"]
        for n, d, dl, m, ml in rows:
            text.append(f"| {n} | {d:,.0f} | {m:,.0f} | {d / m if m else 0:.2f} |")
        text.append("")
        text.append("| blocking Python clients (one query in flight each) | disco QPS | dnsmasq QPS | disco/dnsmasq |")
        text.append("|---:|---:|---:|---:|")
        for c, d, m in blocking:
            text.append(f"| {c} | {d:,.0f} | {m:,.0f} | {d / m if m else 0:.2f} |")
        text.append("")
        text.append("| serial client | p50 (ms) | p99 (ms) |")
        text.append("|---|---:|---:|")
        text.append(f"| disco | {dp[0]:.3f} | {dp[1]:.3f} |")
        text.append(f"| dnsmasq | {mp[0]:.3f} | {mp[1]:.3f} |")
        out = "\n".join(text) + "\n"
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        with open(OUT, "w") as f:
            f.write(out)
        print(out)
    finally:
        for p in procs:
            kill_group(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
