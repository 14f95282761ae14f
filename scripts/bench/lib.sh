# Helpers sourced by scripts/bench.sh.
#
# The machine has 2 cores that may be shared with other work (builds, other sessions), so every run
# records how much CPU went to processes that are not part of the measurement ("foreign" CPU):
# machine-wide busy time from /proc/stat minus the server's and the wrk client's own CPU time.

# busy_cs: machine-wide busy time in centiseconds (USER_HZ=100) from /proc/stat
# (user + nice + system + irq + softirq + steal).
busy_cs() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# pids_cs PID...: utime+stime+cutime+cstime (cs) of the given pids, summed; missing pids count 0.
pids_cs() {
  local s=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat")))
  done
  echo "$s"
}

# now_s: wall clock with sub-second precision
now_s() { date +%s.%N; }

# past_deadline: true once BENCH_DEADLINE (epoch seconds) has passed
past_deadline() { [ -n "${BENCH_DEADLINE:-}" ] && [ "$(date +%s)" -ge "$BENCH_DEADLINE" ]; }

# wait_quiet MAX_S [THRESH_CS_PER_2S]: waits (bounded) until the machine burns less than THRESH cs in a
# 2 s window (default 30 cs = 0.15 core). Prints quiet_after_s=N, or TIMEOUT / SKIPPED.
wait_quiet() {
  local max=${1:-10} th=${2:-30} t=0 a b
  if past_deadline || [ "$max" -le 0 ]; then echo "quiet_after_s=SKIPPED"; return 0; fi
  while [ "$t" -lt "$max" ]; do
    a=$(busy_cs); sleep 2; b=$(busy_cs)
    if [ $((b - a)) -lt "$th" ]; then echo "quiet_after_s=$t"; return 0; fi
    t=$((t + 2))
  done
  echo "quiet_after_s=TIMEOUT"
}

# busy_cores_sample SECONDS: average number of busy cores over a sample (before anything is started)
busy_cores_sample() {
  local s=${1:-5} a b
  a=$(busy_cs); sleep "$s"; b=$(busy_cs)
  awk -v d=$((b - a)) -v s="$s" 'BEGIN{printf "%.2f", d / 100 / s}'
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# rss_fields PID: "kb=VmRSS hwm_kb=VmHWM" from /proc/PID/status
rss_fields() {
  awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{printf "kb=%s hwm_kb=%s", r, h}' "/proc/$1/status"
}

# start_group VAR LOGFILE CMD...: starts CMD in its own session / process group (pid = pgid) as a child
# of this shell, and stores its pid in the variable VAR (no command substitution, so `wait` works).
start_group() {
  local __var=$1 log=$2; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  printf -v "$__var" '%s' "$!"
}

# stop_group PID: TERM to the process group, wait up to 10 s, then KILL
stop_group() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
