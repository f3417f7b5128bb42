#!/usr/bin/env bash
# Runs the official MCP conformance suite (server side) against mcpbridge.
#   usage: tests/conformance/run.sh <path-to-mcpbridge> [extra conformance args, e.g. --scenario ping]
# Starts the fixture downstream (nginx, free 127.0.0.1 port), writes a config pointing at
# tests/conformance/fixture/, starts mcpbridge on another free port, runs the active server
# suite with expected-failures.yml, saves results to tests/conformance/results/<stamp>/, then
# re-checks every checks.json with check-results.mjs. Exits non-zero when anything failed.
# Env: MB_WORKERS (default 2: the suite's requests then really cross workers).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 <path-to-mcpbridge> [conformance args]" >&2; exit 2; }
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
[ -x "$bin" ] || { echo "conformance: $bin is not an executable" >&2; exit 2; }
node="$root/.deps/bin/node"
cli="$root/tests/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -x "$node" ] && [ -f "$cli" ] || { echo "conformance: run scripts/install-deps.sh first (needs $node and $cli)" >&2; exit 2; }
export PATH="$root/.deps/bin:$PATH"
# shellcheck source=../../scripts/nginx.sh
source "$root/scripts/nginx.sh"

tmp=$(mktemp -d /tmp/mbconf.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fixture="$here/fixture"
down_port=$(mb_free_port)
mb_nginx_start "$fixture/nginx.conf.template" "$fixture/downstream" "$down_port" "$tmp/nginx"
pids+=("$MB_NGINX_PID")

mcp_port=$(mb_free_port)
cat > "$tmp/config.json" <<JSON
{
  "api": {
    "openapi": { "spec_file": "$fixture/openapi.yaml", "base_url": "http://127.0.0.1:$down_port", "spec_name": "conformance" }
  },
  "runtime": {
    "server": { "transport": { "type": "streamable-http", "host": "127.0.0.1", "port": $mcp_port, "path": "/mcp" } }
  },
  "assistant": {
    "prompts": { "dir": "$fixture/prompts" },
    "resources": { "dir": "$fixture/resources" }
  },
  "observability": { "logging": { "level": "INFO" } }
}
JSON
"$bin" serve --config "$tmp/config.json" --workers "${MB_WORKERS:-2}" > "$tmp/mcpbridge.log" 2>&1 &
pids+=("$!")
url="http://127.0.0.1:$mcp_port/mcp"
if ! mb_wait_http "$url" 15; then
  echo "conformance: mcpbridge did not come up; its log:" >&2; cat "$tmp/mcpbridge.log" >&2; exit 1
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$here/results/$stamp"
mkdir -p "$results"
ln -sfn "$stamp" "$here/results/latest"
cp "$tmp/config.json" "$results/config.json"
echo "conformance: mcpbridge at $url (downstream :$down_port), results in $results"
status=0
timeout 900 "$node" "$cli" server --url "$url" \
  --expected-failures "$here/expected-failures.yml" -o "$results" "$@" 2>&1 | tee "$results/suite.log" \
  || status=$?
"$node" "$here/check-results.mjs" "$results" "$here/expected-failures.yml" ${1+"--partial"} || status=1
cp "$tmp/mcpbridge.log" "$results/mcpbridge.log" 2>/dev/null || true
if [ $status -ne 0 ]; then
  echo "conformance: FAILED (suite log: $results/suite.log; server log tail below)" >&2
  tail -n 40 "$tmp/mcpbridge.log" >&2 || true
  exit 1
fi
echo "conformance: passed"
