#!/usr/bin/env python3
"""LAN gossip benchmark: N disco agents on loopback (1 server, N-1 clients, Consul's LAN timings).

For each cluster size it measures
  * join:  a new agent started with -join → seen `alive` by every other agent (seconds),
  * fail:  `kill -9` of a client → marked `failed` by every other agent (median and max over repeats),
  * gossip bytes/s per agent in steady state (sent on the serf port, UDP + TCP),
  * VmRSS per agent in steady state.
Every process is started in its own process group and killed at exit; all traffic stays on 127.0.0.1.

Usage: scripts/bench.sh gossip   (or python3 scripts/bench/gossip.py)
Env: SIZES ["5 25 50"]  REPEATS [5]  STEADY_S [20]  DISCO_BIN [target/release/disco]
     OUT [target/bench/gossip.md]  DEADLINE_S [120] per wait
"""

import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, report, rss_kb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SIZES = [int(s) for s in os.environ.get("SIZES", "5 25 50").split()]
REPEATS = int(os.environ.get("REPEATS", "5"))
STEADY_S = float(os.environ.get("STEADY_S", "20"))
DEADLINE_S = float(os.environ.get("DEADLINE_S", "120"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/gossip.md"))




def get(port, path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return json.loads(r.read() or b"null")


class Agent:
    def __init__(self, work, name, server=False, join=None):
        self.name = name
        self.http = free_port()
        self.serf = free_port()
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.args = [BIN, "agent", "-node", name, "-bind", "127.0.0.1", "-client", "127.0.0.1",
                     "-http-port", str(self.http), "-dns-port", "-1", "-serf-wan-port", "-1",
                     "-serf-lan-port", str(self.serf), "-data-dir", os.path.join(self.dir, "data"),
                     "-log-level", os.environ.get("LOG_LEVEL", "warn")]
        if server:
            self.args += ["-server", "-bootstrap", "-server-port", str(free_port())]
        if join:
            self.args += ["-join", f"127.0.0.1:{join}"]
        self.proc = None
        self.start()

    def start(self):
        log = open(os.path.join(self.dir, "agent.log"), "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.started = time.monotonic()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def statuses(self):
        try:
            return {m["Name"]: m["Status"] for m in get(self.http, "/v1/agent/members")}
        except Exception:
            return {}

    def rss_kib(self):
        return rss_kb(self.proc.pid) or 0

    def gossip_bytes(self):
        try:
            m = get(self.http, "/v1/agent/metrics")
            g = {x["Name"]: x["Value"] for x in m["Gauges"]}
            return g.get("consul.memberlist.bytes_sent", 0.0)
        except Exception:
            return None


def wait_until(what, pred, deadline_s=DEADLINE_S, interval=0.05):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def seen_by_all(observers, name, status, first=None):
    """A predicate true once every observer reports `name` in `status`; `first`, if given, is a
    list that receives the monotonic time the first observer did (dissemination = all − first)."""
    pending = set(a.name for a in observers)

    def pred():
        for a in observers:
            if a.name in pending and a.statuses().get(name) == status:
                pending.discard(a.name)
                if first is not None and not first:
                    first.append(time.monotonic())
        return not pending
    return pred


def run_size(n, work):
    agents = []
    try:
        server = Agent(work, "s0", server=True)
        agents.append(server)
        wait_until("server up", lambda: server.statuses().get("s0") == 1, 30)
        # N-2 clients first; the last one is the timed join.
        for i in range(1, n - 1):
            a = Agent(work, f"c{i}", join=random.choice(agents).serf)
            wait_until(f"{a.name} up", lambda a=a: a.statuses().get(a.name) == 1, 30)
            agents.append(a)
        for a in agents:
            wait_until(f"{a.name} sees {len(agents)}", lambda a=a: sum(
                1 for s in a.statuses().values() if s == 1) == len(agents))
        joiner = Agent(work, f"c{n - 1}", join=random.choice(agents).serf)
        wait_until("join seen by all", seen_by_all(agents, joiner.name, 1))
        join_s = time.monotonic() - joiner.started
        agents.append(joiner)

        # Steady state: gossip bytes and RSS.
        time.sleep(2)
        b0 = [a.gossip_bytes() for a in agents]
        t0 = time.monotonic()
        time.sleep(STEADY_S)
        b1 = [a.gossip_bytes() for a in agents]
        dt = time.monotonic() - t0
        rates = [(y - x) / dt for x, y in zip(b0, b1) if x is not None and y is not None]
        rss = [a.rss_kib() for a in agents]

        fails = []
        firsts = []
        for r in range(REPEATS):
            victim = random.choice(agents[1:])
            others = [a for a in agents if a is not victim]
            victim.kill9()
            t = time.monotonic()
            first = []
            wait_until("failure seen by all", seen_by_all(others, victim.name, 4, first))
            fails.append(time.monotonic() - t)
            firsts.append(first[0] - t)
            print(f"[gossip] {n} agents, repeat {r + 1}: first {firsts[-1]:.2f} s, all {fails[-1]:.2f} s",
                  file=sys.stderr, flush=True)
            victim.start()  # rejoins through its remembered peers
            wait_until("victim back", seen_by_all(others, victim.name, 1))
        return {
            "n": n,
            "join_s": join_s,
            "fail_med": statistics.median(fails),
            "fail_max": max(fails),
            "first_med": statistics.median(firsts),
            "first_max": max(firsts),
            "bytes_per_s": statistics.mean(rates) if rates else 0.0,
            "rss_mib": statistics.mean(rss) / 1024,
            "rss_max_mib": max(rss) / 1024,
        }
    finally:
        for a in agents:
            a.kill9()


def consul_expected(n):
    # memberlist LAN: probe 1 s, suspicion min = 4 × max(1, log10 N) × 1 s (Lifeguard may start it
    # at up to 6× that and shrink it as confirmations arrive).
    import math
    return 4 * max(1.0, math.log10(n)) * 1.0


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit(f"disco binary not found: {BIN} (cargo build --release)")
    rows = []
    for n in SIZES:
        work = tempfile.mkdtemp(prefix=f"disco-gossip-{n}-")
        try:
            print(f"[gossip] {n} agents...", file=sys.stderr, flush=True)
            rows.append(run_size(n, work))
            print(f"[gossip] {rows[-1]}", file=sys.stderr, flush=True)
        except Exception:
            print(f"[gossip] failed; agent logs kept in {work}", file=sys.stderr, flush=True)
            raise
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "| agents | join seen by all (s) | kill -9 → failed somewhere, median / max (s) | kill -9 → failed everywhere, median / max (s) | Consul's minimum suspicion timeout (s) | gossip bytes/s per agent | RSS per agent, mean / max (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['join_s']:.2f} | {r['first_med']:.2f} / {r['first_max']:.2f} | "
            f"{r['fail_med']:.2f} / {r['fail_max']:.2f} | "
            f"{consul_expected(r['n']):.1f} | {r['bytes_per_s']:.0f} | {r['rss_mib']:.1f} / {r['rss_max_mib']:.1f} |")
    out = "\n".join(lines) + "\n"
    report(OUT, out)


if __name__ == "__main__":
    main()
