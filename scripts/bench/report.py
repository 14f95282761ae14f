#!/usr/bin/env python3
"""Turns the raw lines written by scripts/bench.sh into a markdown report.

Raw line kinds (one per line, fields are key=value without spaces):
  META <key> <free text>                      run metadata (command, machine, versions)
  RUN target=.. test=.. conns=.. attempt=.. reqs=.. rps=.. p50_ms=.. p99_ms=.. ... foreign_cores=..
  RSS target=.. phase=idle|loaded kb=.. hwm_kb=..
  LOAD target=.. keys_ok=.. errors=.. secs=.. rate=..
  NOTE <free text>
Of several attempts of one (target, test, conns) the one with the least foreign CPU is reported.

Usage: report.py RAW_FILE OUT_MD
"""
import sys

TESTS = [
    ("put", "KV put (100 B value)", "put"),
    ("get", "KV get (default consistency)", "get (linearizable range)"),
    ("stale", "KV get `?stale`", "get (serializable range)"),
    ("register", "agent service register", None),
    ("health", "health `/v1/health/service/web?passing`", None),
]


def kv(fields):
    out = {}
    for f in fields:
        if "=" in f:
            k, v = f.split("=", 1)
            out[k] = v
    return out


def num(d, k, default=None):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return default


def main():
    raw, out = sys.argv[1], sys.argv[2]
    meta, notes, runs, rss, loads = {}, [], {}, {}, {}
    meta_order = []
    for line in open(raw, encoding="utf-8"):
        line = line.rstrip("\n")
        parts = line.split(" ")
        kind = parts[0]
        if kind == "META" and len(parts) >= 2:
            meta[parts[1]] = " ".join(parts[2:])
            meta_order.append(parts[1])
        elif kind == "NOTE":
            notes.append(" ".join(parts[1:]))
        elif kind == "RUN":
            d = kv(parts[1:])
            key = (d.get("target"), d.get("test"), d.get("conns"))
            best = runs.get(key)
            if best is None or num(d, "foreign_cores", 99) < num(best, "foreign_cores", 99):
                runs[key] = d
        elif kind == "RSS":
            d = kv(parts[1:])
            rss[(d.get("target"), d.get("phase"))] = d
        elif kind == "LOAD":
            d = kv(parts[1:])
            loads[d.get("target")] = d

    conns_seen = sorted({int(k[2]) for k in runs if k[2] and k[2].isdigit()})

    def cell_rps(d):
        if not d:
            return "—"
        s = f"{num(d, 'rps', 0):,.0f}"
        errs = int(num(d, "app_errs", 0) + num(d, "sock_errs", 0))
        if errs:
            s += f" ({errs:,} err)"
        return s

    def cell_lat(d):
        if not d:
            return "—"
        return f"{num(d, 'p50_ms', 0):.2f} / {num(d, 'p99_ms', 0):.2f}"

    L = []
    L.append("## disco vs etcd: KV and agent API throughput")
    L.append("")
    L.append(f"Measured {meta.get('date', '?')} on `{meta.get('host_cpu', '?')}`, "
             f"nproc={meta.get('nproc', '?')}, commit `{meta.get('commit', '?')}`.")
    L.append("")
    L.append("| test | conns | disco req/s | disco p50 / p99 (ms) | etcd req/s | etcd p50 / p99 (ms) | disco/etcd |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for test, label, etcd_label in TESTS:
        for c in conns_seen:
            d = runs.get(("disco", test, str(c)))
            e = runs.get(("etcd", test, str(c))) if etcd_label else None
            if not d and not e:
                continue
            ratio = "—"
            if d and e and num(e, "rps", 0) > 0:
                ratio = f"{num(d, 'rps', 0) / num(e, 'rps', 0):.2f}×"
            L.append(f"| {label} | {c} | {cell_rps(d)} | {cell_lat(d)} | {cell_rps(e)} | {cell_lat(e)} | {ratio} |")
    L.append("")
    L.append("etcd columns: put = `POST /v3/kv/put`; get = linearizable `POST /v3/kv/range` (etcd's default); "
             "`?stale` = serializable range. Ratio = disco req/s ÷ etcd req/s. Register and health have no etcd "
             "counterpart.")
    L.append("")

    if rss or loads:
        L.append("### Memory (VmRSS)")
        L.append("")
        nkeys = meta.get("load_keys", "100000")
        try:
            nkeys = f"{int(nkeys):,}"
        except ValueError:
            pass
        L.append(f"| server | idle | after loading {nkeys} keys | after the runs | peak (VmHWM) | load rate |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for t in ("disco", "etcd"):
            i, l, ld = rss.get((t, "idle")), rss.get((t, "loaded")), loads.get(t)
            ar = rss.get((t, "after_runs"))
            if not (i or l):
                continue
            mib = lambda d, k="kb": f"{num(d, k, 0) / 1024:.1f} MiB" if d and k in d else "—"
            rate = f"{num(ld, 'rate', 0):,.0f} keys/s" if ld else "—"
            if ld and num(ld, "errors", 0):
                rate += f" ({int(num(ld, 'errors', 0))} err)"
            L.append(f"| {t} | {mib(i)} | {mib(l)} | {mib(ar)} | {mib(ar or l, 'hwm_kb')} | {rate} |")
        L.append("")

    L.append("### How it was measured")
    L.append("")
    L.append(f"- Command: `{meta.get('command', '?')}`")
    for k in meta_order:
        if k in ("command", "date", "commit", "host_cpu", "nproc"):
            continue
        L.append(f"- {k.replace('_', ' ')}: {meta[k]}")
    for n in notes:
        L.append(f"- {n}")
    L.append("")

    L.append("### Every run")
    L.append("")
    L.append("Latency in ms. CPU columns are cores used on average over the run (2 = the whole machine): "
             "the server, the wrk client, and everything else on the machine (other work).")
    L.append("")
    L.append("| server | test | conns | attempt | requests | req/s | p50 | p90 | p99 | max | errors | server CPU | wrk CPU | other CPU |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = {t[0]: i for i, t in enumerate(TESTS)}
    for key in sorted(runs, key=lambda k: (k[0], order.get(k[1], 99), int(k[2] or 0))):
        d = runs[key]
        errs = int(num(d, "app_errs", 0) + num(d, "sock_errs", 0))
        L.append(f"| {key[0]} | {key[1]} | {key[2]} | {d.get('attempt', '1')} | {int(num(d, 'reqs', 0)):,} | "
                 f"{num(d, 'rps', 0):,.0f} | {num(d, 'p50_ms', 0):.2f} | {num(d, 'p90_ms', 0):.2f} | "
                 f"{num(d, 'p99_ms', 0):.2f} | {num(d, 'max_ms', 0):.1f} | {errs} | "
                 f"{num(d, 'server_cores', 0):.2f} | {num(d, 'client_cores', 0):.2f} | {num(d, 'foreign_cores', 0):.2f} |")
    L.append("")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
