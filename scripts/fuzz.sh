#!/usr/bin/env bash
# Fuzz every target in tests/fuzz with cargo fuzz (libFuzzer, nightly) for SECONDS each
# (default 600), two at a time. As root, the targets run in a network namespace of their
# own with only loopback, so nothing a fuzzed packet makes the agent send can leave it.
# The working corpus lives in target/fuzz/<target>; the committed seed corpus in
# tests/fuzz/corpus/<target> is re-minimised from it at the end (-merge=1). Crashes are left
# in tests/fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${1:-600}"
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(http_api query_duration dns_request gossip_sealed gossip_plain rpc_frame config_file)
fi
command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
cargo +nightly fuzz build --fuzz-dir tests/fuzz -O "${TARGETS[@]/#/}" 2>/dev/null ||
  cargo +nightly fuzz build --fuzz-dir tests/fuzz -O
BIN_DIR="tests/fuzz/target/x86_64-unknown-linux-gnu/release"
NS=""
if [[ $(id -u) == 0 ]] && ip netns add "disco-fuzz-$$" 2>/dev/null; then
  NS="disco-fuzz-$$"
  ip netns exec "$NS" ip link set lo up
  trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
fi
run_one() {
  local t="$1" work="target/fuzz/$1"
  mkdir -p "$work" "tests/fuzz/artifacts/$t" "tests/fuzz/corpus/$t"
  local cmd=("$BIN_DIR/$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$SECONDS_EACH"
    -timeout=20 -rss_limit_mb=4096 -artifact_prefix="tests/fuzz/artifacts/$t/" -print_final_stats=1)
  if [[ -n "$NS" ]]; then cmd=(ip netns exec "$NS" "${cmd[@]}"); fi
  "${cmd[@]}" > "target/fuzz/$t.log" 2>&1 && echo "$t: no crash in ${SECONDS_EACH}s" ||
    echo "$t: FAILED (see target/fuzz/$t.log and tests/fuzz/artifacts/$t/)"
  grep -E "stat::number_of_executed_units|cov:" "target/fuzz/$t.log" | tail -2 || true
}
mkdir -p target/fuzz
pids=()
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  pids+=($!)
  if ((${#pids[@]} == 2)); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
# Keep the committed corpus small: the set cover of what the run reached (-set_cover_merge),
# cut to the CORPUS_KEEP [64] largest inputs plus the hand-written seeds (named, not hashed).
# The full working corpus stays in target/fuzz/<target> for the next local run.
KEEP="${CORPUS_KEEP:-64}"
for t in "${TARGETS[@]}"; do
  tmp="target/fuzz/$t.min"
  rm -rf "$tmp" && mkdir -p "$tmp"
  m=("$BIN_DIR/$t" -set_cover_merge=1 "$tmp" "tests/fuzz/corpus/$t" "target/fuzz/$t")
  if [[ -n "$NS" ]]; then m=(ip netns exec "$NS" "${m[@]}"); fi
  "${m[@]}" > "target/fuzz/$t.merge.log" 2>&1 || continue
  keep="target/fuzz/$t.keep"
  rm -rf "$keep" && mkdir -p "$keep"
  find "tests/fuzz/corpus/$t" -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' -exec cp {} "$keep/" \;
  # ls is cut off by head once it has KEEP names (SIGPIPE): not a failure.
  { ls -S "$tmp" || true; } | head -n "$KEEP" | while read -r f; do cp "$tmp/$f" "$keep/"; done || true
  rm -rf "tests/fuzz/corpus/$t" && mv "$keep" "tests/fuzz/corpus/$t"
done
