"""Memory of one mcpbridge worker: RSS idle and with N open keep-alive connections.

usage: memory.py MCPBRIDGE SPEC N OUT_JSON
Starts `mcpbridge serve` (1 worker) on a free 127.0.0.1 port, reads the worker's VmRSS, opens N
connections (each sends one /healthz request so it is a real keep-alive HTTP connection, then
idles), reads VmRSS again, closes everything and stops the server. Raises RLIMIT_NOFILE itself.
"""
import json, os, resource, socket, subprocess, sys, tempfile, time

binary, spec, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if hard < n + 100:
    sys.exit(f"memory.py: open-file limit {hard} is below {n + 100}")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

port = free_port()
tmp = tempfile.mkdtemp(prefix="mbmem.")
cfg = os.path.join(tmp, "config.json")
with open(cfg, "w") as f:
    json.dump({"api": {"openapi": {"spec_file": spec, "base_url": "http://127.0.0.1:9"}},
               "runtime": {"server": {"transport": {"port": port},
                                      "timeouts": {"header_ms": 120000, "idle_ms": 120000}}},
               "observability": {"logging": {"level": "WARNING"}}}, f)
master = subprocess.Popen([binary, "serve", "--config", cfg, "--workers", "1"], stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
        except OSError:
            time.sleep(0.05)
    worker = int(subprocess.check_output(["pgrep", "-P", str(master.pid)]).split()[0])
    time.sleep(0.5)
    idle = rss_kib(worker)
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        socks.append(s)
    for s in socks:
        s.settimeout(5)
        assert b"200" in s.recv(4096)[:16], "every connection got its answer"
    time.sleep(0.5)
    loaded = rss_kib(worker)
    for s in socks:
        s.close()
    result = {"idle_worker_rss_kib": idle, "connections": n, "worker_rss_kib_with_connections": loaded,
              "per_connection_bytes": round((loaded - idle) * 1024 / n)}
    print(json.dumps(result))
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
finally:
    master.terminate(); master.wait(timeout=15)
