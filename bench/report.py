"""Benchmark results: raw wrk lines to JSON, JSON to BENCHMARKS.md (run by bench/run.sh).

usage:
  report.py median RAW PART CONFIG FIELD      median of FIELD (rps, p50, p99) over the rows
  report.py collect TMPDIR RESULTS_DIR --stamp S --machine M --rounds R --duration D --conns C
                    --sweep-duration SD --fd-limit F --ncpu N
        reads TMPDIR/raw (lines "part config x rps p50_ms p99_ms connect:read:write:timeout non2xx
        bad transfer_bytes_per_s connections" from bench/run.sh's wrk_run), TMPDIR/fixed-meta,
        TMPDIR/conc-notes,
        TMPDIR/payload-bytes, TMPDIR/list-bytes and TMPDIR/memory.json; writes
        RESULTS_DIR/latest-{toolscall,fixed-rate,concurrency,payload,toolslist,memory}.json for
        the parts that ran (each with date, machine, command and load) and archives
        RESULTS_DIR/<stamp>-toolscall.json and <stamp>-sweeps.json. Prints a summary.
  report.py render RESULTS_DIR OUT_MD [--elapsed SECONDS] [--no-plots]
        writes OUT_MD from RESULTS_DIR/latest-*.json (and latest-peers.json from bench/peers.sh
        when present), after drawing the PNG plots with bench/plot.py (gnuplot) into RESULTS_DIR.
"""
import argparse, json, os, statistics, subprocess, sys

FIELDS = ("part", "config", "x", "rps", "p50_ms", "p99_ms", "socket_errors", "non2xx", "bad",
          "transfer_bytes_per_s", "connections")
WORKERS = {"direct": 1, "nginx_proxy": 1, "mcpbridge_1w": 1, "mcpbridge_1w_jwt": 1}
DESCRIBE = {
    "direct": "wrk to the downstream nginx (the limit)",
    "nginx_proxy": "nginx `proxy_pass`, upstream keep-alive 64, 1 worker (the C proxy floor)",
    "mcpbridge_1w": "MCP `tools/call` over Streamable HTTP with a session, 1 worker, each call a downstream GET",
    "mcpbridge_1w_jwt": "the same with JWT authentication on (service account, Ed25519 token on every request)",
    "nginx_proxy_cpu": "nginx `proxy_pass`, `worker_processes` = cores",
    "mcpbridge_cpu": "mcpbridge `--workers cpu` (one worker per core)",
}


def read_raw(path):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path):
        f = line.split()
        if len(f) != len(FIELDS):
            continue
        r = dict(zip(FIELDS, f))
        r["socket_detail"] = dict(zip(("connect", "read", "write", "timeout"), map(int, r["socket_errors"].split(":"))))
        r["socket_errors"] = sum(r["socket_detail"].values())
        for k in FIELDS[3:]:
            r[k] = float(r[k])
        rows.append(r)
    return rows


def med(rows, field):
    return statistics.median(r[field] for r in rows)


def point(r, **extra):
    p = {"rps": round(r["rps"], 1), "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "connections": int(r["connections"])}
    errs = {f"socket_{k}": v for k, v in r["socket_detail"].items() if v}
    errs.update({k: int(r[k]) for k in ("non2xx", "bad") if r[k]})
    if errs:
        p["errors"] = errs
    p.update(extra)
    return p


def cmd_median(a):
    rows = [r for r in read_raw(a[0]) if r["part"] == a[1] and r["config"] == a[2]]
    if not rows:
        sys.exit(f"report.py median: no rows for {a[1]} {a[2]}")
    print(med(rows, {"rps": "rps", "p50": "p50_ms", "p99": "p99_ms"}[a[3]]))


def write(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(json.dumps(doc, indent=2) + "\n")


def cmd_collect(argv):
    ap = argparse.ArgumentParser(prog="report.py collect")
    ap.add_argument("tmp"); ap.add_argument("out")
    for k in ("stamp", "machine", "rounds", "duration", "conns", "sweep-duration", "fd-limit", "ncpu"):
        ap.add_argument("--" + k, required=True)
    a = ap.parse_args(argv)
    rows = read_raw(os.path.join(a.tmp, "raw"))
    part = lambda p: [r for r in rows if r["part"] == p]
    ncpu = int(a.ncpu)
    workers = dict(WORKERS, nginx_proxy_cpu=ncpu, mcpbridge_cpu=ncpu)
    base = {"date": a.stamp, "machine": a.machine, "command": "make bench (bench/run.sh)"}
    meta = {}
    mp = os.path.join(a.tmp, "fixed-meta")
    if os.path.exists(mp):
        meta = {l.split()[0]: int(l.split()[1]) for l in open(mp) if l.strip()}
    sweeps = {}

    main = part("main")
    if main:
        res = {}
        for name in dict.fromkeys(r["config"] for r in main):
            v = [r for r in main if r["config"] == name]
            res[name] = {"rps": med(v, "rps"), "p50_ms": med(v, "p50_ms"), "p99_ms": med(v, "p99_ms"),
                         "rounds": len(v), "workers": workers.get(name, 1), "rps_rounds": [r["rps"] for r in v]}
        ratio = lambda x, y: round(res[x]["rps"] / res[y]["rps"], 3) if x in res and y in res else None
        for key, x, y in (("ratio_mcpbridge_to_nginx_proxy", "mcpbridge_1w", "nginx_proxy"),
                          ("ratio_mcpbridge_to_direct", "mcpbridge_1w", "direct"),
                          ("ratio_jwt_auth_to_no_auth", "mcpbridge_1w_jwt", "mcpbridge_1w"),
                          ("ratio_mcpbridge_cpu_to_nginx_proxy_cpu", "mcpbridge_cpu", "nginx_proxy_cpu"),
                          ("ratio_mcpbridge_cpu_to_direct", "mcpbridge_cpu", "direct"),
                          ("ratio_mcpbridge_cpu_to_1w", "mcpbridge_cpu", "mcpbridge_1w")):
            if ratio(x, y) is not None:
                res[key] = ratio(x, y)
                # The same ratio within each round (configurations measured minutes apart can see
                # different background load; within a round they are seconds apart).
                per = {r["x"]: r["rps"] for r in main if r["config"] == x}
                res.setdefault("ratio_rounds", {})[key] = [
                    round(per[r["x"]] / r["rps"], 3) for r in main if r["config"] == y and r["x"] in per and r["rps"]]
        doc = dict(base, load=f"wrk -t1 -c{a.conns} -d{a.duration}s --latency (-s bench/toolscall.lua for MCP), "
                              f"{a.rounds} rounds alternating; medians", results=res)
        write(os.path.join(a.out, "latest-toolscall.json"), doc)
        write(os.path.join(a.out, f"{a.stamp}-toolscall.json"), doc)
        print(json.dumps(res, indent=2))

    ladder, half, ref = part("ladder"), part("half"), part("half_cpu_ref")
    if ladder or half:
        res = {"delay_ms_mean": 20, "ladder": [], "half_own_max": {}, "added_latency": {}}
        max_mb = med([r for r in main if r["config"] == "mcpbridge_1w"], "rps") if main else None
        for r in ladder:
            res["ladder"].append(point(r, config=r["config"], target_rps=int(r["x"]),
                                       fraction_of_mcpbridge_1w_max=round(int(r["x"]) / max_mb, 3) if max_mb else None))
        for r in half:
            res["half_own_max"][r["config"]] = point(r, target_rps=int(r["x"]))
        hx = meta.get("ladder_half")
        at = {r["config"]: r for r in ladder if int(r["x"]) == hx}
        if "mcpbridge_1w" in at:
            res["half_own_max"]["mcpbridge_1w"] = point(at["mcpbridge_1w"], target_rps=hx)
            for other in ("direct", "nginx_proxy"):
                if other in at:
                    res["added_latency"][f"mcpbridge_1w_over_{other}"] = {
                        "target_rps": hx, "p50_added_ms": round(at["mcpbridge_1w"]["p50_ms"] - at[other]["p50_ms"], 3),
                        "p99_added_ms": round(at["mcpbridge_1w"]["p99_ms"] - at[other]["p99_ms"], 3),
                        "p99_ms": at["mcpbridge_1w"]["p99_ms"], f"{other}_p99_ms": at[other]["p99_ms"]}
            if "nginx_proxy" in at and "direct" in at:
                res["added_latency"]["nginx_proxy_over_direct"] = {
                    "target_rps": hx, "p50_added_ms": round(at["nginx_proxy"]["p50_ms"] - at["direct"]["p50_ms"], 3),
                    "p99_added_ms": round(at["nginx_proxy"]["p99_ms"] - at["direct"]["p99_ms"], 3)}
        cpu = res["half_own_max"].get("mcpbridge_cpu")
        if cpu and ref:
            res["added_latency"]["mcpbridge_cpu_over_direct"] = {
                "target_rps": cpu["target_rps"], "p50_added_ms": round(cpu["p50_ms"] - ref[0]["p50_ms"], 3),
                "p99_added_ms": round(cpu["p99_ms"] - ref[0]["p99_ms"], 3), "p99_ms": cpu["p99_ms"],
                "direct_p99_ms": ref[0]["p99_ms"]}
        doc = dict(base, load=f"wrk -t1 -d{a.sweep_duration}s --latency -s bench/toolscall.lua with delay(): each "
                              "connection waits a random 0.5..1.5 x 20 ms before each request; connections = "
                              "target_rps x 20 / 1000; one run per point; fractions of the main part's medians",
                   results=res)
        write(os.path.join(a.out, "latest-fixed-rate.json"), doc)
        sweeps["fixed_rate"] = doc
        print("fixed rate, added latency:", json.dumps(res["added_latency"]))

    conc = part("concurrency")
    if conc:
        res = {}
        for r in conc:
            res.setdefault(r["config"], []).append(point(r))
        levels = sorted({int(r["connections"]) for r in conc})
        get = lambda c, n: next((p for p in res.get(c, []) if p["connections"] == n), None)
        res["ratio_mcpbridge_to_nginx_proxy"] = {
            str(n): round(get("mcpbridge_1w", n)["rps"] / get("nginx_proxy", n)["rps"], 3)
            for n in levels if get("mcpbridge_1w", n) and get("nginx_proxy", n) and get("nginx_proxy", n)["rps"]}
        notes_path = os.path.join(a.tmp, "conc-notes")
        notes = [l.strip() for l in open(notes_path)] if os.path.exists(notes_path) else []
        doc = dict(base, load=f"wrk -t2 -cN -d{a.sweep_duration}s (+2 s at 10,000) --latency --timeout 10s, "
                              "N = 100, 1,000, 10,000; one run per point, configurations alternating",
                   results=res, notes=notes)
        write(os.path.join(a.out, "latest-concurrency.json"), doc)
        sweeps["concurrency"] = doc
        print("concurrency:", json.dumps(res["ratio_mcpbridge_to_nginx_proxy"]))

    pay = part("payload")
    if pay:
        sizes = {}
        bp = os.path.join(a.tmp, "payload-bytes")
        if os.path.exists(bp):
            sizes = {int(l.split()[1]): int(l.split()[2]) for l in open(bp) if l.strip()}
        res = {}
        for r in pay:
            extra = {"bytes": int(r["x"]), "transfer_bytes_per_s": r["transfer_bytes_per_s"]}
            if r["config"].startswith("mcpbridge") and int(r["x"]) in sizes:
                extra["mcp_response_bytes"] = sizes[int(r["x"])]
            res.setdefault(r["config"], []).append(point(r, **extra))
        get = lambda c, n: next((p for p in res.get(c, []) if p["bytes"] == n), None)
        res["ratio_mcpbridge_to_nginx_proxy"] = {
            str(n): round(get("mcpbridge_1w", n)["rps"] / get("nginx_proxy", n)["rps"], 3)
            for n in sorted({int(r["x"]) for r in pay}) if get("mcpbridge_1w", n) and get("nginx_proxy", n)}
        doc = dict(base, load=f"wrk -t1 -c{a.conns} -d{a.sweep_duration}s --latency; one run per point; mcpbridge: "
                              "tools/call getPayload, response guard on (trim) with max_array_items 1000000 and "
                              "max_response_bytes 8 MiB (above every document: nothing trimmed)", results=res)
        write(os.path.join(a.out, "latest-payload.json"), doc)
        sweeps["payload"] = doc
        print("payload:", json.dumps(res["ratio_mcpbridge_to_nginx_proxy"]))

    tl = part("toolslist")
    if tl:
        lb = open(os.path.join(a.tmp, "list-bytes")).read().split()
        res = {"rps": med(tl, "rps"), "p50_ms": med(tl, "p50_ms"), "p99_ms": med(tl, "p99_ms"), "runs": len(tl),
               "catalog_tools": 1000, "page_size": int(lb[1]), "page_bytes": int(lb[2])}
        doc = dict(base, load=f"wrk -t1 -c{a.conns} -d3s --latency -s bench/toolscall.lua (MB_BODY = tools/list, "
                              f"no cursor), {len(tl)} runs, medians", results=res)
        write(os.path.join(a.out, "latest-toolslist.json"), doc)
        sweeps["toolslist"] = doc
        print("tools/list:", json.dumps(res))

    mem = os.path.join(a.tmp, "memory.json")
    if os.path.exists(mem):
        m = json.load(open(mem))
        doc = dict(base, load="bench/memory.py: one worker; Python sockets, each sending one GET /healthz then "
                              "idling; at each step a new connection makes a session and one tools/call", **m)
        write(os.path.join(a.out, "latest-memory.json"), doc)
        sweeps["memory"] = doc
    if sweeps:
        write(os.path.join(a.out, f"{a.stamp}-sweeps.json"), dict(base, figures=sweeps))


def load(results, name):
    p = os.path.join(results, f"latest-{name}.json")
    return json.load(open(p)) if os.path.exists(p) else None


def verdict(ok):
    return "**met**" if ok else "**not met**"


def cmd_render(argv):
    ap = argparse.ArgumentParser(prog="report.py render")
    ap.add_argument("results"); ap.add_argument("out")
    ap.add_argument("--elapsed", type=int); ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args(argv)
    R = a.results
    tc, fx, cc, pl, tl, mm, pe = (load(R, n) for n in ("toolscall", "fixed-rate", "concurrency", "payload",
                                                         "toolslist", "memory", "peers"))
    plots = {}
    if not a.no_plots:
        out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot.py"), R],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write("report.py: plot.py failed:\n" + out.stderr)
        else:
            plots = json.loads(out.stdout or "{}")
    rel = os.path.relpath(R, os.path.dirname(os.path.abspath(a.out)))
    img = lambda key, alt: [f"![{alt}]({rel}/{plots[key]})", ""] if key in plots else []
    stamp = lambda d: f"- Date: {d['date']}; machine: {d['machine']}; command: `{d['command']}`"
    L = ["# Benchmarks", "",
         "Produced by `make bench` (`bench/run.sh`, sweeps in `bench/sweeps.sh`); raw figures in `bench/results/`",
         "(`latest-*.json`, each with its date, machine, command and load), plots drawn by `bench/plot.py` (gnuplot).",
         "Everything runs on 127.0.0.1: one downstream (nginx serving fixture JSON), one load generator (wrk;",
         "`bench/toolscall.lua` speaks JSON-RPC over Streamable HTTP with a session made beforehand).",
         "wrk, nginx and mcpbridge share the machine's cores, so absolute figures are low and noisy; the ratios",
         "from the same run are what to compare."
         + (f" The whole run took {a.elapsed // 60} min {a.elapsed % 60} s." if a.elapsed else ""), ""]
    head = len(L)

    goals = []
    if tc:
        res = tc["results"]
        L += ["## tools/call throughput", "", stamp(tc), f"- Load: {tc['load']}; downstream: nginx serving a 0.6 KB JSON document",
              "- Downstream pools: mcpbridge keeps 64 idle downstream connections per worker "
              "(`runtime.http.limits.max_keepalive_connections`), like the nginx proxy's `keepalive 64`.", "",
              "| configuration | workers | req/s | p50 ms | p99 ms | what |", "|---|---:|---:|---:|---:|---|"]
        for name in ("direct", "nginx_proxy", "mcpbridge_1w", "mcpbridge_1w_jwt", "nginx_proxy_cpu", "mcpbridge_cpu"):
            if name in res:
                v = res[name]
                L.append(f"| {name} | {v.get('workers', 1)} | {v['rps']:.0f} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} | {DESCRIBE[name]} |")
        L.append("")
        for key, label in (("ratio_mcpbridge_to_nginx_proxy", "mcpbridge / nginx proxy_pass, 1 worker each"),
                           ("ratio_mcpbridge_cpu_to_nginx_proxy_cpu", "mcpbridge / nginx proxy_pass, one worker per core each"),
                           ("ratio_mcpbridge_to_direct", "mcpbridge (1 worker) / direct"),
                           ("ratio_mcpbridge_cpu_to_1w", "mcpbridge cpu workers / 1 worker"),
                           ("ratio_jwt_auth_to_no_auth", "JWT authentication on / off (goal: cost under 5%, >= 0.95)")):
            if key in res:
                rr = res.get("ratio_rounds", {}).get(key, [])
                L.append(f"- {label}: **{res[key]:.3f}**" + (f" (ratio of the medians; each round: {', '.join(f'{x:.2f}' for x in rr)})" if len(rr) > 1 else ""))
        L.append("")
        if "ratio_mcpbridge_to_nginx_proxy" in res:
            r1 = res["ratio_mcpbridge_to_nginx_proxy"]
            goals.append(("tools/call throughput >= 80% of nginx proxy_pass, 1 worker each", f"{r1:.2f}", verdict(r1 >= 0.8)))
        if "ratio_mcpbridge_cpu_to_nginx_proxy_cpu" in res:
            r2 = res["ratio_mcpbridge_cpu_to_nginx_proxy_cpu"]
            goals.append(("tools/call throughput >= 80% of nginx proxy_pass, one worker per core each", f"{r2:.2f}", verdict(r2 >= 0.8)))

    if pe:
        pr = pe.get("results", {})
        L += ["## Peers (bench/peers.sh)", ""]
        if "date" in pe:
            L.append(stamp(pe))
        if pe.get("load"):
            L.append(f"- Load: {pe['load']}")
        L += ["", "| configuration | req/s | p50 ms | p99 ms | other |", "|---|---:|---:|---:|---|"]
        main_keys = ("rps", "p50_ms", "p99_ms", "rounds")
        long_notes = []
        for name, v in pr.items():
            if name.startswith("ratio"):
                continue
            if isinstance(v, dict) and isinstance(v.get("rps"), (int, float)):
                def fmt(k, x):
                    if k.endswith("_kib") and isinstance(x, (int, float)):
                        return f"{k[:-4]} {x / 1024:.1f} MB"
                    return f"{k} {x}"
                other = ", ".join(fmt(k, x) for k, x in v.items()
                                  if k not in main_keys and isinstance(x, (int, float, str)) and len(str(x)) <= 80)
                long_notes += [f"{name}, {k}: {x}" for k, x in v.items() if isinstance(x, str) and len(x) > 80]
                num = lambda k: f"{v[k]:.3f}" if isinstance(v.get(k), (int, float)) else ""
                L.append(f"| {name} | {v['rps']:.0f} | {num('p50_ms')} | {num('p99_ms')} | {other} |")
            else:
                err = v.get("error", v) if isinstance(v, dict) else v
                L.append(f"| {name} | did not run | | | |")
                long_notes.append(f"{name}: {err}")
        L.append("")
        L += [f"- {n}" for n in long_notes]
        for name, v in pr.items():
            if name.startswith("ratio") and isinstance(v, (int, float)):
                L.append(f"- {name[len('ratio_'):].replace('_to_', ' / ')}: **{v}**")
        for key in ("notes", "note"):
            v = pe.get(key)
            if v:
                L += [f"- {n}" for n in (v if isinstance(v, list) else [v])]
        L.append("")
        r = pr.get("ratio_mcpbridge_to_node_sdk_peer")
        if isinstance(r, (int, float)):
            goals.append(("tools/call throughput >= 10x the Node SDK peer (bench/peers.sh, same load, its own rounds)",
                          f"{r:.1f}x", verdict(r >= 10)))
        else:
            goals.append(("tools/call throughput >= 10x the Node SDK peer", "no ratio in latest-peers.json", "**not measured**"))
    else:
        goals.append(("tools/call throughput >= 10x the Node SDK peer", "not measured (no bench/results/latest-peers.json)", "**not measured**"))
    L += img("toolscall", "tools/call throughput by configuration")

    if fx:
        res = fx["results"]
        L += ["## Latency at fixed request rates", "", stamp(fx), f"- Load: {fx['load']}",
              "- wrk is closed-loop; `delay()` paces each connection, so the offered rate is fixed as long as the",
              "  server keeps up (the measured rate is shown). Latency is from sending a request to its last byte.", "",
              "| configuration | offered req/s | measured req/s | connections | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|"]
        for p in sorted(res["ladder"], key=lambda p: (p["target_rps"], p["config"])):
            L.append(f"| {p['config']} | {p['target_rps']} | {p['rps']:.0f} | {p['connections']} | {p['p50_ms']:.3f} | {p['p99_ms']:.3f} |")
        L += ["", "At half of each configuration's own maximum (the main table's median):", "",
              "| configuration | offered req/s | measured req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
        for name, p in res["half_own_max"].items():
            L.append(f"| {name} | {p['target_rps']} | {p['rps']:.0f} | {p['p50_ms']:.3f} | {p['p99_ms']:.3f} |")
        L.append("")
        for name, d in res["added_latency"].items():
            L.append(f"- added latency {name.replace('_over_', ' over ')} at {d['target_rps']} req/s: "
                     f"p50 {d['p50_added_ms']:+.3f} ms, p99 **{d['p99_added_ms']:+.3f} ms**")
        L.append("")
        L += img("fixed", "p50 and p99 latency at fixed request rates")
        for key, label in (("mcpbridge_1w_over_direct", "1 worker"), ("mcpbridge_cpu_over_direct", "one worker per core")):
            d = res["added_latency"].get(key)
            if d:
                goals.append((f"p99 added latency over direct < 1 ms at half of the maximum rate ({label}, {d['target_rps']} req/s)",
                              f"{d['p99_added_ms']:+.3f} ms", verdict(d["p99_added_ms"] < 1)))

    if cc:
        res = cc["results"]
        L += ["## Cost with concurrency", "", stamp(cc), f"- Load: {cc['load']}; tools/call (mcpbridge, 1 worker) vs the same GET "
              "through nginx proxy_pass (1 worker) and direct; all configurations keep their main-table settings (mcpbridge: "
              "at most 100 downstream connections, calls above that queue; nginx proxy: no cap, opens what it needs)", "",
              "| connections | configuration | req/s | p50 ms | p99 ms | errors |", "|---:|---|---:|---:|---:|---|"]
        for n in sorted({p["connections"] for k, v in res.items() if isinstance(v, list) for p in v}):
            for name in ("direct", "nginx_proxy", "mcpbridge_1w"):
                p = next((p for p in res.get(name, []) if p["connections"] == n), None)
                if p:
                    e = ", ".join(f"{k} {v}" for k, v in p.get("errors", {}).items()) or "0"
                    L.append(f"| {n:,} | {name} | {p['rps']:.0f} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {e} |")
        L += ["", "- mcpbridge / nginx proxy_pass by connections: " +
              ", ".join(f"{int(k):,}: **{v:.2f}**" for k, v in res["ratio_mcpbridge_to_nginx_proxy"].items())]
        L += [f"- {n}" for n in cc.get("notes", [])] + [""]
        L += img("conc_rps", "throughput vs concurrency") + img("conc_p99", "p99 vs concurrency")

    if pl:
        res = pl["results"]
        L += ["## Cost with payload size", "", stamp(pl), f"- Load: {pl['load']}",
              "- Documents from `bench/fixtures/gen_payloads.py`: `{\"total\":n,\"items\":[...]}` of catalog records, exactly 1 KiB,",
              "  10 KiB, 100 KiB and 1 MiB. MCP response = the document twice (text content and structuredContent) plus the envelope.", "",
              "| document | configuration | req/s | p50 ms | p99 ms | response MB/s |", "|---:|---|---:|---:|---:|---:|"]
        for n in sorted({p["bytes"] for v in res.values() if isinstance(v, list) for p in v}):
            for name in ("direct", "nginx_proxy", "mcpbridge_1w"):
                p = next((p for p in res.get(name, []) if p["bytes"] == n), None)
                if p:
                    L.append(f"| {n:,} B | {name} | {p['rps']:.0f} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['transfer_bytes_per_s'] / 1e6:.1f} |")
        L += ["", "- mcpbridge / nginx proxy_pass by document size: " +
              ", ".join(f"{int(k):,} B: **{v:.2f}**" for k, v in res["ratio_mcpbridge_to_nginx_proxy"].items()), ""]
        L += img("payload", "throughput vs payload size")

    if tl:
        r = tl["results"]
        L += ["## tools/list on a 1000-tool catalog", "", stamp(tl), f"- Load: {tl['load']}",
              f"- Catalog: `bench/tools1000.py` (1000 GET operations, each with a path and two query parameters); "
              f"pages of {r['page_size']} tools, the first page is {r['page_bytes']:,} bytes of JSON-RPC response", "",
              "| figure | req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|",
              f"| tools/list, first page | {r['rps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |", ""]

    if mm:
        L += ["## Memory per worker and connections held", "",
              (stamp(mm) if "date" in mm else "- `bench/memory.py`") + "; one worker, RSS from /proc/<pid>/status",
              f"- Load: {mm.get('load', 'bench/memory.py')}", ""]
        if "steps" in mm:
            L += ["| open connections | worker RSS | per connection | tools/call still answers |", "|---:|---:|---:|---|",
                  f"| 0 (idle) | {mm['idle_worker_rss_kib'] / 1024:.1f} MB | | "
                  f"{'yes, %.2f ms' % mm['idle_tools_call_ms'] if mm.get('idle_tools_call_ok') else 'no'} |"]
            for s in mm["steps"]:
                L.append(f"| {s['connections']:,} | {s['worker_rss_kib'] / 1024:.1f} MB | {s['per_connection_bytes']} B | "
                         f"{'yes, %.2f ms' % s['tools_call_ms'] if s['tools_call_ok'] else '**no**'} |")
            L += ["", f"- Most connections one worker held while still answering: **{mm['most_connections_answering']:,}**, "
                  f"the highest step tried: the open-file limit here is {mm['open_file_limit']:,} (hard limit of this "
                  "container, not raisable without CAP_SYS_RESOURCE), and each idle connection costs one descriptor on "
                  "each side; memory is not what bounds it.", ""]
        L += ["| figure | measured | goal | documented system |", "|---|---:|---:|---:|",
              f"| idle worker RSS | {mm['idle_worker_rss_kib'] / 1024:.1f} MB | < 8 MB | 100-200 MB |",
              f"| worker RSS with {mm['connections']:,} open keep-alive connections | {mm['worker_rss_kib_with_connections'] / 1024:.1f} MB "
              "| < 64 MB | ~1000 connections per worker |", ""]
        L += img("memory", "worker RSS vs open connections")
        goals.append(("idle RSS < 8 MB per worker", f"{mm['idle_worker_rss_kib'] / 1024:.1f} MB", verdict(mm["idle_worker_rss_kib"] < 8 * 1024)))
        goals.append((f"{mm['connections']:,} connections per worker < 64 MB", f"{mm['worker_rss_kib_with_connections'] / 1024:.1f} MB",
                      verdict(mm["worker_rss_kib_with_connections"] < 64 * 1024 and mm["connections"] >= 10000)))

    o = load(R, "openapi-load")
    if o:
        L += ["## OpenAPI conversion of a large real spec", "",
              f"- Date: {o['date']}; `bench/openapi_load.sh`: `{o['command']}`, {o['runs']} runs",
              f"- Spec: {o['spec']} ({o['spec_bytes'] / 1e6:.1f} MB), {o['tools']} tools with every method enabled", "",
              "| figure | measured | goal |", "|---|---:|---:|",
              f"| median wall time (load, convert, write the JSON listing) | {o['median_wall_s']:.2f} s | < 1 s |",
              f"| peak RSS | {o['peak_rss_kib'] / 1024:.0f} MB | |", ""]
    g = load(R, "guard")
    if g:
        L += ["## Response guard throughput (core)", "",
              f"- `bench/guard_bench.sh`: a generated {g['doc_bytes'] / 1048576:.1f} MiB JSON array of objects fed in "
              f"{g['chunk_bytes'] // 1024} KiB chunks, median of {g['reps']} repetitions, one core", "",
              "| configuration | MB/s | output bytes |", "|---|---:|---:|",
              f"| trim, default limits (50 items kept, the rest scanned and counted) | {g['trim_default_mb_s']} | {g['trim_default_out_bytes']:,} |",
              f"| trim, limits above the document (a validated copy) | {g['trim_copy_mb_s']} | {g['trim_copy_out_bytes']:,} |",
              f"| jansson json_loadb + json_dumpb, same document, same run | {g['jansson_load_dump_mb_s']} | |", "",
              f"- Guard / jansson: {g['speedup_vs_jansson']}x; goal: >= 500 MB/s per core.", ""]

    if goals:
        G = ["## Goals of issue 7", "", "| goal | measured | verdict |", "|---|---:|---|"]
        G += [f"| {g} | {m} | {v} |" for g, m, v in goals] + [""]
        L[head:head] = G
    with open(a.out, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    {"median": cmd_median, "collect": cmd_collect, "render": cmd_render}[cmd](rest)
