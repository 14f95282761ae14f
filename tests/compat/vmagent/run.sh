#!/usr/bin/env bash
# Prometheus-style Consul service discovery against a real disco agent.
#
# Debian's prometheus package is built without Consul SD, so the scraper used here is vmagent
# (Debian package victoria-metrics), which implements Prometheus' consul_sd_configs and relabelling
# and exposes the Prometheus /api/v1/targets API.
#
# Flow: start `disco agent -dev` on free loopback ports, register the node-exporter service from the
# common "Prometheus + Consul" tutorial (verbatim JSON and curl) plus a cadvisor-exporter service that
# the tutorial's keep rule must drop, point vmagent at the agent with the tutorial's scrape job, check
# the discovered target and its labels, deregister the service and check the target disappears.
#
# What vmagent (1.79, Debian bookworm) asks of the agent:
#   GET /v1/agent/self                      -> reads Config.Datacenter (once, at start-up)
#   GET /v1/catalog/services?dc=DC&stale&index=N&wait=525s
#                                           -> {"name": ["tag", ...]}; blocking query
#   GET /v1/health/service/NAME?dc=DC&stale&index=N&wait=525s   (one watcher per service, no ?passing)
#                                           -> [{Node{Node,Address,Datacenter,Meta,TaggedAddresses},
#                                                Service{ID,Service,Address,Port,Tags,Meta}, Checks[{CheckID,Status}]}]
#   Both blocking endpoints must send X-Consul-Index (>= 1) and must bump it when the result changes:
#   without the header vmagent never creates targets; with an unchanged index it never updates them.
#   Target removal is only noticed when a blocking query returns, so the agent must wake blocked
#   queries on change (vmagent waits up to 525 s otherwise).
#
# Usage: tests/compat/vmagent/run.sh
# Env:   DISCO_BIN (default target/release/disco), VMAGENT (default: vmagent on PATH, installed with apt
#        when missing), DEADLINE_S (per polling phase, default 60), KEEP_TMP=1 keeps the work directory,
#        VM_CONSUL_WAIT (e.g. 5s: passes -promscrape.consul.waitTime, default: vmagent's own).
# Prints PASS/FAIL per assertion and a closing "vmagent: N passed, M failed"; exits 1 on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
DISCO_BIN=${DISCO_BIN:-$ROOT/target/release/disco}
DEADLINE_S=${DEADLINE_S:-60}
VM_CONSUL_WAIT=${VM_CONSUL_WAIT:-}

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1 ($3)"; else fail "$1: expected '$2', got '$3'"; fi
}
summary() { echo "vmagent: $PASSED passed, $FAILED failed"; }

# ---------------------------------------------------------------- prerequisites
if [ ! -x "$DISCO_BIN" ]; then
  fail "disco binary not found or not executable at $DISCO_BIN (build it with: cargo build --release)"
  summary
  exit 1
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
if [ -z "${VMAGENT:-}" ]; then
  if ! command -v vmagent >/dev/null 2>&1; then
    echo "vmagent not found: installing Debian package victoria-metrics"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics >/dev/null
  fi
  VMAGENT=$(command -v vmagent || true)
  [ -z "$VMAGENT" ] && [ -x /usr/bin/vmagent ] && VMAGENT=/usr/bin/vmagent
fi
if [ -z "${VMAGENT:-}" ] || [ ! -x "$VMAGENT" ]; then
  fail "vmagent not available (apt-get install victoria-metrics puts it at /usr/bin/vmagent)"
  summary
  exit 1
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { fail "$tool is required"; summary; exit 1; }
done

# ---------------------------------------------------------------- work dir, processes, cleanup
T=$(mktemp -d /tmp/disco-vmagent.XXXXXX)
DISCO_PID=""
VM_PID=""
stop_pid() { # stop_pid PID: TERM, wait up to 5 s, then KILL
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$VM_PID"
  stop_pid "$DISCO_PID"
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "work directory kept: $T"; else rm -rf "$T"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
  echo "----- disco log (last 40 lines): $T/disco.log"
  tail -n 40 "$T/disco.log" 2>/dev/null || true
  echo "----- vmagent log (last 40 lines, remote-write retries omitted): $T/vmagent.log"
  grep -v 'remotewrite/client.go' "$T/vmagent.log" 2>/dev/null | tail -n 40 || true
  echo "----- last /api/v1/targets"
  head -c 4000 "$T/targets.json" 2>/dev/null || true
  echo
}
finish() {
  summary
  if [ "$FAILED" -ne 0 ]; then show_logs; exit 1; fi
  exit 0
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
HTTP_PORT=$(free_port)
SERVER_PORT=$(free_port)
SERF_LAN_PORT=$(free_port)
VM_PORT=$(free_port)
NODE_EXPORTER_PORT=$(free_port)
CADVISOR_PORT=$(free_port)
API="http://127.0.0.1:$HTTP_PORT"
VM="http://127.0.0.1:$VM_PORT"

# ---------------------------------------------------------------- disco
echo "starting disco: http=$HTTP_PORT server=$SERVER_PORT serf_lan=$SERF_LAN_PORT"
"$DISCO_BIN" agent -dev -client 127.0.0.1 -bind 127.0.0.1 -http-port "$HTTP_PORT" -dns-port -1 \
  -server-port "$SERVER_PORT" -serf-lan-port "$SERF_LAN_PORT" -serf-wan-port -1 -node vmtest \
  >"$T/disco.log" 2>&1 &
DISCO_PID=$!

leader=""
end=$(( $(date +%s) + DEADLINE_S ))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$DISCO_PID" 2>/dev/null || break
  leader=$(curl -sf --max-time 2 "$API/v1/status/leader" 2>/dev/null || true)
  case "$leader" in '"'?*'"') break ;; esac
  leader=""
  sleep 0.2
done
if [ -n "$leader" ]; then
  pass "disco agent up with a leader ($leader)"
else
  if ! kill -0 "$DISCO_PID" 2>/dev/null; then
    st=0; wait "$DISCO_PID" 2>/dev/null || st=$?
    DISCO_PID=""
    fail "disco agent exited (status $st) before /v1/status/leader named a leader"
  else
    fail "disco agent did not report a leader on /v1/status/leader within ${DEADLINE_S}s"
  fi
  finish
fi

# ---------------------------------------------------------------- services
cd "$T"
cat >node-exporter.json <<EOF
{"ID": "node-exporter", "Name": "node-exporter-127.0.0.1", "Tags": ["node-exporter"], "Address": "127.0.0.1", "Port": $NODE_EXPORTER_PORT, "Meta": {"app": "spring-boot", "team": "appgroup", "project": "bigdata"}, "EnableTagOverride": false, "Check": {"HTTP": "http://127.0.0.1:$NODE_EXPORTER_PORT/metrics", "Interval": "10s"}, "Weights": {"Passing": 10, "Warning": 1}}
EOF
cat >cadvisor-exporter.json <<EOF
{"ID": "cadvisor-exporter", "Name": "cadvisor-exporter", "Tags": ["cadvisor-exporter"], "Address": "127.0.0.1", "Port": $CADVISOR_PORT, "Meta": {"app": "cadvisor"}, "Check": {"HTTP": "http://127.0.0.1:$CADVISOR_PORT/metrics", "Interval": "10s"}}
EOF

if curl -sf --max-time 10 --request PUT --data @node-exporter.json "http://127.0.0.1:$HTTP_PORT/v1/agent/service/register?replace-existing-checks=1" >/dev/null; then
  pass "register node-exporter (tutorial JSON, replace-existing-checks=1)"
else
  fail "register node-exporter: PUT /v1/agent/service/register failed"
fi
if curl -sf --max-time 10 --request PUT --data @cadvisor-exporter.json "$API/v1/agent/service/register" >/dev/null; then
  pass "register cadvisor-exporter"
else
  fail "register cadvisor-exporter: PUT /v1/agent/service/register failed"
fi

# ---------------------------------------------------------------- vmagent
cat >prometheus.yml <<EOF
scrape_configs:
  - job_name: 'consul-node-exporter'
    consul_sd_configs:
      - server: '127.0.0.1:$HTTP_PORT'
        services: []
    relabel_configs:
      - source_labels: [__meta_consul_tags]
        regex: .*node-exporter.*
        action: keep
      - regex: __meta_consul_service_metadata_(.+)
        action: labelmap
EOF
if ! "$VMAGENT" -promscrape.config="$T/prometheus.yml" -promscrape.config.strictParse=true \
     -promscrape.config.dryRun -loggerLevel=ERROR >"$T/dryrun.log" 2>&1; then
  cat "$T/dryrun.log"
  fail "vmagent rejects the scrape config"
  finish
fi

vm_args=(-promscrape.config="$T/prometheus.yml" -promscrape.config.strictParse=true
  -remoteWrite.url=http://127.0.0.1:9/api/v1/write -remoteWrite.tmpDataPath="$T/vmagent-data"
  -httpListenAddr="127.0.0.1:$VM_PORT" -promscrape.consulSDCheckInterval=1s)
[ -n "$VM_CONSUL_WAIT" ] && vm_args+=(-promscrape.consul.waitTime="$VM_CONSUL_WAIT")
echo "starting vmagent: $VMAGENT (http=$VM_PORT)"
"$VMAGENT" "${vm_args[@]}" >"$T/vmagent.log" 2>&1 &
VM_PID=$!

# targets.py MODE FILE ARGS: reads a saved /api/v1/targets answer.
#   active ID        -> JSON {"labels", "discoveredLabels", "scrapeUrl"} of the active target whose
#                       discovered __meta_consul_service_id is ID, or nothing
#   dropped ID       -> "yes" when a dropped target has that service id, else "no"
cat >targets.py <<'EOF'
import json, sys
mode, path, sid = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    data = json.load(open(path))["data"]
except Exception:
    sys.exit(0)
if mode == "active":
    for t in data.get("activeTargets") or []:
        if (t.get("discoveredLabels") or {}).get("__meta_consul_service_id") == sid:
            print(json.dumps({k: t.get(k) for k in ("labels", "discoveredLabels", "scrapeUrl")}))
            break
elif mode == "dropped":
    hit = any((t.get("discoveredLabels") or {}).get("__meta_consul_service_id") == sid
              for t in data.get("droppedTargets") or [])
    print("yes" if hit else "no")
EOF
label() { # label JSON SECTION NAME
  python3 -c 'import json,sys; print((json.loads(sys.argv[1]).get(sys.argv[2]) or {}).get(sys.argv[3], "<missing>"))' "$1" "$2" "$3"
}
fetch_targets() {
  curl -sf --max-time 5 "$VM/api/v1/targets" >"$T/targets.json.new" 2>/dev/null && mv "$T/targets.json.new" "$T/targets.json"
}

# Wait for the node-exporter target and for cadvisor-exporter to show up among the dropped ones.
target=""
dropped="no"
end=$(( $(date +%s) + DEADLINE_S ))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$VM_PID" 2>/dev/null || { echo "vmagent exited early"; break; }
  kill -0 "$DISCO_PID" 2>/dev/null || { echo "disco exited early"; break; }
  if fetch_targets; then
    target=$(python3 targets.py active "$T/targets.json" node-exporter)
    dropped=$(python3 targets.py dropped "$T/targets.json" cadvisor-exporter)
    [ -n "$target" ] && [ "$dropped" = yes ] && break
  fi
  sleep 1
done

if [ -z "$target" ]; then
  fail "node-exporter target not discovered by vmagent within ${DEADLINE_S}s"
else
  pass "node-exporter target discovered by vmagent"
  # "labels" are the labels after relabelling (what the scraped series carry); "discoveredLabels" are
  # the __meta_consul_* labels from service discovery, before relabelling.
  check "label app" spring-boot "$(label "$target" labels app)"
  check "label team" appgroup "$(label "$target" labels team)"
  check "label project" bigdata "$(label "$target" labels project)"
  check "label job" consul-node-exporter "$(label "$target" labels job)"
  check "label instance" "127.0.0.1:$NODE_EXPORTER_PORT" "$(label "$target" labels instance)"
  check "discovered __address__" "127.0.0.1:$NODE_EXPORTER_PORT" "$(label "$target" discoveredLabels __address__)"
  check "discovered __meta_consul_service" node-exporter-127.0.0.1 "$(label "$target" discoveredLabels __meta_consul_service)"
  check "discovered __meta_consul_tags" ",node-exporter," "$(label "$target" discoveredLabels __meta_consul_tags)"
  check "discovered __meta_consul_node" vmtest "$(label "$target" discoveredLabels __meta_consul_node)"
  check "scrape URL" "http://127.0.0.1:$NODE_EXPORTER_PORT/metrics" \
    "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("scrapeUrl"))' "$target")"
fi

cad_active=$( [ -f "$T/targets.json" ] && python3 targets.py active "$T/targets.json" cadvisor-exporter || true)
if [ -n "$cad_active" ]; then
  fail "cadvisor-exporter is an active target; the keep rule should have dropped it"
elif [ "$dropped" = yes ]; then
  pass "cadvisor-exporter discovered and dropped by the keep rule"
else
  fail "cadvisor-exporter not among vmagent's dropped targets (was it discovered at all?)"
fi

# ---------------------------------------------------------------- deregistration
if curl -sf --max-time 10 --request PUT "$API/v1/agent/service/deregister/node-exporter" >/dev/null; then
  pass "deregister node-exporter"
else
  fail "deregister node-exporter: PUT /v1/agent/service/deregister/node-exporter failed"
fi

t0=$(date +%s)
gone=no
end=$(( t0 + DEADLINE_S ))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$VM_PID" 2>/dev/null || { echo "vmagent exited early"; break; }
  if fetch_targets && [ -z "$(python3 targets.py active "$T/targets.json" node-exporter)" ]; then
    gone=yes
    break
  fi
  sleep 1
done
if [ -z "$target" ]; then
  fail "target removal not checked: the node-exporter target was never discovered"
elif [ "$gone" = yes ]; then
  pass "node-exporter target removed after deregistration ($(( $(date +%s) - t0 ))s)"
else
  fail "node-exporter target still active ${DEADLINE_S}s after deregistration (blocking queries not woken, or X-Consul-Index not bumped?)"
fi

finish
