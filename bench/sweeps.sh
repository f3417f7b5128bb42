# Sweeps of bench/run.sh (sourced by it, not run alone: it uses run.sh's servers, ports,
# sessions, wrk_run, call_cfg and median). Each function appends its wrk runs to $tmp/raw;
# bench/report.py collect turns them into bench/results/latest-*.json.
#   sweep_fixed_rate   p50/p99 at fixed request rates: wrk paced by toolscall.lua's delay()
#                      (MB_DELAY_MS, random 0.5..1.5 x the mean per request, per connection), the
#                      connection count chosen so connections*1000/delay = the target rate
#   sweep_concurrency  tools/call at 100, 1,000 and 10,000 connections, wrk -t2 (one wrk thread
#                      does not reach 10,000 connections quickly), errors recorded, not fatal
#   sweep_payload      1 KiB, 10 KiB, 100 KiB and 1 MiB documents (bench/fixtures/gen_payloads.py)
#   sweep_toolslist    tools/list, first page (page size 100), on the 1000-tool catalog
# Every point is one run of SWEEP_DURATION seconds (the configurations alternate at each point).

fixed_delay_ms=20

# paced_run PART CONFIG RATE: one wrk run of CONFIG offered RATE requests per second.
paced_run() {
  local part=$1 cfg=$2 rate=$3
  local c=$(( (rate * fixed_delay_ms + 500) / 1000 )); [ "$c" -lt 1 ] && c=1
  call_cfg "$cfg"
  export MB_DELAY_MS=$fixed_delay_ms
  wrk_run "$part" "$cfg" "$rate" "$url" 1 "$c" "$sweep_duration" 1 "$script"
  unset MB_DELAY_MS
}

sweep_fixed_rate() {
  local fracs="0.1 0.25 0.5 0.75 0.9"; [ "$smoke" -eq 1 ] && fracs="0.5"
  if ! grep -q '^main mcpbridge_1w ' "$tmp/raw" 2>/dev/null; then echo "fixed: skipped (needs the main part's maxima)"; return 0; fi
  local max_mb; max_mb=$(median main mcpbridge_1w rps)
  echo "fixed: p50/p99 at fixed rates (mean delay ${fixed_delay_ms} ms per connection), ${sweep_duration}s each;" \
       "fractions $fracs of mcpbridge_1w's maximum ($max_mb req/s), then each configuration at half of its own"
  local f rate cfg cfgs="direct nginx_proxy mcpbridge_1w"; [ "$smoke" -eq 1 ] && cfgs="direct mcpbridge_1w"
  for f in $fracs; do
    rate=$("$py" -c "print(max(1, round($max_mb * $f)))")
    [ "$f" = 0.5 ] && echo "ladder_half $rate" >> "$tmp/fixed-meta"
    for cfg in $cfgs; do paced_run ladder "$cfg" "$rate"; done
  done
  [ "$smoke" -eq 1 ] && return 0
  for cfg in direct nginx_proxy nginx_proxy_cpu mcpbridge_cpu; do
    rate=$("$py" -c "print(max(1, round($(median main "$cfg" rps) * 0.5)))")
    paced_run half "$cfg" "$rate"
  done
  # The reference for the cpu configuration's added latency: the downstream alone, same rate.
  rate=$("$py" -c "print(max(1, round($(median main mcpbridge_cpu rps) * 0.5)))")
  echo "cpu_half $rate" >> "$tmp/fixed-meta"
  paced_run half_cpu_ref direct "$rate"
}

sweep_concurrency() {
  local levels="100 1000 10000"; [ "$smoke" -eq 1 ] && levels="200"
  echo "concurrency: tools/call at $levels connections, wrk -t2, ${sweep_duration}s each (+2 s at 10,000 for the connects)"
  local n cfg secs cfgs="direct nginx_proxy mcpbridge_1w"; [ "$smoke" -eq 1 ] && cfgs="mcpbridge_1w"
  for n in $levels; do
    secs=$sweep_duration; [ "$n" -ge 10000 ] && secs=$((sweep_duration + 2))
    for cfg in $cfgs; do
      call_cfg "$cfg"
      wrk_run concurrency "$cfg" "$n" "$url" 2 "$n" "$secs" 0 "$script"
    done
  done
  # What the servers said about running out of descriptors or connection slots meanwhile.
  local name log k
  for name in downstream proxy; do
    log=$tmp/$name/logs/error.log
    k=$(grep -cE 'Too many open files|worker_connections are not enough' "$log" 2>/dev/null || true)
    [ "${k:-0}" -gt 0 ] && echo "nginx $name error log: $k lines 'Too many open files' or 'worker_connections are not enough' (open-file limit $fd_limit)" >> "$tmp/conc-notes"
  done
  k=$(grep -ciE 'too many open files|EMFILE|503' "$tmp/mcpbridge.log" 2>/dev/null || true)
  [ "${k:-0}" -gt 0 ] && echo "mcpbridge log: $k lines about descriptors or 503" >> "$tmp/conc-notes"
  return 0
}

sweep_payload() {
  local sizes=$payload_sizes; [ "$smoke" -eq 1 ] && sizes="10240"
  echo "payload: documents of $sizes bytes, $conns connections, ${sweep_duration}s each; mcpbridge's guard on (trim) with limits above the documents"
  local size cfg cfgs="direct nginx_proxy mcpbridge_1w"; [ "$smoke" -eq 1 ] && cfgs="mcpbridge_1w"
  for size in $sizes; do
    for cfg in $cfgs; do
      unset MB_SESSION MB_AUTH MB_TOOL MB_ARGS MB_BODY MB_EXPECT MB_CHECK MB_PLAIN MB_DELAY_MS
      script=$here/toolscall.lua
      case $cfg in
        direct) url=http://127.0.0.1:$down_port/payloads/$size; export MB_PLAIN=1 ;;
        nginx_proxy) url=http://127.0.0.1:$proxy_port/payloads/$size; export MB_PLAIN=1 ;;
        mcpbridge_1w) url=http://127.0.0.1:$mbp_port/mcp
          # No per-response Lua check here (wrk would copy every 1 MB body into Lua, which the
          # plain configurations do not pay); every size was probed above (not trimmed).
          export MB_SESSION=$session_payload MB_TOOL=getPayload MB_ARGS="{\"size\":$size}" MB_CHECK=0 ;;
      esac
      wrk_run payload "$cfg" "$size" "$url" 1 "$conns" "$sweep_duration" 1 "$script"
    done
  done
}

sweep_toolslist() {
  local r n=3 secs=3; [ "$smoke" -eq 1 ] && { n=1; secs=1; }
  echo "toolslist: tools/list (first page of 100) on the 1000-tool catalog, $n run(s) of ${secs}s, $conns connections"
  for r in $(seq $n); do
    unset MB_AUTH MB_TOOL MB_ARGS MB_CHECK MB_PLAIN MB_DELAY_MS
    export MB_SESSION=$session_list MB_BODY=$list_body MB_EXPECT='"nextCursor"'
    wrk_run toolslist mcpbridge_1w "r$r" "http://127.0.0.1:$mbl_port/mcp" 1 "$conns" "$secs" 1 "$here/toolscall.lua"
  done
  unset MB_BODY MB_EXPECT
}
