#!/usr/bin/env bash
# vmagent's Consul discovery against a disco agent with ACLs on (default deny).
#
# One token may read services, nodes and agents (what vmagent's consul_sd_configs needs; it
# reads /v1/agent/self for the datacenter, then catalog services and health): vmagent, given
# it as `token:`, sends it as `Authorization: Bearer` and discovers the target. Another token
# may read only keys: vmagent given that one discovers nothing, keeps running, and logs the
# agent's 403.
#
# Usage: tests/compat/vmagent/acl.sh   (DISCO_BIN, VMAGENT, DEADLINE_S, KEEP_TMP as run.sh)
# Prints PASS/FAIL per assertion and "vmagent-acl: N passed, M failed"; exits 1 on a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
DISCO_BIN=${DISCO_BIN:-$ROOT/target/release/disco}
DEADLINE_S=${DEADLINE_S:-60}
VMAGENT=${VMAGENT:-$(command -v vmagent || echo /usr/bin/vmagent)}
MGMT=6d0f3b1e-8a2c-4f57-b9e1-3c4d5e6f7a80

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

T=$(mktemp -d /tmp/disco-vmagent-acl.XXXXXX)
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "work directory kept: $T"; else rm -rf "$T"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
HTTP_PORT=$(free_port)
API="http://127.0.0.1:$HTTP_PORT"
EXPORTER_PORT=$(free_port)
mgmt() { curl -sf --max-time 10 -H "X-Consul-Token: $MGMT" "$@"; }

cat >"$T/acl.json" <<EOF
{"acl": {"enabled": true, "default_policy": "deny", "tokens": {"initial_management": "$MGMT"}}}
EOF
"$DISCO_BIN" agent -dev -client 127.0.0.1 -bind 127.0.0.1 -http-port "$HTTP_PORT" -dns-port -1 \
  -server-port "$(free_port)" -serf-lan-port "$(free_port)" -serf-wan-port -1 -node vmacl \
  -config-file "$T/acl.json" >"$T/disco.log" 2>&1 &
PIDS+=($!)
end=$(( $(date +%s) + DEADLINE_S ))
until mgmt "$API/v1/acl/token/self" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$end" ] || { fail "disco with ACLs did not come up"; tail -n 30 "$T/disco.log"; exit 1; }
  sleep 0.2
done
pass "disco up with ACLs (default deny)"

mgmt -X PUT --data '{"Name":"prometheus","Rules":"service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\nagent_prefix \"\" { policy = \"read\" }"}' "$API/v1/acl/policy" >/dev/null
mgmt -X PUT --data '{"Name":"keys-only","Rules":"key_prefix \"\" { policy = \"read\" }"}' "$API/v1/acl/policy" >/dev/null
PROM=$(mgmt -X PUT --data '{"Description":"vmagent","Policies":[{"Name":"prometheus"}]}' "$API/v1/acl/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretID"])')
KEYS=$(mgmt -X PUT --data '{"Description":"keys","Policies":[{"Name":"keys-only"}]}' "$API/v1/acl/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretID"])')
mgmt -X PUT --data "{\"ID\":\"node-exporter\",\"Name\":\"node-exporter\",\"Tags\":[\"node-exporter\"],\"Address\":\"127.0.0.1\",\"Port\":$EXPORTER_PORT}" \
  "$API/v1/agent/service/register" >/dev/null && pass "node-exporter registered with the management token"

start_vmagent() { # start_vmagent NAME TOKEN -> sets VM_URL
  local name=$1 token=$2 port
  port=$(free_port)
  cat >"$T/$name.yml" <<EOF
scrape_configs:
  - job_name: 'consul'
    consul_sd_configs:
      - server: '127.0.0.1:$HTTP_PORT'
        token: '$token'
        services: []
EOF
  "$VMAGENT" -promscrape.config="$T/$name.yml" -promscrape.config.strictParse=true \
    -remoteWrite.url=http://127.0.0.1:9/api/v1/write -remoteWrite.tmpDataPath="$T/$name-data" \
    -httpListenAddr="127.0.0.1:$port" -promscrape.consulSDCheckInterval=1s >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  VM_URL="http://127.0.0.1:$port"
}
targets() { # targets URL -> active node-exporter targets (or "?" when vmagent does not answer)
  curl -sf --max-time 5 "$1/api/v1/targets" 2>/dev/null |
    python3 -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin)["data"].get("activeTargets") or [] if (t.get("discoveredLabels") or {}).get("__meta_consul_service") == "node-exporter"))' 2>/dev/null || echo "?"
}

start_vmagent allowed "$PROM"
ALLOWED=$VM_URL
start_vmagent denied "$KEYS"
DENIED=$VM_URL

n="?"
end=$(( $(date +%s) + DEADLINE_S ))
while [ "$(date +%s)" -lt "$end" ]; do
  n=$(targets "$ALLOWED")
  [ "$n" = 1 ] && break
  sleep 1
done
if [ "$n" = 1 ]; then pass "vmagent with a read token discovers the target"; else fail "read token: $n active targets"; fi

# The other vmagent has had the same time; it must have found nothing, logged the refusal
# and still be serving.
d=$(targets "$DENIED")
if [ "$d" = 0 ]; then pass "vmagent with a keys-only token discovers nothing"; else fail "keys-only token: $d active targets"; fi
end=$(( $(date +%s) + DEADLINE_S ))
until grep -q "403" "$T/denied.log"; do
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
if grep -q "403" "$T/denied.log"; then pass "vmagent logs the agent's 403"; else fail "no 403 in the keys-only vmagent's log"; tail -n 20 "$T/denied.log"; fi
if grep -q "$PROM\|$KEYS\|$MGMT" "$T/disco.log"; then fail "a token secret reached disco's log"; else pass "no token secret in disco's log"; fi

echo "vmagent-acl: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
