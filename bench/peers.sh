#!/usr/bin/env bash
# Peer benchmarks (issue 7): MCP tools/call throughput, latency and memory of mcpbridge (1 worker)
# against two Node MCP servers doing the same job, all proxying GET /items/<id> of one downstream
# nginx serving bench/fixtures/item.json, all on 127.0.0.1, measured in alternating rounds:
#   mcpbridge_1w    build/mcpbridge serve --workers 1, bench/openapi.yaml (same config as bench/run.sh)
#   node_sdk_peer   bench/peers/node-sdk-peer/server.mjs: the official TypeScript SDK, one getItem tool
#   ivotoby         @ivotoby/openapi-mcp-server --transport http on bench/openapi.yaml; its POST answers
#                   202 and the result comes on a GET SSE stream, which wrk cannot read, so it is loaded
#                   by bench/peers/sse_load.py (closed loop, the same connection count); the same tool
#                   runs against node_sdk_peer as node_sdk_peer_sse_load to show what that tool costs.
# Details and caveats: docs/internals/bench-peers.md.
#   bench/peers.sh           ROUNDS x DURATION s (default 3 x 10), writes $PEERS_OUT
#                            (default bench/results/latest-peers.json)
#   bench/peers.sh --smoke   1 x 2 s, checks the harness; writes only if PEERS_OUT is set
# Environment: MCPBRIDGE (binary), NODE (Node >= 22), ROUNDS, DURATION, CONNS (default 50), PEERS_OUT,
#   WARMUP (s of unrecorded load per server before round 1; default 10, 1 with --smoke),
#   SDK_LEAK_FIX=off (run node_sdk_peer without its workaround for the SDK's JSON-mode leak).
# npm packages are installed on demand (`npm ci` from the lock files) into bench/peers/*/node_modules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=$here/peers
bin=${MCPBRIDGE:-$root/build/mcpbridge}
node=${NODE:-$root/.deps/bin/node}
smoke=0; rounds=${ROUNDS:-3}; duration=${DURATION:-10}; conns=${CONNS:-50}; warmup=${WARMUP:-10}
sdk_leak_fix=${SDK_LEAK_FIX:-on}
[ "${1:-}" = "--smoke" ] && { smoke=1; rounds=1; duration=2; warmup=1; }
out=${PEERS_OUT:-}
[ -z "$out" ] && [ $smoke -eq 0 ] && out=$root/bench/results/latest-peers.json
for tool in nginx wrk curl python3 npm; do command -v $tool >/dev/null || { echo "peers: $tool missing (scripts/install-deps.sh)"; exit 1; }; done
[ -x "$bin" ] || { echo "peers: $bin not built (make)"; exit 1; }
[ -x "$node" ] || { echo "peers: $node missing (scripts/install-deps.sh installs Node 22 into .deps/)"; exit 1; }
"$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' \
  || { echo "peers: $node is older than Node 22"; exit 1; }

# npm ci when node_modules is missing or older than package.json / the lock file (marker file).
npm_ci() {
  local dir=$1
  if [ ! -e "$dir/node_modules/.installed" ] || [ "$dir/package.json" -nt "$dir/node_modules/.installed" ] \
     || [ "$dir/package-lock.json" -nt "$dir/node_modules/.installed" ]; then
    echo "peers: npm ci in ${dir#"$root"/}"
    (cd "$dir" && PATH="$(dirname "$node"):$PATH" timeout 600 npm ci --no-audit --no-fund --silent >/dev/null \
       2> >(grep -v 'Unknown user config "nodedir"' >&2) && touch node_modules/.installed) \
      || { echo "peers: npm ci failed in $dir"; exit 1; }
  fi
}
npm_ci "$peers/node-sdk-peer"
npm_ci "$peers/ivotoby"
ivotoby_bin=$peers/ivotoby/node_modules/@ivotoby/openapi-mcp-server/bin/mcp-server.js
ivotoby_version=$("$node" -p 'require(process.argv[1]).version' "$peers/ivotoby/node_modules/@ivotoby/openapi-mcp-server/package.json")
sdk_version=$("$node" -p 'require(process.argv[1]).version' "$peers/node-sdk-peer/node_modules/@modelcontextprotocol/sdk/package.json")
ivotoby_sdk_version=$("$node" -p 'require(process.argv[1]).version' "$peers/ivotoby/node_modules/@modelcontextprotocol/sdk/package.json")

tmp=$(mktemp -d /tmp/mbpeers.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # $1 port, $2 name: any HTTP answer counts
  for _ in $(seq 200); do curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/" && return 0; sleep 0.05; done
  echo "peers: $2 did not open port $1"; tail -20 "$tmp/$2.log" 2>/dev/null; exit 1
}
alive() { kill -0 "$1" 2>/dev/null; }
wait_port_soft() { # PORT PID: gives up when the process exited, else after 15 s
  for _ in $(seq 300); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/" && return 0; alive "$2" || return 1; sleep 0.05
  done; return 1
}
kib() { awk -v k="$2" '$1==k":"{v=$2} END{print v+0}' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss PID... -> sum of VmRSS (KiB) of the processes
rss() { local s=0 p; for p in "$@"; do s=$((s + $(kib "$p" VmRSS))); done; echo $s; }
hwm() { local s=0 p; for p in "$@"; do s=$((s + $(kib "$p" VmHWM))); done; echo $s; }

# Every checked result must carry the downstream document (its sku), not merely "a result".
expect=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sku"])' "$here/fixtures/item.json")
down_port=$(port); mb_port=$(port); sdk_port=$(port); ivo_port=$(port)
mkdir -p "$tmp/downstream/logs"
cat > "$tmp/downstream/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $tmp/downstream/nginx.pid;
error_log $tmp/downstream/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/downstream/body; proxy_temp_path $tmp/downstream/proxy;
  fastcgi_temp_path $tmp/downstream/fcgi; uwsgi_temp_path $tmp/downstream/uwsgi; scgi_temp_path $tmp/downstream/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$down_port; root $here/fixtures; default_type application/json;
    location ~ ^/items/[0-9]+\$ { try_files /item.json =404; } location = / { return 200 'ok'; } }
}
NGX
nginx -p "$tmp/downstream" -c "$tmp/downstream/nginx.conf" 2>"$tmp/downstream.log" &
pids+=($!)
cat > "$tmp/config.json" <<JSON
{ "api": { "openapi": { "spec_file": "$here/openapi.yaml", "base_url": "http://127.0.0.1:$down_port" } },
  "runtime": { "server": { "transport": { "host": "127.0.0.1", "port": $mb_port } },
               "middleware": { "request_timeout": { "timeout_ms": 5000 } },
               "http": { "limits": { "max_connections": 100, "max_keepalive_connections": 64 } } },
  "observability": { "logging": { "level": "WARNING" } } }
JSON
"$bin" serve --config "$tmp/config.json" --workers 1 2>"$tmp/mcpbridge.log" &
mb_pid=$!; pids+=($mb_pid)
"$node" "$peers/node-sdk-peer/server.mjs" --port "$sdk_port" --downstream "http://127.0.0.1:$down_port" \
  --sdk-leak-fix "$sdk_leak_fix" 2>"$tmp/node_sdk_peer.log" &
sdk_pid=$!; pids+=($sdk_pid)
# The package's CLI as documented (README "Option 2: Using with HTTP Clients"), logging off.
(cd "$peers/ivotoby" && exec "$node" "$ivotoby_bin" --api-base-url "http://127.0.0.1:$down_port" \
   --openapi-spec "$here/openapi.yaml" --transport http --host 127.0.0.1 --port "$ivo_port" --path /mcp \
   --verbose false) >"$tmp/ivotoby.log" 2>&1 &
ivo_pid=$!; pids+=($ivo_pid)
wait_port "$down_port" downstream; wait_port "$mb_port" mcpbridge; wait_port "$sdk_port" node_sdk_peer
mb_worker=$(pgrep -P "$mb_pid" | head -1 || true)
[ -n "$mb_worker" ] || { echo "peers: no mcpbridge worker process under $mb_pid"; exit 1; }

# mcp PORT SESSION BODY -> prints headers and body of one POST /mcp
mcp() {
  local hdr=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18')
  [ -n "$2" ] && hdr+=(-H "Mcp-Session-Id: $2")
  curl -s -m 10 -i -X POST "http://127.0.0.1:$1/mcp" "${hdr[@]}" -d "$3"
}
# session NAME PORT -> Mcp-Session-Id after initialize + notifications/initialized
session() {
  local resp sid
  resp=$(mcp "$2" "" '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench-peers","version":"1"}}}')
  sid=$(tr -d '\r' <<<"$resp" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2; exit}')
  [ -n "$sid" ] || { echo "peers: $1: initialize returned no session: $resp" >&2; tail -20 "$tmp/$1.log" >&2; return 1; }
  resp=$(mcp "$2" "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}')
  head -1 <<<"$resp" | grep -q ' 202' || { echo "peers: $1: notifications/initialized not accepted: $resp" >&2; return 1; }
  echo "$sid"
}
mb_session=$(session mcpbridge "$mb_port")
sdk_session=$(session node_sdk_peer "$sdk_port")

# Correctness probes before measuring: one tools/call per server must be a successful result.
probe_json() { # NAME PORT SESSION TOOL -> the call must answer 200 with a result carrying structuredContent
  local resp; resp=$(mcp "$2" "$3" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$4\",\"arguments\":{\"id\":1}}}")
  PROBE=$resp python3 - "$1" <<'PY' || { tail -20 "$tmp/$1.log"; exit 1; }
import json, os, sys
raw = os.environ["PROBE"].replace("\r\n", "\n")
head, _, body = raw.partition("\n\n")
status = head.split("\n")[0]
if "text/event-stream" in head.lower():
    body = "\n".join(l[5:].lstrip() for l in body.split("\n") if l.startswith("data:"))
try:
    r = json.loads(body)["result"]
    assert " 200" in status and not r.get("isError") and r["content"] and isinstance(r["structuredContent"], dict)
except Exception as e:
    sys.exit(f"peers: {sys.argv[1]}: probe tools/call is not a successful result ({e!r}): {raw[:600]}")
PY
}
probe_json mcpbridge "$mb_port" "$mb_session" getItem
probe_json node_sdk_peer "$sdk_port" "$sdk_session" getItem

# ivotoby: every step may fail without stopping the others; a failure ends up in ivo_error and
# the figures that could be taken are still reported. The tool name comes from its tools/list
# (it renames operations: getItem -> get-item). Where the result of a tools/call goes (the POST
# or the GET SSE stream) is found out, not assumed.
ivo_notes=(); ivo_error=; ivo_mode=none; ivo_tool=getItem; ivo_structured=0; ivo_session=
ivotoby_setup() {
  local resp status probe sc
  wait_port_soft "$ivo_port" "$ivo_pid" || { ivo_error="did not open port $ivo_port: $(tail -5 "$tmp/ivotoby.log" | tr '\n' ' ')"; return 1; }
  ivo_session=$(session ivotoby "$ivo_port" 2>"$tmp/ivo_session.err") \
    || { ivo_error="no session: $(head -c 400 "$tmp/ivo_session.err" | tr '\n' ' ')"; return 1; }
  resp=$(mcp "$ivo_port" "$ivo_session" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')
  ivo_tool=$(python3 -c '
import json, sys
body = sys.stdin.read().replace("\r\n", "\n").partition("\n\n")[2]
tools = json.loads(body)["result"]["tools"]
hit = [t["name"] for t in tools if "/items/{id}" in (t.get("originalPath"), t.get("x-original-path"))]
print((hit or [t["name"] for t in tools if "item" in t["name"].lower()])[0])' <<<"$resp" 2>/dev/null) \
    || { ivo_error="tools/list has no tool for GET /items/{id}: ${resp:0:400}"; return 1; }
  resp=$(mcp "$ivo_port" "$ivo_session" "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"$ivo_tool\",\"arguments\":{\"id\":1}}}")
  status=$(head -1 <<<"$resp" | awk '{print $2}')
  if [ "$status" = 202 ]; then
    ivo_mode=sse
    ivo_notes+=("tools/call over its Streamable HTTP transport (--transport http) answers the POST with 202 Accepted and an empty body; the JSON-RPC result is written only as an SSE 'data:' event on a GET /mcp stream the client must hold open (StreamableHttpServerTransport.handlePostRequest in dist/bundle.js, source src/transport/StreamableHttpServerTransport.ts: only initialize and tools/list are answered on the POST; MCP 2025-06-18 requires a request's POST to answer application/json or text/event-stream and forbids responses on the GET stream), so wrk cannot check the result: measured with bench/peers/sse_load.py instead (closed loop, $conns connections, each result read from the SSE stream)")
  elif [ "$status" = 200 ]; then
    ivo_mode=json   # a later version answering on the POST: measured with wrk like the others
  else
    ivo_error="tools/call answered HTTP ${status:-nothing}: ${resp:0:400}"; return 1
  fi
  [ "$ivo_tool" = getItem ] || ivo_notes+=("the getItem operation is exposed as tool \"$ivo_tool\", not under its operationId")
  # One call through the path found above must succeed, and what it carries is recorded.
  probe=$(timeout 20 python3 "$peers/sse_load.py" --url "http://127.0.0.1:$ivo_port/mcp" --session "$ivo_session" \
    --tool "$ivo_tool" --conns 1 --duration 0.2 --expect "$expect" --show 2>&1) || true
  python3 -c 'import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); sys.exit(0 if r["requests"] > 0 and r["bad"] == 0 else 1)' <<<"$probe" 2>/dev/null \
    || { ivo_error="probe tools/call failed: ${probe:0:400}"; return 1; }
  sc=$(python3 -c 'import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); print("yes" if "structuredContent" in (r.get("sample") or {}).get("result", {}) else "no")' <<<"$probe")
  if [ "$sc" = yes ]; then ivo_structured=1
  else ivo_notes+=("results carry text content only, no structuredContent (the text is the downstream JSON re-serialized with 2-space indentation)"); fi
  return 0
}
ivotoby_setup || echo "peers: ivotoby: $ivo_error"

idle_mb=$(rss "$mb_pid" "$mb_worker"); idle_mb_worker=$(rss "$mb_worker")
idle_sdk=$(rss "$sdk_pid"); idle_ivo=null; alive "$ivo_pid" && idle_ivo=$(rss "$ivo_pid")

to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v }'; }
failures=()
# CPU time of a server (user + system, all threads; mcpbridge: master + worker) over each
# recorded run, to report CPU per call and the cores it kept busy.
srv_pids() { case $1 in mcpbridge_1w) echo "$mb_pid $mb_worker";; node_sdk_peer*) echo "$sdk_pid";; ivotoby) echo "$ivo_pid";; esac; }
ticks() { local s=0 p t; for p in "$@"; do t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); s=$((s + ${t:-0})); done; echo $s; }
clk_tck=$(getconf CLK_TCK)
# A failed check stops the script for mcpbridge and node_sdk_peer (the harness or the build is
# wrong); for ivotoby it is recorded in the JSON and the run goes on.
wrk_fail() {
  echo "peers: $1: $2"
  [ "$1" = ivotoby ] || exit 1
  failures+=("$1: $(head -c 400 <<<"$2" | tr '\n' ' ')")
}
# run_wrk NAME PORT SESSION TOOL [STRUCTURED] -> appends "NAME rps p50_ms p99_ms" to $tmp/raw
run_wrk() {
  local name=$1 port=$2 sid=$3 tool=$4 structured=${5:-1} outp t0 t1
  t0=$(ticks $(srv_pids "$name"))
  outp=$(PEER_SESSION=$sid PEER_TOOL=$tool PEER_STRUCTURED=$structured PEER_EXPECT=$expect timeout $((dur + 30)) \
    wrk -t1 -c"$conns" -d"${dur}s" --timeout 5s --latency -s "$peers/toolcall.lua" "http://127.0.0.1:$port/mcp" 2>"$tmp/wrk.err") \
    || { wrk_fail "$name" "wrk failed: $(cat "$tmp/wrk.err")"; return 0; }
  if ! grep -q "^checked responses: 0 not a successful" "$tmp/wrk.err"; then
    wrk_fail "$name" "some responses were not successful tool results: $(cat "$tmp/wrk.err")"; return 0
  fi
  if grep -q -E "Non-2xx|Socket errors" <<<"$outp"; then
    wrk_fail "$name" "errors under load: $(grep -E "Non-2xx|Socket errors" <<<"$outp")"; return 0
  fi
  t1=$(ticks $(srv_pids "$name"))
  local rps p50 p99
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$outp")
  [ "$record" = 1 ] && echo "$name $((t1 - t0)) $(awk '/requests in/{print $1}' <<<"$outp") $dur" >> "$tmp/cpu"
  p50=$(to_ms "$(awk '$1=="50%"{print $2}' <<<"$outp")")
  p99=$(to_ms "$(awk '$1=="99%"{print $2}' <<<"$outp")")
  [ "$record" = 1 ] && echo "$name $rps $p50 $p99" >> "$tmp/raw"
  printf '  %-24s %10s req/s   p50 %8s ms   p99 %8s ms\n' "$name" "$rps" "$p50" "$p99"
}
# run_sse NAME PORT SESSION TOOL -> the same through sse_load.py; a failure is recorded, not fatal
run_sse() {
  local name=$1 port=$2 sid=$3 tool=$4 res t0 t1
  t0=$(ticks $(srv_pids "$name"))
  res=$(timeout $((dur + 30)) python3 "$peers/sse_load.py" --url "http://127.0.0.1:$port/mcp" --session "$sid" \
    --tool "$tool" --conns "$conns" --duration "$dur" --expect "$expect" 2>"$tmp/sse.err") || true
  t1=$(ticks $(srv_pids "$name"))
  if ! python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["requests"] > 0 and r["bad"] == 0 else 1)' "$res" 2>/dev/null; then
    echo "  $name: failed: ${res:-$(tail -3 "$tmp/sse.err")}"
    failures+=("$name: ${res:-$(tail -3 "$tmp/sse.err" | tr '\n' ' ')}")
    return 0
  fi
  [ "$record" = 1 ] && python3 -c 'import json,sys; r=json.loads(sys.argv[2]); print(sys.argv[1], r["rps"], r["p50_ms"], r["p99_ms"])' "$name" "$res" >> "$tmp/raw"
  [ "$record" = 1 ] && python3 -c 'import json,sys; r=json.loads(sys.argv[4]); print(sys.argv[1], sys.argv[2], r["requests"], sys.argv[3])' "$name" "$((t1 - t0))" "$dur" "$res" >> "$tmp/cpu"
  python3 -c 'import json,sys; r=json.loads(sys.argv[2]); print("  %-24s %10s req/s   p50 %8s ms   p99 %8s ms   (sse_load.py)" % (sys.argv[1], r["rps"], r["p50_ms"], r["p99_ms"]))' "$name" "$res"
}

echo "peers: $rounds round(s) of ${duration}s, $conns connections, alternating; downstream body $(wc -c < "$here/fixtures/item.json") bytes"
echo "peers: @modelcontextprotocol/sdk $sdk_version (node_sdk_peer), @ivotoby/openapi-mcp-server $ivotoby_version (its sdk $ivotoby_sdk_version), node $("$node" --version), ivotoby tool \"$ivo_tool\", ivotoby results via $ivo_mode"
: > "$tmp/raw"; : > "$tmp/cpu"
# One unrecorded warm-up round (WARMUP s per server) so the JIT-compiled peers run warm code
# (node_sdk_peer needs several seconds of load to reach its steady rate), the same checks
# applied; then the measured rounds.
# RSS "loaded": the largest VmRSS read right after each of the server's recorded runs.
declare -A loaded=([mb]=0 [mbw]=0 [sdk]=0 [ivo]=0)
note_rss() { # KEY PID... : keep the max
  local v; v=$(rss "${@:2}"); [ "$v" -gt "${loaded[$1]}" ] && loaded[$1]=$v; return 0
}
record=0; dur=$warmup
for r in $(seq 0 "$rounds"); do
  if [ "$r" -eq 0 ]; then echo "warm-up (not recorded)"; else record=1; dur=$duration; echo "round $r"; fi
  run_wrk mcpbridge_1w "$mb_port" "$mb_session" getItem
  [ "$record" = 1 ] && { note_rss mb "$mb_pid" "$mb_worker"; note_rss mbw "$mb_worker"; }
  run_wrk node_sdk_peer "$sdk_port" "$sdk_session" getItem
  [ "$record" = 1 ] && note_rss sdk "$sdk_pid"
  if [ -z "$ivo_error" ] && alive "$ivo_pid"; then
    if [ "$ivo_mode" = sse ]; then run_sse ivotoby "$ivo_port" "$ivo_session" "$ivo_tool"
    else run_wrk ivotoby "$ivo_port" "$ivo_session" "$ivo_tool" "$ivo_structured"; fi
    if alive "$ivo_pid"; then [ "$record" = 1 ] && note_rss ivo "$ivo_pid"
    else failures+=("ivotoby: process exited during round $r: $(tail -5 "$tmp/ivotoby.log" | tr '\n' ' ')"); fi
  fi
  if [ "$ivo_mode" = sse ]; then
    run_sse node_sdk_peer_sse_load "$sdk_port" "$sdk_session" getItem
    [ "$record" = 1 ] && note_rss sdk "$sdk_pid"
  fi
done
loaded_mb=${loaded[mb]}; loaded_mb_worker=${loaded[mbw]}; loaded_sdk=${loaded[sdk]}; loaded_ivo=${loaded[ivo]}
hwm_mb=$(hwm "$mb_pid" "$mb_worker"); hwm_sdk=$(hwm "$sdk_pid"); hwm_ivo=$(hwm "$ivo_pid")
[ "$loaded_ivo" = 0 ] && loaded_ivo=null
alive "$ivo_pid" || hwm_ivo=null
[ -z "$ivo_error" ] && ! alive "$ivo_pid" && ivo_error="process exited: $(tail -5 "$tmp/ivotoby.log" | tr '\n' ' ')"

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
printf '%s\n' "${ivo_notes[@]:-}" > "$tmp/ivo_notes"
printf '%s\n' "${failures[@]:-}" > "$tmp/failures"
printf '%s\n' "$ivo_error" > "$tmp/ivo_error"
json=$(python3 - "$tmp" <<PY
import json, statistics, sys
tmp = sys.argv[1]
rows = {}
for line in open(f"{tmp}/raw"):
    name, rps, p50, p99 = line.split()
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99)))
cpu = {}
for line in open(f"{tmp}/cpu"):
    name, ticks, calls, dur = line.split()
    c = cpu.setdefault(name, [0, 0, 0.0])
    c[0] += int(ticks); c[1] += int(calls); c[2] += float(dur)
def med(name):
    v = rows.get(name, [])
    if not v:
        return None
    m = {"rps": round(statistics.median(r[0] for r in v), 2), "p50_ms": round(statistics.median(r[1] for r in v), 3),
         "p99_ms": round(statistics.median(r[2] for r in v), 3), "rounds": len(v)}
    if cpu.get(name) and cpu[name][1]:
        t, n, d = cpu[name]
        m["cpu_us_per_call"] = round(t / $clk_tck * 1e6 / n, 1)     # server CPU (user+sys) per completed call
        m["cpu_cores_busy"] = round(t / $clk_tck / d, 2)            # its average CPU use during the runs
    return m
num = lambda s: None if s in ("", "null") else int(s)
peak = lambda hwm, loaded: None if num(hwm) is None else max(num(hwm), num(loaded) or 0)  # VmHWM lags VmRSS a little
notes = [l for l in open(f"{tmp}/ivo_notes").read().splitlines() if l]
failures = [l for l in open(f"{tmp}/failures").read().splitlines() if l]
results = {}
mb = med("mcpbridge_1w") or {}
mb.update({"rss_idle_kib": num("$idle_mb"), "rss_loaded_kib": num("$loaded_mb"), "rss_peak_kib": peak("$hwm_mb", "$loaded_mb"),
           "rss_worker_idle_kib": num("$idle_mb_worker"), "rss_worker_loaded_kib": num("$loaded_mb_worker"),
           "processes": "master + 1 worker (RSS summed)", "load": "wrk"})
results["mcpbridge_1w"] = mb
sdk = med("node_sdk_peer") or {}
sdk.update({"rss_idle_kib": num("$idle_sdk"), "rss_loaded_kib": num("$loaded_sdk"), "rss_peak_kib": peak("$hwm_sdk", "$loaded_sdk"),
            "sdk": "@modelcontextprotocol/sdk $sdk_version", "node": "$("$node" --version)", "load": "wrk",
            "sdk_leak_fix": "$sdk_leak_fix"})
results["node_sdk_peer"] = sdk
ivo = med("ivotoby") or {}
ivo.update({"rss_idle_kib": num("$idle_ivo"), "rss_loaded_kib": num("$loaded_ivo"), "rss_peak_kib": peak("$hwm_ivo", "$loaded_ivo"),
            "package": "@ivotoby/openapi-mcp-server $ivotoby_version", "tool": "$ivo_tool",
            "load": {"sse": "bench/peers/sse_load.py", "json": "wrk"}.get("$ivo_mode")})
err = [l for l in open(f"{tmp}/ivo_error").read().splitlines() if l] + notes + [f for f in failures if f.startswith("ivotoby")]
if err:
    ivo["error"] = "; ".join(err)
results["ivotoby"] = ivo
cal = med("node_sdk_peer_sse_load")
if cal:
    cal["load"] = "bench/peers/sse_load.py (the tool ivotoby is measured with, on node_sdk_peer, to compare like with like)"
    results["node_sdk_peer_sse_load"] = cal
ratio = lambda a, b: round(a["rps"] / b["rps"], 3) if a and b and a.get("rps") and b.get("rps") else None
results["ratio_mcpbridge_to_node_sdk_peer"] = ratio(mb, sdk)
results["ratio_mcpbridge_to_ivotoby"] = ratio(mb, ivo)
if cal:
    results["ratio_node_sdk_peer_to_ivotoby_same_load"] = ratio(cal, ivo)
# Server CPU per call, peer / mcpbridge: less sensitive to other load on the machine than req/s.
cpu_ratio = lambda a, b: round(a["cpu_us_per_call"] / b["cpu_us_per_call"], 2) if a and b and a.get("cpu_us_per_call") and b.get("cpu_us_per_call") else None
results["ratio_cpu_per_call_node_sdk_peer_to_mcpbridge"] = cpu_ratio(sdk, mb)
results["ratio_cpu_per_call_ivotoby_to_mcpbridge"] = cpu_ratio(ivo, mb)
other = [f for f in failures if not f.startswith("ivotoby")]
if other:
    results["failures"] = other
doc = {"date": "$stamp", "machine": "$machine", "command": "bench/peers.sh" + (" --smoke" if $smoke else ""),
       "load": f"wrk -t1 -c$conns -d${duration}s, $rounds rounds alternating, after ${warmup}s unrecorded warm-up each" +
               ("; ivotoby: bench/peers/sse_load.py, $conns connections, same rounds" if "$ivo_mode" == "sse" else ""),
       "downstream": "nginx 1 worker serving bench/fixtures/item.json at /items/<n>",
       "results": results}
print(json.dumps(doc, indent=2))
PY
)
echo "$json"
if [ -n "$out" ]; then
  mkdir -p "$(dirname "$out")"
  printf '%s\n' "$json" > "$out"
  echo "peers: results in ${out#"$root"/}"
fi
[ $smoke -eq 1 ] && echo "peers smoke: harness OK (figures from a 2 s smoke run are not results)"
exit 0
