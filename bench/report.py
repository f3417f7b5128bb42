"""Writes BENCHMARKS.md from bench/results/latest-*.json (run by bench/run.sh)."""
import json, os, sys

root = sys.argv[1]
path = os.path.join(root, "bench", "results", "latest-toolscall.json")
r = json.load(open(path))
res = r["results"]
lines = [
    "# Benchmarks",
    "",
    "Produced by `make bench` (`bench/run.sh`); raw figures in `bench/results/`. Every figure is the",
    "median of the rounds, each configuration measured in the same run, alternating, on 127.0.0.1.",
    "",
    "## tools/call throughput and latency (first cut)",
    "",
    f"- Date: {r['date']}; machine: {r['machine']}",
    f"- Load: {r['load']}; downstream: nginx serving a 0.6 KB JSON document",
    "- Configurations: `direct` = wrk to the downstream (the limit); `nginx_proxy` = nginx",
    "  `proxy_pass` with upstream keep-alive, 1 worker (the C proxy floor); `mcpbridge_1w` = MCP",
    "  `tools/call` over Streamable HTTP with a session, 1 worker, each call a downstream GET;",
    "  its downstream pool keeps 64 idle connections (`runtime.http.limits.max_keepalive_connections`),",
    "  the same as the nginx proxy's `keepalive 64` (the documented default of 20 would make 50",
    "  concurrent calls open new connections).",
    "",
    "| configuration | req/s | p50 ms | p99 ms |",
    "|---|---:|---:|---:|",
]
for name in ("direct", "nginx_proxy", "mcpbridge_1w", "mcpbridge_1w_jwt"):
    if name not in res:
        continue
    v = res[name]
    lines.append(f"| {name} | {v['rps']:.0f} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} |")
lines += [
    "",
    f"- mcpbridge / nginx proxy_pass: **{res['ratio_mcpbridge_to_nginx_proxy']:.2f}** (goal for this issue: >= 0.5; final goal: >= 0.8)",
    f"- mcpbridge / direct: {res['ratio_mcpbridge_to_direct']:.2f}",
] + ([
    f"- with JWT authentication on (service account, Ed25519 token on every request, verified-token cache)"
    f" / off: **{res['ratio_jwt_auth_to_no_auth']:.3f}** (goal: cost under 5%, i.e. >= 0.95)",
] if "ratio_jwt_auth_to_no_auth" in res else []) + [
    "",
    "Note: wrk, nginx and mcpbridge share the machine's 2 cores, so absolute figures are low and",
    "noisy; the ratios from the same run are what to compare.",
    "",
]
mem_path = os.path.join(root, "bench", "results", "latest-memory.json")
if os.path.exists(mem_path):
    m = json.load(open(mem_path))
    lines += [
        "## Memory per worker",
        "",
        f"- Date: {r['date']} (same run); `bench/memory.py`: one worker, RSS from /proc/<pid>/status",
        "",
        "| figure | measured | goal | documented system |",
        "|---|---:|---:|---:|",
        f"| idle worker RSS | {m['idle_worker_rss_kib'] / 1024:.1f} MB | < 8 MB | 100-200 MB |",
        f"| worker RSS with {m['connections']:,} open keep-alive connections | {m['worker_rss_kib_with_connections'] / 1024:.1f} MB | < 64 MB | ~1000 connections per worker |",
        f"| added per connection | {m['per_connection_bytes']} bytes | | |",
        "",
    ]
load_path = os.path.join(root, "bench", "results", "latest-openapi-load.json")
if os.path.exists(load_path):
    o = json.load(open(load_path))
    lines += [
        "## OpenAPI conversion of a large real spec",
        "",
        f"- Date: {o['date']}; `bench/openapi_load.sh`: `{o['command']}`, {o['runs']} runs",
        f"- Spec: {o['spec']} ({o['spec_bytes'] / 1e6:.1f} MB), {o['tools']} tools with every method enabled",
        "",
        "| figure | measured | goal |",
        "|---|---:|---:|",
        f"| median wall time (load, convert, write the JSON listing) | {o['median_wall_s']:.2f} s | < 1 s |",
        f"| peak RSS | {o['peak_rss_kib'] / 1024:.0f} MB | |",
        "",
    ]
guard_path = os.path.join(root, "bench", "results", "latest-guard.json")
if os.path.exists(guard_path):
    g = json.load(open(guard_path))
    lines += [
        "## Response guard throughput (core; not yet on the tools/call path)",
        "",
        f"- `bench/guard_bench.sh`: a generated {g['doc_bytes'] / 1048576:.1f} MiB JSON array of objects fed in "
        f"{g['chunk_bytes'] // 1024} KiB chunks, median of {g['reps']} repetitions, one core",
        "",
        "| configuration | MB/s | output bytes |",
        "|---|---:|---:|",
        f"| trim, default limits (50 items kept, the rest scanned and counted) | {g['trim_default_mb_s']} | {g['trim_default_out_bytes']:,} |",
        f"| trim, limits above the document (a validated copy) | {g['trim_copy_mb_s']} | {g['trim_copy_out_bytes']:,} |",
        f"| jansson json_loadb + json_dumpb, same document, same run | {g['jansson_load_dump_mb_s']} | |",
        "",
        f"- Guard / jansson: {g['speedup_vs_jansson']}x; goal: >= 500 MB/s per core.",
        "",
    ]
open(os.path.join(root, "BENCHMARKS.md"), "w").write("\n".join(lines))
