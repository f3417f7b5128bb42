#!/usr/bin/env bash
# `mcpbridge capacity` against real servers: thresholds in observability.capacity force each
# verdict (a held keep-alive connection is "near the cap" when connections_ratio is tiny: with
# one worker more workers would help, with 2 x CPUs workers only scale out does), and a server
# with the default thresholds reports ok. Checks the report text, the exit codes scripts act on
# (0 ok, 3 tune workers, 4 scale out, 1 error, 2 usage), the --json fields, and the messages for
# an unreachable server and a URL that is not an mcpbridge base.
source "$(dirname "$0")/lib.sh"
spec="$MB_SOURCE_DIR/demo/openapi.yaml"

# write_config FILE PORT [CAPACITY_YAML]: a server on PORT, samples every 200 ms.
write_config() {
  cat > "$1" <<YAML
api:
  openapi:
    spec_file: $spec
    base_url: http://127.0.0.1:9
runtime:
  server:
    transport:
      host: 127.0.0.1
      port: $2
observability:
  capacity:
    sample_interval_ms: 200
${3:-}
YAML
}

# start_server NAME WORKERS CONFIG PORT: serve in the background until the EXIT trap.
start_server() {
  "$MCPBRIDGE" serve --config "$3" --workers "$2" >"$MB_TMP/$1.log" 2>&1 &
  MB_PIDS+=("$!")
  wait_http "http://127.0.0.1:$4/readyz" 15 || fail "$1 did not start: $(cat "$MB_TMP/$1.log")"
}

# capacity ARGS...: runs `mcpbridge capacity`; stdout in $out, stderr in $err, exit code in $rc.
capacity() {
  set +e
  out=$("$MCPBRIDGE" capacity "$@" 2>"$MB_TMP/err"); rc=$?
  set -e
  err=$(cat "$MB_TMP/err")
}

# wait_exit WANT... -- ARGS...: repeats `mcpbridge capacity ARGS` (10 s at most) until its exit
# code is one of WANT.
wait_exit() {
  local want=() i
  while [ "$1" != "--" ]; do want+=("$1"); shift; done
  shift
  for i in $(seq 50); do
    capacity "$@"
    for w in "${want[@]}"; do [ "$rc" = "$w" ] && return 0; done
    sleep 0.2
  done
  fail "mcpbridge capacity $* never exited with ${want[*]} (last $rc): $out $err"
}

# --- usage -------------------------------------------------------------------------------
capacity --help
expect_eq "$rc" 0 "capacity --help"
grep -q "usage: mcpbridge capacity --url URL" <<<"$out" || fail "--help prints the usage: $out"
grep -q "3 tune workers, 4 scale out" <<<"$out" || fail "--help documents the exit codes: $out"
capacity
expect_eq "$rc" 2 "capacity without --url"
grep -q -- "--url URL is required" <<<"$err" || fail "missing --url message: $err"
capacity --url ftp://example.org
expect_eq "$rc" 2 "capacity with a non-HTTP URL"
out=$("$MCPBRIDGE" help)
grep -q "mcpbridge capacity --url URL" <<<"$out" || fail "the main usage lists capacity: $out"

# --- unreachable -------------------------------------------------------------------------
dead=$(free_port)
capacity --url "http://127.0.0.1:$dead"
expect_eq "$rc" 1 "capacity against a closed port"
grep -q "cannot connect to http://127.0.0.1:$dead/readyz" <<<"$err" || fail "unreachable message: $err"
grep -q "Is \`mcpbridge serve\` running there?" <<<"$err" || fail "the message says what to check: $err"
[ -z "$out" ] || fail "nothing on stdout on errors: $out"

# --- ok: default thresholds ----------------------------------------------------------------
port_ok=$(free_port)
write_config "$MB_TMP/ok.yaml" "$port_ok"
start_server ok 1 "$MB_TMP/ok.yaml" "$port_ok"
capacity --url "http://127.0.0.1:$port_ok"
[ "$rc" = 0 ] || fail "a fresh server: exit 0 (warming up or ok), got $rc: $out $err"
for _ in $(seq 50); do
  capacity --url "http://127.0.0.1:$port_ok/"   # a trailing slash is fine
  grep -q "^verdict:  ok" <<<"$out" && break
  sleep 0.2
done
expect_eq "$rc" 0 "exit code for ok"
grep -q "^verdict:  ok (no scale-out trigger fired)" <<<"$out" || fail "default thresholds: ok: $out"
grep -q "^  reasons: none" <<<"$out" || grep -q "^  reason: CPU above cpu_threshold now" <<<"$out" \
  || fail "no reason beyond a passing CPU peak: $out"
grep -q "^recommend: 1 worker (profile dev)" <<<"$out" || fail "no traffic: keep the dev profile: $out"
grep -q "Too few tools/call to measure" <<<"$out" || fail "the recommendation says why: $out"
grep -q "^CPU: " <<<"$out" || fail "CPU line: $out"
grep -q "^network: " <<<"$out" || fail "network line: $out"
grep -Eq "^  0 +[0-9]+ " <<<"$out" || fail "a row for worker 0: $out"
capacity --url "http://127.0.0.1:$port_ok" --json
expect_eq "$rc" 0 "--json exit code"
python3 - "$out" <<'PY' || fail "capacity --json (ok): $out"
import json, sys
c = json.loads(sys.argv[1])
assert c["verdict"] == "ok", c["verdict"]
assert c["samples"] >= 2
assert c["cpu"]["usable"] >= 1 and 0 <= c["cpu"]["instance_ratio"] <= 1
assert c["memory"]["rss_total_bytes"] > 0
assert len(c["workers"]) == 1
w = c["workers"][0]
assert w["id"] == 0 and w["pid"] > 0 and w["rss_bytes"] > 0 and w["connection_cap"] == 10000, w
r = c["recommendation"]
assert r["profile"] == "dev" and r["workers"] == 1, r
assert set(r) == {"profile", "workers", "cpu_ms_per_call", "wall_ms_per_call", "calls_per_s", "explanation"}, r
assert c["psi"] is None or set(c["psi"]) >= {"memory_some_avg60"}
assert set(c["network"]) == {"rx_bytes_per_s", "tx_bytes_per_s", "link_bytes_per_s", "saturation_ratio"}
assert c["sampled_at"].endswith("Z")
PY

# --- the MCP endpoint is not a base URL -----------------------------------------------------
capacity --url "http://127.0.0.1:$port_ok/mcp"
expect_eq "$rc" 1 "capacity against the MCP endpoint"
grep -q "HTTP 404" <<<"$err" || fail "404 message: $err"
grep -q "base URL" <<<"$err" || fail "the message says what --url should be: $err"

# --- tune workers: one worker, a connection above a tiny share of its cap --------------------
tight="    connections_ratio: 0.0001"
port_tune=$(free_port)
write_config "$MB_TMP/tune.yaml" "$port_tune" "$tight"
start_server tune 1 "$MB_TMP/tune.yaml" "$port_tune"
exec {held_tune}<>"/dev/tcp/127.0.0.1/$port_tune"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$held_tune"
wait_exit 3 4 -- --url "http://127.0.0.1:$port_tune"
expect_eq "$rc" 3 "one worker near its connection cap: tune workers"
grep -q "^verdict:  tune workers" <<<"$out" || fail "tune verdict text: $out"
grep -q "^  reason: a worker above connections_ratio of max_connections_per_worker" <<<"$out" \
  || fail "the reason is named: $out"
capacity --url "http://127.0.0.1:$port_tune" --json
expect_eq "$rc" 3 "--json keeps the verdict's exit code"
python3 - "$out" <<'PY' || fail "capacity --json (tune): $out"
import json, sys
c = json.loads(sys.argv[1])
assert c["verdict"] == "tune_workers", c["verdict"]
assert "connections_near_cap" in c["reasons"], c["reasons"]
assert c["workers"][0]["connections"] >= 1, c["workers"]
assert len(c["workers"]) < 2 * c["cpu"]["usable"]
PY
exec {held_tune}>&-

# --- scale out: 2 x CPUs workers (profile ha) and the same connection -----------------------
port_scale=$(free_port)
write_config "$MB_TMP/scale.yaml" "$port_scale" "$tight"
start_server scale ha "$MB_TMP/scale.yaml" "$port_scale"
exec {held_scale}<>"/dev/tcp/127.0.0.1/$port_scale"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$held_scale"
wait_exit 3 4 -- --url "http://127.0.0.1:$port_scale" --json
python3 - "$out" "$rc" <<'PY' || fail "capacity --json (ha): $out"
import json, sys
c, rc = json.loads(sys.argv[1]), int(sys.argv[2])
assert "connections_near_cap" in c["reasons"], c["reasons"]
# ha = 2 x nproc workers; usable CPUs come from /proc/stat or a cgroup quota (never more)
expected = "scale_out" if len(c["workers"]) >= 2 * c["cpu"]["usable"] else "tune_workers"
assert c["verdict"] == expected, (c["verdict"], len(c["workers"]), c["cpu"]["usable"])
assert rc == {"scale_out": 4, "tune_workers": 3}[c["verdict"]], rc
assert c["recommendation"]["profile"] in ("dev", "io", "cpu", "ha")
PY
if [ "$rc" = 4 ]; then
  capacity --url "http://127.0.0.1:$port_scale"
  expect_eq "$rc" 4 "scale out exit code"
  grep -q "^verdict:  scale out (tuning this machine cannot help: add instances)" <<<"$out" || fail "scale-out text: $out"
fi
exec {held_scale}>&-
echo "test_capacity: all checks passed"
