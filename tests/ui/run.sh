#!/usr/bin/env bash
# disco's web UI in Debian's chromium, driven by playwright-core (pinned in package.json),
# against real agents on loopback: webui.test.mjs (a three-server cluster) and
# large.test.mjs (5,000 services, with the first-render time written to
# target/bench/ui-first-render.json). Needs node, npm and /usr/bin/chromium.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export DISCO_BIN="${DISCO_BIN:-$ROOT/target/release/disco}"
fail() { echo "web UI: $*"; exit 1; }
[[ -x "$DISCO_BIN" ]] || fail "disco binary not found: $DISCO_BIN"
command -v node >/dev/null 2>&1 || fail "node is not installed (apt-get install nodejs npm)"
[[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || fail "chromium is not installed (apt-get install chromium)"
cd "$HERE"
if [[ ! -f node_modules/playwright-core/package.json ]]; then
  npm ci --silent --no-audit --no-fund >/dev/null || fail "npm ci (playwright-core) failed"
fi
(($#)) || set -- webui.test.mjs acl.test.mjs federation.test.mjs large.test.mjs
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
