#!/usr/bin/env bash
# Benchmarks (first cut, issue "Serve MCP end to end"): tools/call throughput and latency
# through mcpbridge (1 worker) against nginx proxy_pass (1 worker, upstream keep-alive) to the
# same downstream, and the downstream alone (the physical limit), all on 127.0.0.1 with the same
# wrk load, alternating configurations over several rounds; medians and ratios reported.
#   bench/run.sh           full run (3 rounds x 10 s each, then worker RSS idle and with 10,000
#                          open connections), writes bench/results/ and BENCHMARKS.md
#   bench/run.sh --smoke   one 2 s round, checks the harness works (part of make test), writes nothing
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${MCPBRIDGE:-$root/build/mcpbridge}
smoke=0; rounds=${ROUNDS:-3}; duration=${DURATION:-10}; conns=${CONNS:-50}
[ "${1:-}" = "--smoke" ] && { smoke=1; rounds=1; duration=2; conns=20; }
for tool in nginx wrk curl; do command -v $tool >/dev/null || { echo "bench: $tool missing (scripts/install-deps.sh)"; exit 1; }; done
[ -x "$bin" ] || { echo "bench: $bin not built (make)"; exit 1; }

tmp=$(mktemp -d /tmp/mbbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; sleep 0.2; rm -rf "$tmp"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; echo "bench: port $1 did not open"; exit 1; }

down_port=$(port); proxy_port=$(port); mb_port=$(port); mba_port=$(port)
nginx_conf() { # $1 name, $2 server block body
  mkdir -p "$tmp/$1/logs"
  cat > "$tmp/$1/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $tmp/$1/nginx.pid;
error_log $tmp/$1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/$1/body; proxy_temp_path $tmp/$1/proxy;
  fastcgi_temp_path $tmp/$1/fcgi; uwsgi_temp_path $tmp/$1/uwsgi; scgi_temp_path $tmp/$1/scgi;
  keepalive_requests 1000000;
  $2
}
NGX
  nginx -p "$tmp/$1" -c "$tmp/$1/nginx.conf" 2>"$tmp/$1/logs/stderr" &
  pids+=($!)
}
nginx_conf downstream "server { listen 127.0.0.1:$down_port; root $here/fixtures; default_type application/json;
    location ~ ^/items/[0-9]+\$ { try_files /item.json =404; } location = / { return 200 'ok'; } }"
nginx_conf proxy "upstream down { server 127.0.0.1:$down_port; keepalive 64; }
  server { listen 127.0.0.1:$proxy_port; location / { proxy_pass http://down; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
cat > "$tmp/config.json" <<JSON
{ "api": { "openapi": { "spec_file": "$here/openapi.yaml", "base_url": "http://127.0.0.1:$down_port" } },
  "runtime": { "server": { "transport": { "host": "127.0.0.1", "port": $mb_port } },
               "middleware": { "request_timeout": { "timeout_ms": 5000 } },
               "http": { "limits": { "max_connections": 100, "max_keepalive_connections": 64 } } },
  "observability": { "logging": { "level": "WARNING" } } }
JSON
"$bin" serve --config "$tmp/config.json" --workers 1 2>"$tmp/mcpbridge.log" &
pids+=($!)
# The same with authentication on: a service account in token mode (Ed25519 public key, the
# documented default), every request carrying a signed JWT. Repeat calls hit the verified-token
# cache, which is what this measures against the instance above.
openssl genpkey -algorithm ed25519 -out "$tmp/sa.key" 2>/dev/null
openssl pkey -in "$tmp/sa.key" -pubout -out "$tmp/sa.pub" 2>/dev/null
sa_token=$(python3 - "$tmp/sa.key" <<'PY'
import base64, json, os, subprocess, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "bench", "client_id": "bench", "iat": int(time.time()), "exp": int(time.time()) + 3600}).encode())
data = sys.argv[1] + ".input"  # Ed25519 is one-shot: openssl wants a file, not a pipe
open(data, "w").write(f"{head}.{body}")
sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", sys.argv[1], "-rawin", "-in", data],
                     capture_output=True, check=True).stdout
print(f"{head}.{body}.{b64(sig)}")
PY
)
python3 - "$tmp/config.json" "$tmp/config-auth.json" "$mba_port" "$tmp/sa.pub" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["runtime"]["server"]["transport"]["port"] = int(sys.argv[3])
cfg["security"] = {"authentication": {"enabled": True, "service_account": {"enabled": True, "mode": "token", "public_key": sys.argv[4]}},
                   "authorization": {"tools": {"default": []}}}
json.dump(cfg, open(sys.argv[2], "w"))
PY
"$bin" serve --config "$tmp/config-auth.json" --workers 1 2>"$tmp/mcpbridge-auth.log" &
pids+=($!)
wait_port "$down_port"; wait_port "$proxy_port"; wait_port "$mb_port"; wait_port "$mba_port"

session=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$mb_port/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
[ -n "$session" ] || { echo "bench: initialize returned no session"; cat "$tmp/mcpbridge.log"; exit 1; }
export MB_SESSION=$session
session_auth=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$mba_port/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H "X-OEMCP-SERVICEACCOUNT: $sa_token" \
  -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
[ -n "$session_auth" ] || { echo "bench: initialize with authentication returned no session"; cat "$tmp/mcpbridge-auth.log"; exit 1; }
# A correctness probe before measuring: the tool call must succeed.
probe=$(curl -s -X POST "http://127.0.0.1:$mb_port/mcp" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-06-18' \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"getItem","arguments":{"id":1}}}')
grep -q '"structuredContent"' <<<"$probe" || { echo "bench: probe tools/call failed: $probe"; cat "$tmp/mcpbridge.log"; exit 1; }

# run_wrk NAME URL [script] -> appends "NAME rps p50_ms p99_ms" to $tmp/raw
run_wrk() {
  local name=$1 url=$2 script=${3:-}
  local args=(-t1 -c"$conns" -d"${duration}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local out; out=$(wrk "${args[@]}" "$url" 2>"$tmp/wrk.err")
  grep -q "not a successful tool result" "$tmp/wrk.err" && ! grep -q ": 0 not a successful" "$tmp/wrk.err" && {
    echo "bench: $name: some responses were not successful tool results"; cat "$tmp/wrk.err"; exit 1; }
  if grep -q "Non-2xx" <<<"$out"; then echo "bench: $name: non-2xx responses"; echo "$out"; exit 1; fi
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  echo "$name $rps $(to_ms "$p50") $(to_ms "$p99")" >> "$tmp/raw"
  printf '  %-22s %10s req/s   p50 %8s ms   p99 %8s ms\n' "$name" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")"
}
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v }'; }

echo "bench: $rounds round(s) of ${duration}s, $conns connections, 1 wrk thread; downstream body $(wc -c < "$here/fixtures/item.json") bytes"
for r in $(seq "$rounds"); do
  echo "round $r"
  run_wrk direct "http://127.0.0.1:$down_port/items/1"
  run_wrk nginx_proxy "http://127.0.0.1:$proxy_port/items/1"
  run_wrk mcpbridge_1w "http://127.0.0.1:$mb_port/mcp" "$here/toolscall.lua"
  MB_SESSION=$session_auth MB_AUTH=$sa_token run_wrk mcpbridge_1w_jwt "http://127.0.0.1:$mba_port/mcp" "$here/toolscall.lua"
done

summary=$(python3 - "$tmp/raw" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99 = line.split()
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99)))
med = {n: {"rps": statistics.median(r[0] for r in v), "p50_ms": statistics.median(r[1] for r in v),
           "p99_ms": statistics.median(r[2] for r in v), "rounds": len(v)} for n, v in rows.items()}
med["ratio_mcpbridge_to_nginx_proxy"] = round(med["mcpbridge_1w"]["rps"] / med["nginx_proxy"]["rps"], 3)
med["ratio_mcpbridge_to_direct"] = round(med["mcpbridge_1w"]["rps"] / med["direct"]["rps"], 3)
med["ratio_jwt_auth_to_no_auth"] = round(med["mcpbridge_1w_jwt"]["rps"] / med["mcpbridge_1w"]["rps"], 3)
print(json.dumps(med, indent=2))
PY
)
echo "$summary"
mem_conns=10000; [ $smoke -eq 1 ] && mem_conns=300
echo "memory: one worker idle and with $mem_conns open connections"
python3 "$here/memory.py" "$bin" "$here/openapi.yaml" "$mem_conns" "$tmp/memory.json"
if [ $smoke -eq 1 ]; then
  echo "bench smoke: harness OK (figures from a 2 s smoke run are not results)"
  exit 0
fi
cp "$tmp/memory.json" "$root/bench/results/latest-memory.json"
echo "guard: trim-mode throughput vs jansson parse+dump"
bash "$here/guard_bench.sh" >/dev/null
echo "openapi load: GitHub's REST description through the converter"
MCPBRIDGE="$bin" bash "$here/openapi_load.sh"
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
python3 - "$root" "$stamp" "$machine" "$rounds" "$duration" "$conns" <<PY
import json, sys
root, stamp, machine, rounds, duration, conns = sys.argv[1:]
summary = json.loads('''$summary''')
result = {"date": stamp, "machine": machine, "command": "make bench (bench/run.sh)",
          "load": f"wrk -t1 -c{conns} -d{duration}s, {rounds} rounds alternating", "results": summary}
open(f"{root}/bench/results/{stamp}-toolscall.json", "w").write(json.dumps(result, indent=2) + "\n")
open(f"{root}/bench/results/latest-toolscall.json", "w").write(json.dumps(result, indent=2) + "\n")
PY
python3 "$here/report.py" "$root"
echo "bench: results in bench/results/, summary in BENCHMARKS.md"
