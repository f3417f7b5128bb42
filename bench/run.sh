#!/usr/bin/env bash
# Benchmarks (issue 7): mcpbridge against the downstream alone (the physical limit), nginx
# proxy_pass with upstream keep-alive (the C proxy floor, same worker count) and, through
# bench/peers.sh when present, the Node peers; all on 127.0.0.1, one downstream (nginx serving
# fixture JSON), one load generator (wrk, bench/toolscall.lua speaking JSON-RPC over Streamable
# HTTP with a session).
#   bench/run.sh           full run (about 8 minutes on 2 cores): writes bench/results/*.json,
#                          the PNG plots and BENCHMARKS.md
#   bench/run.sh --smoke   a tiny version of every part (part of make test, ~15 s), writes nothing
# Parts, in order (bench/sweeps.sh holds the sweeps):
#   main         tools/call throughput, ROUNDS rounds alternating x DURATION s, CONNS connections:
#                direct, nginx_proxy (1 worker), mcpbridge_1w, mcpbridge_1w_jwt, nginx_proxy_cpu
#                and mcpbridge_cpu (nproc workers each)
#   fixed        p50/p99 at fixed request rates (wrk paced by delay()): a ladder of fractions of
#                mcpbridge_1w's maximum for direct, nginx_proxy and mcpbridge_1w, and each
#                configuration at half of its own maximum
#   concurrency  tools/call at 100, 1,000 and 10,000 connections (wrk -t2)
#   payload      1 KiB .. 1 MiB JSON documents, direct vs nginx_proxy vs mcpbridge_1w
#   toolslist    tools/list (first page) on a generated 1000-tool catalog
#   memory       one worker's RSS idle and with N open connections, up to the fd limit, with a
#                tools/call answered at each step (bench/memory.py)
#   guard, openapi, peers   bench/guard_bench.sh, bench/openapi_load.sh, bench/peers.sh
# Environment: MCPBRIDGE (binary), ROUNDS, DURATION, CONNS, SWEEP_DURATION, BENCH_PARTS (comma
# list of parts, default all), BENCH_RESULTS (results directory, default bench/results; with it
# set, BENCHMARKS.md goes to BENCH_RESULTS/BENCHMARKS.md and peers are skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${MCPBRIDGE:-$root/build/mcpbridge}
smoke=0; [ "${1:-}" = "--smoke" ] && smoke=1
if [ $smoke -eq 1 ]; then
  rounds=1; duration=1; conns=20; sweep_duration=1
else
  rounds=${ROUNDS:-3}; duration=${DURATION:-6}; conns=${CONNS:-50}; sweep_duration=${SWEEP_DURATION:-4}
fi
parts=",${BENCH_PARTS:-main,fixed,concurrency,payload,toolslist,memory,guard,openapi,peers},"
want() { [[ $parts == *",$1,"* ]]; }
results=${BENCH_RESULTS:-$root/bench/results}
report_md=$root/BENCHMARKS.md; [ -n "${BENCH_RESULTS:-}" ] && report_md=$results/BENCHMARKS.md
for tool in nginx wrk curl python3; do command -v $tool >/dev/null || { echo "bench: $tool missing (scripts/install-deps.sh)"; exit 1; }; done
[ -x "$bin" ] || { echo "bench: $bin not built (make)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
py=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter itself: a pyenv shim costs 0.4 s a call
fd_limit=$(ulimit -n)
ncpu=$(nproc)
started=$(date +%s)
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
machine="$ncpu cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"

tmp=$(mktemp -d /tmp/mbbench.XXXXXX); chmod 755 "$tmp"  # nginx workers (nobody) read the fixtures
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$tmp"; }
trap cleanup EXIT
ports() { # $1 count: that many free 127.0.0.1 ports, one a line
  "$py" -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
wait_port() { for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; echo "bench: port $1 did not open"; exit 1; }

# --- servers -----------------------------------------------------------------------------------
mkdir -p "$tmp/fixtures"
cp "$here/fixtures/item.json" "$tmp/fixtures/"
payload_sizes="1024 10240 102400 1048576"
"$py" "$here/fixtures/gen_payloads.py" "$tmp/fixtures" $payload_sizes
"$py" "$here/tools1000.py" "$tmp/tools1000.json" 1000

nginx_conf() { # $1 name, $2 worker_processes, $3 server block body
  mkdir -p "$tmp/$1/logs"
  cat > "$tmp/$1/nginx.conf" <<NGX
worker_processes $2;
worker_rlimit_nofile $fd_limit;
daemon off;
pid $tmp/$1/nginx.pid;
error_log $tmp/$1/logs/error.log warn;
events { worker_connections $fd_limit; }
http {
  access_log off;
  client_body_temp_path $tmp/$1/body; proxy_temp_path $tmp/$1/proxy;
  fastcgi_temp_path $tmp/$1/fcgi; uwsgi_temp_path $tmp/$1/uwsgi; scgi_temp_path $tmp/$1/scgi;
  keepalive_requests 1000000;
  $3
}
NGX
  nginx -p "$tmp/$1" -c "$tmp/$1/nginx.conf" 2>"$tmp/$1/logs/stderr" &
  pids+=($!)
}
read -r -d '' down_port proxy_port proxyc_port mb_port mba_port mbc_port mbp_port mbl_port < <(ports 8) || true
# Listen backlogs of 4096 everywhere (mcpbridge's), so 10,000 simultaneous connects are treated alike.
nginx_conf downstream 1 "server { listen 127.0.0.1:$down_port backlog=4096; root $tmp/fixtures; default_type application/json;
    location ~ ^/items/[0-9]+\$ { try_files /item.json =404; }
    location ~ ^/payloads/([0-9]+)\$ { try_files /payload-\$1.json =404; }
    location = / { return 200 'ok'; } }"
proxy_block() { echo "upstream down { server 127.0.0.1:$down_port; keepalive 64; }
  server { listen 127.0.0.1:$1 backlog=4096; location / { proxy_pass http://down; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"; }
nginx_conf proxy 1 "$(proxy_block "$proxy_port")"
nginx_conf proxy_cpu "$ncpu" "$(proxy_block "$proxyc_port")"

# mk_config OUT PORT SPEC [PATCH_JSON]: an mcpbridge config; PATCH is merged in (objects deeply).
mk_config() {
  "$py" - "$@" <<'PY'
import json, sys
out, port, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
patch = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
cfg = {"api": {"openapi": {"spec_file": spec, "base_url": ""}},
       "runtime": {"server": {"transport": {"host": "127.0.0.1", "port": port},
                              "max_connections_per_worker": 19000},
                   "middleware": {"request_timeout": {"timeout_ms": 30000}},
                   "http": {"limits": {"max_connections": 100, "max_keepalive_connections": 64}}},
       "observability": {"logging": {"level": "WARNING"}}}
def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict): merge(a[k], v)
        else: a[k] = v
merge(cfg, patch)
json.dump(cfg, open(out, "w"), indent=1)
PY
}
base_url=http://127.0.0.1:$down_port
mk_config "$tmp/config.json" "$mb_port" "$here/openapi.yaml" "{\"api\":{\"openapi\":{\"base_url\":\"$base_url\"}}}"
mk_config "$tmp/config-cpu.json" "$mbc_port" "$here/openapi.yaml" "{\"api\":{\"openapi\":{\"base_url\":\"$base_url\"}}}"
# Payload sweep: the guard stays on (trim) with limits above the documents, so nothing is
# trimmed and every byte is scanned, validated and copied.
mk_config "$tmp/config-payload.json" "$mbp_port" "$here/fixtures/payload.yaml" \
  "{\"api\":{\"openapi\":{\"base_url\":\"$base_url\"}},\"runtime\":{\"http\":{\"response_guard\":{\"max_array_items\":1000000,\"max_response_bytes\":8388608}}}}"
mk_config "$tmp/config-list.json" "$mbl_port" "$tmp/tools1000.json" "{\"api\":{\"openapi\":{\"base_url\":\"$base_url\"}}}"
# Authentication on: a service account in token mode (Ed25519 public key, the documented
# default), every request carrying a signed JWT; repeat calls hit the verified-token cache.
openssl genpkey -algorithm ed25519 -out "$tmp/sa.key" 2>/dev/null
openssl pkey -in "$tmp/sa.key" -pubout -out "$tmp/sa.pub" 2>/dev/null
sa_token=$("$py" - "$tmp/sa.key" <<'PY'
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
mk_config "$tmp/config-auth.json" "$mba_port" "$here/openapi.yaml" \
  "{\"api\":{\"openapi\":{\"base_url\":\"$base_url\"}},\"security\":{\"authentication\":{\"enabled\":true,\"service_account\":{\"enabled\":true,\"mode\":\"token\",\"public_key\":\"$tmp/sa.pub\"}},\"authorization\":{\"tools\":{\"default\":[]}}}}"
serve() { # $1 name, $2 config, $3 workers
  "$bin" serve --config "$2" --workers "$3" 2>"$tmp/$1.log" &
  pids+=($!)
}
serve mcpbridge "$tmp/config.json" 1
serve mcpbridge-auth "$tmp/config-auth.json" 1
serve mcpbridge-cpu "$tmp/config-cpu.json" cpu
serve mcpbridge-payload "$tmp/config-payload.json" 1
serve mcpbridge-list "$tmp/config-list.json" 1
for p in $down_port $proxy_port $proxyc_port $mb_port $mba_port $mbc_port $mbp_port $mbl_port; do wait_port "$p"; done

mcp_post() { # $1 port, $2 session, $3 body, [$4 auth token]; prints the response body
  curl -s -X POST "http://127.0.0.1:$1/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' \
    ${2:+-H "Mcp-Session-Id: $2"} ${4:+-H "X-OEMCP-SERVICEACCOUNT: $4"} -d "$3"
}
initialize() { # $1 port, [$2 auth token]; prints the session id
  curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$1/mcp" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' ${2:+-H "X-OEMCP-SERVICEACCOUNT: $2"} \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}'
}
session=$(initialize "$mb_port")
session_auth=$(initialize "$mba_port" "$sa_token")
session_cpu=$(initialize "$mbc_port")
session_payload=$(initialize "$mbp_port")
session_list=$(initialize "$mbl_port")
for s in session session_auth session_cpu session_payload session_list; do
  [ -n "${!s}" ] || { echo "bench: initialize returned no session ($s)"; cat "$tmp"/*.log; exit 1; }
done
# Correctness probes before measuring: the calls must succeed (the cpu instance several times,
# on new connections, so both workers answer with the one session).
call_item='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"getItem","arguments":{"id":1}}}'
probe() { grep -q "$3" <<<"$2" || { echo "bench: probe $1 failed: ${2:0:400}"; cat "$tmp"/*.log; exit 1; }; }
probe mcpbridge "$(mcp_post "$mb_port" "$session" "$call_item")" '"structuredContent"'
probe mcpbridge-auth "$(mcp_post "$mba_port" "$session_auth" "$call_item" "$sa_token")" '"structuredContent"'
for _ in 1 2 3 4 5 6; do probe mcpbridge-cpu "$(mcp_post "$mbc_port" "$session_cpu" "$call_item")" '"structuredContent"'; done
for size in $payload_sizes; do
  body=$(mcp_post "$mbp_port" "$session_payload" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"getPayload\",\"arguments\":{\"size\":$size}}}")
  probe "payload $size" "$body" '"structuredContent"'
  if grep -q '"truncated":true' <<<"$body"; then echo "bench: payload $size was trimmed by the guard"; exit 1; fi
  echo "payload $size ${#body}" >> "$tmp/payload-bytes"
done
list_body='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
list_resp=$(mcp_post "$mbl_port" "$session_list" "$list_body")
probe tools/list "$list_resp" '"nextCursor"'
list_tools=$("$py" -c 'import json,sys; print(len(json.loads(sys.stdin.read())["result"]["tools"]))' <<<"$list_resp")
echo "list $list_tools ${#list_resp}" > "$tmp/list-bytes"

# --- measuring ---------------------------------------------------------------------------------
# wrk_run PART CONFIG X URL THREADS CONNS SECONDS STRICT [SCRIPT]: one wrk run; the script reads
# its MB_* variables from the environment. Appends one line to $tmp/raw:
#   part config x rps p50_ms p99_ms socket_errors non2xx bad transfer_bytes_per_s connections
# where socket_errors is wrk's connect:read:write:timeout.
# STRICT=1: any error, non-2xx or bad response stops the benchmark; 0: they are recorded.
wrk_run() {
  local part=$1 config=$2 x=$3 url=$4 threads=$5 c=$6 secs=$7 strict=$8 script=${9:-}
  local args=(-t"$threads" -c"$c" -d"${secs}s" --latency --timeout 10s)
  [ -n "$script" ] && args+=(-s "$script")
  local out
  out=$(wrk "${args[@]}" "$url" 2>"$tmp/wrk.err") || { echo "bench: wrk failed for $config"; cat "$tmp/wrk.err"; exit 1; }
  local rps p50 p99 serr sdetail non2xx bad xfer
  # One awk for every figure: latencies to ms, Transfer/sec to bytes, socket errors as c:r:w:t.
  read -r rps p50 p99 serr sdetail non2xx xfer < <(awk '
    function ms(v) { if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000; if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
                     if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000; return v + 0 }
    function bytes(v,  m) { m = 1; if (v ~ /GB$/) m = 1073741824; else if (v ~ /MB$/) m = 1048576; else if (v ~ /KB$/) m = 1024
                            sub(/[KMG]?B$/, "", v); return sprintf("%.0f", v * m) }
    /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /Socket errors/ { gsub(",", ""); serr = $4 + $6 + $8 + $10; sd = $4 ":" $6 ":" $8 ":" $10 }
    /Non-2xx/ { non = $NF } /Transfer\/sec/ { xf = bytes($2) }
    END { print rps, p50, p99, serr + 0, (sd == "" ? "0:0:0:0" : sd), non + 0, xf + 0 }' <<<"$out")
  bad=$(awk '/checked responses/{print $3}' "$tmp/wrk.err"); bad=${bad:-0}
  if [ "$strict" = 1 ] && [ $((serr + non2xx + bad)) -gt 0 ]; then
    echo "bench: $config ($part $x): $serr socket errors, $non2xx non-2xx, $bad bad responses"; echo "$out"; cat "$tmp/wrk.err"; exit 1
  fi
  echo "$part $config $x $rps $p50 $p99 $sdetail $non2xx $bad $xfer $c" >> "$tmp/raw"
  printf '  %-18s %-9s %10s req/s   p50 %8s ms   p99 %8s ms%s\n' "$config" "$x" "$rps" "$p50" "$p99" \
    "$([ $((serr + non2xx + bad)) -gt 0 ] && echo "   errors: $serr socket (connect:read:write:timeout $sdetail), $non2xx non-2xx, $bad bad")"
}
median() { "$py" "$here/report.py" median "$tmp/raw" "$@"; }  # median PART CONFIG FIELD
# Each configuration's wrk invocation: wrk_cfg CONFIG -> "URL SCRIPT" plus its MB_* environment.
call_cfg() { # $1 config; sets url, script and exports the MB_* variables
  unset MB_SESSION MB_AUTH MB_TOOL MB_ARGS MB_BODY MB_EXPECT MB_CHECK MB_PLAIN
  script=$here/toolscall.lua
  case $1 in
    direct) url=http://127.0.0.1:$down_port/items/1; export MB_PLAIN=1 ;;
    nginx_proxy) url=http://127.0.0.1:$proxy_port/items/1; export MB_PLAIN=1 ;;
    nginx_proxy_cpu) url=http://127.0.0.1:$proxyc_port/items/1; export MB_PLAIN=1 ;;
    mcpbridge_1w) url=http://127.0.0.1:$mb_port/mcp; export MB_SESSION=$session ;;
    mcpbridge_1w_jwt) url=http://127.0.0.1:$mba_port/mcp; export MB_SESSION=$session_auth MB_AUTH=$sa_token ;;
    mcpbridge_cpu) url=http://127.0.0.1:$mbc_port/mcp; export MB_SESSION=$session_cpu ;;
    *) echo "bench: unknown configuration $1"; exit 1 ;;
  esac
}

echo "bench: $(date -u +%FT%TZ), $machine, open-file limit $fd_limit; downstream item $(wc -c < "$here/fixtures/item.json") bytes"
if want main; then
  echo "main: tools/call, $rounds round(s) of ${duration}s, $conns connections, 1 wrk thread"
  main_cfgs="direct nginx_proxy mcpbridge_1w mcpbridge_1w_jwt nginx_proxy_cpu mcpbridge_cpu"
  [ $smoke -eq 1 ] && main_cfgs="direct nginx_proxy mcpbridge_1w mcpbridge_1w_jwt"  # the cpu instances: probed above
  for r in $(seq "$rounds"); do
    echo " round $r"
    for cfg in $main_cfgs; do
      call_cfg "$cfg"; unset MB_DELAY_MS
      wrk_run main "$cfg" "r$r" "$url" 1 "$conns" "$duration" 1 "$script"
    done
  done
fi
# shellcheck source=bench/sweeps.sh
source "$here/sweeps.sh"
want fixed && sweep_fixed_rate
want concurrency && sweep_concurrency
want payload && sweep_payload
want toolslist && sweep_toolslist
if want memory; then
  if [ $smoke -eq 1 ]; then mem_steps=300; else
    mem_steps="1000,5000,10000,15000,$((fd_limit - 200))"
  fi
  echo "memory: one worker idle and with $mem_steps open connections (open-file limit $fd_limit), a tools/call at each step"
  "$py" "$here/memory.py" "$bin" "$here/openapi.yaml" "$mem_steps" "$tmp/memory.json" "$base_url"
fi

meta=(--stamp "$stamp" --machine "$machine" --rounds "$rounds" --duration "$duration" --conns "$conns"
      --sweep-duration "$sweep_duration" --fd-limit "$fd_limit" --ncpu "$ncpu")
if [ $smoke -eq 1 ]; then
  "$py" "$here/report.py" collect "$tmp" "$tmp/results" "${meta[@]}" >/dev/null
  "$py" "$here/report.py" render "$tmp/results" "$tmp/BENCHMARKS.md" --no-plots
  echo "bench smoke: harness OK in $(( $(date +%s) - started )) s (figures from a smoke run are not results)"
  exit 0
fi
mkdir -p "$results"
"$py" "$here/report.py" collect "$tmp" "$results" "${meta[@]}"
if want guard; then echo "guard: trim-mode throughput vs jansson parse+dump"; bash "$here/guard_bench.sh" >/dev/null
  [ "$results" = "$root/bench/results" ] || cp "$root/bench/results/latest-guard.json" "$results/"; fi
if want openapi; then echo "openapi load: GitHub's REST description through the converter"; MCPBRIDGE="$bin" bash "$here/openapi_load.sh"
  [ "$results" = "$root/bench/results" ] || cp "$root/bench/results/latest-openapi-load.json" "$results/"; fi
if want peers && [ -z "${BENCH_RESULTS:-}" ] && [ -f "$here/peers.sh" ]; then
  echo "peers: bench/peers.sh (Node SDK peer, @ivotoby/openapi-mcp-server)"
  # The servers above stay idle meanwhile; peers.sh starts and measures its own.
  # Same load as the main part: ROUNDS x DURATION s, CONNS connections.
  MCPBRIDGE="$bin" ROUNDS=$rounds DURATION=$duration CONNS=$conns bash "$here/peers.sh" \
    || echo "bench: bench/peers.sh failed (exit $?); peer figures left as they were"
fi
elapsed=$(( $(date +%s) - started ))
"$py" "$here/report.py" render "$results" "$report_md" --elapsed "$elapsed"
echo "bench: results in $results, summary in $report_md ($elapsed s)"
