#!/usr/bin/env bash
# The tutorial's three-server cluster on one host: node1..node3 from docs/examples/consul0N.json
# (HTTP 8500/8510/8520, DNS 8600/8610/8620, server 8300/8310/8320, serf_lan 8301/8311/8321),
# node2 and node3 joining node1, all with bootstrap_expect 3.
#
# Usage: scripts/dev-cluster.sh start|stop|status
# Env: DISCO_BIN [target/release/disco]  DEV_CLUSTER_DIR [/tmp/disco-dev-cluster] (data, logs, PIDs)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISCO_BIN:-$ROOT/target/release/disco}
DIR=${DEV_CLUSTER_DIR:-/tmp/disco-dev-cluster}

running() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

start() {
  [[ -x "$BIN" ]] || { echo "disco binary not found: $BIN (cargo build --release)" >&2; exit 1; }
  mkdir -p "$DIR"
  for i in 1 2 3; do
    n=consul0$i
    if running "$n"; then echo "$n already running (pid $(cat "$DIR/$n.pid"))"; continue; fi
    args=(agent "-config-dir=$ROOT/docs/examples/$n.json" -data-dir "$DIR/$n")
    [[ $i == 1 ]] || args+=(-retry-join 127.0.0.1:8301 -retry-interval 1s)
    setsid "$BIN" "${args[@]}" >>"$DIR/$n.log" 2>&1 < /dev/null &
    echo $! >"$DIR/$n.pid"
    echo "started $n (pid $!, log $DIR/$n.log)"
  done
  for _ in $(seq 1 300); do
    leader=$(curl -fsS http://127.0.0.1:8500/v1/status/leader 2>/dev/null || true)
    if [[ -n "$leader" && "$leader" != '""' ]]; then
      echo "leader: $leader"
      status
      return 0
    fi
    sleep 0.1
  done
  echo "no leader after 30 s; see $DIR/*.log" >&2
  exit 1
}

stop() {
  for i in 3 2 1; do
    n=consul0$i
    if running "$n"; then
      pid=$(cat "$DIR/$n.pid")
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      echo "stopped $n"
    fi
    rm -f "$DIR/$n.pid"
  done
}

status() {
  for i in 1 2 3; do
    n=consul0$i
    if running "$n"; then echo "$n: running (pid $(cat "$DIR/$n.pid"))"; else echo "$n: stopped"; fi
  done
  "$BIN" members -http-addr 127.0.0.1:8500 || true
  "$BIN" operator raft list-peers -http-addr 127.0.0.1:8500 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
