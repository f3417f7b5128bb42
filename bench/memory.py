"""Memory and connection capacity of one mcpbridge worker (run by bench/run.sh).

usage: memory.py MCPBRIDGE SPEC STEPS OUT_JSON [BASE_URL]
STEPS: a connection count or a comma list of increasing counts (e.g. 1000,5000,10000,19800).
Starts `mcpbridge serve` (1 worker, max_connections_per_worker above the last step) on a free
127.0.0.1 port, reads the worker's VmRSS idle, then for each step opens connections up to that
count (each sends one /healthz request so it is a real keep-alive HTTP connection, then idles;
earlier steps' connections stay open), reads VmRSS again and, on one more connection, makes an
MCP session and one tools/call (getItem against BASE_URL, the benchmark downstream) and times it:
the worker must still answer while holding every connection. Raises RLIMIT_NOFILE to its hard
limit itself; the last step must fit under it (this process and the worker each hold one
descriptor per connection). Writes OUT_JSON with the idle RSS, each step and, for the step of
10,000 connections (or the closest), the keys the report's goal table reads.
"""
import http.client, json, os, resource, shutil, socket, subprocess, sys, tempfile, time

binary, spec, steps_arg, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
base_url = sys.argv[5] if len(sys.argv) > 5 else "http://127.0.0.1:9"
steps = [int(s) for s in steps_arg.split(",")]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if hard < steps[-1] + 50:
    sys.exit(f"memory.py: open-file limit {hard} is below {steps[-1] + 50}")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


def mcp(conn, body, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    if session:
        headers["Mcp-Session-Id"] = session
    conn.request("POST", "/mcp", json.dumps(body), headers)
    r = conn.getresponse()
    return r.status, r.getheader("Mcp-Session-Id"), r.read()


def tools_call(port):
    """A new connection: initialize, then one tools/call. Returns (ok, milliseconds of the call)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        status, session, _ = mcp(conn, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        if status != 200 or not session:
            return False, None
        t0 = time.perf_counter()
        status, _, body = mcp(conn, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": "getItem", "arguments": {"id": 1}}}, session)
        ms = (time.perf_counter() - t0) * 1000
        return status == 200 and b'"structuredContent"' in body, round(ms, 3)
    except OSError:
        return False, None
    finally:
        conn.close()


port = free_port()
tmp = tempfile.mkdtemp(prefix="mbmem.")
cfg = os.path.join(tmp, "config.json")
with open(cfg, "w") as f:
    json.dump({"api": {"openapi": {"spec_file": spec, "base_url": base_url}},
               "runtime": {"server": {"transport": {"port": port}, "max_connections_per_worker": steps[-1] + 100,
                                      "timeouts": {"header_ms": 600000, "idle_ms": 600000}}},
               "observability": {"logging": {"level": "WARNING"}}}, f)
master = subprocess.Popen([binary, "serve", "--config", cfg, "--workers", "1"], stderr=subprocess.DEVNULL)
socks = []
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
        except OSError:
            time.sleep(0.05)
    worker = int(subprocess.check_output(["pgrep", "-P", str(master.pid)]).split()[0])
    time.sleep(0.5)
    idle = rss_kib(worker)
    idle_ok, idle_ms = tools_call(port)
    result_steps = []
    for n in steps:
        fresh = []
        while len(socks) < n:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            socks.append(s); fresh.append(s)
        for s in fresh:
            s.settimeout(10)
            assert b"200" in s.recv(4096)[:16], "every connection got its answer"
        time.sleep(0.5)
        rss = rss_kib(worker)
        ok, ms = tools_call(port)
        result_steps.append({"connections": n, "worker_rss_kib": rss, "tools_call_ok": ok, "tools_call_ms": ms,
                             "per_connection_bytes": round((rss - idle) * 1024 / n)})
        print(f"  {n:6d} open connections: worker RSS {rss / 1024:6.1f} MB, tools/call "
              f"{'answered in %.2f ms' % ms if ok else 'FAILED'}", flush=True)
    ref = min(result_steps, key=lambda s: abs(s["connections"] - 10000))
    held = [s["connections"] for s in result_steps if s["tools_call_ok"]]
    result = {"idle_worker_rss_kib": idle, "idle_tools_call_ok": idle_ok, "idle_tools_call_ms": idle_ms,
              "connections": ref["connections"], "worker_rss_kib_with_connections": ref["worker_rss_kib"],
              "per_connection_bytes": ref["per_connection_bytes"], "steps": result_steps,
              "most_connections_answering": max(held) if held else 0, "open_file_limit": hard}
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
finally:
    for s in socks:
        s.close()
    master.terminate(); master.wait(timeout=15)
    shutil.rmtree(tmp, ignore_errors=True)
