#!/usr/bin/env bash
# Regenerate docs/tui.png: the console attached to a real cluster (the tutorial's three
# servers from scripts/dev-cluster.sh plus one client agent) with a few services, checks
# and KV keys, captured from tmux with its colours (capture-pane -e), turned into HTML by
# aha and photographed by headless Chromium; and docs/webui.png, the web UI's services view
# on the same cluster, photographed by tests/ui/screenshot.mjs (playwright-core).
#
# Usage: scripts/screenshot.sh [OUT.png] [WEBUI_OUT.png]  (default docs/tui.png docs/webui.png)
# Needs: tmux, aha, chromium, node/npm (installed with apt when missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISCO_BIN:-$ROOT/target/release/disco}
OUT=${1:-$ROOT/docs/tui.png}
WEBUI_OUT=${2:-$ROOT/docs/webui.png}
WORK=$(mktemp -d /tmp/disco-screenshot.XXXXXX)
export DEV_CLUSTER_DIR=$WORK/cluster
SESSION=disco-shot-$$
COLS=150 ROWS=38

need=()
command -v tmux >/dev/null || need+=(tmux)
command -v aha >/dev/null || need+=(aha)
command -v chromium >/dev/null || need+=(chromium)
command -v npm >/dev/null || need+=(nodejs npm)
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[[ -x "$BIN" ]] || (cd "$ROOT" && cargo build --release)

CLIENT_PID=
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  [[ -n "$CLIENT_PID" ]] && kill -9 -- "-$CLIENT_PID" 2>/dev/null || true
  "$ROOT/scripts/dev-cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/scripts/dev-cluster.sh" start >/dev/null
setsid "$BIN" agent -node web-01 -bind 127.0.0.1 -client 127.0.0.1 -http-port 8530 -dns-port -1 \
  -serf-lan-port 8331 -serf-wan-port -1 -server-port 8330 -data-dir "$WORK/client" \
  -join 127.0.0.1:8301 >"$WORK/client.log" 2>&1 </dev/null &
CLIENT_PID=$!
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:8530/v1/catalog/nodes >/dev/null 2>&1 && break; sleep 0.1; done

reg() { curl -fsS -X PUT -d "$2" "http://127.0.0.1:$1/v1/agent/service/register" >/dev/null; }
reg 8530 '{"ID":"web-1","Name":"web","Port":8080,"Tags":["v2","public"],"Check":{"HTTP":"http://127.0.0.1:8500/v1/status/leader","Interval":"2s"}}'
reg 8530 '{"ID":"web-2","Name":"web","Port":8081,"Tags":["v2","canary"],"Check":{"TTL":"1h","Status":"warning"}}'
reg 8530 '{"ID":"node-exporter","Name":"node-exporter","Port":9100,"Tags":["node-exporter"],"Meta":{"env":"prod"},"Check":{"TCP":"127.0.0.1:8530","Interval":"5s"}}'
reg 8500 '{"ID":"api-1","Name":"api","Port":9000,"Tags":["v3"],"Check":{"HTTP":"http://127.0.0.1:8510/v1/status/leader","Interval":"2s"}}'
reg 8510 '{"ID":"api-2","Name":"api","Port":9000,"Tags":["v3"],"Check":{"HTTP":"http://127.0.0.1:8510/v1/status/leader","Interval":"2s"}}'
reg 8520 '{"ID":"db-1","Name":"postgres","Port":5432,"Tags":["primary"],"Check":{"TCP":"127.0.0.1:1","Interval":"2s"}}'
reg 8520 '{"ID":"redis-1","Name":"redis","Port":6379,"Check":{"TTL":"1h","Status":"passing"}}'
for k in app/config/database app/config/feature-flags app/version deploy/lock; do
  curl -fsS -X PUT -d "value of $k" "http://127.0.0.1:8500/v1/kv/$k" >/dev/null
done
sleep 5

tmux new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" "$BIN" tui -http-addr=127.0.0.1:8500
sleep 3
tmux capture-pane -e -p -t "$SESSION" >"$WORK/screen.ansi"

aha --black --title "disco tui" <"$WORK/screen.ansi" >"$WORK/screen.html"
# A monospace font at a size where the captured grid fills the window exactly.
sed -i 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 17px; margin: 8px;">|' "$WORK/screen.html"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$WORK/chrome" --hide-scrollbars \
  --window-size=$((COLS * 85 / 10 + 16)),$((ROWS * 17 + 16)) \
  --screenshot="$OUT" "file://$WORK/screen.html" >/dev/null 2>&1
echo "wrote $OUT"

[[ -f "$ROOT/tests/ui/node_modules/playwright-core/package.json" ]] ||
  (cd "$ROOT/tests/ui" && npm ci --silent --no-audit --no-fund >/dev/null)
node "$ROOT/tests/ui/screenshot.mjs" http://127.0.0.1:8500/ui/services "$WEBUI_OUT"
