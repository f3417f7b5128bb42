#!/usr/bin/env python3
"""Times `mcpbridge tools --spec SPEC --json --all-methods > /dev/null` RUNS times; median wall
time and peak RSS (from /usr/bin/time -v when present, else the child's rusage via os.wait4).
usage: openapi_load.py BIN SPEC RUNS PKG_VERSION OUT_JSON   (called by bench/openapi_load.sh)"""
import json, os, re, statistics, subprocess, sys, tempfile, time, datetime

bin_, spec, runs, version, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
cmd = [bin_, "tools", "--spec", spec, "--json", "--all-methods"]
gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

def run_once():
    """(wall seconds, peak RSS KiB) of one run; stdout to /dev/null, fails on a non-zero exit."""
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as err:
        argv = ([gnu_time, "-v"] + cmd) if gnu_time else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=null, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if p.returncode != 0:
        sys.exit(f"openapi_load: {' '.join(cmd)} exited {p.returncode}\n{text[-2000:]}")
    rss = usage.ru_maxrss  # KiB on Linux
    if gnu_time:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        if m:
            rss = int(m.group(1))
    return wall, rss

tools = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)  # also warms the page cache
samples = [run_once() for _ in range(runs)]
walls = [w for w, _ in samples]
rss = [r for _, r in samples]
result = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ"),
    "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}",
    "command": "mcpbridge tools --spec api.github.com.json --json --all-methods > /dev/null",
    "spec": f"@octokit/openapi@{version} generated/api.github.com.json",
    "spec_bytes": os.path.getsize(spec),
    "tools": len(tools),
    "runs": runs,
    "wall_s": [round(w, 4) for w in walls],
    "median_wall_s": round(statistics.median(walls), 4),
    "peak_rss_kib": max(rss),
    "median_rss_kib": int(statistics.median(rss)),
    "rss_source": "/usr/bin/time -v" if gnu_time else "os.wait4 rusage",
}
with open(out, "w") as f:
    f.write(json.dumps(result, indent=2) + "\n")
print(f"openapi load: GitHub REST spec ({result['spec_bytes'] / 1e6:.1f} MB, {result['tools']} tools, all methods): "
      f"median {result['median_wall_s']:.3f} s over {runs} runs, peak RSS {result['peak_rss_kib'] / 1024:.1f} MiB")
print(f"openapi load: wrote {out}")
