#!/usr/bin/env bash
# `make run`: starts the demo catalog API (nginx, 127.0.0.1:8501 or the next free port) and
# `build/mcpbridge serve` on 127.0.0.1:8500 (or the next free port), prints how to try it,
# and stops both on Ctrl-C. Needs `make` (build/mcpbridge) and scripts/install-deps.sh first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MCPBRIDGE:-$root/build/mcpbridge}
[ -x "$bin" ] || { echo "run-demo: $bin not found; run 'make' first" >&2; exit 1; }
command -v nginx >/dev/null || { echo "run-demo: nginx not found; run scripts/install-deps.sh" >&2; exit 1; }
# shellcheck source=nginx.sh
source "$root/scripts/nginx.sh"

tmp=$(mktemp -d /tmp/mbdemo.XXXXXX)
pids=()
stop() {
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
  echo "run-demo: stopped"
}
trap stop EXIT
trap 'exit 0' INT TERM

next_free() { local p=$1; while ! mb_port_free "$p"; do p=$((p + 1)); done; echo "$p"; }
api_port=$(next_free 8501)
mcp_port=$(next_free 8500)
[ "$mcp_port" = "$api_port" ] && mcp_port=$(next_free $((api_port + 1)))

mb_nginx_start "$root/demo/nginx.conf.template" "$root/demo/api" "$api_port" "$tmp/nginx"
pids+=("$MB_NGINX_PID")
echo "run-demo: demo catalog API on http://127.0.0.1:$api_port (try: curl http://127.0.0.1:$api_port/products/P001)"

args=(serve)
if [ "$api_port" != 8501 ]; then
  # The embedded demo config points at :8501; write the same config with the port we got.
  cat > "$tmp/demo-config.json" <<JSON
{
  "api": { "openapi": { "spec_file": "$root/demo/openapi.yaml", "base_url": "http://127.0.0.1:$api_port" } },
  "runtime": { "server": { "transport": { "type": "streamable-http", "host": "127.0.0.1", "port": $mcp_port, "path": "/mcp" } } },
  "assistant": { "prompts": { "dir": "$root/demo/prompts" }, "resources": { "dir": "$root/demo/resources" } }
}
JSON
  args+=(--config "$tmp/demo-config.json")
fi
args+=(--port "$mcp_port")
(cd "$root" && exec "$bin" "${args[@]}") &
pids+=("$!")
url="http://127.0.0.1:$mcp_port/mcp"
mb_wait_http "$url" 15 || { echo "run-demo: mcpbridge did not start" >&2; exit 1; }

cat <<TXT

  mcpbridge is serving the demo catalog at  $url

  Try it with curl (initialize, then call a tool with the session id it returns):
    curl -si $url -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

  Or with the official MCP SDK client (lists the tools, calls get_product):
    $root/.deps/bin/node $root/demo/try.mjs $url

  Press Ctrl-C to stop both servers.

TXT
wait -n "${pids[@]}" || true
echo "run-demo: a server exited" >&2
