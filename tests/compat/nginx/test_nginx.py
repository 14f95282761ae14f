"""Three disco servers behind nginx (ip_hash upstream, the tutorial's proxy settings)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import free_port, req  # noqa: E402

BIN = os.environ["DISCO_BIN"]
NGINX = sys.argv[1]
passed, failed = 0, 0
procs = []


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS: {name}")
    else:
        failed += 1
        print(f"FAIL: {name} {detail}")




def until(what, f, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        v = f()
        if v:
            return v
        time.sleep(0.1)
    return None


def main():
    work = tempfile.mkdtemp(prefix="disco-nginx-")
    servers = []
    for i in range(3):
        s = {k: free_port() for k in ("http", "server", "serf")}
        s["name"] = f"ngx{i + 1}"
        args = [BIN, "agent", "-server", "-bootstrap-expect", "3", "-node", s["name"],
                "-bind", "127.0.0.1", "-client", "127.0.0.1", "-data-dir", f"{work}/{s['name']}",
                "-http-port", str(s["http"]), "-server-port", str(s["server"]),
                "-serf-lan-port", str(s["serf"]), "-dns-port", "-1", "-serf-wan-port", "-1", "-ui"]
        if i:
            args += ["-retry-join", f"127.0.0.1:{servers[0]['serf']}", "-retry-interval", "200ms"]
        log = open(f"{work}/{s['name']}.log", "wb")
        s["proc"] = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        procs.append(s["proc"])
        servers.append(s)
    front = free_port()
    conf = f"""
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
  access_log {work}/nginx-access.log;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  upstream service_consul {{
    server 127.0.0.1:{servers[0]['http']};
    server 127.0.0.1:{servers[1]['http']};
    server 127.0.0.1:{servers[2]['http']};
    ip_hash;
  }}
  server {{
    listen 127.0.0.1:{front};
    location / {{
      proxy_next_upstream http_502 http_504 error timeout invalid_header;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 660s;
      proxy_pass http://service_consul;
    }}
  }}
}}
"""
    with open(f"{work}/nginx.conf", "w") as f:
        f.write(conf)
    ngx = subprocess.Popen([NGINX, "-p", work, "-c", f"{work}/nginx.conf", "-g", "daemon off;"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs.append(ngx)
    try:
        leader = until("leader", lambda: (lambda r: r[0] == 200 and r[1] not in (b'""', b"") and r[1])(
            req(servers[0]["http"], "GET", "/v1/status/leader")))
        check("cluster formed behind nginx", bool(leader), "no leader")
        up = until("nginx", lambda: req(front, "GET", "/v1/status/leader")[0] == 200)
        check("nginx proxies to the cluster", bool(up))

        # The tutorial opens the web UI through nginx: any server serves the same page.
        st, body = req(front, "GET", "/ui/")
        check("web UI through nginx", st == 200 and b'<base href="/ui/">' in body, f"{st} {body[:120]!r}")
        st, body = req(front, "GET", "/ui/app.js")
        check("web UI script through nginx", st == 200 and b"import" in body, f"{st}")

        st, body = req(front, "PUT", "/v1/kv/ngx/a", b"one")
        check("KV write through nginx", st == 200 and body.strip() == b"true", f"{st} {body!r}")
        svc = {"ID": "node-exporter", "Service": "node-exporter-127.0.0.1",
               "Tags": ["node-exporter"], "Address": "127.0.0.1", "Port": 9100,
               "Meta": {"app": "spring-boot", "team": "appgroup"}}
        st, body = req(front, "PUT", "/v1/catalog/register", json.dumps({
            "Node": "ext-host", "Address": "127.0.0.1", "Service": svc}).encode())
        check("catalog register through nginx", st == 200, f"{st} {body!r}")
        for s in servers:
            st, body = req(s["http"], "GET", "/v1/kv/ngx/a?raw")
            check(f"write visible on {s['name']}", body == b"one", f"{st} {body!r}")
            st, body = req(s["http"], "GET", "/v1/catalog/services")
            check(f"catalog identical on {s['name']}", st == 200 and b"node-exporter-127.0.0.1" in body,
                  f"{st} {body!r}")

        # Kill the leader: nginx moves on, a new leader is elected, nothing is lost.
        addr = json.loads(leader)
        victim = next(s for s in servers if addr.endswith(f":{s['server']}"))
        os.killpg(victim["proc"].pid, signal.SIGKILL)
        victim["proc"].wait()
        ok = until("write after failover", lambda: req(front, "PUT", "/v1/kv/ngx/b", b"two")[1].strip() == b"true")
        check("KV write through nginx after killing the leader", bool(ok))
        st, body = req(front, "GET", "/v1/kv/ngx/a?raw")
        check("earlier write readable through nginx", body == b"one", f"{st} {body!r}")
        st, body = req(front, "GET", "/v1/kv/ngx/b?raw")
        check("new write readable through nginx", body == b"two", f"{st} {body!r}")
        st, body = req(front, "GET", "/v1/catalog/service/node-exporter-127.0.0.1")
        ok = st == 200 and json.loads(body or b"[]") and json.loads(body)[0]["ServiceMeta"].get("team") == "appgroup"
        check("catalog read through nginx after failover", bool(ok), f"{st} {body!r}")
        st, body = req(front, "GET", "/v1/health/service/node-exporter-127.0.0.1")
        check("health read through nginx after failover", st == 200, f"{st} {body!r}")
        st, body = req(front, "GET", "/ui/services/node-exporter-127.0.0.1")
        check("web UI deep link through nginx after failover", st == 200 and b"app.js" in body, f"{st}")
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
    print(f"nginx: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
