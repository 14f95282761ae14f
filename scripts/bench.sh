#!/usr/bin/env bash
# Throughput / latency benchmark of a disco agent, with a single-member etcd as the reference, both on
# loopback and loaded by wrk (scripts/bench/kv.lua) on the same machine.
#
# disco (one `disco agent -server -bootstrap -data-dir D`, or `-dev` with DISCO_MODE=dev):
#   put       PUT /v1/kv/bench/<unique random key>, 100-byte body
#   get       GET /v1/kv/bench/key-N (N random among READ_KEYS seeded keys), default consistency
#   stale     GET /v1/kv/bench/key-N?stale
#   register  PUT /v1/agent/service/register, small JSON body, distinct service IDs
#   health    GET /v1/health/service/web?passing (10 seeded instances of "web")
# etcd (single member, JSON gateway):
#   put       POST /v3/kv/put (same keys and 100-byte values)
#   get       POST /v3/kv/range, linearizable (etcd's default)
#   stale     POST /v3/kv/range with "serializable": true
# each at every connection count in CONNS for SECONDS_PER_RUN seconds. Plus VmRSS of each server idle
# and after loading LOAD_KEYS keys (100k by default).
#
# Output: OUT_DIR/results.md (markdown tables ready for docs/benchmarks.md), OUT_DIR/raw.txt (every
# measurement), OUT_DIR/disco.log and OUT_DIR/etcd.log.
#
# Usage: scripts/bench.sh            (KV/API vs etcd)
#        scripts/bench.sh gossip     (LAN gossip at 5, 25 and 50 agents: scripts/bench/gossip.py)
#        scripts/bench.sh cluster    (3 servers vs 3-member etcd: scripts/bench/cluster.py)
#        scripts/bench.sh checks     (1000 HTTP + 1000 TTL checks on one agent: scripts/bench/checks.py)
#        scripts/bench.sh dns        (DNS vs dnsmasq with dnsperf: scripts/bench/dns.py)
#        scripts/bench.sh tui        (the console: CPU idle and busy, RSS, frame time: scripts/bench/tui.py)
#        scripts/bench.sh soak       (3 servers + a client, mixed load, transfers and kill -9: scripts/bench/soak.py)
#        scripts/bench.sh idle       (CPU and RSS of an idle server, client and -dev agent: scripts/bench/idle.py)
#        scripts/bench.sh catalog    (server memory per registered instance, 10,000 by default: scripts/bench/catalog.py)
#        scripts/bench.sh locks      (lock cycles and 4-operation txns, 3 servers vs 3-member etcd: scripts/bench/locks.py)
#        scripts/bench.sh acl        (ACL enforcement on against off, same load: scripts/bench/acl.py)
#        scripts/bench.sh tls        (HTTPS against HTTP, RPC mTLS against plaintext: scripts/bench/tls.py)
#        scripts/bench.sh wan        (two datacenters: ?dc= reads, query failover, WAN failure detection)
#        scripts/bench.sh faults     (5 servers + a client in namespaces, random faults, histories checked: tests/faults)
#        scripts/bench.sh template   (render latency, 100 watching templates, ?filter= cost: scripts/bench/template.py)
#        scripts/bench.sh ui         (web UI first render with 5,000 services, in chromium: tests/ui/large.test.mjs)
#        scripts/bench.sh coordination (lock hand-over, event fan-out to 25 agents, `disco lock` vs etcdctl: scripts/bench/coordination.py)
# Env (defaults in brackets):
#   CONNS ["1 16 64"]  SECONDS_PER_RUN [10]  TARGETS ["disco etcd"]  DISCO_MODE [server|dev]
#   DISCO_BIN [target/release/disco]  DISCO_EXTRA_ARGS []  DISCO_TESTS ["put get stale register health"]
#   ETCD_TESTS ["put get stale"]  LOAD_KEYS [100000]  READ_KEYS [1000]  VALSIZE [100]
#   ATTEMPTS [2]: a run is repeated (best kept) while other work used more than FOREIGN_MAX [0.25] cores
#   QUIET_MAX [10]: seconds to wait for a quiet machine before each run
#   BENCH_MAX_S [1800]: after this, no more retries or quiet waits, and remaining runs are skipped
#   OUT_DIR [target/bench]  WORK_DIR [a fresh /tmp/disco-bench.XXXXXX, removed at exit; KEEP_WORK=1 keeps it]
# Quick run: CONNS=1 SECONDS_PER_RUN=2 LOAD_KEYS=2000 scripts/bench.sh
# Only the reference: TARGETS=etcd scripts/bench.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/bench
# `scripts/bench.sh gossip`: the LAN gossip benchmark (5/25/50 agents), see scripts/bench/gossip.py.
if [[ "${1:-}" == gossip ]]; then
  exec python3 "$HERE/gossip.py"
fi
# `scripts/bench.sh checks`: 1000 HTTP checks and 1000 TTL checks on one agent (scripts/bench/checks.py).
if [[ "${1:-}" == checks ]]; then
  exec python3 "$HERE/checks.py"
fi
# `scripts/bench.sh dns`: DNS QPS and latency against dnsmasq (scripts/bench/dns.py).
if [[ "${1:-}" == dns ]]; then
  exec python3 "$HERE/dns.py"
fi
# `scripts/bench.sh tui`: the console's CPU, memory and frame time (scripts/bench/tui.py).
if [[ "${1:-}" == tui ]]; then
  exec python3 "$HERE/tui.py"
fi
# `scripts/bench.sh idle`: what an idle server, client agent and -dev agent cost (scripts/bench/idle.py).
if [[ "${1:-}" == idle ]]; then
  exec python3 "$HERE/idle.py"
fi
# `scripts/bench.sh locks`: lock cycles and transactions vs etcd (scripts/bench/locks.py).
if [[ "${1:-}" == locks ]]; then
  exec python3 "$HERE/locks.py"
fi
# `scripts/bench.sh ui`: the web UI's first render with DISCO_UI_SERVICES [5000] services over
# DISCO_UI_LOADS [9] page loads; figures in target/bench/ui-first-render.json.
if [[ "${1:-}" == ui ]]; then
  export DISCO_UI_LOADS="${DISCO_UI_LOADS:-9}"
  exec "$ROOT/tests/ui/run.sh" large.test.mjs
fi

# `scripts/bench.sh template`: the config loop's costs (scripts/bench/template.py).
if [[ "${1:-}" == template ]]; then
  exec python3 "$HERE/template.py"
fi
# `scripts/bench.sh wan`: two datacenters: cross-datacenter reads, prepared-query failover,
# WAN failure detection (scripts/bench/wan.py).
if [[ "${1:-}" == wan ]]; then
  exec python3 "$HERE/wan.py"
fi
# `scripts/bench.sh coordination`: lock hand-over, event fan-out and `disco lock` vs etcd (scripts/bench/coordination.py).
if [[ "${1:-}" == coordination ]]; then
  exec python3 "$HERE/coordination.py"
fi
# `scripts/bench.sh faults`: the long fault run: five servers and a client agent in network
# namespaces, a random schedule of partitions, loss, slow links, kills and pauses for
# FAULTS_SECS [1800] seconds, every history checked (tests/faults). Histories, the nemesis
# timeline, the verdict and summary.md go to target/bench/faults/.
if [[ "${1:-}" == faults ]]; then
  cd "$ROOT"
  export DISCO_FAULTS_SECS="${FAULTS_SECS:-1800}"
  export DISCO_FAULTS_SERVERS="${FAULTS_SERVERS:-5}"
  export DISCO_FAULTS_OUT="$ROOT/target/bench/faults"
  rm -rf "$DISCO_FAULTS_OUT"
  cargo test --release --test t92_faults long_randomised_fault_run -- --ignored --nocapture
  status=$?
  echo "results: $DISCO_FAULTS_OUT (summary.md, verdict.json, history.jsonl, timeline.jsonl)"
  exit $status
fi
# `scripts/bench.sh acl`: what ACL enforcement costs, on against off (scripts/bench/acl.py).
if [[ "${1:-}" == acl ]]; then
  exec python3 "$HERE/acl.py"
fi
# `scripts/bench.sh tls`: what TLS costs per request and per connection (scripts/bench/tls.py).
if [[ "${1:-}" == tls ]]; then
  exec python3 "$HERE/tls.py"
fi
# `scripts/bench.sh catalog`: what a registered instance costs a server (scripts/bench/catalog.py).
if [[ "${1:-}" == catalog ]]; then
  exec python3 "$HERE/catalog.py"
fi
# `scripts/bench.sh cluster`: three disco servers vs a three-member etcd (scripts/bench/cluster.py).
if [[ "${1:-}" == cluster ]]; then
  exec python3 "$HERE/cluster.py"
fi
# `scripts/bench.sh soak`: a long mixed load on 3 servers and a client, with a nemesis (scripts/bench/soak.py).
if [[ "${1:-}" == soak ]]; then
  exec python3 "$HERE/soak.py"
fi
. "$HERE/lib.sh"

DISCO_BIN=${DISCO_BIN:-$ROOT/target/release/disco}
DISCO_MODE=${DISCO_MODE:-server}
DISCO_EXTRA_ARGS=${DISCO_EXTRA_ARGS:-}
TARGETS=${TARGETS:-"disco etcd"}
DISCO_TESTS=${DISCO_TESTS:-"put get stale register health"}
ETCD_TESTS=${ETCD_TESTS:-"put get stale"}
CONNS=${CONNS:-"1 16 64"}
CONNS=${CONNS//,/ }
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
LOAD_KEYS=${LOAD_KEYS:-100000}
READ_KEYS=${READ_KEYS:-1000}
VALSIZE=${VALSIZE:-100}
ATTEMPTS=${ATTEMPTS:-2}
FOREIGN_MAX=${FOREIGN_MAX:-0.25}
QUIET_MAX=${QUIET_MAX:-10}
BENCH_MAX_S=${BENCH_MAX_S:-1800}
IDLE_SETTLE_S=${IDLE_SETTLE_S:-5}
LOAD_MAX_S=${LOAD_MAX_S:-240}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench}
STAMP=$(date +%s)
BENCH_DEADLINE=$((STAMP + BENCH_MAX_S))
CMDLINE="CONNS=\"$CONNS\" SECONDS_PER_RUN=$SECONDS_PER_RUN TARGETS=\"$TARGETS\" DISCO_MODE=$DISCO_MODE LOAD_KEYS=$LOAD_KEYS scripts/bench.sh"

die() { echo "ERROR: $*" >&2; exit 1; }
want() { case " $TARGETS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- prerequisites
case "$DISCO_MODE" in server|dev) ;; *) die "DISCO_MODE must be server or dev, not '$DISCO_MODE'" ;; esac
if want disco && [ ! -x "$DISCO_BIN" ]; then
  die "disco binary not found or not executable at $DISCO_BIN
       build it first with: cargo build --release   (or benchmark only the reference: TARGETS=etcd $0)"
fi
want disco || want etcd || die "TARGETS must name disco and/or etcd"

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
APT_UPDATED=0
apt_install() { # apt_install PACKAGE...
  if [ "$APT_UPDATED" = 0 ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
if want etcd; then command -v etcd >/dev/null 2>&1 || need+=(etcd-server); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt_install "${need[@]}"
fi
for tool in wrk curl python3 setsid; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is required (Debian package time)"
if want etcd; then command -v etcd >/dev/null 2>&1 || die "etcd is required (Debian package etcd-server)"; fi

# ---------------------------------------------------------------- work dir, cleanup
mkdir -p "$OUT_DIR"
RAW=$OUT_DIR/raw.txt
: >"$RAW"
if [ -n "${WORK_DIR:-}" ]; then WORK=$WORK_DIR; mkdir -p "$WORK"; else WORK=$(mktemp -d /tmp/disco-bench.XXXXXX); fi
DISCO_PID=""
ETCD_PID=""
FAILED=0
cleanup() {
  local rc=$?
  stop_group "$DISCO_PID"
  stop_group "$ETCD_PID"
  [ -f "$WORK/disco.log" ] && cp "$WORK/disco.log" "$OUT_DIR/disco.log" 2>/dev/null || true
  [ -f "$WORK/etcd.log" ] && cp "$WORK/etcd.log" "$OUT_DIR/etcd.log" 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ] || [ -n "${WORK_DIR:-}" ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

raw() { echo "$*" >>"$RAW"; }
note() { echo "NOTE: $*"; raw "NOTE $*"; }
target_failed() { # target_failed TARGET MESSAGE LOG
  FAILED=1
  echo "ERROR: $1: $2" >&2
  raw "NOTE $1 FAILED: $2"
  [ -f "${3:-}" ] && { echo "----- last lines of $3" >&2; tail -n 30 "$3" >&2; }
}

# ---------------------------------------------------------------- metadata
echo "sampling machine load (5 s) ..."
raw "META command $CMDLINE"
raw "META date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
raw "META commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
raw "META host_cpu $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
raw "META nproc $(nproc)"
raw "META machine $(nproc) shared cores, $(awk '/^MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r); data dirs on $(df -PT "$WORK" | awk 'NR==2{print $2}'); client (wrk) and server share the cores"
raw "META load_before_start busy cores over 5 s before anything started: $(busy_cores_sample 5) (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
raw "META wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}'); threads = 1 at 1 connection, else 2; --timeout 5s; latency percentiles from wrk's histogram (no coordinated-omission correction)"
want etcd && raw "META etcd $(etcd --version | awk '/etcd Version/{print $3}'), single member, default flags (fsync on every commit), JSON gateway over HTTP/1.1"
if want disco; then
  dv=$(timeout 5 "$DISCO_BIN" version 2>/dev/null </dev/null | head -n1 || true)
  raw "META disco ${dv:-version unknown}, DISCO_MODE=$DISCO_MODE ($( [ "$DISCO_MODE" = server ] && echo 'persistent: -server -bootstrap -data-dir' || echo 'in memory: -dev, not comparable with etcd for writes'))"
fi
raw "META load_keys $LOAD_KEYS"
raw "META runs $SECONDS_PER_RUN s each, connections: $CONNS; up to $ATTEMPTS attempts while other work used more than $FOREIGN_MAX cores (best kept); the servers run one after the other, never together"

# ---------------------------------------------------------------- one wrk run
# bench_run TARGET TEST CONNS URL SERVER_PID
bench_run() {
  local target=$1 test=$2 c=$3 url=$4 spid=$5 t=2 attempt q out res wrkcpu
  [ "$c" -eq 1 ] && t=1
  if [ "$(date +%s)" -ge "$((BENCH_DEADLINE + 600))" ]; then
    note "$target $test c=$c skipped: past BENCH_MAX_S"
    return 0
  fi
  for attempt in $(seq 1 "$ATTEMPTS"); do
    q=$(wait_quiet "$QUIET_MAX")
    local s0 m0 w0 s1 m1 w1
    s0=$(pids_cs "$spid"); m0=$(busy_cs); w0=$(now_s)
    out=$(TARGET=$target TEST=$test CONNS=$c PREFIX="s${STAMP}-${test}-c${c}-a${attempt}" READ_KEYS=$READ_KEYS \
          VALSIZE=$VALSIZE timeout $((SECONDS_PER_RUN + 30)) /usr/bin/time -f "WRKCPU %U %S" \
          wrk -t"$t" -c"$c" -d"${SECONDS_PER_RUN}s" --timeout 5s -s "$HERE/kv.lua" "$url" 2>&1) || true
    s1=$(pids_cs "$spid"); m1=$(busy_cs); w1=$(now_s)
    res=$(echo "$out" | grep '^RESULT ' | head -n1 || true)
    wrkcpu=$(echo "$out" | awk '/^WRKCPU /{printf "%d", ($2+$3)*100}')
    if [ -z "$res" ]; then
      echo "$out" | tail -n 20 >&2
      target_failed "$target" "wrk run $test c=$c produced no RESULT line" ""
      return 0
    fi
    local cpu
    cpu=$(awk -v s=$((s1 - s0)) -v m=$((m1 - m0)) -v w="${wrkcpu:-0}" -v a="$w0" -v b="$w1" 'BEGIN{
      d = b - a; if (d <= 0) d = 1;
      printf "server_cores=%.2f client_cores=%.2f foreign_cores=%.2f machine_cores=%.2f wall_s=%.1f",
        s/100/d, w/100/d, (m-s-w)/100/d, m/100/d, d }')
    local line="RUN attempt=$attempt ${res#RESULT } $cpu $q"
    raw "$line"
    echo "$line"
    local foreign=${cpu#*foreign_cores=}; foreign=${foreign%% *}
    if awk -v f="$foreign" -v m="$FOREIGN_MAX" 'BEGIN{exit !(f <= m)}' || past_deadline; then break; fi
  done
}

# rss TARGET PHASE PID
rss() { local f; f=$(rss_fields "$3"); raw "RSS target=$1 phase=$2 $f"; echo "RSS $1 $2: $f"; }

# load TARGET PORT PREFIX COUNT: bounded bulk load; LOAD line goes to raw only for the 100k load
load_keys() {
  local out rc=0
  out=$(timeout $((LOAD_MAX_S + 30)) python3 "$HERE/load_keys.py" --target "$1" --port "$2" --prefix "$3" \
        --count "$4" --threads 16 --valsize "$VALSIZE" --max-seconds "$LOAD_MAX_S" 2>&1) || rc=$?
  echo "$out"
  LAST_LOAD=$(echo "$out" | grep '^LOAD ' | head -n1 || true)
  return $rc
}

# ---------------------------------------------------------------- disco
bench_disco() {
  local http=$(free_port) server=$(free_port) lan=$(free_port)
  local api="http://127.0.0.1:$http" args=() leader="" end i
  mkdir -p "$WORK/disco-data"
  args=(agent -node bench -bind 127.0.0.1 -client 127.0.0.1 -http-port "$http" -dns-port -1
        -server-port "$server" -serf-lan-port "$lan" -serf-wan-port -1)
  if [ "$DISCO_MODE" = server ]; then
    args+=(-server -bootstrap -data-dir "$WORK/disco-data")
  else
    args+=(-dev)
  fi
  # shellcheck disable=SC2206
  [ -n "$DISCO_EXTRA_ARGS" ] && args+=($DISCO_EXTRA_ARGS)
  echo "starting disco: $DISCO_BIN ${args[*]}"
  raw "META disco_command disco ${args[*]}"
  start_group DISCO_PID "$WORK/disco.log" "$DISCO_BIN" "${args[@]}"
  end=$(( $(date +%s) + 60 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    kill -0 "$DISCO_PID" 2>/dev/null || break
    leader=$(curl -sf --max-time 2 "$api/v1/status/leader" 2>/dev/null || true)
    case "$leader" in '"'?*'"') break ;; esac
    leader=""; sleep 0.2
  done
  if [ -z "$leader" ]; then
    if ! kill -0 "$DISCO_PID" 2>/dev/null; then
      local st=0; wait "$DISCO_PID" 2>/dev/null || st=$?
      DISCO_PID=""
      target_failed disco "the agent exited (status $st) before /v1/status/leader named a leader" "$WORK/disco.log"
      return 0
    fi
    target_failed disco "no leader on /v1/status/leader within 60 s" "$WORK/disco.log"
    return 0
  fi
  echo "disco leader: $leader"
  if [ "$(curl -sf --max-time 5 -X PUT --data probe "$api/v1/kv/bench/probe" || true)" != true ]; then
    target_failed disco "PUT /v1/kv/bench/probe did not answer true" "$WORK/disco.log"
    return 0
  fi
  sleep "$IDLE_SETTLE_S"
  rss disco idle "$DISCO_PID"
  echo "loading $LOAD_KEYS keys into disco ..."
  if ! load_keys disco "$http" bench/load/key- "$LOAD_KEYS"; then
    target_failed disco "loading $LOAD_KEYS keys failed" "$WORK/disco.log"
  fi
  [ -n "$LAST_LOAD" ] && raw "$LAST_LOAD"
  sleep 2
  rss disco loaded "$DISCO_PID"
  load_keys disco "$http" bench/key- "$READ_KEYS" >/dev/null || target_failed disco "seeding $READ_KEYS read keys failed" ""
  for i in $(seq 1 10); do
    curl -sf --max-time 5 -X PUT --data "{\"ID\":\"web-$i\",\"Name\":\"web\",\"Address\":\"127.0.0.1\",\"Port\":$((8000 + i))}" \
      "$api/v1/agent/service/register" >/dev/null || { target_failed disco "registering web-$i failed" ""; break; }
  done
  local n=0
  end=$(( $(date +%s) + 30 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    n=$(curl -sf --max-time 5 "$api/v1/health/service/web?passing" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
    [ "$n" -ge 10 ] && break
    sleep 0.5
  done
  [ "$n" -ge 10 ] || note "disco: /v1/health/service/web?passing lists $n instances, not 10"
  local test c
  for test in $DISCO_TESTS; do for c in $CONNS; do
    kill -0 "$DISCO_PID" 2>/dev/null || { target_failed disco "agent exited during the runs" "$WORK/disco.log"; return 0; }
    bench_run disco "$test" "$c" "$api" "$DISCO_PID"
  done; done
  rss disco after_runs "$DISCO_PID"
  stop_group "$DISCO_PID"; DISCO_PID=""
}

# ---------------------------------------------------------------- etcd
bench_etcd() {
  local cport=$(free_port) pport=$(free_port)
  local url="http://127.0.0.1:$cport" end ok=""
  echo "starting etcd: client $cport, peer $pport"
  start_group ETCD_PID "$WORK/etcd.log" etcd --name bench --data-dir "$WORK/etcd-data" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "bench=http://127.0.0.1:$pport" --initial-cluster-state new \
    --initial-cluster-token disco-bench --logger zap --log-outputs stderr
  end=$(( $(date +%s) + 60 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    kill -0 "$ETCD_PID" 2>/dev/null || break
    if curl -sf --max-time 2 "$url/health" 2>/dev/null | grep -q '"health":"true"'; then ok=1; break; fi
    sleep 0.2
  done
  if [ -z "$ok" ]; then
    kill -0 "$ETCD_PID" 2>/dev/null || { target_failed etcd "etcd exited before becoming healthy" "$WORK/etcd.log"; return 0; }
    target_failed etcd "not healthy within 60 s" "$WORK/etcd.log"
    return 0
  fi
  sleep "$IDLE_SETTLE_S"
  rss etcd idle "$ETCD_PID"
  echo "loading $LOAD_KEYS keys into etcd ..."
  if ! load_keys etcd "$cport" bench/load/key- "$LOAD_KEYS"; then
    target_failed etcd "loading $LOAD_KEYS keys failed" "$WORK/etcd.log"
  fi
  [ -n "$LAST_LOAD" ] && raw "$LAST_LOAD"
  sleep 2
  rss etcd loaded "$ETCD_PID"
  load_keys etcd "$cport" bench/key- "$READ_KEYS" >/dev/null || target_failed etcd "seeding $READ_KEYS read keys failed" ""
  local test c
  for test in $ETCD_TESTS; do for c in $CONNS; do
    kill -0 "$ETCD_PID" 2>/dev/null || { target_failed etcd "etcd exited during the runs" "$WORK/etcd.log"; return 0; }
    bench_run etcd "$test" "$c" "$url" "$ETCD_PID"
  done; done
  rss etcd after_runs "$ETCD_PID"
  stop_group "$ETCD_PID"; ETCD_PID=""
}

LAST_LOAD=""
if want disco; then bench_disco; fi
if want etcd; then bench_etcd; fi

python3 "$HERE/report.py" "$RAW" "$OUT_DIR/results.md"
echo
cat "$OUT_DIR/results.md"
echo
echo "written: $OUT_DIR/results.md (raw: $RAW)"
[ "$FAILED" = 0 ] || { echo "bench: some measurements FAILED (see NOTE lines above)" >&2; exit 1; }
