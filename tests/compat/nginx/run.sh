#!/usr/bin/env bash
# nginx (Debian package) in front of a three-server disco cluster, as in the tutorial: catalog
# and KV reads and writes through nginx keep working when a server is killed.
# The last line printed is "nginx: N passed, M failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export DISCO_BIN="${DISCO_BIN:-$ROOT/target/release/disco}"
NGINX="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
if [[ ! -x "$NGINX" ]]; then
  echo "nginx not installed (apt-get install nginx-light)"
  echo "nginx: 0 passed, 1 failed"
  exit 1
fi
exec python3 "$HERE/test_nginx.py" "$NGINX"
