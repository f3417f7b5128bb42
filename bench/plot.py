"""PNG plots of the benchmark results with gnuplot (run by bench/report.py render).

usage: plot.py RESULTS_DIR
Reads RESULTS_DIR/latest-*.json and draws, for the figures present:
  toolscall-throughput.png   tools/call req/s by configuration (bars; peers from latest-peers.json)
  fixed-rate-latency.png     p50 and p99 vs offered request rate (direct, nginx proxy, mcpbridge)
  concurrency-throughput.png req/s vs open connections (100 .. 10,000)
  concurrency-p99.png        p99 vs open connections
  payload-throughput.png     req/s vs document size (1 KiB .. 1 MiB)
  memory-connections.png     worker RSS vs open idle connections
Each plot carries the machine, the command and the date of its figure at the bottom. Prints a
JSON object {key: file name} of the plots drawn on stdout. Needs gnuplot (pngcairo, else png).
"""
import json, os, shutil, subprocess, sys, tempfile

R = sys.argv[1]
load = lambda n: json.load(open(os.path.join(R, f"latest-{n}.json"))) if os.path.exists(os.path.join(R, f"latest-{n}.json")) else None
terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
term = "pngcairo size 960,600 font 'sans,10'" if "pngcairo" in terms.stdout + terms.stderr else "png size 960,600"
COLORS = {"direct": "#4d4d4d", "nginx_proxy": "#1f77b4", "mcpbridge_1w": "#d62728", "nginx_proxy_cpu": "#17becf",
          "mcpbridge_cpu": "#ff7f0e", "mcpbridge_1w_jwt": "#9467bd"}
work = tempfile.mkdtemp(prefix="mbplot.")
drawn = {}


def esc(s):
    return str(s).replace('"', "'")


def footer(doc):
    return f'set label 99 "{esc(doc["machine"])} | {esc(doc["command"])} | {esc(doc["date"])}" at screen 0.01,0.015 font ",8" tc rgb "#555555"'


def draw(key, fname, doc, body, series):
    """series: list of (data_rows, plot_clause) where plot_clause uses '$D<i>' data blocks."""
    script = [f"set terminal {term}", f"set output '{os.path.join(R, fname)}'", "set grid", "set key top left",
              "set bmargin 5", footer(doc), "set termoption noenhanced"] + body
    for i, (rows, _) in enumerate(series):
        script.append(f"$D{i} << EOD")
        script += [" ".join(str(v) for v in r) for r in rows]
        script.append("EOD")
    script.append("plot " + ", ".join(clause.replace("$D", f"$D{i}") for i, (_, clause) in enumerate(series)))
    path = os.path.join(work, key + ".gp")
    open(path, "w").write("\n".join(script) + "\n")
    r = subprocess.run(["gnuplot", path], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(f"plot.py: {key}: {r.stderr}")
        return
    drawn[key] = fname


tc, pe = load("toolscall"), load("peers")
if tc:
    res = tc["results"]
    rows = [(n, res[n]["rps"]) for n in ("direct", "nginx_proxy", "mcpbridge_1w", "mcpbridge_1w_jwt", "nginx_proxy_cpu", "mcpbridge_cpu") if n in res]
    if pe:
        for n, v in pe.get("results", {}).items():
            if not n.startswith("ratio") and not n.startswith("mcpbridge") and isinstance(v, dict) and "rps" in v:
                rows.append((n + " (peers.sh)", v["rps"]))
    draw("toolscall", "toolscall-throughput.png", tc,
         ["set title 'tools/call throughput (req/s; direct and nginx: the same GET without MCP)'", "set style fill solid 0.8",
          "set boxwidth 0.6", "set yrange [0:*]", "set xtics rotate by -25", "unset key", "set ylabel 'req/s'"],
         [([(i, f'"{n}"', v) for i, (n, v) in enumerate(rows)], "$D using 1:3:xtic(2) with boxes lc rgb '#1f77b4', "
           "'' using 1:3:(sprintf('%.0f',$3)) with labels offset 0,0.8")])

fx = load("fixed-rate")
if fx and fx["results"]["ladder"]:
    series = []
    for n in ("direct", "nginx_proxy", "mcpbridge_1w"):
        pts = sorted((p["target_rps"], p["rps"], p["p50_ms"], p["p99_ms"]) for p in fx["results"]["ladder"] if p["config"] == n)
        if pts:
            series.append((pts, f"$D using 1:4 with linespoints lw 2 pt 7 lc rgb '{COLORS[n]}' title '{n} p99'"))
            series.append((pts, f"$D using 1:3 with linespoints lw 1 dt 2 pt 6 lc rgb '{COLORS[n]}' title '{n} p50'"))
    draw("fixed", "fixed-rate-latency.png", fx,
         ["set title 'Latency at fixed request rates (wrk paced by delay(); fractions of mcpbridge 1-worker maximum)'",
          "set xlabel 'offered requests per second'", "set ylabel 'latency (ms, log scale)'", "set logscale y",
          "set xrange [0:*]"], series)

cc = load("concurrency")
if cc:
    res = cc["results"]
    for key, fname, col, title, ylabel in (("conc_rps", "concurrency-throughput.png", 2, "Throughput vs open connections", "req/s"),
                                           ("conc_p99", "concurrency-p99.png", 3, "p99 latency vs open connections", "p99 (ms)")):
        series = []
        for n in ("direct", "nginx_proxy", "mcpbridge_1w"):
            pts = sorted((p["connections"], p["rps"], p["p99_ms"]) for p in res.get(n, []))
            if pts:
                series.append((pts, f"$D using 1:{col} with linespoints lw 2 pt 7 lc rgb '{COLORS[n]}' title '{n}'"))
        draw(key, fname, cc, [f"set title '{title} (wrk -t2; mcpbridge tools/call vs the same GET)'", "set logscale x",
                              "set xrange [70:14000]", "set xtics ('100' 100, '1,000' 1000, '10,000' 10000)",
                              "set xlabel 'open connections'", f"set ylabel '{ylabel}'",
                              "set yrange [0:*]" if col == 2 else "set logscale y"], series)

pl = load("payload")
if pl:
    series = []
    for n in ("direct", "nginx_proxy", "mcpbridge_1w"):
        pts = sorted((p["bytes"], p["rps"]) for p in pl["results"].get(n, []))
        if pts:
            series.append((pts, f"$D using 1:2 with linespoints lw 2 pt 7 lc rgb '{COLORS[n]}' title '{n}'"))
    draw("payload", "payload-throughput.png", pl,
         ["set title 'Throughput vs document size (mcpbridge guard on, limits above the documents)'", "set logscale xy",
          "set xrange [700:1.5e6]", "set xtics ('1 KiB' 1024, '10 KiB' 10240, '100 KiB' 102400, '1 MiB' 1048576)",
          "set xlabel 'downstream document (bytes)'", "set ylabel 'req/s'", "set key top right"], series)

mm = load("memory")
if mm and "steps" in mm and "date" in mm:
    pts = [(0, mm["idle_worker_rss_kib"] / 1024)] + [(s["connections"], s["worker_rss_kib"] / 1024) for s in mm["steps"]]
    draw("memory", "memory-connections.png", mm,
         ["set title 'One worker: RSS vs open idle keep-alive connections (a tools/call answered at each step)'",
          "set xlabel 'open connections'", "set ylabel 'worker RSS (MB)'", "set yrange [0:*]", "set format x '%.0f'"],
         [(pts, "$D using 1:2 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'mcpbridge, 1 worker'")])

shutil.rmtree(work, ignore_errors=True)
print(json.dumps(drawn))
