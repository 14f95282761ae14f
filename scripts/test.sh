#!/usr/bin/env bash
# Every test of disco: installs what the tests need (apt/pip) when missing, builds the
# release binary once, runs the Rust unit and process tests against it, then the
# compatibility suites with unmodified clients (py-consul's own tests, vmagent's Consul SD,
# both over HTTPS with client certificates, nginx balancing a three-server cluster, consullock and node-consul coordinating on one),
# and the web UI in Debian's chromium driven by playwright-core.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v vmagent >/dev/null 2>&1 || need_apt+=(victoria-metrics)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx-light)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v dig >/dev/null 2>&1 || need_apt+=(dnsutils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v dnsmasq >/dev/null 2>&1 || [[ -x /usr/sbin/dnsmasq ]] || need_apt+=(dnsmasq-base)
# consullock (the coordination suite) imports demjson, which only Debian still builds.
if [[ -x /usr/bin/python3 ]]; then
  /usr/bin/python3 -c 'import demjson' >/dev/null 2>&1 || need_apt+=(python3-demjson)
  /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
else
  need_apt+=(python3-demjson)
fi
# The fault tests put each agent in a network namespace (ip) and partition with nftables.
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v nft >/dev/null 2>&1 || [[ -x /usr/sbin/nft ]] || need_apt+=(nftables)
# disco registrator's test runs containers: Debian's engine, and a static busybox for the
# FROM-scratch image it builds (no registry is reachable).
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The web UI tests drive Debian's chromium (playwright-core never downloads a browser).
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]}"
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" || true
fi

# A container engine for the registrator test: use a running one, else start dockerd for
# the length of this run. If it cannot start here, the test says so (DISCO_NO_DOCKER=1).
DOCKERD_PID=""
stop_dockerd() { [[ -n "$DOCKERD_PID" ]] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null; true; }
trap stop_dockerd EXIT
if ! docker version >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1; then
  log "starting dockerd for the registrator test"
  mkdir -p target
  dockerd >target/dockerd.log 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
fi
if ! docker version >/dev/null 2>&1; then
  echo "no container engine could start here: the registrator test reports NOT TESTED"
  export DISCO_NO_DOCKER=1
fi

failed=()
log "cargo fmt --check"
cargo fmt --all -- --check || failed+=("cargo fmt")

log "cargo clippy (await_holding_lock and the other lock lints are denied in Cargo.toml)"
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --release --locked --all-targets -- -D warnings || failed+=("cargo clippy")
else
  echo "clippy is not installed: rustup component add clippy"
  failed+=("cargo clippy (missing)")
fi

log "cargo test --release (unit + process tests, the mixed-load liveness test included)"
cargo test --release --locked || failed+=("cargo test")

export DISCO_BIN="$ROOT/target/release/disco"
log "py-consul's own test suite against disco"
tests/compat/pyconsul/run.sh || failed+=("py-consul")

log "vmagent consul_sd_configs against disco"
tests/compat/vmagent/run.sh || failed+=("vmagent")

log "vmagent consul_sd_configs with ACL tokens (Bearer) against disco"
tests/compat/vmagent/acl.sh || failed+=("vmagent-acl")

log "vmagent and py-consul over HTTPS with client certificates (verify_incoming, ports.http = -1)"
tests/compat/tls/run.sh || failed+=("tls")

log "nginx in front of a three-server cluster"
tests/compat/nginx/run.sh || failed+=("nginx")

log "consullock and node-consul: locks, sessions, txn, events and a watch on a cluster"
tests/compat/coordination/run.sh || failed+=("coordination")

log "the web UI in chromium: a three-server cluster, and 5,000 services"
tests/ui/run.sh || failed+=("web UI")

echo
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
