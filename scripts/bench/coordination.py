#!/usr/bin/env python3
"""Coordination benchmark, second part: three disco servers against a three-member etcd 3.4, on
loopback (the rows scripts/bench/locks.py does not cover).

Rows:
  * hand-over, holder death → next holder, HANDOVER_REPEATS times each: the holder takes the lock
    through the leader, a contender waits through a follower. disco: the holder's session is
    `{"TTL":"10s","LockDelay":"0s"}` and is never renewed (t0 = its creation answered); the
    contender (its own session, LockDelay 0s, no TTL) runs the Go api.Lock loop: a blocking
    `GET /v1/kv/<k>?index=<X-Consul-Index>&wait=15s` while the key has a Session, `?acquire=`
    when it has none, and after a refused acquire with no Session a 0.1 s pause (api.Lock waits
    5 s there). etcd: the holder's lease has TTL 10 and is never kept alive (t0 = the grant
    answered); the contender calls `/v3/lock/lock` with its own lease (TTL 60), which blocks until
    the lock is free. Measured: t0 → the contender's acquire (or lock) answered.
  * hand-over, graceful: the same, but at t0 the holder releases (`?release=` then
    `/v1/session/destroy`; etcd `/v3/lock/unlock` then `/v3/lease/revoke`).
  * event fan-out, FANOUT_REPEATS times: POOL disco agents (the 3 servers and POOL-3 client agents
    joined to the first server's serf port, as scripts/bench/gossip.py starts them), one blocking
    `GET /v1/event/list?name=<n>&index=<X-Consul-Index>&wait=30s` per agent, each in its own
    thread, then `PUT /v1/event/fire/<n>` at one client agent; the time until the event is listed
    by each agent and by all of them. etcd: POOL watchers (`/v3/watch` streams on the JSON
    gateway, spread over the three members) on one key, one `/v3/kv/put` through the leader; the
    time until each watcher, and all of them, got the put.
  * `disco lock bench/cli true` (DISCO_HTTP_ADDR = the leader) against
    `etcdctl --endpoints=<leader> lock bench-cli true`, run one after another for CLI_SECONDS or
    CLI_COUNT cycles, whichever ends first (after one untimed warm-up cycle): whole processes
    (session or lease, acquire, child, release, cleanup); cycles per second and p50 / p99 of one.
Each row also reports the whole machine's busy cores while it ran (this benchmark included), as
a gauge of how much other work shared the cores.

Needs etcd and etcdctl (Debian etcd-server and etcd-client) and the perflab etcd-cluster.sh.
Usage: scripts/bench.sh coordination   (or python3 scripts/bench/coordination.py)
Env: HANDOVER_REPEATS [5]  FANOUT_REPEATS [10]  POOL [25]  CLI_SECONDS [10]  CLI_COUNT [200]
     ROWS ["handover fanout cli"]  TARGETS ["disco etcd"]  OUT [target/bench/coordination.md]
     DISCO_BIN [target/release/disco]  PERFLAB [../shared/perflab]
Every process started is killed at exit (process groups); traffic stays on 127.0.0.1.
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import gossip  # noqa: E402
from loopback import report, until  # noqa: E402

HANDOVER_REPEATS = int(os.environ.get("HANDOVER_REPEATS", "5"))
FANOUT_REPEATS = int(os.environ.get("FANOUT_REPEATS", "10"))
POOL = max(3, int(os.environ.get("POOL", "25")))
CLI_SECONDS = float(os.environ.get("CLI_SECONDS", "10"))
CLI_COUNT = int(os.environ.get("CLI_COUNT", "200"))
ROWS = os.environ.get("ROWS", "handover fanout cli").split()
TARGETS = os.environ.get("TARGETS", "disco etcd").split()
OUT = os.environ.get("OUT", os.path.join(cluster.ROOT, "target/bench/coordination.md"))
ENV_NAMES = ["HANDOVER_REPEATS", "FANOUT_REPEATS", "POOL", "CLI_SECONDS", "CLI_COUNT", "ROWS",
             "TARGETS", "OUT", "DISCO_BIN", "PERFLAB"]

TTL_S = 10
# api.Lock's pause after a refused acquire on a key without a Session is 5 s; 0.1 s here.
RETRY_S = 0.1
HANDOVER_DEADLINE_S = 60   # per repetition (a TTL death is expected within 2 × TTL)
FANOUT_DEADLINE_S = 30     # per fire or put
CYCLE_TIMEOUT_S = 30       # per CLI process


def log(*a):
    print("[coordination]", *a, file=sys.stderr, flush=True)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def req(port, method, path, body=None, timeout=10.0):
    """One request on a fresh connection: (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body)
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def ok(port, method, path, body=None, timeout=10.0):
    st, h, data = req(port, method, path, body, timeout)
    if st != 200:
        raise RuntimeError(f"{method} {path} on :{port}: {st} {data[:200]!r}")
    return h, data


def etcd_call(port, path, obj, timeout=10.0):
    """A JSON-gateway call; its decoded answer (an `error` member is an error)."""
    _, data = ok(port, "POST", path, json.dumps(obj).encode(), timeout)
    out = json.loads(data)
    if "error" in out:
        raise RuntimeError(f"{path} on :{port}: {out}")
    return out


class Etcd(cluster.Etcd):
    """cluster.Etcd with etcd-cluster.sh run in a session of its own, so the members it starts
    share a process group this script can kill whatever state they are in."""

    def sh(self, *args):
        groups = self.__dict__.setdefault("groups", [])
        p = subprocess.Popen([os.path.join(cluster.PERFLAB, "etcd-cluster.sh"), *args], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        groups.append(p.pid)
        try:
            out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def stop(self):
        try:
            super().stop()
        finally:
            for g in self.__dict__.get("groups", []):
                try:
                    os.killpg(g, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------------------- hand-over

def disco_session(port, ttl=None):
    body = {"LockDelay": "0s"}
    if ttl:
        body["TTL"] = ttl
    _, data = ok(port, "PUT", "/v1/session/create", json.dumps(body).encode())
    return json.loads(data)["ID"]


def disco_acquire(port, key, sid):
    _, data = ok(port, "PUT", f"/v1/kv/{key}?acquire={sid}", b"held")
    return data.strip() == b"true"


def disco_contender(port, key, sid, deadline, ready, out):
    """The Go api.Lock wait loop; appends the monotonic time the acquire answered true to
    `out["at"]`, refused acquires to `out["refused"]`, and the first error to `out["error"]`."""
    index = 0
    try:
        while time.monotonic() < deadline:
            q = f"?index={index}&wait=15s" if index else ""
            if index:
                ready.set()
            st, h, data = req(port, "GET", f"/v1/kv/{key}{q}", timeout=30)
            if st not in (200, 404):
                raise RuntimeError(f"GET /v1/kv/{key}{q}: {st} {data[:200]!r}")
            pair = json.loads(data)[0] if st == 200 else None
            new_index = int(h.get("X-Consul-Index", "0"))
            if pair and pair.get("Session"):
                index = new_index
                continue
            if disco_acquire(port, key, sid):
                out["at"].append(time.monotonic())
                return
            out["refused"] += 1
            st, h, data = req(port, "GET", f"/v1/kv/{key}", timeout=10)
            pair = json.loads(data)[0] if st == 200 else None
            if pair and pair.get("Session"):
                index = int(h.get("X-Consul-Index", "0"))
            else:
                time.sleep(RETRY_S)
                index = 0
    except Exception as e:
        out["error"] = str(e)
        ready.set()


def disco_handover(system, graceful, rep):
    ld = system.leader()
    hport = ld["http"]
    cport = next(s for s in system.servers if s is not ld)["http"]
    key = f"bench/handover/{'graceful' if graceful else 'ttl'}-{rep}-{int(time.time())}"
    hsid = disco_session(hport, f"{TTL_S}s")
    t0 = time.monotonic()
    if not disco_acquire(hport, key, hsid):
        raise RuntimeError(f"holder could not acquire {key}")
    csid = disco_session(cport)
    out = {"at": [], "refused": 0, "error": None}
    ready = threading.Event()
    th = threading.Thread(target=disco_contender, daemon=True,
                          args=(cport, key, csid, time.monotonic() + HANDOVER_DEADLINE_S, ready, out))
    th.start()
    if not ready.wait(10):
        raise RuntimeError("contender never started waiting")
    if graceful:
        time.sleep(0.5)  # the contender's blocking GET is parked on the follower
        t0 = time.monotonic()
        ok(hport, "PUT", f"/v1/kv/{key}?release={hsid}")
        ok(hport, "PUT", f"/v1/session/destroy/{hsid}")
    th.join(HANDOVER_DEADLINE_S + 35)
    try:
        if out["at"]:
            ok(cport, "PUT", f"/v1/kv/{key}?release={csid}")
        ok(cport, "PUT", f"/v1/session/destroy/{csid}")
        if not graceful:
            ok(hport, "PUT", f"/v1/session/destroy/{hsid}")
    except Exception as e:
        log(f"disco hand-over cleanup: {e}")
    if out["error"] or not out["at"]:
        raise RuntimeError(f"disco contender: {out['error'] or 'no acquire before the deadline'}")
    return out["at"][0] - t0, out["refused"]


def etcd_handover(system, graceful, rep):
    ld = system.leader()
    hport = system.ports[ld]
    cport = system.ports[next(i for i in system.ports if i != ld)]
    name = b64(f"bench/handover/{'graceful' if graceful else 'ttl'}-{rep}-{int(time.time())}")
    hlease = etcd_call(hport, "/v3/lease/grant", {"TTL": TTL_S})["ID"]
    t0 = time.monotonic()
    held = etcd_call(hport, "/v3/lock/lock", {"name": name, "lease": hlease})["key"]
    clease = etcd_call(cport, "/v3/lease/grant", {"TTL": 60})["ID"]
    out = {"at": None, "key": None, "error": None}
    sent = threading.Event()

    def contend():
        try:
            sent.set()
            r = etcd_call(cport, "/v3/lock/lock", {"name": name, "lease": clease},
                          timeout=HANDOVER_DEADLINE_S)
            out["at"] = time.monotonic()
            out["key"] = r["key"]
        except Exception as e:
            out["error"] = str(e)

    th = threading.Thread(target=contend, daemon=True)
    th.start()
    sent.wait(10)
    time.sleep(0.5)  # the lock call is waiting on the follower
    if graceful:
        t0 = time.monotonic()
        etcd_call(hport, "/v3/lock/unlock", {"key": held})
        etcd_call(hport, "/v3/lease/revoke", {"ID": hlease})
    th.join(HANDOVER_DEADLINE_S + 5)
    try:
        if out["key"]:
            etcd_call(cport, "/v3/lock/unlock", {"key": out["key"]})
        etcd_call(cport, "/v3/lease/revoke", {"ID": clease})
    except Exception as e:
        log(f"etcd hand-over cleanup: {e}")
    if out["error"] or out["at"] is None:
        raise RuntimeError(f"etcd contender: {out['error'] or 'no lock before the deadline'}")
    return out["at"] - t0, 0


def handover(name, system):
    f = disco_handover if name == "disco" else etcd_handover
    res = {}
    for graceful in (False, True):
        times, refused = [], 0
        for rep in range(HANDOVER_REPEATS):
            t, r = f(system, graceful, rep)
            times.append(t)
            refused += r
            log(f"{name} hand-over {'graceful' if graceful else 'ttl'} {rep + 1}: {t:.3f} s"
                + (f" ({r} refused acquires)" if r else ""))
        res["graceful" if graceful else "ttl"] = {"times": times, "refused": refused}
    return res


# ---------------------------------------------------------------------------- event fan-out

def disco_members_alive(port):
    _, data = ok(port, "GET", "/v1/agent/members", timeout=2)
    return sum(1 for m in json.loads(data) if m["Status"] == 1)


def disco_pool(system, work):
    """The three servers plus POOL-3 client agents joined to the first server; [(name, port)]
    and the client agents (to stop)."""
    clients = []
    join = system.servers[0]["serf"]
    for i in range(1, POOL - 2):
        a = gossip.Agent(work, f"c{i}", join=join)
        clients.append(a)
        until(f"{a.name} up", lambda a=a: a.statuses().get(a.name) == 1, 30)
    pool = [(s["name"], s["http"]) for s in system.servers] + [(a.name, a.http) for a in clients]
    for n, port in pool:
        until(f"{n} sees {POOL} alive", lambda port=port: disco_members_alive(port) == POOL, 120)
    return pool, clients


def disco_fanout(pool, fire_port):
    fires = []
    for r in range(FANOUT_REPEATS):
        ev = f"bench-fanout-{r}-{int(time.time())}"
        got = {}
        errors = []
        parked = threading.Barrier(len(pool) + 1)

        def waiter(n, port):
            try:
                h, _ = ok(port, "GET", f"/v1/event/list?name={ev}", timeout=5)
                index = h.get("X-Consul-Index", "1")
                deadline = time.monotonic() + FANOUT_DEADLINE_S
                first = True
                while time.monotonic() < deadline:
                    if first:
                        parked.wait(10)
                        first = False
                    h, data = ok(port, "GET", f"/v1/event/list?name={ev}&index={index}&wait=30s",
                                 timeout=40)
                    evs = json.loads(data)
                    if evs:
                        got[n] = (time.monotonic(), [e["ID"] for e in evs])
                        return
                    index = h.get("X-Consul-Index", index)
            except Exception as e:
                errors.append(f"{n}: {e}")
                try:
                    parked.abort()
                except Exception:
                    pass

        threads = [threading.Thread(target=waiter, args=(n, p), daemon=True) for n, p in pool]
        for t in threads:
            t.start()
        try:
            parked.wait(15)
        except threading.BrokenBarrierError:
            raise RuntimeError(f"disco fan-out {r + 1}: list calls did not start: {errors[:3]}")
        time.sleep(0.3)  # every list call has reached its agent and is blocking
        t0 = time.monotonic()
        _, data = ok(fire_port, "PUT", f"/v1/event/fire/{ev}", b"x")
        eid = json.loads(data)["ID"]
        for t in threads:
            t.join(FANOUT_DEADLINE_S + 15)
        per = {n: at - t0 for n, (at, ids) in got.items() if eid in ids}
        odd = {n: ids for n, (_, ids) in got.items() if eid not in ids}
        if errors or odd:
            log(f"disco fan-out {r + 1}: errors {errors[:3]} other IDs {odd}")
        fires.append(per)
        log(f"disco fan-out {r + 1}: on {len(per)}/{len(pool)} agents, all by "
            f"{max(per.values()) * 1000 if per else float('nan'):.1f} ms")
        time.sleep(1)
    return fires


class Watcher:
    """One `/v3/watch` stream on the JSON gateway, read line by line; `seen[revision]` is the
    monotonic time the put of that revision arrived."""

    def __init__(self, port, key, cond):
        self.cond = cond
        self.seen = {}
        self.error = None
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=FANOUT_DEADLINE_S * 4)
        self.conn.request("POST", "/v3/watch", json.dumps({"create_request": {"key": key}}).encode())
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise RuntimeError(f"/v3/watch on :{port}: {self.resp.status}")
        first = json.loads(self.resp.readline())
        if not first.get("result", {}).get("created"):
            raise RuntimeError(f"/v3/watch on :{port}: {first}")
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                at = time.monotonic()
                msg = json.loads(line).get("result", {})
                with self.cond:
                    for e in msg.get("events", []):
                        self.seen[int(e["kv"]["mod_revision"])] = at
                    self.cond.notify_all()
        except Exception as e:
            self.error = str(e)

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
        self.conn.close()
        self.thread.join(5)


def etcd_fanout(system):
    key = b64(f"bench/fanout/{int(time.time())}")
    cond = threading.Condition()
    members = sorted(system.ports)
    watchers = [Watcher(system.ports[members[i % len(members)]], key, cond) for i in range(POOL)]
    fires = []
    try:
        time.sleep(1)
        for r in range(FANOUT_REPEATS):
            port = system.leader_port()
            t0 = time.monotonic()
            rev = int(etcd_call(port, "/v3/kv/put", {"key": key, "value": b64(f"v{r}")})
                      ["header"]["revision"])
            end = t0 + FANOUT_DEADLINE_S
            with cond:
                while (not all(rev in w.seen for w in watchers)) and time.monotonic() < end:
                    cond.wait(max(0.01, end - time.monotonic()))
                per = {i: w.seen[rev] - t0 for i, w in enumerate(watchers) if rev in w.seen}
            fires.append(per)
            errs = [w.error for w in watchers if w.error]
            log(f"etcd fan-out {r + 1}: on {len(per)}/{POOL} watchers, all by "
                f"{max(per.values()) * 1000 if per else float('nan'):.1f} ms"
                + (f"; errors {errs[:3]}" if errs else ""))
            time.sleep(1)
    finally:
        for w in watchers:
            w.close()
    return fires


def fanout_summary(fires):
    alls = [max(f.values()) for f in fires if len(f) == POOL]
    per = sorted(v for f in fires for v in f.values())
    missing = sum(POOL - len(f) for f in fires)
    return {"all": alls, "per": per, "missing": missing, "fires": len(fires)}


# ---------------------------------------------------------------------------- lock CLI

def cli_cycles(argv, env):
    def one():
        t = time.monotonic()
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=CYCLE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            raise RuntimeError(f"{argv}: no exit within {CYCLE_TIMEOUT_S} s: {out[-300:]!r}")
        if p.returncode != 0:
            raise RuntimeError(f"{argv}: exit {p.returncode}: {out[-300:]!r}")
        return time.monotonic() - t

    one()  # warm-up, not counted
    lats = []
    t0 = time.monotonic()
    while len(lats) < CLI_COUNT and time.monotonic() - t0 < CLI_SECONDS:
        lats.append(one())
    took = time.monotonic() - t0
    lats.sort()
    pct = lambda f: lats[min(len(lats) - 1, int(f * len(lats)))] * 1000
    return {"cycles": len(lats), "secs": took, "rate": len(lats) / took, "p50": pct(0.5),
            "p99": pct(0.99)}


def cli(name, system):
    port = system.leader_port()
    if name == "disco":
        argv = [cluster.BIN, "lock", "bench/cli", "true"]
        env = dict(os.environ, DISCO_HTTP_ADDR=f"127.0.0.1:{port}")
    else:
        argv = ["etcdctl", f"--endpoints=127.0.0.1:{port}", "lock", "bench-cli", "true"]
        env = dict(os.environ, ETCDCTL_API="3")
    r = cli_cycles(argv, env)
    log(f"{name} lock CLI: {r}")
    return r


# ---------------------------------------------------------------------------- report

def jiffies():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


def busy_cores(before, after):
    """Cores busy between two jiffies() samples: everything on the machine, this included."""
    dt = after[1] - before[1]
    return (after[0] - before[0]) / dt * (os.cpu_count() or 1) if dt > 0 else 0.0


def ms(v):
    return f"{v * 1000:.1f}"


def ratio(d, e):
    return f"{d / e:.2f}" if d is not None and e else "–"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} shared cores, `{model}`"


def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL).stdout
        return out.splitlines()[0].strip() if out else "unknown"
    except Exception:
        return "unknown"


def busy_line(res, row):
    got = [f"{n} {res[(n, row, 'busy')]:.2f}" for n in TARGETS if (n, row, "busy") in res]
    return (f"- machine busy cores during this row (of {os.cpu_count()}; everything on the machine, "
            f"this benchmark included): " + ", ".join(got)) if got else None


def head():
    return subprocess.run(["git", "-C", cluster.ROOT, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "unknown"


def render(res, started, load0, commit):
    cmd = " ".join([f"{k}={os.environ[k]}" for k in ENV_NAMES if k in os.environ]
                   + ["python3 scripts/bench/coordination.py"])
    try:
        built = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(os.path.getmtime(cluster.BIN)))
    except OSError:
        built = "unknown"
    lines = [
        "# Coordination benchmark, second part",
        "",
        f"- machine: {machine()}; other work may share the cores, so figures are noisy",
        f"- command: `{cmd}`",
        f"- started {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(started))}, took "
        f"{time.time() - started:.0f} s; repository HEAD at the start `{commit}`; load average at start "
        f"{load0}, at end {loadavg()}",
        f"- disco: `{version([cluster.BIN, 'version'])}`, three servers; etcd: "
        f"`{version(['etcd', '--version'])}`, three members; `{version(['etcdctl', 'version'])}`",
        f"- disco binary: `{cluster.BIN}`, modified {built}",
        "",
    ]
    if "handover" in ROWS:
        lines += [f"### Hand-over to a waiting contender ({HANDOVER_REPEATS} repetitions; seconds, "
                  "lower is better)", "",
                  "| row | disco median / max (s) | etcd median / max (s) | disco/etcd (median) |",
                  "|---|---:|---:|---:|"]
        label = {"ttl": f"holder dies (TTL {TTL_S} s, never renewed) → contender holds",
                 "graceful": "holder releases → contender holds"}
        for row in ("ttl", "graceful"):
            d = res.get(("disco", "handover"), {}).get(row)
            e = res.get(("etcd", "handover"), {}).get(row)
            cell = lambda r: (f"{statistics.median(r['times']):.3f} / {max(r['times']):.3f}"
                              if r else "–")
            dm = statistics.median(d["times"]) if d else None
            em = statistics.median(e["times"]) if e else None
            lines.append(f"| {label[row]} | {cell(d)} | {cell(e)} | {ratio(dm, em)} |")
        lines.append("")
        for name in TARGETS:
            for row in ("ttl", "graceful"):
                r = res.get((name, "handover"), {}).get(row)
                if r:
                    lines.append(f"- {name} {row}: " + ", ".join(f"{t:.3f}" for t in r["times"])
                                 + (f" ({r['refused']} refused acquires)" if r["refused"] else ""))
        lines += [x for x in [busy_line(res, "handover")] if x] + [""]
    if "fanout" in ROWS:
        lines += [f"### Event fan-out to {POOL} receivers ({FANOUT_REPEATS} fires / puts; "
                  "milliseconds, lower is better)", "",
                  "| system | receivers | on all, median / max (ms) | per receiver, median / p90 (ms) | "
                  "missed |", "|---|---:|---:|---:|---:|"]
        desc = {"disco": f"disco user event ({POOL} agents, blocking list)",
                "etcd": f"etcd watch ({POOL} watch streams on 3 members)"}
        sums = {}
        for name in TARGETS:
            f = res.get((name, "fanout"))
            if not f:
                continue
            s = sums[name] = fanout_summary(f)
            a = (f"{ms(statistics.median(s['all']))} / {ms(max(s['all']))}" if s["all"] else "–")
            p = (f"{ms(statistics.median(s['per']))} / {ms(cluster.pct(s['per'], 90))}"
                 if s["per"] else "–")
            lines.append(f"| {desc[name]} | {POOL} | {a} | {p} | {s['missing']} |")
        d, e = sums.get("disco"), sums.get("etcd")
        if d and e and d["all"] and e["all"]:
            lines += ["", "disco/etcd (lower is better): on all, median "
                      f"{ratio(statistics.median(d['all']), statistics.median(e['all']))}; per "
                      f"receiver, median {ratio(statistics.median(d['per']), statistics.median(e['per']))}"]
        lines += [""] + [x for x in [busy_line(res, "fanout")] if x] + [""]
    if "cli" in ROWS:
        lines += [f"### Lock cycles through the command line (one after another, {CLI_SECONDS:g} s "
                  f"or {CLI_COUNT} cycles)", "",
                  "| command | cycles | cycles per s | p50 / p99 (ms) |", "|---|---:|---:|---:|"]
        cmds = {"disco": "`disco lock bench/cli true`",
                "etcd": "`etcdctl --endpoints=<leader> lock bench-cli true`"}
        for name in TARGETS:
            r = res.get((name, "cli"))
            if r:
                lines.append(f"| {cmds[name]} | {r['cycles']} | {r['rate']:.1f} | "
                             f"{r['p50']:.1f} / {r['p99']:.1f} |")
        d, e = res.get(("disco", "cli")), res.get(("etcd", "cli"))
        if d and e:
            lines += ["", f"disco/etcd cycles per s (higher is better): {ratio(d['rate'], e['rate'])}; "
                      f"p50 (lower is better): {ratio(d['p50'], e['p50'])}"]
        lines += [""] + [x for x in [busy_line(res, "cli")] if x] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main

def run_target(name, res):
    work = tempfile.mkdtemp(prefix=f"disco-coordination-{name}-")
    system = None
    clients = []
    ok_ = False
    try:
        system = (cluster.Disco if name == "disco" else Etcd)(work)
        until("writes accepted", lambda: system.put_via(system.leader(), "bench/ready"), 60)
        if name == "disco":
            # Sessions need each server's serfHealth check, registered as the leader reconciles.
            for s in system.servers:
                until(f"serfHealth of {s['name']}", lambda s=s: b"serfHealth" in ok(
                    system.leader_port(), "GET", f"/v1/health/node/{s['name']}")[1], 60)
        if "handover" in ROWS:
            j = jiffies()
            res[(name, "handover")] = handover(name, system)
            res[(name, "handover", "busy")] = busy_cores(j, jiffies())
        if "cli" in ROWS:
            j = jiffies()
            res[(name, "cli")] = cli(name, system)
            res[(name, "cli", "busy")] = busy_cores(j, jiffies())
        if "fanout" in ROWS:
            if name == "disco":
                pool, clients = disco_pool(system, work)
                j = jiffies()
                res[(name, "fanout")] = disco_fanout(pool, clients[0].http if clients else pool[0][1])
            else:
                j = jiffies()
                res[(name, "fanout")] = etcd_fanout(system)
            res[(name, "fanout", "busy")] = busy_cores(j, jiffies())
        ok_ = True
    finally:
        for a in clients:
            a.kill9()
        if system is not None:
            system.stop()
        if ok_:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"{name} failed; logs kept in {work}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if "disco" in TARGETS and not os.access(cluster.BIN, os.X_OK):
        sys.exit(f"disco binary not found: {cluster.BIN} (cargo build --release)")
    for tool in ["etcd"] + (["etcdctl"] if "cli" in ROWS else []):
        if "etcd" in TARGETS and shutil.which(tool) is None:
            sys.exit(f"{tool} not installed (apt-get install etcd-server etcd-client)")
    started = time.time()
    load0 = loadavg()
    commit = head()
    res = {}
    for name in TARGETS:
        run_target(name, res)
    report(OUT, render(res, started, load0, commit))


if __name__ == "__main__":
    main()
