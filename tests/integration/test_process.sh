#!/usr/bin/env bash
# The master process, black-box: `mcpbridge serve --workers 2` against a small python3
# downstream (process_downstream.py). Checks the worker processes, a restart after kill -9,
# a refused reload (invalid config), a reload under load with no failed request and the
# session surviving it, and a SIGTERM that lets a slow tools/call finish before exit 0.
source "$(dirname "$0")/lib.sh"
[ -n "${MB_KEEP_LOG:-}" ] && trap 'cp "$LOG" "$MB_KEEP_LOG" 2>/dev/null; mb_cleanup' EXIT
here=$(cd "$(dirname "$0")" && pwd)

LOG=$MB_TMP/mcpbridge.log
PROTO=2025-06-18

# --- downstream and config ---------------------------------------------------------------
python3 "$here/process_downstream.py" "$MB_TMP/downstream.port" &
MB_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$MB_TMP/downstream.port" ] && break; sleep 0.05; done
[ -s "$MB_TMP/downstream.port" ] || fail "downstream did not start"
DPORT=$(cat "$MB_TMP/downstream.port")

cat > "$MB_TMP/spec.yaml" <<'YAML'
openapi: 3.0.3
info: { title: process test API, version: "1" }
paths:
  /items/{id}:
    get:
      operationId: get_item
      summary: One item
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        "200": { description: the item, content: { application/json: { schema: { type: object } } } }
  /slow:
    get:
      operationId: slow_call
      summary: Answers after one second
      responses:
        "200": { description: slow, content: { application/json: { schema: { type: object } } } }
YAML

PORT=$(free_port)
URL=http://127.0.0.1:$PORT/mcp
# write_config SERVER_NAME: the valid config (names the server, so a reload is visible).
write_config() {
  cat > "$MB_TMP/config.json" <<JSON
{
  "server": { "name": "$1" },
  "api": { "openapi": { "spec_file": "spec.yaml", "base_url": "http://127.0.0.1:$DPORT" } },
  "runtime": {
    "server": {
      "transport": { "type": "streamable-http", "host": "127.0.0.1", "port": $PORT, "path": "/mcp" },
      "shutdown_grace_seconds": 5
    },
    "middleware": { "request_timeout": { "enabled": true, "timeout_ms": 5000 } }
  }
}
JSON
}
write_config first-name

# --- helpers -------------------------------------------------------------------------------
# post BODY [SID]: one POST on a fresh connection; prints the HTTP status; body in $MB_TMP/body.
post() {
  local sid=${2:-}
  local args=(-s -m 10 -o "$MB_TMP/body" -D "$MB_TMP/headers" -w '%{http_code}' -X POST "$URL"
              -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  [ -n "$sid" ] && args+=(-H "Mcp-Session-Id: $sid" -H "MCP-Protocol-Version: $PROTO")
  curl "${args[@]}" --data "$1" || true
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'$PROTO'","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
PING='{"jsonrpc":"2.0","id":2,"method":"ping"}'
# initialize: prints the new session id (fails the test on anything but 200 + a session id).
initialize() {
  local code
  code=$(post "$INIT")
  expect_eq "$code" 200 "initialize status"
  local sid
  sid=$(tr -d '\r' < "$MB_TMP/headers" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
  [ -n "$sid" ] || fail "initialize returned no Mcp-Session-Id"
  echo "$sid"
}
# workers: the master's children, sorted, one line.
workers() { pgrep -P "$MASTER" | sort -n | tr '\n' ' ' | sed 's/ $//' || true; }
# wait_log PATTERN SECONDS: waits until the log has a line matching PATTERN (grep -E).
wait_log() {
  local i=0
  while [ $i -lt $(($2 * 20)) ]; do
    grep -qE "$1" "$LOG" && return 0
    sleep 0.05; i=$((i + 1))
  done
  echo "--- log ---" >&2; cat "$LOG" >&2
  fail "no log line matching '$1' within $2 s"
}
# wait_workers N SECONDS: waits until the master has N children.
wait_workers() {
  local i=0 w
  while [ $i -lt $(($2 * 20)) ]; do
    w=$(workers); [ -n "$w" ] && [ "$(echo "$w" | wc -w)" -eq "$1" ] && return 0
    sleep 0.05; i=$((i + 1))
  done
  fail "expected $1 workers, have '$(workers)'"
}

# --- start --------------------------------------------------------------------------------
unset MCPBRIDGE_WORKERS UVICORN_WORKERS
export MCPBRIDGE_LISTEN_MODE=${MB_TEST_LISTEN_MODE:-}   # empty: the default (reuseport)
"$MCPBRIDGE" serve --config "$MB_TMP/config.json" --port "$PORT" --workers 2 2> "$LOG" &
MASTER=$!
MB_PIDS+=("$MASTER")
wait_log "listening on http://127\.0\.0\.1:$PORT/mcp" 15
expect_eq "$(grep -c 'listening on http://' "$LOG")" 1 "listening lines"
grep -q 'starting 2 worker(s) (from --workers)' "$LOG" || fail "worker count and source not logged"
wait_workers 2 5
echo "ok: master $MASTER runs two workers: $(workers)"

SID=$(initialize)
grep -q '"first-name"' "$MB_TMP/body" || fail "serverInfo.name: $(cat "$MB_TMP/body")"
expect_eq "$(post "$PING" "$SID")" 200 "ping"
expect_eq "$(post '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' "$SID")" 200 "tools/list"
grep -q slow_call "$MB_TMP/body" || fail "tools/list has no slow_call: $(cat "$MB_TMP/body")"

# --- kill -9 one worker: replaced within 1.5 s, requests keep succeeding ---------------------
before=$(workers)
victim=${before%% *}
kill -9 "$victim"
t=0
while :; do
  now=$(workers)
  if [ "$(echo "$now" | wc -w)" -eq 2 ] && ! grep -q " $victim " <<<" $now "; then break; fi
  [ $t -ge 30 ] && fail "no replacement for worker $victim within 1.5 s (workers: '$now')"
  sleep 0.05; t=$((t + 1))
done
wait_log "\(pid $victim\) killed by signal 9 \(SIGKILL\)" 2
for i in $(seq 20); do expect_eq "$(post "$PING" "$SID")" 200 "ping $i after kill -9"; done
echo "ok: worker $victim killed, replaced within $((t * 50)) ms: $(workers)"

# --- SIGHUP with an invalid config: keeps serving, says why ------------------------------------
pids=$(workers)
echo '{ "api": { "openapi": { "spec_file": "spec.yaml" } }, "runtime": { "server": { "transport": { "port": "nope" } } } ' \
  > "$MB_TMP/config.json"
kill -HUP "$MASTER"
wait_log 'reload failed, keeping generation 1: .*config\.json' 5
for i in $(seq 10); do expect_eq "$(post "$PING" "$SID")" 200 "ping $i after a failed reload"; done
expect_eq "$(workers)" "$pids" "workers after a failed reload"
echo "ok: invalid reload refused: $(grep -m1 'reload failed' "$LOG" | sed 's/.*process: //')"

# --- SIGHUP with a valid, changed config under load: new workers, no failed request -------------
write_config second-name
rm -f "$MB_TMP/stop"
(
  # Fresh connections until at least 200 requests were sent and the old generation drained.
  i=0
  while [ $i -lt 200 ] || [ ! -e "$MB_TMP/stop" ]; do
    curl -s -m 10 -o /dev/null -w '%{http_code}\n' -X POST "$URL" \
      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      -H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: $PROTO" --data "$PING" \
      >> "$MB_TMP/load.codes" || echo curl-failed >> "$MB_TMP/load.codes"
    i=$((i + 1))
    [ $i -lt 3000 ] || break
  done
  true
) &
LOAD=$!
MB_PIDS+=("$LOAD")
for _ in $(seq 200); do [ "$(wc -l < "$MB_TMP/load.codes" 2>/dev/null || echo 0)" -ge 50 ] && break; sleep 0.05; done
old=$(workers)
kill -HUP "$MASTER"
wait_log 'reload complete: generation 2' 15
wait_log 'generation 1 has drained' 15
sleep 0.2
touch "$MB_TMP/stop"
wait "$LOAD" || true
total=$(wc -l < "$MB_TMP/load.codes")
bad=$(grep -vc '^200$' "$MB_TMP/load.codes" || true)
[ "$bad" -eq 0 ] || fail "$bad of $total requests failed across the reload: $(grep -v '^200$' "$MB_TMP/load.codes" | sort | uniq -c | tr '\n' ' ')"
[ "$total" -ge 200 ] || fail "only $total requests sent"
wait_workers 2 5
new=$(workers)
for p in $new; do grep -q " $p " <<<" $old " && fail "worker $p survived the reload (old: $old, new: $new)"; done
expect_eq "$(post "$PING" "$SID")" 200 "the session from generation 1 after the reload"
initialize > /dev/null
grep -q '"second-name"' "$MB_TMP/body" || fail "reload not applied: $(cat "$MB_TMP/body")"
echo "ok: reload under load: $total requests, all 200; workers $old -> $new"

# --- SIGTERM with a slow tools/call in flight: the call completes, exit 0 within grace ----------
workers_before=$(workers)
rm -f "$MB_TMP/downstream.port.slow-started"
curl -s -m 20 -o "$MB_TMP/slow.body" -w '%{http_code}' -X POST "$URL" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: $PROTO" \
  --data '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"slow_call","arguments":{}}}' \
  > "$MB_TMP/slow.code" &
SLOW=$!
for _ in $(seq 100); do [ -e "$MB_TMP/downstream.port.slow-started" ] && break; sleep 0.05; done
[ -e "$MB_TMP/downstream.port.slow-started" ] || fail "the slow call never reached the downstream"
kill -TERM "$MASTER"
start=$(date +%s%N)
( sleep 9; kill -KILL "$MASTER" 2>/dev/null ) &   # grace 5 s + 2 s, plus margin
WATCHDOG=$!
rc=0
wait "$MASTER" || rc=$?
kill "$WATCHDOG" 2>/dev/null || true
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$rc" 0 "master exit code after SIGTERM (after $ms ms)"
wait "$SLOW" || true
expect_eq "$(cat "$MB_TMP/slow.code")" 200 "slow tools/call status across SIGTERM"
grep -q '"isError":true' "$MB_TMP/slow.body" && fail "slow call failed: $(cat "$MB_TMP/slow.body")"
grep -q 'slow' "$MB_TMP/slow.body" || fail "slow call body: $(cat "$MB_TMP/slow.body")"
for p in $workers_before; do kill -0 "$p" 2>/dev/null && fail "worker $p outlived the master"; done
grep -q 'received SIGTERM, graceful shutdown' "$LOG" || fail "shutdown not logged"
grep -q 'stopped (exit code 0)' "$LOG" || fail "exit not logged"
echo "ok: SIGTERM: slow call answered 200, master exited 0 after $ms ms"
echo "PASS test_process"
