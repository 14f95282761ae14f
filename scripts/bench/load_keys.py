#!/usr/bin/env python3
"""Bulk KV loader for scripts/bench.sh: writes COUNT keys PREFIX0 .. PREFIX<COUNT-1> to a disco agent
(PUT /v1/kv/KEY) or to etcd (POST /v3/kv/put through the JSON gateway), with THREADS keep-alive
connections. Bounded by COUNT and by --max-seconds. Prints one line:
  LOAD target=.. keys_ok=.. errors=.. secs=.. rate=..
Exit status 1 when fewer than COUNT keys were written.

Usage: load_keys.py --target disco|etcd --port PORT --prefix bench/key- --count 1000 [--threads 16]
                    [--valsize 100] [--max-seconds 180] [--key-len 0]
--key-len N zero-pads the number so every key is exactly N bytes (0: no padding).
"""
import argparse
import base64
import http.client
import json
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", choices=["disco", "etcd"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--valsize", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=180.0)
    ap.add_argument("--key-len", type=int, default=0)
    a = ap.parse_args()
    width = max(0, a.key_len - len(a.prefix))
    if a.key_len and len(f"{a.prefix}{max(0, a.count - 1)}") > a.key_len:
        ap.error(f"--key-len {a.key_len} too short for prefix {a.prefix!r} and count {a.count}")

    value = b"v" * a.valsize
    value64 = base64.b64encode(value).decode()
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "err": 0, "first_err": None}
    t0 = time.monotonic()
    deadline = t0 + a.max_seconds

    def take():
        with lock:
            n = state["next"]
            if n >= a.count:
                return None
            state["next"] = n + 1
            return n

    def worker():
        conn = None
        ok = err = 0
        first_err = None
        while time.monotonic() < deadline:
            n = take()
            if n is None:
                break
            key = f"{a.prefix}{n:0{width}d}"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
                if a.target == "disco":
                    conn.request("PUT", "/v1/kv/" + key, value)
                else:
                    body = json.dumps({"key": base64.b64encode(key.encode()).decode(), "value": value64})
                    conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                good = r.status == 200 and (data.strip() == b"true" if a.target == "disco" else b'"error"' not in data)
                if good:
                    ok += 1
                else:
                    err += 1
                    first_err = first_err or f"{key}: HTTP {r.status} {data[:200]!r}"
            except Exception as e:  # a broken connection is retried with a new one for the next key
                err += 1
                first_err = first_err or f"{key}: {e!r}"
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            state["ok"] += ok
            state["err"] += err
            state["first_err"] = state["first_err"] or first_err

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(0.0, deadline - time.monotonic()) + 15)
    secs = time.monotonic() - t0
    line = (f"LOAD target={a.target} prefix={a.prefix} keys_ok={state['ok']} errors={state['err']} "
            f"secs={secs:.2f} rate={state['ok'] / secs:.0f}")
    if state["first_err"]:
        line += f" first_error={state['first_err']!r}"
    print(line, flush=True)
    raise SystemExit(0 if state["ok"] >= a.count else 1)


if __name__ == "__main__":
    main()
