#!/usr/bin/env bash
# Run py-consul's own test suite against a local disco agent.
#
# Downloads the py-consul sdist from PyPI, sets up a private virtualenv,
# swaps the sdist's Docker-based root conftest.py for ours (which starts
# `disco agent -dev` per test) and runs pytest on the selection in
# selection.txt. Nothing from py-consul is committed to this repository.
#
# Usage: tests/compat/pyconsul/run.sh [extra pytest args...]
#
# Environment:
#   DISCO_BIN            disco binary (default: target/release/disco under the repo root)
#   PYCONSUL_SELECT      override the selection: a file in selection.txt format, or
#                        pytest arguments (node IDs, paths, "-k expr"), whitespace-separated
#   PYCONSUL_ALL=1       run the whole py-consul suite (to measure gaps)
#   PYCONSUL_VERSION     py-consul version (default 1.8.0; newest if that one is unavailable)
#   PYCONSUL_WORK        cache/work dir (default: target/compat/pyconsul under the repo root)
#   PYCONSUL_TEST_TIMEOUT  per-test timeout in seconds (default 120)
#   PYCONSUL_PYTEST_ARGS extra pytest arguments (same as passing them on the command line)
#   PYCONSUL_HTTP_PORT, PYCONSUL_DISCO_ARGS, PYCONSUL_START_TIMEOUT: see conftest.py
#
# Exit status: 0 when every selected test passed, non-zero otherwise.
# The last line printed is "pyconsul: N passed, M failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK="${PYCONSUL_WORK:-$ROOT/target/compat/pyconsul}"
DEFAULT_VERSION="1.8.0"
VERSION="${PYCONSUL_VERSION:-$DEFAULT_VERSION}"

log() { printf '[pyconsul] %s\n' "$*" >&2; }
die() { log "error: $*"; echo "pyconsul: 0 passed, 1 failed"; exit 2; }

collect_only=0
for a in "$@" ${PYCONSUL_PYTEST_ARGS:-}; do
  case "$a" in --collect-only|--co|--setup-plan|--fixtures|--help) collect_only=1 ;; esac
done

# --- disco binary -------------------------------------------------------------
DISCO_BIN="${DISCO_BIN:-target/release/disco}"
if [[ "$DISCO_BIN" != /* ]]; then
  if [[ -e "$PWD/$DISCO_BIN" ]]; then DISCO_BIN="$PWD/$DISCO_BIN"; else DISCO_BIN="$ROOT/$DISCO_BIN"; fi
fi
export DISCO_BIN
if [[ ! -x "$DISCO_BIN" ]]; then
  if [[ $collect_only == 1 ]]; then
    log "note: $DISCO_BIN not found (fine for --collect-only / --setup-plan)"
  else
    die "disco binary not found or not executable: $DISCO_BIN (build it, or set DISCO_BIN)"
  fi
fi

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# --- python environment ---------------------------------------------------------
# A virtualenv under $WORK keeps the system python untouched. If venv/ensurepip
# is unavailable, try installing python3-venv; as a last resort install the
# packages into $WORK/site with `pip --target` and use PYTHONPATH.
PY=""
ENVDIR=""   # where packages go; holds the install stamp so a recreated env reinstalls
PIP_TARGET_ARGS=()
setup_python() {
  local venv="$WORK/venv"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    PY="$venv/bin/python"; ENVDIR="$venv"; return
  fi
  rm -rf "$venv"
  if python3 -m venv "$venv" >/dev/null 2>&1; then PY="$venv/bin/python"; ENVDIR="$venv"; return; fi
  rm -rf "$venv"
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "python3 -m venv failed; installing python3-venv"
    local pyver; pyver="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    { apt-get update -qq && { apt-get install -y -qq "python${pyver}-venv" || apt-get install -y -qq python3-venv; }; } >&2 || true
    if python3 -m venv "$venv" >/dev/null 2>&1; then PY="$venv/bin/python"; ENVDIR="$venv"; return; fi
    rm -rf "$venv"
  fi
  log "no usable venv; falling back to pip --target $WORK/site"
  mkdir -p "$WORK/site"
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
  PIP_TARGET_ARGS=(--target "$WORK/site" --upgrade)
  PY="python3"; ENVDIR="$WORK/site"
}
setup_python
pip() { "$PY" -m pip --disable-pip-version-check --no-input "$@"; }

# --- py-consul sdist ----------------------------------------------------------------
DIST="$WORK/dist"
mkdir -p "$DIST"
find_sdist() { ls -1 "$DIST"/py_consul-"$1".tar.gz "$DIST"/py-consul-"$1".tar.gz 2>/dev/null | head -n1 || true; }
SDIST="$(find_sdist "$VERSION")"
if [[ -z "$SDIST" ]]; then
  log "downloading py-consul==$VERSION sdist"
  if ! pip download -q --no-deps --no-binary :all: -d "$DIST" "py-consul==$VERSION" >&2; then
    if [[ -n "${PYCONSUL_VERSION:-}" ]]; then die "could not download py-consul==$VERSION"; fi
    log "py-consul==$VERSION unavailable; downloading the newest release"
    tmp="$(mktemp -d "$WORK/dl.XXXXXX")"
    pip download -q --no-deps --no-binary :all: -d "$tmp" py-consul >&2 || die "could not download py-consul"
    SDIST="$(ls -1 "$tmp"/*.tar.gz | head -n1)"
    mv "$SDIST" "$DIST/"; rm -rf "$tmp"
    SDIST="$DIST/$(basename "$SDIST")"
    VERSION="$(basename "$SDIST" .tar.gz)"; VERSION="${VERSION#py_consul-}"; VERSION="${VERSION#py-consul-}"
  else
    SDIST="$(find_sdist "$VERSION")"
  fi
fi
[[ -f "$SDIST" ]] || die "sdist not found after download in $DIST"
log "py-consul $VERSION ($SDIST)"

SRC="$WORK/src"
rm -rf "$SRC" && mkdir -p "$SRC"
tar -xzf "$SDIST" -C "$SRC" --strip-components=1
[[ -f "$SRC/conftest.py" && -d "$SRC/tests" ]] || die "unexpected sdist layout (no conftest.py / tests/)"

# --- dependencies (skipped when unchanged since the last run) --------------------------
stamp="$ENVDIR/.pyconsul-deps"
want="$(cat "$HERE/requirements.txt" <(basename "$SDIST") <(echo "${PIP_TARGET_ARGS[*]:-venv}") | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  log "installing test dependencies and py-consul $VERSION"
  pip install -q "${PIP_TARGET_ARGS[@]}" -r "$HERE/requirements.txt" >&2
  pip install -q "${PIP_TARGET_ARGS[@]}" "$SDIST" >&2
  echo "$want" > "$stamp"
fi

# --- our conftest replaces the Docker-based one ----------------------------------------
cp "$SRC/conftest.py" "$SRC/conftest.upstream.py.orig"
cp "$HERE/conftest.py" "$SRC/conftest.py"
LOGS="$WORK/logs"
rm -rf "$LOGS" && mkdir -p "$LOGS"
export PYCONSUL_LOG_DIR="$LOGS"

# --- selection -------------------------------------------------------------------------
read_selection() { sed -e 's/#.*//' "$1" | tr -s ' \t\r' '\n\n\n' | sed '/^$/d'; }
SELECT=()
if [[ "${PYCONSUL_ALL:-0}" == 1 ]]; then
  SELECT=(tests)
  log "running the whole suite"
elif [[ -n "${PYCONSUL_SELECT:-}" ]]; then
  if [[ -f "$PYCONSUL_SELECT" ]]; then
    mapfile -t SELECT < <(read_selection "$PYCONSUL_SELECT")
  else
    read -r -a SELECT <<< "$PYCONSUL_SELECT"
  fi
  log "selection from PYCONSUL_SELECT"
else
  mapfile -t SELECT < <(read_selection "$HERE/selection.txt")
fi
[[ ${#SELECT[@]} -gt 0 ]] || die "empty selection"

# --- run -------------------------------------------------------------------------------
# Loopback traffic must never go through a proxy.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
export PYTHONDONTWRITEBYTECODE=1

JUNIT="$WORK/junit.xml"
rm -f "$JUNIT"
extra=()
if [[ -n "${PYCONSUL_PYTEST_ARGS:-}" ]]; then read -r -a extra <<< "$PYCONSUL_PYTEST_ARGS"; fi

set +e
(
  cd "$SRC"
  # Upstream addopts need pytest-cov; replace them. asyncio_mode etc. still
  # come from the sdist's pyproject.toml. test_query.py's class is named
  # "testQuery", which pytest's default class pattern skips: collect it too.
  "$PY" -m pytest \
    -o addopts="" \
    -o cache_dir="$WORK/.pytest_cache" \
    -o "python_classes=Test* testQuery" \
    --timeout="${PYCONSUL_TEST_TIMEOUT:-120}" \
    --durations=10 --durations-min=3.0 \
    -rfEs \
    --junitxml="$JUNIT" \
    "${SELECT[@]}" "${extra[@]}" "$@"
)
rc=$?
set -e

# --- summary ---------------------------------------------------------------------------
summary="$("$PY" - "$JUNIT" <<'EOF'
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 0 0")
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = failed = skipped = 0
for s in suites:
    tests += int(s.get("tests", 0))
    failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
print(tests - failed - skipped, failed, skipped)
EOF
)"
read -r passed failed skipped <<< "$summary"
log "agent logs: $LOGS"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
  # pytest failed before/around running tests (usage error, unknown node ID,
  # nothing collected): count it as one failure so the summary is not green.
  log "pytest exited with status $rc"
  failed=1
fi
if [[ $skipped -gt 0 ]]; then
  echo "pyconsul: $passed passed, $failed failed, $skipped skipped"
else
  echo "pyconsul: $passed passed, $failed failed"
fi
if [[ $rc -ne 0 ]]; then exit "$rc"; fi
exit 0
