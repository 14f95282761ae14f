#!/usr/bin/env python3
"""Long mixed-load soak: three disco servers (`-server -bootstrap-expect 3`, each with its own
data dir and DNS port, retry-joining the first) and one client agent, all on 127.0.0.1, loaded
for SOAK_SECONDS with the request mix of tests/t80_soak.rs at a higher rate (keep-alive
connections, no pauses), while a nemesis alternately transfers leadership and `kill -9`s a
follower (restarted after SOAK_DOWN_S with the same flags and data dir).

Workers (Python threads; each one kind of load, targets round robin over the live agents):
  reads     GET of KV (an acknowledged key), /v1/catalog/services and /v1/health/service/web,
            each default, `?stale` and `?consistent` (a `?consistent` 404 of an acknowledged
            key is an error: a lost or invisible write)
  blocking  `?index=N&wait=SOAK_WAIT` on the KV prefix soak/c/ (the CAS counters) and on
            /v1/health/service/web, N taken from the previous answer's X-Consul-Index
  puts      PUT of unique keys soak/p/w<worker>-<n>; the acknowledged ones (`true`) are checked
  cas       a counter per worker (soak/c/w<worker>): `?consistent` read, then `?cas=<index>`
  services  on the client agent: service register (TTL check), TTL pass
            (/v1/agent/check/pass/service:<id>), deregister, over 20 service IDs
  dns       SRV queries over UDP (hand-built packets, resent every 2 s) for web.service.consul
            and consul.service.consul
Plus a monitor polling /v1/status/leader once a second on each live server (leader changes
are changes of the leader all live servers agree on), and the nemesis every SOAK_NEMESIS_S
(first at half that). Workers skip a server while it is down.

Every request has SOAK_HANG seconds (blocking queries: plus their wait); one unanswered by then
is a hang. Errors are counted by kind (HTTP status + the first 40 characters of the body; io
errors by exception; requests cut by the nemesis's kill apart). At the end: VmRSS of each
process (start = after formation, end = when the load stops), one `?consistent&recurse` read
of soak/ against which every acknowledged put is checked (lost writes), the CAS counters
(never below their last acknowledged value), and how many keys each server holds (`?stale`).

Output: OUT_DIR/soak.md (markdown for docs/benchmarks.md), printed too; agent logs in a fresh
/tmp/disco-soak-XXXX, kept when the verdict is FAIL, on Ctrl-C, or with KEEP_WORK=1. Timings are not
judged: the exit status is 1 only on a hang, a lost write or no leader at the end (2 when the
cluster never formed). Every process started is killed (its process group) on any exit.

Usage: scripts/bench.sh soak   (or python3 scripts/bench/soak.py)
Env (defaults in brackets):
  SOAK_SECONDS [600]     length of the load
  SOAK_WORKERS [9]       worker threads; worker i runs SOAK_MIX[i % len(SOAK_MIX)]
  SOAK_MIX ["reads reads blocking blocking puts puts cas services dns"]  (the t80 mix)
  SOAK_NEMESIS_S [60]    seconds between nemesis actions (0: no nemesis)
  SOAK_DOWN_S [10]       how long a killed follower stays down
  SOAK_HANG [10]         seconds without an answer that make a hang
  SOAK_WAIT [1s]         wait of the blocking queries
  SOAK_PROGRESS_S [30]   progress line period (stderr)
  DISCO_BIN [target/release/disco]  OUT_DIR [target/bench]  KEEP_WORK [0]
"""

import base64
import collections
import http.client
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
import threading
import time
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import free_port, http_call, kill_group, report, until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
MIX = os.environ.get("SOAK_MIX", "reads reads blocking blocking puts puts cas services dns").split()
WORKERS = int(os.environ.get("SOAK_WORKERS", str(len(MIX))))
NEMESIS_S = float(os.environ.get("SOAK_NEMESIS_S", "60"))
DOWN_S = float(os.environ.get("SOAK_DOWN_S", "10"))
HANG = float(os.environ.get("SOAK_HANG", "10"))
WAIT = os.environ.get("SOAK_WAIT", "1s")
PROGRESS_S = float(os.environ.get("SOAK_PROGRESS_S", "30"))
OUT_DIR = os.environ.get("OUT_DIR", os.path.join(ROOT, "target/bench"))
KEEP_WORK = os.environ.get("KEEP_WORK") == "1"
KINDS = ("reads", "blocking", "puts", "cas", "services", "dns")
KEEP = [False]  # keep the work dir (set on failure)


def log(*a):
    print("[soak]", *a, file=sys.stderr, flush=True)


def seconds_of(d):
    """`1s`, `500ms`, `2m` → seconds."""
    m = re.fullmatch(r"([\d.]+)(ms|s|m)?", d.strip())
    if not m:
        sys.exit(f"bad duration {d!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[m.group(2)]


WAIT_S = seconds_of(WAIT)


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    return sorted_vals[min(len(sorted_vals) - 1, int(round(p / 100 * (len(sorted_vals) - 1))))]


def short(body):
    """The first 40 characters of an answer's body, on one line."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return " ".join(text.split())[:40]


def cell(s):
    return str(s).replace("|", "\\|")


def vm(pid, field):
    """A /proc/PID/status field in MiB (VmRSS, VmHWM), None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------- accounting

class Stats:
    """What one request type saw: answers, latencies, errors and notes by kind."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answered = 0
        self.ok = 0
        self.hangs = 0
        self.lat = []
        self.errors = collections.Counter()
        self.notes = collections.Counter()


STATS = collections.defaultdict(Stats)
STATS_LOCK = threading.Lock()
HANGS = []  # (t, what)
T0 = [time.monotonic()]


def stats(kind):
    with STATS_LOCK:
        return STATS[kind]


def elapsed():
    return time.monotonic() - T0[0]


class Target:
    """One agent the load goes to; `down` while the nemesis has it stopped, `gen` counts kills
    (a request that saw the generation change was cut by the nemesis, not lost by disco)."""

    def __init__(self, name, server, port):
        self.name = name
        self.server = server
        self.http, self.dns, self.serf, self.rpc = port(), port(), port(), port()
        self.down = False
        self.gen = 0
        self.proc = None
        self.starts = 0
        self.args = []

    def addr(self):
        return f"127.0.0.1:{self.rpc}"


class Client:
    """One worker's keep-alive HTTP connections, one per agent."""

    def __init__(self):
        self.conns = {}

    def drop(self, t):
        c = self.conns.pop(t.name, None)
        if c:
            c[0].close()

    def call(self, t, method, path, body=None, timeout=None):
        """('answer', status, body, headers) | ('hang',) | ('io', name); a request on a reused
        connection that the agent had closed is sent again once on a fresh one."""
        timeout = timeout or HANG
        for attempt in (0, 1):
            c = self.conns.get(t.name)
            if c and c[1] != t.gen:
                self.drop(t)
                c = None
            reused = c is not None
            if not c:
                c = (http.client.HTTPConnection("127.0.0.1", t.http, timeout=timeout), t.gen)
                self.conns[t.name] = c
            conn = c[0]
            try:
                conn.timeout = timeout
                if conn.sock:
                    conn.sock.settimeout(timeout)
                conn.request(method, path, body=body)
                r = conn.getresponse()
                data = r.read()
                if r.will_close:
                    self.drop(t)
                return ("answer", r.status, data, r.headers)
            except (socket.timeout, TimeoutError):
                self.drop(t)
                return ("hang",)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.drop(t)
                if reused and attempt == 0:
                    ka = stats("(keep-alive)")
                    with ka.lock:
                        ka.notes["connection closed by the agent, request resent"] += 1
                    continue
                return ("io", type(e).__name__)
            except (OSError, http.client.HTTPException) as e:
                self.drop(t)
                return ("io", type(e).__name__)
        return ("io", "unreachable")


def record(kind, t, gen, t0, out, ok_statuses=(), judge=None):
    """Account for one HTTP outcome; the (status, body, headers) of an acceptable answer."""
    s = stats(kind)
    cut = t.down or t.gen != gen
    ms = (time.monotonic() - t0) * 1000
    with s.lock:
        if out[0] == "answer":
            _, status, body, headers = out
            s.answered += 1
            s.lat.append(ms)
            err = None
            if 200 <= status < 300 or status in ok_statuses:
                err = judge(status, body, headers) if judge else None
            else:
                err = f"{status} {short(body)}"
            if err is None:
                s.ok += 1
                return status, body, headers
            if err.startswith("note:"):
                s.ok += 1
                s.notes[err[5:].strip()] += 1
                return status, body, headers
            s.errors[err] += 1
            return None
        if out[0] == "hang":
            if cut:
                s.errors["timeout, agent stopped by the nemesis"] += 1
            else:
                s.hangs += 1
                HANGS.append((elapsed(), f"{kind} → {t.name}"))
            return None
        s.errors[f"io {out[1]}" + (", agent stopped by the nemesis" if cut else "")] += 1
        return None


# ---------------------------------------------------------------------------- cluster

class Cluster:
    def __init__(self, work):
        self.work = work
        taken = set()

        def port():
            while True:
                p = free_port()
                if p not in taken:
                    taken.add(p)
                    return p
        self.servers = [Target(f"soak-s{i + 1}", True, port) for i in range(3)]
        self.client = Target("soak-client", False, port)
        self.targets = self.servers + [self.client]
        self.lock = threading.Lock()
        self.closing = False
        join = ["-retry-join", f"127.0.0.1:{self.servers[0].serf}", "-retry-interval", "200ms"]
        for i, t in enumerate(self.targets):
            args = [BIN, "agent", "-node", t.name, "-bind", "127.0.0.1", "-client", "127.0.0.1",
                    "-http-port", str(t.http), "-dns-port", str(t.dns), "-server-port", str(t.rpc),
                    "-serf-lan-port", str(t.serf), "-serf-wan-port", "-1", "-log-level", "warn",
                    "-data-dir", os.path.join(work, t.name)]
            if t.server:
                args += ["-server", "-bootstrap-expect", "3"]
            if i > 0:
                args += join
            t.args = args

    def start(self, t):
        with self.lock:
            if self.closing:
                return False
            logf = open(os.path.join(self.work, f"{t.name}.log"), "ab")
            t.proc = subprocess.Popen(t.args, stdout=logf, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            logf.close()
            t.starts += 1
            return True

    def kill(self, t):
        with self.lock:
            if t.proc:
                kill_group(t.proc)

    def stop_all(self):
        with self.lock:
            self.closing = True
            for t in self.targets:
                if t.proc:
                    kill_group(t.proc)

    def live(self, t):
        return not t.down and t.proc is not None and t.proc.poll() is None

    def by_addr(self, addr):
        return next((t for t in self.servers if t.addr() == addr), None)

    def leader_of(self, t, client=None, kind=None):
        """The leader address `t` names ('' for none), None without an answer."""
        if client is None:
            try:
                return json.loads(http_call(t.http, "GET", "/v1/status/leader", timeout=2) or b'""')
            except (OSError, ValueError, http.client.HTTPException):
                return None
        gen, t0 = t.gen, time.monotonic()
        got = record(kind, t, gen, t0, client.call(t, "GET", "/v1/status/leader"))
        if not got:
            return None
        try:
            return json.loads(got[1] or b'""')
        except ValueError:
            return None

    def agreed(self, client=None, kind=None):
        """The server all live servers name as leader, or None."""
        live = [t for t in self.servers if self.live(t)]
        views = [self.leader_of(t, client, kind) for t in live]
        if not views or not views[0] or any(v != views[0] for v in views):
            return None
        return self.by_addr(views[0])

    def form(self):
        for t in self.targets:
            self.start(t)
        until("an agreed leader of the three servers", self.agreed, deadline=60, step=0.2)

        def client_ready():
            if self.client.proc.poll() is not None:
                raise SystemExit("the client agent exited; see its log")
            body = http_call(self.client.http, "GET", f"/v1/catalog/node/{self.client.name}", timeout=2)
            return self.leader_of(self.client) and body.strip() not in (b"", b"null")
        until("the client agent joined", client_ready, deadline=60, step=0.2)


# ---------------------------------------------------------------------------- load

ACKED = []            # (key, value) of acknowledged puts
ACKED_LOCK = threading.Lock()
COUNTERS = {}         # counter key -> last acknowledged value
STOP = threading.Event()


def b64(s):
    try:
        return base64.b64decode(s or "").decode("utf-8", "replace")
    except ValueError:
        return "<bad base64>"


class Worker:
    def __init__(self, wid, kind, cluster, end):
        self.wid, self.kind, self.cluster, self.end = wid, kind, cluster, end
        self.client = Client()
        self.n = wid * 7
        self.rr = wid
        self.index = {}

    def target(self):
        ts = self.cluster.targets
        for _ in range(len(ts)):
            self.rr += 1
            t = ts[self.rr % len(ts)]
            if not t.down:
                return t
        return None

    def http(self, kind, t, method, path, body=None, timeout=None, **kw):
        gen, t0 = t.gen, time.monotonic()
        return record(kind, t, gen, t0, self.client.call(t, method, path, body, timeout), **kw)

    def run(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if self.kind == "dns" else None
        try:
            while not STOP.is_set() and time.monotonic() < self.end:
                self.n += 1
                t = self.cluster.client if self.kind == "services" else self.target()
                if t is None or t.down:
                    time.sleep(0.01)
                    continue
                try:
                    getattr(self, self.kind)(t, sock)
                except Exception as e:  # a bug of this script: counted, not fatal
                    with stats("(load generator)").lock:
                        stats("(load generator)").errors[f"{self.kind}: {type(e).__name__} {e}"[:80]] += 1
                    time.sleep(0.1)
        finally:
            if sock:
                sock.close()
            for name in list(self.client.conns):
                self.client.conns.pop(name)[0].close()

    def reads(self, t, _):
        n = self.n
        mode = ["", "stale", "consistent"][n % 3]
        what = ["kv", "catalog", "health"][(n // 3) % 3]
        label = f"{mode} read" if mode else "default read"
        q = f"?{mode}" if mode else ""
        if what == "kv":
            key, value = random.choice(ACKED) if ACKED else ("soak/c/w0", None)

            def judge(status, body, headers, value=value):
                if status == 404:
                    if value is not None and mode == "consistent":
                        return "404 for an acknowledged key (lost or invisible write)"
                    return "note: 404 (key not there or not yet replicated)"
                return None
            self.http(f"GET kv, {label}", t, "GET", f"/v1/kv/{key}{q}", ok_statuses=(404,), judge=judge)
        elif what == "catalog":
            self.http(f"GET catalog/services, {label}", t, "GET", f"/v1/catalog/services{q}")
        else:
            self.http(f"GET health/service/web, {label}", t, "GET", f"/v1/health/service/web{q}")

    def blocking(self, t, _):
        if self.n % 2:
            kind, path = "GET kv/soak/c/?recurse blocking", "/v1/kv/soak/c/?recurse"
        else:
            kind, path = "GET health/service/web blocking", "/v1/health/service/web"
        sep = "&" if "?" in path else "?"
        idx = self.index.get(path, 0)

        def judge(status, body, headers):
            h = headers.get("X-Consul-Index") or ""
            if not h.strip().isdigit():
                return f"{status} without X-Consul-Index"
            return "note: 404 (no counter yet)" if status == 404 else None
        got = self.http(kind, t, "GET", f"{path}{sep}index={idx}&wait={WAIT}", timeout=HANG + WAIT_S,
                        ok_statuses=(404,), judge=judge)
        # The next call blocks on the index this one saw (0 again after an error).
        self.index[path] = int(got[2]["X-Consul-Index"]) if got else 0

    def puts(self, t, _):
        key, value = f"soak/p/w{self.wid}-{self.n}", f"v{self.wid}-{self.n}"
        got = self.http("PUT kv (unique key)", t, "PUT", f"/v1/kv/{key}", value.encode(),
                        judge=lambda s, b, h: None if b.strip() == b"true" else f"{s} {short(b)}")
        if got:
            with ACKED_LOCK:
                ACKED.append((key, value))

    def cas(self, t, _):
        key = f"soak/c/w{self.wid}"
        seen = []

        def judge(status, body, headers):
            if status == 404:
                seen.append((0, 0))
                return "note: 404 (counter not written yet)"
            try:
                e = json.loads(body)[0]
                seen.append((int(e["ModifyIndex"]), int(b64(e.get("Value")) or 0)))
            except (ValueError, KeyError, IndexError, TypeError):
                return f"{status} unparsable counter {short(body)}"
            return None
        if not self.http("GET kv ?consistent (CAS read)", t, "GET", f"/v1/kv/{key}?consistent",
                         ok_statuses=(404,), judge=judge):
            return
        idx, value = seen[0]
        nxt = value + 1
        got = self.http("PUT kv ?cas=", t, "PUT", f"/v1/kv/{key}?cas={idx}", str(nxt).encode(),
                        judge=lambda s, b, h: None if b.strip() == b"true" else
                        ("note: false (CAS not applied)" if b.strip() == b"false" else f"{s} {short(b)}"))
        if got and got[1].strip() == b"true":
            with ACKED_LOCK:
                COUNTERS[key] = nxt

    def services(self, t, _):
        n = self.n
        # The ID moves every 3 requests and the operation every one, so each ID sees every
        # operation in changing orders (with `n % 20` and `n % 5` each ID would get only one).
        sid = f"web-soak-{(n // 3) % 20}"
        op = n % 5
        if op == 0:
            self.http("PUT agent/service/deregister", t, "PUT", f"/v1/agent/service/deregister/{sid}",
                      ok_statuses=(404,), judge=lambda s, b, h: "note: 404 (not registered)" if s == 404 else None)
        elif op in (1, 2):
            body = {"ID": sid, "Name": "web", "Port": 8000 + n % 20, "Tags": ["soak"],
                    "Check": {"TTL": "30s", "Status": "passing"}}
            self.http("PUT agent/service/register", t, "PUT", "/v1/agent/service/register",
                      json.dumps(body).encode())
        else:
            self.http("PUT agent/check/pass (TTL)", t, "PUT", f"/v1/agent/check/pass/service:{sid}?note=ok{n}",
                      ok_statuses=(404,), judge=lambda s, b, h: "note: 404 (service not registered)" if s == 404 else None)

    def dns(self, t, sock):
        name = "web.service.consul" if self.n % 2 == 0 else "consul.service.consul"
        kind = f"DNS SRV {name}"
        qid = self.n & 0xFFFF
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        q += struct.pack(">HH", 33, 1)
        gen, t0 = t.gen, time.monotonic()
        end = t0 + HANG
        sends = 0
        answer = None
        err = None
        while answer is None and err is None and time.monotonic() < end:
            try:
                sock.sendto(q, ("127.0.0.1", t.dns))
            except OSError as e:
                err = f"io {type(e).__name__}"
                break
            sends += 1
            resend = min(end, time.monotonic() + 2)
            while (left := resend - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data, _ = sock.recvfrom(4096)
                except (socket.timeout, TimeoutError):
                    break
                except OSError as e:
                    err = f"io {type(e).__name__}"
                    break
                if len(data) >= 12 and data[:2] == q[:2] and data[2] & 0x80:
                    answer = data
                    break
        s = stats(kind)
        cut = t.down or t.gen != gen
        with s.lock:
            if sends > 1:
                s.notes["datagram resent (no answer in 2 s)"] += sends - 1
            if answer is not None:
                s.answered += 1
                s.lat.append((time.monotonic() - t0) * 1000)
                rcode, ancount = answer[3] & 0x0F, struct.unpack(">H", answer[6:8])[0]
                rname = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(rcode, str(rcode))
                if rcode == 0 and (ancount > 0 or name.startswith("web.")):
                    s.ok += 1
                    if ancount == 0:
                        s.notes["NOERROR, no answer records"] += 1
                elif rcode == 3 and name.startswith("web."):
                    s.ok += 1
                    s.notes["NXDOMAIN (no passing web instance)"] += 1
                else:
                    s.errors[f"{rname}, {ancount} answers"] += 1
            elif err:
                s.errors[err + (", agent stopped by the nemesis" if cut else "")] += 1
            elif cut:
                s.errors["timeout, agent stopped by the nemesis"] += 1
            else:
                s.hangs += 1
                HANGS.append((elapsed(), f"{kind} → {t.name}"))


# ---------------------------------------------------------------------------- monitor and nemesis

class Monitor:
    """Polls every live server's /v1/status/leader once a second; counts changes of the agreed
    leader and the seconds without one."""

    def __init__(self, cluster, end):
        self.cluster, self.end = cluster, end
        self.client = Client()
        self.leader = None
        self.changes = 0
        self.history = []   # (t, name)
        self.no_leader_s = 0.0

    def run(self):
        last = time.monotonic()
        while not STOP.is_set() and time.monotonic() < self.end:
            now = self.cluster.agreed(self.client, "GET status/leader (monitor)")
            t = time.monotonic()
            if now is None:
                self.no_leader_s += t - last
            elif now is not self.leader:
                if self.leader is not None:
                    self.changes += 1
                self.leader = now
                self.history.append((elapsed(), now.name))
            last = t
            STOP.wait(max(0.0, 1.0 - (time.monotonic() - t)))


class Nemesis:
    def __init__(self, cluster, end):
        self.cluster, self.end = cluster, end
        self.events = []   # (t, action, result)
        self.victim = 0

    def wait_agreed(self, deadline, differs_from=None):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            ld = self.cluster.agreed()
            if ld is not None and ld is not differs_from:
                return ld
            time.sleep(0.1)
        return None

    def transfer(self):
        c = self.cluster
        ld = c.agreed()
        if ld is None:
            return "transfer-leader", "skipped: no agreed leader"
        t0 = time.monotonic()
        try:
            body = http_call(ld.http, "POST", "/v1/operator/raft/transfer-leader", timeout=HANG + 20)
            answer = f"200 {short(body)}"
        except urllib.error.HTTPError as e:
            answer = f"{e.code} {short(e.read())}"
        except (OSError, http.client.HTTPException) as e:
            answer = f"io {type(e).__name__}"
        took = time.monotonic() - t0
        new = self.wait_agreed(30, differs_from=ld)
        moved = time.monotonic() - t0
        res = f"`{cell(answer)}` in {took:.2f} s; " + (
            f"{new.name} agreed leader after {moved:.2f} s" if new else "no new agreed leader within 30 s")
        return f"transfer-leader on {ld.name}", res

    def kill(self):
        c = self.cluster
        ld = c.agreed()
        if ld is None:
            return "kill -9 a follower", "skipped: no agreed leader"
        followers = [t for t in c.servers if t is not ld and c.live(t)]
        if not followers:
            return "kill -9 a follower", "skipped: no live follower"
        v = followers[self.victim % len(followers)]
        self.victim += 1
        v.down = True
        v.gen += 1
        c.kill(v)
        STOP.wait(DOWN_S)
        if not c.start(v):
            return f"kill -9 {v.name} (follower)", "not restarted: shutting down"
        t0 = time.monotonic()
        back = False
        while time.monotonic() - t0 < 60 and not c.closing:
            if v.proc.poll() is not None:
                break
            if c.leader_of(v):
                back = True
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        if back:
            v.down = False
            return (f"kill -9 {v.name} (follower)",
                    f"restarted after {DOWN_S:.0f} s; answering with a leader {took:.2f} s later")
        return (f"kill -9 {v.name} (follower)",
                f"restarted after {DOWN_S:.0f} s; NOT answering with a leader {took:.0f} s later "
                f"(exit {v.proc.poll()}); left down")

    def run(self):
        if NEMESIS_S <= 0:
            return
        start = time.monotonic()
        k = 0
        while not STOP.is_set():
            at = start + NEMESIS_S / 2 + k * NEMESIS_S
            # Only an action that can finish (a kill: down time + rejoin) before the load ends.
            need = 15 if k % 2 == 0 else DOWN_S + 25
            if at + need > self.end:
                return
            if STOP.wait(max(0.0, at - time.monotonic())):
                return
            t = elapsed()
            action, result = self.transfer() if k % 2 == 0 else self.kill()
            log(f"nemesis at {t:.0f}s: {action}: {result}")
            self.events.append((t, action, result))
            k += 1


# ---------------------------------------------------------------------------- checks and report

def final_listing(c, ld):
    """One `?consistent&recurse` read of soak/ on the leader: {key: value} (raises on an
    error answer; the caller retries)."""
    body = http_call(ld.http, "GET", "/v1/kv/soak/?recurse&consistent", timeout=120)
    return {e["Key"]: b64(e.get("Value")) for e in json.loads(body)}


def key_count(t):
    """Keys under soak/p/ in `t`'s own state (raises without an answer)."""
    return len(json.loads(http_call(t.http, "GET", "/v1/kv/soak/p/?keys&stale", timeout=HANG)))


def log_summary(work, name):
    """(ERROR lines, WARN lines, panics, most frequent message) of an agent's log."""
    path = os.path.join(work, f"{name}.log")
    errs = warns = panics = 0
    msgs = collections.Counter()
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
                if "panicked" in line:
                    panics += 1
                m = re.match(r"\S+\s+(ERROR|WARN)\s+(.*)", line)
                if not m:
                    continue
                if m.group(1) == "ERROR":
                    errs += 1
                else:
                    warns += 1
                msgs[re.sub(r"\d+", "N", m.group(2))[:80]] += 1
    except OSError:
        pass
    top = msgs.most_common(1)
    return errs, warns, panics, (f"{top[0][0]} (×{top[0][1]})" if top else "")


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return cpu, commit + ("+uncommitted changes" if dirty else "")


def on_term(*_):
    raise KeyboardInterrupt


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found (cargo build --release)")
    if not MIX or any(k not in KINDS for k in MIX):
        sys.exit(f"SOAK_MIX: words among {' '.join(KINDS)}")
    signal.signal(signal.SIGTERM, on_term)
    work = tempfile.mkdtemp(prefix="disco-soak-")
    c = Cluster(work)
    verdict_ok = False
    threads = []
    try:
        log(f"starting 3 servers and a client in {work}")
        try:
            c.form()
        except TimeoutError as e:
            log(f"the cluster did not form ({e}); logs in {work}")
            KEEP[0] = True
            return 2
        rss_start = {t.name: vm(t.proc.pid, "VmRSS") for t in c.targets}
        pids_start = {t.name: t.proc.pid for t in c.targets}
        log(f"formed; leader {c.agreed().name}; load for {SECONDS:.0f} s with {WORKERS} workers")

        T0[0] = time.monotonic()
        end = T0[0] + SECONDS
        monitor = Monitor(c, end)
        nemesis = Nemesis(c, end)
        workers = [Worker(i, MIX[i % len(MIX)], c, end) for i in range(WORKERS)]
        threads = [threading.Thread(target=w.run, name=f"{w.kind}-{w.wid}", daemon=True) for w in workers]
        threads.append(threading.Thread(target=monitor.run, name="monitor", daemon=True))
        nem_thread = threading.Thread(target=nemesis.run, name="nemesis", daemon=True)
        threads.append(nem_thread)
        for th in threads:
            th.start()
        next_progress = time.monotonic() + PROGRESS_S
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            if time.monotonic() >= next_progress:
                next_progress += PROGRESS_S
                with STATS_LOCK:
                    ss = list(STATS.values())
                ans = sum(s.answered for s in ss)
                errs = sum(sum(s.errors.values()) for s in ss)
                down = ",".join(t.name for t in c.targets if t.down) or "-"
                ld = monitor.leader.name if monitor.leader else "-"
                log(f"t={elapsed():.0f}s answered={ans} ({ans / elapsed():.0f}/s) errors={errs} "
                    f"hangs={len(HANGS)} acked_puts={len(ACKED)} leader={ld} changes={monitor.changes} down={down}")
        STOP.set()
        load_s = elapsed()
        stuck = []
        for th in threads:
            th.join(timeout=(HANG + WAIT_S + 5) if th is not nem_thread else DOWN_S + 70)
            if th.is_alive():
                stuck.append(th.name)
        rss_end = {t.name: (vm(t.proc.pid, "VmRSS"), vm(t.proc.pid, "VmHWM")) for t in c.targets}

        # The end: an agreed leader, every acknowledged write there.
        end_leader = None
        try:
            end_leader = until("a leader at the end", c.agreed, deadline=30, step=0.2)
        except TimeoutError:
            pass
        listing, listing_err = {}, "no leader"
        give_up = time.monotonic() + 60
        while end_leader and listing_err and time.monotonic() < give_up:
            try:
                listing, listing_err = final_listing(c, c.agreed() or end_leader), None
            except Exception as e:  # retried: a leader change can fail one read
                listing_err = f"{type(e).__name__} {e}"
                time.sleep(0.5)
        acked = list(ACKED)
        verified = not listing_err and end_leader is not None
        lost = [(k, v) for k, v in acked if listing.get(k) != v] if verified else []
        counters_low = [(k, v, listing.get(k)) for k, v in COUNTERS.items()
                        if verified and int(listing.get(k) or 0) < v]
        # Keys each server holds, polled until it has them all; 30 s for all three together.
        replicas = {t.name: None for t in c.servers}
        give_up = time.monotonic() + 30
        for t in c.servers:
            while True:  # at least one try each
                try:
                    replicas[t.name] = key_count(t)
                except Exception:
                    pass
                done = replicas[t.name] is not None and replicas[t.name] >= len(acked)
                if done or time.monotonic() > give_up:
                    break
                time.sleep(0.5)

        # ------------------------------------------------------------------ report
        hangs = len(HANGS)
        total = sum(s.answered for s in STATS.values())
        verdict_ok = hangs == 0 and not lost and verified
        cpu, commit = machine()
        L = []
        L.append("## Soak: three servers and a client under mixed load, leader transfers and kill -9")
        L.append("")
        L.append(f"Measured {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} on `{cpu}`, "
                 f"nproc={os.cpu_count()}, commit `{commit}`: {load_s:.0f} s of load from {WORKERS} worker "
                 f"threads (`{' '.join(MIX)}`), nemesis every {NEMESIS_S:.0f} s.")
        L.append("")
        why = []
        if hangs:
            why.append(f"{hangs} hangs")
        if lost:
            why.append(f"{len(lost)} lost writes")
        if end_leader is None:
            why.append("no leader at the end")
        if listing_err:
            why.append(f"the final read failed, writes not verified ({listing_err})")
        L.append(f"**Verdict: {'PASS' if verdict_ok else 'FAIL'}** — {total:,} requests answered, "
                 f"{hangs} hangs (no answer in {HANG:.0f} s), {len(lost)} of {len(acked):,} acknowledged puts lost, "
                 f"leader at the end: {end_leader.name if end_leader else 'none'}"
                 + (f" ({'; '.join(why)})" if why else "") + ".")
        L.append("")
        L.append("| request | answered | req/s | ok | errors | hangs | p50 (ms) | p99 (ms) | max (ms) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for kind in sorted(STATS):
            s = STATS[kind]
            if not s.answered and not s.errors and not s.hangs:
                continue
            lat = sorted(s.lat)
            L.append(f"| {cell(kind)} | {s.answered:,} | {s.answered / load_s:,.1f} | {s.ok:,} | "
                     f"{sum(s.errors.values()):,} | {s.hangs} | {pct(lat, 50):.2f} | {pct(lat, 99):.2f} | "
                     f"{(lat[-1] if lat else 0):.1f} |")
        L.append(f"| **all** | {total:,} | {total / load_s:,.1f} | {sum(s.ok for s in STATS.values()):,} | "
                 f"{sum(sum(s.errors.values()) for s in STATS.values()):,} | {hangs} | | | |")
        L.append("")
        L.append(f"Reads and DNS go round robin to the four agents (a stopped server skipped), services to "
                 f"the client agent. Blocking-query latency includes the wait (`wait={WAIT}`). `ok` counts "
                 f"the expected answers (2xx, and the 404s and NXDOMAINs listed under other outcomes).")
        L.append("")
        L.append("### Errors")
        L.append("")
        rows = [(kind, k, n) for kind, s in STATS.items() for k, n in s.errors.items()]
        if rows:
            L.append("| request | error | count |")
            L.append("|---|---|---:|")
            for kind, k, n in sorted(rows, key=lambda r: (r[0], -r[2])):
                L.append(f"| {cell(kind)} | `{cell(k)}` | {n:,} |")
        else:
            L.append("None.")
        L.append("")
        notes = [(kind, k, n) for kind, s in STATS.items() for k, n in s.notes.items()]
        if notes:
            L.append("Other outcomes (expected, not errors):")
            L.append("")
            L.append("| request | outcome | count |")
            L.append("|---|---|---:|")
            for kind, k, n in sorted(notes, key=lambda r: (r[0], -r[2])):
                L.append(f"| {cell(kind)} | {cell(k)} | {n:,} |")
            L.append("")
        if HANGS:
            L.append(f"Hangs (first 10 of {hangs}):")
            L.append("")
            for t, what in HANGS[:10]:
                L.append(f"- at {t:.0f} s: {cell(what)}")
            L.append("")
        L.append("### Leadership")
        L.append("")
        L.append(f"- Leader changes (the leader all live servers agree on, polled once a second): "
                 f"{monitor.changes}; seconds without an agreed leader: {monitor.no_leader_s:.1f}")
        L.append("- Agreed leaders in turn: " + (", ".join(f"{n} ({t:.0f} s)" for t, n in monitor.history) or "none"))
        L.append("")
        if nemesis.events:
            L.append("| at (s) | nemesis | result |")
            L.append("|---:|---|---|")
            for t, action, result in nemesis.events:
                L.append(f"| {t:.0f} | {cell(action)} | {result} |")
        else:
            L.append("No nemesis action (SOAK_NEMESIS_S too long for SOAK_SECONDS, or 0).")
        L.append("")
        L.append("### Memory (VmRSS)")
        L.append("")
        L.append("| process | start (after formation) | end (load stopped) | peak (VmHWM) at end | note |")
        L.append("|---|---:|---:|---:|---|")
        mib = lambda v: f"{v:.1f} MiB" if v is not None else "—"
        for t in c.targets:
            note = "restarted by the nemesis; end and peak are the new process's" if t.proc.pid != pids_start[t.name] else ""
            L.append(f"| {t.name} | {mib(rss_start[t.name])} | {mib(rss_end[t.name][0])} | "
                     f"{mib(rss_end[t.name][1])} | {note} |")
        L.append("")
        L.append("### Writes")
        L.append("")
        L.append(f"- Acknowledged puts: {len(acked):,}; present with their value in one `?consistent&recurse` "
                 f"read: {len(acked) - len(lost):,}; **lost: {len(lost)}**"
                 + ("" if verified else f" (NOT VERIFIED: {cell(listing_err or 'no leader')})"))
        for k, v in lost[:5]:
            L.append(f"  - `{k}` = `{v}`: {'missing' if k not in listing else 'now ' + repr(listing[k])}")
        L.append(f"- CAS counters: {len(COUNTERS)}, acknowledged increments up to "
                 f"{', '.join(f'{k}={v}' for k, v in sorted(COUNTERS.items())) or '—'}; "
                 f"below their acknowledged value at the end: {len(counters_low)}"
                 + (f" ({counters_low[:3]})" if counters_low else ""))
        L.append("- Keys under soak/p/ on each server (`?keys&stale`, once caught up or after 30 s): "
                 + ", ".join(f"{n}: {v if v is not None else 'no answer'}" for n, v in replicas.items()))
        L.append("")
        L.append("### Agent logs (`-log-level warn`)")
        L.append("")
        L.append("| process | ERROR lines | WARN lines | panics | most frequent |")
        L.append("|---|---:|---:|---:|---|")
        for t in c.targets:
            e, w, p, top = log_summary(work, t.name)
            L.append(f"| {t.name} | {e} | {w} | {p} | {cell(top)} |")
        L.append("")
        L.append("### How it was measured")
        L.append("")
        L.append(f"- Command: `SOAK_SECONDS={SECONDS:.0f} scripts/bench.sh soak` (scripts/bench/soak.py), "
                 f"binary `{os.path.relpath(BIN, ROOT)}`")
        L.append("- Three `disco agent -server -bootstrap-expect 3` (own data dirs, DNS on, retry-joining the "
                 "first) and one client agent, all on 127.0.0.1, `-log-level warn`; the Python load generator "
                 "on the same cores. Keep-alive HTTP connections (one per worker and agent).")
        L.append(f"- A request unanswered in {HANG:.0f} s (blocking queries: {HANG:.0f} s + the wait) is a hang; "
                 f"requests cut by the nemesis's kill are errors marked `agent stopped by the nemesis`.")
        L.append(f"- Nemesis: every {NEMESIS_S:.0f} s (first at {NEMESIS_S / 2:.0f} s), alternately "
                 f"`POST /v1/operator/raft/transfer-leader` on the leader and `kill -9` of a follower, "
                 f"restarted after {DOWN_S:.0f} s with the same flags and data dir.")
        if stuck:
            L.append(f"- Threads still running when the report was written: {', '.join(stuck)}")
        L.append("")
        L.append(f"VERDICT: {'PASS' if verdict_ok else 'FAIL'} hangs={hangs} lost_writes={len(lost)} "
                 f"acked_puts={len(acked)} leader_at_end={end_leader.name if end_leader else 'none'} "
                 f"leader_changes={monitor.changes} answered={total}")
        L.append("")
        report(os.path.join(OUT_DIR, "soak.md"), "\n".join(L))
        if not verdict_ok:
            KEEP[0] = True
        return 0 if verdict_ok else 1
    except KeyboardInterrupt:
        log("interrupted")
        KEEP[0] = True
        return 130
    finally:
        STOP.set()
        c.stop_all()
        if KEEP[0] or KEEP_WORK:
            log(f"agent logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
