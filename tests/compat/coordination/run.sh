#!/usr/bin/env bash
# Unmodified coordination clients against a three-server disco cluster and a client agent:
# consullock 4.2.0's `consul-lock` CLI from PyPI, and a scenario of our own written with
# the npm `consul` client 2.0.1 (sessions, locks, txn, events, a watch).
# Installs both under target/compat/coordination. consullock needs `demjson`, which no
# longer builds from PyPI; Debian's python3-demjson is used through a venv of the system
# python with its site packages.
# The last line printed is "coordination: N passed, M failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK="${COORD_WORK:-$ROOT/target/compat/coordination}"
export DISCO_BIN="${DISCO_BIN:-$ROOT/target/release/disco}"
fail() { echo "coordination: $*"; echo "coordination: 0 passed, 1 failed"; exit 1; }
[[ -x "$DISCO_BIN" ]] || fail "disco binary not found: $DISCO_BIN"
mkdir -p "$WORK"

SYS_PY=/usr/bin/python3
[[ -x $SYS_PY ]] || SYS_PY="$(command -v python3)"
if ! "$SYS_PY" -c 'import demjson' 2>/dev/null; then
  fail "python3-demjson is not installed for $SYS_PY (apt-get install python3-demjson)"
fi
VENV="$WORK/venv"
if [[ ! -x "$VENV/bin/consul-lock" ]]; then
  rm -rf "$VENV"
  "$SYS_PY" -m venv --system-site-packages "$VENV" || fail "cannot create a venv with $SYS_PY"
  "$VENV/bin/pip" install -q python-consul==1.1.0 timeout-decorator==0.5.0 hgijson==3.1.0 munch==4.0.0 \
    || fail "pip install of consullock's dependencies failed"
  "$VENV/bin/pip" install -q --no-deps consullock==4.2.0 || fail "pip install consullock failed"
fi

command -v node >/dev/null 2>&1 || fail "node is not installed (apt-get install nodejs npm)"
NODE_DIR="$WORK/node"
if [[ ! -f "$NODE_DIR/node_modules/consul/package.json" ]]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund consul@2.0.1 >/dev/null) \
    || fail "npm install consul@2.0.1 failed"
fi

exec "$SYS_PY" "$HERE/test_coordination.py" "$VENV/bin/consul-lock" "$NODE_DIR"
