#!/usr/bin/env python3
"""The console's cost: `disco tui` in a real terminal (tmux, 200x50) attached to one server
holding SERVICES services, measured while idle and while the cluster is busy (wrk writing
KV entries at 16 connections, and one check flipping between passing and critical every
second, so the services and checks lists change while the console watches).

Reports the console process's CPU (% of one core) and RSS for each phase, then the frame
times from `cargo run --release --example tui_frames` (5,000 services, 500 members).

Usage: scripts/bench.sh tui   (or python3 scripts/bench/tui.py)
Env: SERVICES [5000]  PHASE_S [30]  DISCO_BIN [target/release/disco]  OUT [target/bench/tui.md]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import cpu_seconds, free_port, http_call, kill_group, report, rss_mib, single_server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SERVICES = int(os.environ.get("SERVICES", "5000"))
PHASE_S = float(os.environ.get("PHASE_S", "30"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/tui.md"))
KV_LUA = os.path.join(ROOT, "scripts/bench/kv.lua")


def log(*a):
    print("[tui]", *a, file=sys.stderr, flush=True)


call = http_call


def measure(pid, seconds):
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0), rss_mib(pid)


def main():
    for tool in ("tmux", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not installed (apt-get install {tool})")
    work = tempfile.mkdtemp(prefix="disco-tui-bench-")
    session = f"disco-tui-bench-{os.getpid()}"
    agent = None
    stop = threading.Event()
    try:
        http = free_port()
        agent = single_server(BIN, work, http)
        log(f"registering {SERVICES} services")
        for i in range(SERVICES):
            body = {"Node": f"node-{i % 50}", "Address": f"10.0.0.{i % 50}",
                    "Service": {"ID": f"svc-{i}", "Service": f"service-{i:05}", "Port": 8000 + i % 1000,
                                "Tags": [f"team-{i % 17}"]},
                    "Check": {"CheckID": f"chk-{i}", "Name": "health", "Status": "passing",
                              "ServiceID": f"svc-{i}"}}
            call(http, "PUT", "/v1/catalog/register", json.dumps(body).encode())
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50",
                        BIN, "tui", f"-http-addr=127.0.0.1:{http}"], check=True)
        time.sleep(3)
        pid = int(subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout.split()[0])
        log("idle phase")
        idle_cpu, idle_rss = measure(pid, PHASE_S)

        def flipper():
            n = 0
            while not stop.is_set():
                st = "critical" if n % 2 else "passing"
                body = {"Node": "node-0", "Address": "10.0.0.0",
                        "Check": {"CheckID": "chk-0", "Name": "health", "Status": st, "ServiceID": "svc-0"}}
                try:
                    call(http, "PUT", "/v1/catalog/register", json.dumps(body).encode())
                except Exception:
                    pass
                n += 1
                stop.wait(1.0)
        th = threading.Thread(target=flipper, daemon=True)
        th.start()
        env = dict(os.environ, TARGET="disco", TEST="put", PREFIX="tuibench", CONNS="16",
                   LIMIT="5000000")
        wrk = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{int(PHASE_S) + 4}s", "-s", KV_LUA,
                                f"http://127.0.0.1:{http}"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
        time.sleep(2)
        log("busy phase")
        busy_cpu, busy_rss = measure(pid, PHASE_S)
        out, _ = wrk.communicate(timeout=60)
        rps = next((line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
        stop.set()
        frames = subprocess.run(["cargo", "run", "--release", "--quiet", "--example", "tui_frames"],
                                cwd=ROOT, capture_output=True, text=True).stdout
        text = (f"| console attached to one server with {SERVICES} services | CPU (% of one core) | RSS (MiB) |\n"
                f"|---|---:|---:|\n"
                f"| idle, {PHASE_S:.0f} s | {idle_cpu:.2f} | {idle_rss:.1f} |\n"
                f"| busy: {rps} KV puts/s and a check flipping every second, {PHASE_S:.0f} s | {busy_cpu:.2f} | {busy_rss:.1f} |\n\n"
                f"Frame time (render + diff, 200x60, 5,000 services, 500 members):\n\n{frames}")
        report(OUT, text)
    finally:
        stop.set()
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        if agent:
            kill_group(agent)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
