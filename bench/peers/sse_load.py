"""Closed-loop tools/call load for a server whose POST answers 202 and whose result comes on SSE.

@ivotoby/openapi-mcp-server's HTTP transport answers a tools/call POST with "202 Accepted" and
an empty body; the JSON-RPC result is only written as an SSE event (`data: {...}`) on a GET /mcp
stream the client opened for the session. wrk cannot follow that, so this does what wrk does
(N keep-alive connections, each sending the next call as soon as the previous one completed)
with the completion taken from the SSE stream: a call is done when its POST was answered and the
event with its JSON-RPC id arrived. Latency = POST written -> both seen. Every id is unique (the
server maps ids to sessions in one table shared by all sessions). A server answering the POST
itself (200 with a JSON or text/event-stream body) is measured the same way, so the tool can be
run against any peer to see what the tool itself costs. Written on asyncio buffered protocols
(no streams, no per-read allocation) to keep the client's own CPU small: it shares the machine
with the servers.

usage: sse_load.py --url http://127.0.0.1:P/mcp --session SID --tool NAME [--conns 50]
                   [--duration 10] [--timeout 5] [--expect S] [--show]
prints one JSON object: requests, seconds, rps, p50_ms, p99_ms, bad (POSTs not answered 200/202,
timeouts, error or isError results, results without S), first_bad (one example, capped).
A successful result is a JSON-RPC result with a non-empty content list, no isError: true, and
(with --expect S) S in the first content item's text. --show adds the first successful result
message as "sample".
"""
import argparse, asyncio, json, time
from urllib.parse import urlsplit

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--session", required=True)
ap.add_argument("--tool", required=True)
ap.add_argument("--conns", type=int, default=50)
ap.add_argument("--duration", type=float, default=10.0)
ap.add_argument("--timeout", type=float, default=5.0)
ap.add_argument("--expect", default="", help="a string the first content item's text must contain")
ap.add_argument("--show", action="store_true", help="add the first successful result message to the output as sample")
args = ap.parse_args()
u = urlsplit(args.url)
host, port, path = u.hostname, u.port or 80, u.path or "/mcp"

HEAD = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {args.session}\r\n"
        f"MCP-Protocol-Version: 2025-06-18\r\nContent-Length: ").encode()
PREFIX = b'{"jsonrpc":"2.0","id":'
SUFFIX = (',"method":"tools/call","params":{"name":' + json.dumps(args.tool) + ',"arguments":{"id":1}}}').encode()

pending = {}     # JSON-RPC id -> Caller waiting for it
lat = []
stats = {"bad": 0, "first_bad": None, "sent": 0, "sample": None}
state = {"deadline": 0.0, "running": 0}
all_done = None  # future set when every caller stopped


def note_bad(what):
    stats["bad"] += 1
    if stats["first_bad"] is None:
        stats["first_bad"] = what[:300]


def ok_result(msg):
    r = msg.get("result") if isinstance(msg, dict) else None
    return (isinstance(r, dict) and not r.get("isError") and isinstance(r.get("content"), list) and len(r["content"]) > 0
            and isinstance(r["content"][0], dict) and args.expect in str(r["content"][0].get("text", "")))


def parse_head(buf):
    """-> (status, headers dict, header length) or None when incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, end + 4


def take_body(buf, start, hdrs):
    """-> (body bytes, end offset) or None when incomplete; chunked or Content-Length."""
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        out, pos = [], start
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0], 16)
            if len(buf) < eol + 2 + size + 2:
                return None
            if size == 0:
                # no trailers expected: "0\r\n\r\n"
                return b"".join(out), eol + 4
            out.append(buf[eol + 2:eol + 2 + size])
            pos = eol + 2 + size + 2
    n = int(hdrs.get("content-length", "0") or 0)
    if len(buf) < start + n:
        return None
    return buf[start:start + n], start + n


def data_of(text_bytes):
    return b"\n".join(l[5:].lstrip() for l in text_bytes.split(b"\n") if l.startswith(b"data:"))


class Reader(asyncio.BufferedProtocol):
    """Reads into one preallocated buffer: asyncio's plain Protocol allocates a 256 KiB bytes
    object per recv (an mmap/munmap pair per call), which made this client cost more CPU than
    the servers it measures."""

    def __init__(self):
        self.rbuf = bytearray(65536)
        self.view = memoryview(self.rbuf)

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        self.data_received(bytes(self.view[:nbytes]))


class Caller(Reader):
    """One keep-alive connection issuing one call at a time."""

    def __init__(self):
        super().__init__()
        self.buf = b""
        self.rid = None
        self.t0 = 0.0
        self.post_done = False
        self.result = None
        self.stopped = False

    def connection_made(self, transport):
        self.tr = transport
        state["running"] += 1
        self.send()

    def send(self):
        if time.monotonic() >= state["deadline"]:
            self.stop()
            return
        stats["sent"] += 1
        self.rid = stats["sent"]
        self.post_done, self.result = False, None
        pending[self.rid] = self
        body = PREFIX + str(self.rid).encode() + SUFFIX
        self.t0 = time.monotonic()
        self.tr.write(HEAD + str(len(body)).encode() + b"\r\n\r\n" + body)

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.tr.close()
            state["running"] -= 1
            if state["running"] == 0 and not all_done.done():
                all_done.set_result(True)

    def data_received(self, data):
        self.buf += data
        while self.buf:
            head = parse_head(self.buf)
            if head is None:
                return
            status, hdrs, hlen = head
            got = take_body(self.buf, hlen, hdrs)
            if got is None:
                return
            body, end = got
            self.buf = self.buf[end:]
            self.on_post_response(status, hdrs, body)

    def on_post_response(self, status, hdrs, body):
        if status == 200 and body:
            if "text/event-stream" in hdrs.get("content-type", ""):
                body = data_of(body)
            try:
                self.result = json.loads(body)
            except ValueError:
                self.result = {"unparsable": body[:200].decode("utf-8", "replace")}
            pending.pop(self.rid, None)
        elif status != 202:
            pending.pop(self.rid, None)
            note_bad(f"POST answered {status}: {body[:200].decode('utf-8', 'replace')}")
            self.send()
            return
        self.post_done = True
        self.maybe_finish()

    def on_result(self, msg):
        self.result = msg
        self.maybe_finish()

    def maybe_finish(self):
        if not self.post_done or self.result is None:
            return
        if ok_result(self.result):
            lat.append(time.monotonic() - self.t0)
            if args.show and stats["sample"] is None:
                stats["sample"] = self.result
        else:
            note_bad("not a successful tool result: " + json.dumps(self.result)[:250])
        self.send()

    def expire(self, now):
        if not self.stopped and now - self.t0 > args.timeout:
            pending.pop(self.rid, None)
            note_bad(f"no result for id {self.rid} within {args.timeout} s")
            self.stop()  # the connection may still carry a late answer: drop it

    def connection_lost(self, exc):
        if not self.stopped:
            note_bad(f"connection lost: {exc}")
            self.stop()


class Stream(Reader):
    """The session's GET /mcp SSE stream: results routed to callers by id."""

    def __init__(self):
        super().__init__()
        self.buf = b""
        self.head = None
        self.events = b""

    def connection_made(self, transport):
        transport.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                         f"Mcp-Session-Id: {args.session}\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n").encode())

    def data_received(self, data):
        self.buf += data
        if self.head is None:
            head = parse_head(self.buf)
            if head is None:
                return
            self.head = head
            if head[0] != 200:
                note_bad(f"GET stream answered {head[0]}")
            self.buf = self.buf[head[2]:]
            self.chunked = head[1].get("transfer-encoding", "").lower() == "chunked"
        if self.chunked:
            while True:
                eol = self.buf.find(b"\r\n")
                if eol < 0:
                    break
                size = int(self.buf[:eol].split(b";")[0], 16)
                if len(self.buf) < eol + 2 + size + 2:
                    break
                self.events += self.buf[eol + 2:eol + 2 + size]
                self.buf = self.buf[eol + 2 + size + 2:]
        else:
            self.events += self.buf
            self.buf = b""
        while True:
            cut = self.events.find(b"\n\n")
            if cut < 0:
                break
            event, self.events = self.events[:cut], self.events[cut + 2:]
            data = data_of(event)
            if not data:
                continue
            try:
                msg = json.loads(data)
            except ValueError:
                note_bad("unparsable SSE data: " + data[:200].decode("utf-8", "replace"))
                continue
            caller = pending.pop(msg.get("id"), None)
            if caller is not None:
                caller.on_result(msg)


async def main():
    global all_done
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    sse_tr, _ = await loop.create_connection(Stream, host, port)
    # The server registers the stream when the GET arrives but may send its headers only with
    # the first event (Node writes headers lazily), so the load starts after a short pause.
    await asyncio.sleep(0.3)
    start = time.monotonic()
    state["deadline"] = start + args.duration
    state["running"] = 0
    callers = []
    for _ in range(args.conns):
        _, c = await loop.create_connection(Caller, host, port)
        callers.append(c)
    while not all_done.done():
        try:
            await asyncio.wait_for(asyncio.shield(all_done), 0.25)
        except asyncio.TimeoutError:
            now = time.monotonic()
            for c in callers:
                c.expire(now)
    seconds = time.monotonic() - start
    sse_tr.close()
    lat.sort()
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3) if lat else None
    out = {"requests": len(lat), "seconds": round(seconds, 3), "rps": round(len(lat) / seconds, 2),
           "p50_ms": pct(0.50), "p99_ms": pct(0.99), "bad": stats["bad"], "first_bad": stats["first_bad"]}
    if args.show:
        out["sample"] = stats["sample"]
    print(json.dumps(out))


asyncio.run(main())
