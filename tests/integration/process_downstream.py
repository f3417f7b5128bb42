#!/usr/bin/env python3
"""A tiny downstream REST API for tests/integration/test_process.sh, on 127.0.0.1.

usage: process_downstream.py PORT_FILE
Binds a free port, writes it to PORT_FILE, serves until killed (threads, so slow requests do
not block others):
  GET /items/<id>  -> {"id": "<id>", "name": "item <id>"}
  GET /slow        -> touches PORT_FILE.slow-started, sleeps 1 s, then {"slow": true}
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/items/"):
            item = self.path[len("/items/"):]
            self.reply({"id": item, "name": "item " + item})
        elif self.path.startswith("/slow"):
            with open(sys.argv[1] + ".slow-started", "w") as f:
                f.write("1")
            time.sleep(1.0)
            self.reply({"slow": True})
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
