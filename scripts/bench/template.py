#!/usr/bin/env python3
"""The config loop's costs, on one disco server (`-server -bootstrap -data-dir`, fsync on
every commit) on loopback:

1. render latency: `disco template` follows `service "bench<N>"` with N = 1, 100, 1000
   instances; each probe (300 ms apart) re-registers one instance on a new port and times
   from the register call's return to the rewritten file holding that port (file polled
   every ms);
2. the agent's extra load while one `disco template` watches 100 templates, each on its
   own service (100 blocking queries): the agent's CPU and RSS over WATCH_S seconds idle,
   without and with the watcher, and with one change a second to a watched service;
3. `?filter=` cost: GET /v1/health/service/web with 5,000 instances, unfiltered against a
   filter keeping half (`Service.Meta.half == "1"`) and one keeping all through the
   checks (`Checks.Status == passing`), REQS sequential requests each.

Usage: scripts/bench.sh template   (or python3 scripts/bench/template.py)
Env: PROBES [20]  WATCH_S [20]  REQS [40]  INSTANCES [5000]
     OUT [target/bench/template.md]  DISCO_BIN [target/release/disco]
Every process started is killed at exit (process groups); traffic stays on 127.0.0.1.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import (cpu_seconds, free_port, http_call, kill_group, report,  # noqa: E402
                      rss_mib, single_server, until)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DISCO_BIN", os.path.join(ROOT, "target/release/disco"))
PROBES = int(os.environ.get("PROBES", "20"))
WATCH_S = int(os.environ.get("WATCH_S", "20"))
REQS = int(os.environ.get("REQS", "40"))
INSTANCES = int(os.environ.get("INSTANCES", "5000"))
OUT = os.environ.get("OUT", os.path.join(ROOT, "target/bench/template.md"))


def log(*a):
    print("[template]", *a, file=sys.stderr, flush=True)


def put(http, path, body):
    return http_call(http, "PUT", path, json.dumps(body).encode())


def catalog_instances(http, service, n, meta=None, start=0):
    """n instances of `service`, one per node, through the catalog (a write each)."""
    for i in range(start, start + n):
        put(http, "/v1/catalog/register", {
            "Node": f"{service}-n{i}", "Address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "Service": {"Service": service, "ID": f"{service}-{i}", "Port": 1000 + i % 50000,
                        "Meta": (meta(i) if meta else {})},
            "Check": {"CheckID": f"{service}-{i}-ok", "Name": "ok", "Status": "passing",
                      "ServiceID": f"{service}-{i}"}})


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def render_latency(http, work, n):
    svc = f"bench{n}"
    catalog_instances(http, svc, n)
    tmpl = os.path.join(work, f"{svc}.ctmpl")
    out = os.path.join(work, f"{svc}.out")
    with open(tmpl, "w") as f:
        f.write('{{ range service "%s" }}{{ .Address }}:{{ .Port }}\n{{ end }}' % svc)
    proc = subprocess.Popen([BIN, "template", "-http-addr", f"127.0.0.1:{http}",
                             "-template", f"{tmpl}:{out}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{svc}.log"), "wb"),
                            start_new_session=True)
    try:
        until("first render", lambda: os.path.exists(out) and open(out).read().count("\n") == n, deadline=120)
        lat = []
        for k in range(PROBES):
            # Changes 300 ms apart: a watcher polls one query at most every 100 ms (as
            # consul-template), so back-to-back changes would measure that spacing.
            time.sleep(0.3)
            port = 60000 + k
            put(http, "/v1/catalog/register", {
                "Node": f"{svc}-n0", "Address": "10.0.0.0",
                "Service": {"Service": svc, "ID": f"{svc}-0", "Port": port},
                "Check": {"CheckID": f"{svc}-0-ok", "Name": "ok", "Status": "passing", "ServiceID": f"{svc}-0"}})
            t0 = time.monotonic()
            needle = f":{port}\n"
            end = t0 + 30
            while time.monotonic() < end:
                try:
                    with open(out) as f:
                        if needle in f.read():
                            break
                except OSError:
                    pass
                time.sleep(0.001)
            lat.append((time.monotonic() - t0) * 1000)
        return lat
    finally:
        kill_group(proc)


def agent_load(http, pid, seconds, change=None):
    c0, t0 = cpu_seconds(pid), time.monotonic()
    end = t0 + seconds
    k = 0
    while time.monotonic() < end:
        if change:
            change(k)
            k += 1
        time.sleep(1)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100, rss_mib(pid)


def timed_gets(http, path):
    xs = []
    for _ in range(REQS):
        t0 = time.monotonic()
        body = http_call(http, "GET", path, timeout=60)
        xs.append((time.monotonic() - t0) * 1000)
    return xs, len(json.loads(body))


def main():
    work = tempfile.mkdtemp(prefix="disco-bench-template-")
    http = free_port()
    agent = single_server(BIN, work, http)
    lines = ["## The config loop: render latency, watcher load, filter cost", "",
             f"One disco server (`-server -bootstrap`, fsync per commit) on 127.0.0.1; `disco template` "
             f"and the load on the same 2-core machine. {time.strftime('%Y-%m-%d')}.", ""]
    try:
        lines += ["### Render latency (catalog write returned → file rewritten)", "",
                  "| instances in the service | probes | p50 ms | p90 ms | max ms |", "|---|---|---|---|---|"]
        for n in (1, 100, 1000):
            log(f"render latency with {n} instances")
            lat = render_latency(http, work, n)
            lines.append(f"| {n} | {len(lat)} | {statistics.median(lat):.1f} | {pct(lat, 90):.1f} | {max(lat):.1f} |")
        lines.append("")

        log("agent load without watchers")
        base_cpu, base_rss = agent_load(http, agent.pid, WATCH_S)
        for i in range(100):
            catalog_instances(http, f"watched{i}", 3)
        specs = []
        for i in range(100):
            t = os.path.join(work, f"w{i}.ctmpl")
            with open(t, "w") as f:
                f.write('{{ range service "watched%d" }}{{ .Address }}:{{ .Port }}\n{{ end }}' % i)
            specs += ["-template", f"{t}:{os.path.join(work, f'w{i}.out')}"]
        tpl = subprocess.Popen([BIN, "template", "-http-addr", f"127.0.0.1:{http}"] + specs,
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "w.log"), "wb"),
                               start_new_session=True)
        try:
            until("100 renders", lambda: all(os.path.exists(os.path.join(work, f"w{i}.out")) for i in range(100)),
                  deadline=120)
            log("agent load with 100 watching templates")
            idle_cpu, idle_rss = agent_load(http, agent.pid, WATCH_S)
            tpl_rss = rss_mib(tpl.pid)

            def change(k):
                put(http, "/v1/catalog/register", {
                    "Node": "watched0-n0", "Address": "10.0.0.0",
                    "Service": {"Service": "watched0", "ID": "watched0-0", "Port": 2000 + k}})
            busy_cpu, busy_rss = agent_load(http, agent.pid, WATCH_S, change)
            tpl_cpu = cpu_seconds(tpl.pid)
        finally:
            kill_group(tpl)
        lines += ["### The agent while 100 templates watch (one `disco template`, 100 blocking queries)", "",
                  "| agent | CPU % of a core | RSS MiB |", "|---|---|---|",
                  f"| no watcher | {base_cpu:.2f} | {base_rss:.1f} |",
                  f"| 100 templates watching, nothing changing | {idle_cpu:.2f} | {idle_rss:.1f} |",
                  f"| 100 templates watching, one change a second | {busy_cpu:.2f} | {busy_rss:.1f} |",
                  "", f"`disco template` itself: {tpl_rss:.1f} MiB RSS, {tpl_cpu:.2f} CPU seconds over the whole run.", ""]

        log(f"{INSTANCES} instances of web for the filter")
        catalog_instances(http, "web", INSTANCES, meta=lambda i: {"half": str(i % 2)})
        rows = []
        base = None
        for label, q in [("no filter", ""),
                         ('`Service.Meta.half == "1"` (keeps half)', 'Service.Meta.half == "1"'),
                         ("`Checks.Status == passing` (through the checks, keeps all)", "Checks.Status == passing"),
                         ('`Node.Node matches "n[0-9]*7$"` (regex)', 'Node.Node matches "n[0-9]*7$"')]:
            path = "/v1/health/service/web" + (("?filter=" + urllib.parse.quote(q)) if q else "")
            timed_gets(http, path)  # warm
            xs, count = timed_gets(http, path)
            med = statistics.median(xs)
            base = base or med
            rows.append(f"| {label} | {count} | {med:.1f} | {pct(xs, 90):.1f} | {med / base:.2f}× |")
        lines += [f"### `?filter=` on `/v1/health/service/web` with {INSTANCES} instances ({REQS} sequential requests each)", "",
                  "| filter | rows returned | p50 ms | p90 ms | p50 vs no filter |", "|---|---|---|---|---|"] + rows + [""]
    finally:
        kill_group(agent)
        shutil.rmtree(work, ignore_errors=True)
    report(OUT, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
