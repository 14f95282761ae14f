#!/usr/bin/env python3
"""Three-server disco against a three-member etcd 3.4 cluster, both on loopback, both fsyncing
every commit: KV put, linearizable and stale reads at 1, 16 and 64 connections (wrk with
scripts/bench/kv.lua against the leader), and leader failover (`kill -9` of the leader → first
acknowledged write issued after the kill, through a survivor) over TRIALS trials.

Before the timed rows each system gets PRELOAD_KEYS distinct keys (40-byte keys, 100-byte values,
written through its leader by PRELOAD_PROCS load_keys.py processes of PRELOAD_THREADS connections):
the load rate, VmRSS of every server idle and after the preload, the leader's bytes per key and the
data dirs. After the ordinary rows, one LONG_RUN_S-second put run at 64 connections against the
leader (req/s, p50, p99, max; Raft snapshots taken during it: disco's
`Stats.raft.last_snapshot_index` values, etcd's new member/snap/*.snap files). disco is started with
DISCO_CONFIG as a `-config-file` (snapshot cadence, so the long run spans several snapshots).

etcd comes from Debian (`etcd-server`, installed when missing) and is driven by the shared
perflab scripts (PERFLAB, default ../shared/perflab beside the repository).

Usage: scripts/bench.sh cluster   (or python3 scripts/bench/cluster.py)
Env: SECONDS_PER_RUN [10]  CONNS ["1 16 64"]  TRIALS [20]  TARGETS ["disco etcd"]
     READ_KEYS [1000]  OUT [target/bench/cluster.md]  DISCO_BIN [target/release/disco]
     PRELOAD_KEYS [1000000; 0 skips; 0 by default with GROWTH_ONLY=1]  PRELOAD_PROCS [2]
     PRELOAD_THREADS [32]  PRELOAD_MAX_S [1800]  LONG_RUN_S [60; 0 skips]  IDLE_SETTLE_S [5]
     TESTS ["put consistent stale get"]: the timed rows to run (TRIALS=0 skips the failover)
     DISCO_CONFIG ['{"raft_snapshot_threshold": 16384, "raft_snapshot_interval": "5s"}'; empty: none]
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, report, rss_kb, until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
KV_LUA = os.path.join(ROOT, "scripts/bench/kv.lua")
PERFLAB = os.environ.get("PERFLAB", os.path.join(os.path.dirname(ROOT), "shared", "perflab"))
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "10"))
CONNS = [int(c) for c in os.environ.get("CONNS", "1 16 64").split()]
TRIALS = int(os.environ.get("TRIALS", "20"))
TARGETS = os.environ.get("TARGETS", "disco etcd").split()
READ_KEYS = int(os.environ.get("READ_KEYS", "1000"))
# Disk growth of disco's data dirs over this many KV puts (0 skips), in GROWTH_STEPS steps.
GROWTH_WRITES = int(os.environ.get("GROWTH_WRITES", "0"))
GROWTH_STEP_S = int(os.environ.get("GROWTH_STEP_S", "30"))
# GROWTH_ONLY=1 skips the throughput and failover runs.
GROWTH_ONLY = os.environ.get("GROWTH_ONLY") == "1"
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/cluster.md"))
LOAD_KEYS_PY = os.path.join(ROOT, "scripts/bench/load_keys.py")
# Distinct keys loaded into each system before the timed rows (0 skips).
PRELOAD_KEYS = int(os.environ.get("PRELOAD_KEYS", "0" if GROWTH_ONLY else "1000000"))
PRELOAD_KEY_LEN = 40
PRELOAD_VALSIZE = 100
PRELOAD_PROCS = max(1, int(os.environ.get("PRELOAD_PROCS", "2")))
PRELOAD_THREADS = max(1, int(os.environ.get("PRELOAD_THREADS", "32")))
PRELOAD_MAX_S = int(os.environ.get("PRELOAD_MAX_S", "1800"))
# One long put run at 64 connections after the ordinary rows (0 skips).
LONG_RUN_S = int(os.environ.get("LONG_RUN_S", "60"))
# Which timed rows run (a quick A/B of the write path: TESTS=put).
TESTS = os.environ.get("TESTS", "put consistent stale get").split()
LONG_CONNS = 64
# Seconds a fresh cluster idles before its idle RSS is read.
IDLE_SETTLE_S = float(os.environ.get("IDLE_SETTLE_S", "5"))
# disco's config file (snapshot cadence); empty starts disco without one.
DISCO_CONFIG = os.environ.get(
    "DISCO_CONFIG", '{"raft_snapshot_threshold": 16384, "raft_snapshot_interval": "5s"}').strip()


def log(*a):
    print("[cluster]", *a, file=sys.stderr, flush=True)


def call(port, method, path, body=None, timeout=2.0, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wrk(url, target, test, conns, prefix, seconds=None):
    seconds = seconds or SECONDS
    env = dict(os.environ, TARGET=target, TEST=test, PREFIX=prefix, CONNS=str(conns),
               READ_KEYS=str(READ_KEYS), LIMIT="5000000")
    threads = 1 if conns == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
                          "-s", KV_LUA, url], env=env, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    m = re.search(r"RESULT (.*)", out)
    if not m:
        return None
    return dict(kv.split("=", 1) for kv in m.group(1).split())


# ---------------------------------------------------------------------------- disco

class Disco:
    name = "disco"

    def __init__(self, work):
        self.work = work
        self.config = None
        if DISCO_CONFIG:
            json.loads(DISCO_CONFIG)  # fail early on a malformed DISCO_CONFIG
            self.config = f"{work}/disco-config.json"
            with open(self.config, "w") as f:
                f.write(DISCO_CONFIG)
        self.servers = []
        used = set()

        def port():
            # free_port closes its probe socket, so it can hand out the same port twice
            for _ in range(100):
                p = free_port()
                if p not in used:
                    used.add(p)
                    return p
            raise RuntimeError("no distinct free ports")

        for i in range(3):
            s = {k: port() for k in ("http", "server", "serf")}
            s["name"] = f"d{i + 1}"
            self.servers.append(s)
        try:
            for i, s in enumerate(self.servers):
                self.start(s, join=None if i == 0 else self.servers[0]["serf"])
            until("disco leader", lambda: self.leader() is not None)
        except BaseException:
            log(f"disco did not start; logs kept in {work}")
            self.stop()
            raise

    def start(self, s, join=None):
        args = [BIN, "agent", "-server", "-bootstrap-expect", "3", "-node", s["name"],
                "-bind", "127.0.0.1", "-client", "127.0.0.1", "-log-level", "warn",
                "-data-dir", f"{self.work}/{s['name']}", "-http-port", str(s["http"]),
                "-server-port", str(s["server"]), "-serf-lan-port", str(s["serf"]),
                "-dns-port", "-1", "-serf-wan-port", "-1"]
        if self.config:
            args += ["-config-file", self.config]
        if join:
            args += ["-retry-join", f"127.0.0.1:{join}", "-retry-interval", "200ms"]
        log_f = open(f"{self.work}/{s['name']}.log", "ab")
        s["proc"] = subprocess.Popen(args, stdout=log_f, stderr=log_f, start_new_session=True)

    def leader(self):
        for s in self.servers:
            if s.get("proc") is None or s["proc"].poll() is not None:
                continue
            try:
                st, body = call(s["http"], "GET", "/v1/status/leader", timeout=0.5)
            except Exception:
                continue
            addr = json.loads(body or b'""') if st == 200 else ""
            for t in self.servers:
                if addr == f"127.0.0.1:{t['server']}" and t["proc"].poll() is None:
                    return t
        return None

    def url(self):
        return f"http://127.0.0.1:{self.leader()['http']}"

    def leader_name(self):
        return self.leader()["name"]

    def leader_port(self):
        return self.leader()["http"]

    def pids(self):
        return {s["name"]: s["proc"].pid for s in self.servers}

    def data_dir(self, name):
        return f"{self.work}/{name}"

    def snapshot_state(self):
        """The leader's `Stats.raft.last_snapshot_index` (a string)."""
        st, body = call(self.leader_port(), "GET", "/v1/agent/self", timeout=2.0)
        if st != 200:
            return None
        return json.loads(body)["Stats"]["raft"].get("last_snapshot_index")

    def seed(self):
        port = self.leader()["http"]
        for n in range(READ_KEYS):
            call(port, "PUT", f"/v1/kv/bench/key-{n}", b"v" * 100)

    def put_via(self, s, key):
        st, body = call(s["http"], "PUT", f"/v1/kv/{key}", b"x", timeout=3.0)
        return st == 200 and body.strip() == b"true"

    def kill_leader(self):
        ld = self.leader()
        os.killpg(ld["proc"].pid, signal.SIGKILL)
        ld["proc"].wait()
        return ld, [s for s in self.servers if s is not ld]

    def restart(self, s):
        self.start(s)
        until("disco member back", lambda: self.put_via(s, "bench/back"), 60)

    def stop(self):
        for s in self.servers:
            p = s.get("proc")
            if p and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# ---------------------------------------------------------------------------- etcd

class Etcd:
    name = "etcd"
    ports = {1: 23791, 2: 23792, 3: 23793}

    def __init__(self, work):
        self.work = work
        self.base = f"{work}/etcd"
        self.env = dict(os.environ, BASE=self.base)
        self.sh("wipe")
        try:
            self.sh("start")
            until("etcd leader", lambda: self.leader() is not None)
        except BaseException:
            log(f"etcd did not start; logs kept in {work}")
            self.stop()
            raise

    def sh(self, *args):
        return subprocess.run([os.path.join(PERFLAB, "etcd-cluster.sh"), *args], env=self.env,
                              capture_output=True, text=True, timeout=120)

    def status(self, i):
        st, body = call(self.ports[i], "POST", "/v3/maintenance/status", b"{}", timeout=0.5)
        return json.loads(body) if st == 200 else None

    def leader(self):
        for i in self.ports:
            try:
                s = self.status(i)
            except Exception:
                continue
            if s and s.get("leader") and s["leader"] == s["header"]["member_id"]:
                return i
        return None

    def url(self):
        return f"http://127.0.0.1:{self.ports[self.leader()]}"

    def leader_name(self):
        return f"m{self.leader()}"

    def leader_port(self):
        return self.ports[self.leader()]

    def pids(self):
        out = {}
        for i in self.ports:
            try:
                with open(f"{self.base}/m{i}.pid") as f:
                    out[f"m{i}"] = int(f.read().strip())
            except (OSError, ValueError):
                pass
        return out

    def data_dir(self, name):
        return f"{self.base}/{name}"

    def snapshot_state(self):
        """The leader's member/snap/*.snap file names (etcd keeps the newest few)."""
        d = f"{self.data_dir(self.leader_name())}/member/snap"
        return frozenset(f for f in os.listdir(d) if f.endswith(".snap"))

    def seed(self):
        port = self.ports[self.leader()]
        v = base64.b64encode(b"v" * 100).decode()
        for n in range(READ_KEYS):
            k = base64.b64encode(f"bench/key-{n}".encode()).decode()
            call(port, "POST", "/v3/kv/put", json.dumps({"key": k, "value": v}).encode())

    def put_via(self, i, key):
        k = base64.b64encode(key.encode()).decode()
        st, body = call(self.ports[i], "POST", "/v3/kv/put",
                        json.dumps({"key": k, "value": "eA=="}).encode(), timeout=3.0)
        return st == 200 and b'"error"' not in body

    def kill_leader(self):
        ld = self.leader()
        self.sh("kill9-member", str(ld))
        return ld, [i for i in self.ports if i != ld]

    def restart(self, i):
        self.sh("restart-member", str(i))
        until("etcd member back", lambda: self.put_via(i, "bench/back"), 60)

    def stop(self):
        self.sh("stop")


def failover(system):
    """Kill the leader while a put is issued every 10 ms through the survivors; the time from the
    kill until the first put issued after it is acknowledged."""
    times = []
    for t in range(TRIALS):
        time.sleep(1)
        killed, survivors = system.kill_leader()
        t0 = time.monotonic()
        ok_at = []
        stop = threading.Event()

        def writer(target, n):
            key = f"fo/{t}/{n}"
            try:
                if system.put_via(target, key) and not stop.is_set():
                    ok_at.append(time.monotonic())
                    stop.set()
            except Exception:
                pass

        n = 0
        workers = []
        while not stop.is_set() and time.monotonic() - t0 < 20:
            th = threading.Thread(target=writer, args=(survivors[n % len(survivors)], n), daemon=True)
            th.start()
            workers.append(th)
            n += 1
            time.sleep(0.01)
        for th in workers:
            th.join(timeout=5)
        if ok_at:
            times.append(min(ok_at) - t0)
            log(f"{system.name} failover trial {t + 1}: {times[-1]:.3f}s")
        system.restart(killed)
    return times


def du(path):
    total = 0
    for dp, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dp, f))
            except OSError:
                pass
    return total


def growth(system):
    """Put unique keys through the leader at 64 connections in GROWTH_STEP_S-second steps until
    GROWTH_WRITES entries are in the log; after each step: the leader's data dir, its sled
    store, the snapshot file, the Raft indexes and the leader's RSS."""
    rows = []
    step = 0
    last = 0
    while last < GROWTH_WRITES and step < 40:
        ld = system.leader()
        env = dict(os.environ, TARGET="disco", TEST="put", PREFIX=f"g{step}", CONNS="64",
                   VALSIZE="100")
        t0 = time.monotonic()
        subprocess.run(["wrk", "-t2", "-c64", f"-d{GROWTH_STEP_S}s", "--timeout", "5s", "-s", KV_LUA,
                        f"http://127.0.0.1:{ld['http']}"], env=env, capture_output=True,
                       timeout=GROWTH_STEP_S + 60)
        took = time.monotonic() - t0
        step += 1
        d = f"{system.work}/{ld['name']}"
        st, body = call(ld["http"], "GET", "/v1/agent/self")
        raft = json.loads(body)["Stats"]["raft"]
        last = int(raft.get("last_log_index", "0"))
        rss = 0
        try:
            with open(f"/proc/{ld['proc'].pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) // 1024
        except OSError:
            pass
        snap = os.path.join(d, "raft-snapshot.bin")
        rows.append((last, du(d), du(os.path.join(d, "disco.sled")),
                     os.path.getsize(snap) if os.path.exists(snap) else 0,
                     raft.get("last_log_index"), raft.get("last_snapshot_index"), rss, took))
        log("growth", rows[-1])
    return rows


def preload(system):
    """PRELOAD_KEYS distinct keys (PRELOAD_KEY_LEN-byte keys preload/<proc>/<zero-padded n>,
    PRELOAD_VALSIZE-byte values) through the leader, by PRELOAD_PROCS load_keys.py processes of
    PRELOAD_THREADS keep-alive connections each, bounded by PRELOAD_MAX_S."""
    port = system.leader_port()
    procs = []
    t0 = time.monotonic()
    for p in range(PRELOAD_PROCS):
        count = PRELOAD_KEYS // PRELOAD_PROCS + (1 if p < PRELOAD_KEYS % PRELOAD_PROCS else 0)
        if count == 0:
            continue
        procs.append(subprocess.Popen(
            [sys.executable, LOAD_KEYS_PY, "--target", system.name, "--port", str(port),
             "--prefix", f"preload/{p}/", "--count", str(count), "--threads", str(PRELOAD_THREADS),
             "--valsize", str(PRELOAD_VALSIZE), "--key-len", str(PRELOAD_KEY_LEN),
             "--max-seconds", str(PRELOAD_MAX_S)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    ok = err = 0
    first_err = None
    for pr in procs:
        try:
            out, _ = pr.communicate(timeout=max(1.0, t0 + PRELOAD_MAX_S + 60 - time.monotonic()))
        except subprocess.TimeoutExpired:
            pr.kill()
            out, _ = pr.communicate()
        m = re.search(r"^LOAD .*keys_ok=(\d+) errors=(\d+).*$", out or "", re.M)
        if m:
            ok += int(m.group(1))
            err += int(m.group(2))
            fe = re.search(r"first_error=(.*)$", m.group(0))
            first_err = first_err or (fe and fe.group(1))
        else:
            first_err = first_err or (out or "").strip()[-300:]
    secs = time.monotonic() - t0
    r = {"keys": ok, "errors": err, "secs": secs, "rate": ok / secs if secs > 0 else 0.0,
         "first_error": first_err}
    log(f"{system.name} preload", r)
    return r


def memory(system):
    """VmRSS (KiB) of every server process, by server name."""
    return {n: rss_kb(pid) for n, pid in sorted(system.pids().items())}


def long_run(system):
    """One LONG_RUN_S-second put run at LONG_CONNS connections against the leader, with the
    leader's snapshot state sampled before, every 2 s during, and after it."""
    seen = []
    stop = threading.Event()

    def sample():
        try:
            v = system.snapshot_state()
        except Exception:
            return
        if v is not None:
            seen.append(v)

    def sampler():
        while not stop.wait(2.0):
            sample()

    sample()
    before = seen[0] if seen else None
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        r = wrk(system.url(), system.name, "put", LONG_CONNS,
                f"{system.name}long{int(time.time())}", seconds=LONG_RUN_S)
    finally:
        stop.set()
        th.join(timeout=10)
    sample()
    if system.name == "disco":
        values = list(dict.fromkeys(seen))  # distinct last_snapshot_index values, in order
        snaps = max(0, len(values) - 1) if before is not None else None
        detail = "last_snapshot_index " + " → ".join(values)
    else:
        names = set().union(*seen) if seen else set()
        new = sorted(names - (before or set()))
        snaps = len(new) if before is not None else None
        detail = "new snap files: " + (", ".join(new) or "none")
    out = {"r": r, "snapshots": snaps, "detail": detail}
    log(f"{system.name} long run", r and r.get("rps"), r and r.get("p99_ms"), snaps, detail)
    return out


def pct(vals, p):
    s = sorted(vals)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def extra_sections(mem, loads, longs):
    """Markdown for the preload, memory and long-run sections."""
    rows = []
    mib = lambda kb: f"{kb / 1024:.1f}" if kb is not None else "–"

    def per_server(d, leader, f):
        return " · ".join(f"{n}{'*' if n == leader else ''} {f(v)}" for n, v in sorted(d.items()))

    if loads:
        rows += ["", f"### Preload ({PRELOAD_KEYS:,} distinct keys of {PRELOAD_KEY_LEN} B, "
                 f"{PRELOAD_VALSIZE}-byte values, through the leader; {PRELOAD_PROCS} load_keys.py "
                 f"× {PRELOAD_THREADS} connections)", "",
                 "| system | keys written | errors | seconds | keys/s |", "|---|---:|---:|---:|---:|"]
        for name in TARGETS:
            r = loads.get(name)
            if r:
                rows.append(f"| {name} | {r['keys']:,} | {r['errors']} | {r['secs']:.1f} | {r['rate']:,.0f} |")
                if r.get("first_error"):
                    rows.append(f"|  | first error: {str(r['first_error'])[:200].replace('|', '/')} | | | |")
    bpk = {}
    if mem:
        rows += ["", "### Memory (VmRSS, MiB; * = leader) and data dirs after the preload", "",
                 "| system | idle RSS per server | after-preload RSS per server | leader bytes/key | data dir per server (MiB) |",
                 "|---|---|---|---:|---|"]
        for name in TARGETS:
            m = mem.get(name)
            if not m:
                continue
            leader = m.get("leader", m["leader_idle"])
            after = m.get("after")
            b = "–"
            keys = (loads.get(name) or {}).get("keys") or 0
            if after and keys and after.get(leader) is not None and m["idle"].get(leader) is not None:
                bpk[name] = (after[leader] - m["idle"][leader]) * 1024 / keys
                b = f"{bpk[name]:,.0f}"
            rows.append(f"| {name} | {per_server(m['idle'], m['leader_idle'], mib)} | "
                        f"{per_server(after, leader, mib) if after else '–'} | {b} | "
                        f"{per_server(m['dirs'], leader, lambda v: f'{v / 2**20:.1f}') if m.get('dirs') else '–'} |")
        rows.append("")
        rows.append("bytes/key = (leader RSS after the preload − the same server's idle RSS) / keys written.")
    if longs:
        rows += ["", f"### Long put run ({LONG_RUN_S} s at {LONG_CONNS} connections against the leader"
                 + (f"; disco config {DISCO_CONFIG}" if DISCO_CONFIG and "disco" in longs else "") + ")", "",
                 "| system | req/s | p50 (ms) | p99 (ms) | max (ms) | max ÷ p99 | snapshots during the run |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for name in TARGETS:
            lr = longs.get(name)
            if not lr:
                continue
            r = lr["r"]
            snaps = "–" if lr["snapshots"] is None else str(lr["snapshots"])
            if r:
                p99, mx = float(r["p99_ms"]), float(r["max_ms"])
                errs = int(r.get("app_errs", 0)) + int(r.get("sock_errs", 0))
                rows.append(f"| {name} | {float(r['rps']):,.0f} | {float(r['p50_ms']):.2f} | {p99:.2f} | "
                            f"{mx:.1f} | {mx / p99 if p99 > 0 else 0:.1f} | {snaps} |"
                            + (f" errors: {errs}" if errs else ""))
            else:
                rows.append(f"| {name} | – | – | – | – | – | {snaps} |")
        rows.append("")
        for name in TARGETS:
            if longs.get(name):
                rows.append(f"- {name}: {longs[name]['detail']}")
    d_l, e_l = longs.get("disco"), longs.get("etcd")
    ratio = []
    if "disco" in bpk and "etcd" in bpk and bpk["etcd"] > 0:
        ratio.append(f"leader bytes per key {bpk['disco'] / bpk['etcd']:.2f}")
    if d_l and e_l and d_l["r"] and e_l["r"] and float(e_l["r"]["p99_ms"]) > 0:
        ratio.append(f"long-run p99 {float(d_l['r']['p99_ms']) / float(e_l['r']['p99_ms']):.2f}")
    if ratio:
        rows += ["", "disco/etcd: " + "; ".join(ratio)]
    return rows


def main():
    if shutil.which("wrk") is None:
        sys.exit("wrk not installed (apt-get install wrk)")
    if "etcd" in TARGETS and shutil.which("etcd") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "etcd-server", "etcd-client"],
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), check=False)
    results = {}
    fail = {}
    grow = []
    mem = {}
    loads = {}
    longs = {}
    for name in TARGETS:
        work = tempfile.mkdtemp(prefix=f"disco-cluster-bench-{name}-")
        system = Disco(work) if name == "disco" else Etcd(work)
        ok = False
        try:
            time.sleep(IDLE_SETTLE_S)
            m = mem[name] = {"idle": memory(system), "leader_idle": system.leader_name()}
            log(name, "idle RSS KiB", m["idle"], "leader", m["leader_idle"])
            if PRELOAD_KEYS > 0:
                loads[name] = preload(system)
                time.sleep(3)  # followers finish applying
                m["after"] = memory(system)
                m["leader"] = system.leader_name()
                m["dirs"] = {n: du(system.data_dir(n)) for n in m["after"]}
                if m["leader"] != m["leader_idle"]:
                    log(f"{name}: leader changed during the preload ({m['leader_idle']} → {m['leader']})")
                log(name, "after-preload RSS KiB", m["after"], "leader", m["leader"],
                    "data dirs", m["dirs"])
            system.seed()
            tests = [] if GROWTH_ONLY else [("put", "put"), ("consistent", "get"), ("stale", "stale")]
            if name == "disco" and not GROWTH_ONLY:
                tests.append(("get", None))
            tests = [t for t in tests if t[0] in TESTS]
            for ours, theirs in tests:
                test = ours if name == "disco" else theirs
                if test is None:
                    continue
                for c in CONNS:
                    r = wrk(system.url(), name, test, c, f"{name}{c}{ours}{int(time.time())}")
                    results[(name, ours, c)] = r
                    log(name, ours, c, r and r.get("rps"), r and r.get("p99_ms"))
            if LONG_RUN_S > 0 and not GROWTH_ONLY:
                longs[name] = long_run(system)
            if not GROWTH_ONLY and TRIALS > 0:
                fail[name] = failover(system)
            if name == "disco" and GROWTH_WRITES > 0:
                grow = growth(system)
            ok = True
        finally:
            system.stop()
            if ok:
                shutil.rmtree(work, ignore_errors=True)
            else:
                log(f"failed; logs kept in {work}")

    rows = ["| test | conns | disco req/s | disco p50 / p99 (ms) | etcd req/s | etcd p50 / p99 (ms) | disco/etcd |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    label = {"put": "KV put", "consistent": "linearizable get (disco `?consistent`, etcd default)",
             "stale": "stale get (disco `?stale`, etcd serializable)", "get": "default get (disco only)"}
    for test in ["put", "consistent", "stale", "get"]:
        for c in CONNS:
            d = results.get(("disco", test, c))
            e = results.get(("etcd", test, c))
            if not d and not e:
                continue
            fmt = lambda r: (f"{float(r['rps']):,.0f}", f"{float(r['p50_ms']):.2f} / {float(r['p99_ms']):.2f}") if r else ("–", "–")
            dr, dl = fmt(d)
            er, el = fmt(e)
            ratio = f"{float(d['rps']) / float(e['rps']):.2f}" if d and e and float(e["rps"]) > 0 else "–"
            rows.append(f"| {label[test]} | {c} | {dr} | {dl} | {er} | {el} | {ratio} |")
    rows.append("")
    rows.append("| failover (kill -9 leader → first acknowledged put) | trials | median (s) | p90 (s) | max (s) |")
    rows.append("|---|---:|---:|---:|---:|")
    for name in TARGETS:
        v = fail.get(name) or []
        if v:
            rows.append(f"| {name} | {len(v)} | {pct(v, 50):.2f} | {pct(v, 90):.2f} | {max(v):.2f} |")
    rows += extra_sections(mem, loads, longs)
    if grow:
        rows.append("")
        rows.append("| Raft log index | leader data dir (MiB) | sled (MiB) | snapshot file (MiB) | last log index | last snapshot index | leader RSS (MiB) | step took (s) |")
        rows.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, total, sled, snap, lli, lsi, rss, took in grow:
            rows.append(f"| {n:,} | {total / 2**20:.1f} | {sled / 2**20:.1f} | {snap / 2**20:.1f} | {lli} | {lsi} | {rss} | {took:.0f} |")
    out = "\n".join(rows) + "\n"
    report(OUT, out)


if __name__ == "__main__":
    main()
