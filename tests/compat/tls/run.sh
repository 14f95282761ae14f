#!/usr/bin/env bash
# Unmodified Consul clients over HTTPS with client certificates and ACL tokens: vmagent's
# consul_sd_configs (`scheme: https` with `tls_config` and `token:`) and py-consul
# (`scheme="https"`, `verify=`, `cert=`, `token=`), against a disco agent whose HTTPS port
# requires a certificate signed by its CA (`verify_incoming`), whose plain HTTP port is off
# (`ports.http = -1`) and whose ACLs deny by default. A vmagent whose token may read
# services discovers the target; one whose token may read only keys discovers nothing and
# logs the agent's 403.
# Certificates come from `disco tls ca create` / `disco tls cert create`.
#
# Usage: tests/compat/tls/run.sh   (DISCO_BIN, VMAGENT, DEADLINE_S, KEEP_TMP as vmagent/run.sh;
#        PYCONSUL_PY: a python with py-consul, default the venv tests/compat/pyconsul/run.sh made)
# Prints PASS/FAIL per assertion and "tls: N passed, M failed"; exits 1 on a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
DISCO_BIN=${DISCO_BIN:-$ROOT/target/release/disco}
DEADLINE_S=${DEADLINE_S:-60}
VMAGENT=${VMAGENT:-$(command -v vmagent || echo /usr/bin/vmagent)}
PYCONSUL_PY=${PYCONSUL_PY:-$ROOT/target/compat/pyconsul/venv/bin/python}
MGMT=2b7e4c1a-5d3f-4e6a-9b8c-7d6e5f4a3b21

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

T=$(mktemp -d /tmp/disco-tls.XXXXXX)
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
(cd "$T" && "$DISCO_BIN" tls ca create >/dev/null && "$DISCO_BIN" tls cert create -server >/dev/null &&
  "$DISCO_BIN" tls cert create -client >/dev/null)
CA=$T/consul-agent-ca.pem
CERT=$T/dc1-client-consul-0.pem
KEY=$T/dc1-client-consul-0-key.pem
HTTPS_PORT=$(free_port)
EXPORTER_PORT=$(free_port)
API="https://127.0.0.1:$HTTPS_PORT"
api() { curl -sf --max-time 10 --cacert "$CA" --cert "$CERT" --key "$KEY" -H "X-Consul-Token: $MGMT" "$@"; }

cat >"$T/tls.json" <<JSON
{"ports": {"http": -1, "https": $HTTPS_PORT},
 "acl": {"enabled": true, "default_policy": "deny",
         "tokens": {"initial_management": "$MGMT", "agent": "$MGMT"}},
 "tls": {"defaults": {"ca_file": "$CA", "cert_file": "$T/dc1-server-consul-0.pem",
                      "key_file": "$T/dc1-server-consul-0-key.pem", "verify_incoming": true}}}
JSON
"$DISCO_BIN" agent -dev -client 127.0.0.1 -bind 127.0.0.1 -dns-port -1 \
  -server-port "$(free_port)" -serf-lan-port "$(free_port)" -serf-wan-port -1 -node tlscompat \
  -config-file "$T/tls.json" >"$T/disco.log" 2>&1 &
PIDS+=($!)
end=$(( $(date +%s) + DEADLINE_S ))
until api "$API/v1/status/leader" 2>/dev/null | grep -q ':'; do
  [ "$(date +%s)" -lt "$end" ] || { fail "disco with HTTPS did not come up"; tail -n 30 "$T/disco.log"; exit 1; }
  sleep 0.2
done
pass "disco up, HTTPS only, client certificates required, ACLs default deny"
if curl -s --max-time 5 --cacert "$CA" "$API/v1/status/leader" >/dev/null 2>&1; then
  fail "a caller without a certificate was answered"
else
  pass "a caller without a certificate is refused"
fi

api -X PUT --data "{\"ID\":\"node-exporter\",\"Name\":\"node-exporter\",\"Tags\":[\"node-exporter\"],\"Address\":\"127.0.0.1\",\"Port\":$EXPORTER_PORT}" \
  "$API/v1/agent/service/register" >/dev/null && pass "node-exporter registered over HTTPS"

api -X PUT --data '{"Name":"prometheus","Rules":"service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\nagent_prefix \"\" { policy = \"read\" }"}' "$API/v1/acl/policy" >/dev/null
api -X PUT --data '{"Name":"keys-only","Rules":"key_prefix \"\" { policy = \"read\" }"}' "$API/v1/acl/policy" >/dev/null
PROM=$(api -X PUT --data '{"Description":"vmagent","Policies":[{"Name":"prometheus"}]}' "$API/v1/acl/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretID"])')
KEYS=$(api -X PUT --data '{"Description":"keys","Policies":[{"Name":"keys-only"}]}' "$API/v1/acl/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretID"])')

# vmagent: Consul discovery over HTTPS with the client certificate and a token.
start_vmagent() { # start_vmagent NAME TOKEN -> sets VM_PORT
  local name=$1 token=$2
  VM_PORT=$(free_port)
  cat >"$T/$name.yml" <<YAML
scrape_configs:
  - job_name: 'consul'
    consul_sd_configs:
      - server: '127.0.0.1:$HTTPS_PORT'
        scheme: https
        token: '$token'
        tls_config:
          ca_file: '$CA'
          cert_file: '$CERT'
          key_file: '$KEY'
        services: []
YAML
  "$VMAGENT" -promscrape.config="$T/$name.yml" -promscrape.config.strictParse=true \
    -remoteWrite.url=http://127.0.0.1:9/api/v1/write -remoteWrite.tmpDataPath="$T/$name-data" \
    -httpListenAddr="127.0.0.1:$VM_PORT" -promscrape.consulSDCheckInterval=1s >"$T/$name.log" 2>&1 &
  PIDS+=($!)
}
targets() { # targets PORT
  curl -sf --max-time 5 "http://127.0.0.1:$1/api/v1/targets" 2>/dev/null |
    python3 -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin)["data"].get("activeTargets") or [] if (t.get("discoveredLabels") or {}).get("__meta_consul_service") == "node-exporter"))' 2>/dev/null || echo "?"
}
start_vmagent allowed "$PROM"
ALLOWED=$VM_PORT
start_vmagent denied "$KEYS"
DENIED=$VM_PORT
n="?"
end=$(( $(date +%s) + DEADLINE_S ))
while [ "$(date +%s)" -lt "$end" ]; do
  n=$(targets "$ALLOWED")
  [ "$n" = 1 ] && break
  sleep 1
done
if [ "$n" = 1 ]; then pass "vmagent discovers the target over HTTPS with a client certificate and a read token"; else fail "vmagent over HTTPS: $n active targets"; tail -n 20 "$T/allowed.log"; fi
d=$(targets "$DENIED")
if [ "$d" = 0 ]; then pass "vmagent with a keys-only token discovers nothing over HTTPS"; else fail "keys-only token over HTTPS: $d active targets"; fi
end=$(( $(date +%s) + DEADLINE_S ))
until grep -q "403" "$T/denied.log"; do
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
if grep -q "403" "$T/denied.log"; then pass "vmagent logs the agent's 403"; else fail "no 403 in the keys-only vmagent's log"; tail -n 20 "$T/denied.log"; fi

# py-consul over HTTPS.
if [ -x "$PYCONSUL_PY" ] && "$PYCONSUL_PY" -c 'import consul' 2>/dev/null; then
  if "$PYCONSUL_PY" - "$HTTPS_PORT" "$CA" "$CERT" "$KEY" "$MGMT" <<'PY'
import sys
import consul
port, ca, cert, key, token = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
c = consul.Consul(host="127.0.0.1", port=int(port), scheme="https", verify=ca, cert=(cert, key), token=token)
assert c.kv.put("tls/py", "over https") is True
index, v = c.kv.get("tls/py")
assert v["Value"] == b"over https", v
assert "node-exporter" in c.agent.services()
index, nodes = c.catalog.service("node-exporter")
assert nodes and nodes[0]["ServicePort"] > 0, nodes
# The same client without its certificate is refused at the handshake.
bare = consul.Consul(host="127.0.0.1", port=int(port), scheme="https", verify=ca, token=token)
try:
    bare.kv.get("tls/py")
except Exception as e:
    print("refused without a certificate:", type(e).__name__)
else:
    raise SystemExit("answered without a client certificate")
PY
  then pass "py-consul over HTTPS (kv, agent, catalog; refused without a certificate)"; else fail "py-consul over HTTPS"; fi
else
  fail "py-consul not installed at $PYCONSUL_PY (run tests/compat/pyconsul/run.sh first)"
fi

if grep -q "$PROM\|$KEYS\|$MGMT" "$T/disco.log"; then fail "a token secret reached disco's log"; else pass "no token secret in disco's log"; fi

echo "tls: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
