"""Unmodified coordination clients against a three-server disco cluster with a client
agent: consullock's `consul-lock` CLI (PyPI) and a node-consul (npm) scenario.

Usage: test_coordination.py <consul-lock executable> <node_modules parent dir>
The last line printed is "coordination: N passed, M failed".
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402
from common import free_port  # noqa: E402

BIN = os.environ["DISCO_BIN"]
CONSUL_LOCK = sys.argv[1]
NODE_DIR = sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
passed, failed = 0, 0
procs = []


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS: {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL: {name} {detail}", flush=True)




def req(port, method, path, body=None):
    return common.req(port, method, path, body, timeout=10)


def until(f, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        v = f()
        if v:
            return v
        time.sleep(0.1)
    return None


def start(work, name, server, join=None):
    a = {k: free_port() for k in ("http", "server", "serf")}
    a["name"] = name
    args = [BIN, "agent", "-node", name, "-bind", "127.0.0.1", "-client", "127.0.0.1",
            "-data-dir", f"{work}/{name}", "-http-port", str(a["http"]),
            "-server-port", str(a["server"]), "-serf-lan-port", str(a["serf"]),
            "-dns-port", "-1", "-serf-wan-port", "-1"]
    if server:
        args += ["-server", "-bootstrap-expect", "3"]
    if join:
        args += ["-retry-join", f"127.0.0.1:{join}", "-retry-interval", "200ms"]
    log = open(f"{work}/{name}.log", "wb")
    a["proc"] = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
    procs.append(a["proc"])
    return a


def consul_lock(agent, *args, timeout=60):
    env = dict(os.environ, CONSUL_HTTP_ADDR=f"127.0.0.1:{agent['http']}")
    try:
        r = subprocess.run([CONSUL_LOCK, *args], env=env, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode(), r.stderr.decode()
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode(), (e.stderr or b"").decode()


def entry(agent, key):
    st, body = req(agent["http"], "GET", f"/v1/kv/{key}?consistent")
    return json.loads(body)[0] if st == 200 else None


def consullock_scenarios(servers, client, work):
    # lock: exit 0 with the lock's JSON; the key is held by that session in the cluster.
    code, out, err = consul_lock(client, "lock", "--session-ttl=10", "cl/one")
    info = json.loads(out) if code == 0 and out.strip() else {}
    e = entry(servers[1], "cl/one")
    check("consul-lock lock acquires", code == 0 and e is not None and e.get("Session") == info.get("session"),
          f"{code} {out} {err} {e}")
    # A second, non-blocking attempt through a server: refused (exit 100), nothing changes.
    code, out, err = consul_lock(servers[2], "lock", "--non-blocking", "cl/one")
    check("consul-lock lock --non-blocking on a held lock exits 100", code == 100, f"{code} {out} {err}")
    check("the refused attempt left the holder", entry(servers[0], "cl/one").get("Session") == info.get("session"))
    # With a timeout: gives up with exit 5.
    t0 = time.monotonic()
    code, out, err = consul_lock(servers[0], "lock", "--timeout=2", "cl/one")
    took = time.monotonic() - t0
    check("consul-lock lock --timeout gives up (exit 5)", code == 5, f"{code} {out} {err} after {took:.1f}s")
    # The TTL session is never renewed once the CLI exits: the lock frees itself after
    # the TTL (no earlier), and a blocking contender then gets it (lock-delay 0).
    held_since = time.monotonic()
    code, out, err = consul_lock(servers[1], "lock", "--session-ttl=10", "cl/one", timeout=90)
    waited = time.monotonic() - held_since
    check("a blocking contender gets the lock once the TTL session expires", code == 0, f"{code} {out} {err}")
    check("the expired lock was not handed over before its TTL", waited >= 5, f"{waited:.1f}s")
    # unlock: prints the released key, the key is gone (behavior delete).
    code, out, err = consul_lock(client, "unlock", "cl/one")
    # consullock prints the released key (a list only for `-r` regex releases).
    check("consul-lock unlock", code == 0 and json.loads(out or "null") in ("cl/one", ["cl/one"]),
          f"{code} {out} {err}")
    check("unlock removes the key", entry(servers[2], "cl/one") is None)
    # execute: two contenders through different agents never run at once.
    events = f"{work}/events"
    script = "echo start {w} >> " + events + "; sleep 0.5; echo end {w} >> " + events
    env_for = lambda a: dict(os.environ, CONSUL_HTTP_ADDR=f"127.0.0.1:{a['http']}")
    runners = [subprocess.Popen([CONSUL_LOCK, "execute", "cl/exec", script.format(w=w)], env=env_for(a),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for w, a in (("x", client), ("y", servers[0]), ("z", servers[2]))]
    codes = []
    for r in runners:
        try:
            codes.append(r.wait(timeout=60))
        except subprocess.TimeoutExpired:
            r.kill()
            codes.append(None)
    lines = open(events).read().split("\n") if os.path.exists(events) else []
    lines = [l for l in lines if l]
    alternating = len(lines) == 6 and all(
        lines[i].startswith("start") and lines[i + 1] == "end" + lines[i][5:] for i in range(0, 6, 2))
    check("consul-lock execute: one child at a time, all three ran", codes == [0, 0, 0] and alternating,
          f"{codes} {lines}")
    # A `disco lock` and consullock on different keys coexist; consullock's key is a plain
    # acquire, so a `disco lock` on the same prefix path refuses it as not a lock.
    code, out, err = consul_lock(client, "lock", "--session-ttl=10", "cl/shared/.lock")
    r = subprocess.run([BIN, "lock", "-timeout=1s", "cl/shared", "true"],
                       env=dict(os.environ, DISCO_HTTP_ADDR=f"127.0.0.1:{servers[0]['http']}"),
                       capture_output=True, timeout=30)
    check("disco lock refuses a key that is not a lock", r.returncode == 1 and
          b"Existing key does not match lock use" in r.stderr, r.stderr.decode())


def main():
    work = tempfile.mkdtemp(prefix="disco-coord-")
    servers = [start(work, "co1", True)]
    servers += [start(work, f"co{i}", True, join=servers[0]["serf"]) for i in (2, 3)]
    try:
        leader = until(lambda: (lambda r: r[0] == 200 and r[1] not in (b'""', b"") and r[1])(
            req(servers[0]["http"], "GET", "/v1/status/leader")))
        check("cluster formed", bool(leader), "no leader")
        client = start(work, "co-client", False, join=servers[0]["serf"])
        ready = until(lambda: req(client["http"], "GET", "/v1/catalog/node/co-client")[0] == 200 and
                      all(json.loads(req(a["http"], "GET", "/v1/agent/members")[1] or b"[]").__len__() == 4
                          for a in servers + [client]))
        check("client agent joined", bool(ready))
        consullock_scenarios(servers, client, work)
        r = subprocess.run(["node", f"{HERE}/scenario.js", str(client["http"]), str(servers[1]["http"]), "co-client"],
                           env=dict(os.environ, NODE_PATH=f"{NODE_DIR}/node_modules"),
                           capture_output=True, timeout=180)
        for line in r.stdout.decode().splitlines():
            if line.startswith("PASS: "):
                check(line[6:], True)
            elif line.startswith("FAIL: "):
                check(line[6:], False)
        check("node-consul scenario finished", r.returncode == 0, r.stderr.decode()[-2000:])
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
    if failed:
        print(f"logs kept in {work}")
    print(f"coordination: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
