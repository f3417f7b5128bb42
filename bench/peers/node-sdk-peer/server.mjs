// Benchmark peer (bench/peers.sh): the official MCP TypeScript SDK serving the one operation of
// bench/openapi.yaml as an MCP tool, the way a hand-written Node MCP server would. Streamable
// HTTP on POST/GET/DELETE /mcp, stateful sessions (one McpServer + transport per session, the
// SDK's documented pattern), JSON responses (enableJsonResponse) so a tools/call answers with
// one application/json body like mcpbridge. Tool `getItem` {id: integer >= 1} does
// GET <downstream>/items/<id> with undici's fetch over a keep-alive pool of 64 connections (the
// same size as mcpbridge's max_keepalive_connections in the bench) and returns the body as text
// content plus the parsed object as structuredContent; a non-2xx answer is an isError result.
// With a workaround for an SDK leak in JSON response mode (see releaseJsonStreams).
//   node server.mjs --port N --downstream http://127.0.0.1:M [--host 127.0.0.1] [--sdk-leak-fix on|off]
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { Agent, fetch } from "undici";
import { z } from "zod";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const host = arg("host", "127.0.0.1");
const port = Number(arg("port", "0"));
const downstream = arg("downstream", "");
if (!port || !downstream) {
  console.error("usage: node server.mjs --port N --downstream http://host:port [--host H] [--sdk-leak-fix on|off]");
  process.exit(2);
}
const MAX_BODY = 4 * 1024 * 1024;
const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });

function newServer() {
  const server = new McpServer({ name: "node-sdk-peer", version: "1.0.0" });
  server.registerTool(
    "getItem",
    {
      description: "One catalog item by id",
      inputSchema: { id: z.number().int().min(1) },
    },
    async ({ id }) => {
      const res = await fetch(`${downstream}/items/${encodeURIComponent(id)}`, {
        dispatcher,
        headers: { accept: "application/json" },
      });
      const text = await res.text();
      if (!res.ok) {
        return { isError: true, content: [{ type: "text", text: `downstream HTTP ${res.status}: ${text.slice(0, 512)}` }] };
      }
      let structured;
      try {
        structured = JSON.parse(text);
      } catch {
        structured = undefined;
      }
      const result = { content: [{ type: "text", text }] };
      if (structured && typeof structured === "object" && !Array.isArray(structured)) result.structuredContent = structured;
      return result;
    },
  );
  return server;
}

const transports = new Map(); // session id -> transport

// SDK 1.x bug (modelcontextprotocol/typescript-sdk#2559, fix for v1.x in PR #2747, not in
// 1.32.2): in JSON response mode send() resolves the pending HTTP response but never runs the
// stream mapping's cleanup, so every tools/call leaves one _streamMapping entry (and what its
// closure holds, ~12 KB) in the session until it closes: RSS grows without bound and throughput
// sinks as the heap grows. The workaround does what the upstream fix does (drop the entry once
// its response is resolved) by wrapping the entry when it is registered. It touches private
// fields, so it checks they exist and otherwise leaves the transport alone. --sdk-leak-fix off
// runs the SDK as shipped.
const leakFix = arg("sdk-leak-fix", "on") !== "off";
let leakFixApplied = false;
function releaseJsonStreams(transport) {
  const map = transport._webStandardTransport?._streamMapping;
  if (!(map instanceof Map)) return;
  const set = map.set.bind(map);
  map.set = (key, value) => {
    if (value && typeof value.resolveJson === "function") {
      const resolve = value.resolveJson;
      value.resolveJson = (response) => {
        if (map.get(key) === value) map.delete(key);
        resolve(response);
      };
    }
    return set(key, value);
  };
  leakFixApplied = true;
}

function reply(res, status, message) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function handle(req, res) {
  const path = (req.url || "").split("?")[0];
  if (path !== "/mcp") {
    // A plain GET / answers 200 so a start-up probe can tell the port is open.
    res.writeHead(path === "/" ? 200 : 404, { "content-type": "text/plain" });
    res.end(path === "/" ? "ok" : "not found");
    return;
  }
  const sid = req.headers["mcp-session-id"];
  if (req.method === "POST") {
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      reply(res, 400, `bad request body: ${e.message}`);
      return;
    }
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid) {
        reply(res, 404, "unknown session");
        return;
      }
      if (!isInitializeRequest(body)) {
        reply(res, 400, "no session: send initialize first");
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (id) => transports.set(id, transport),
      });
      if (leakFix) releaseJsonStreams(transport);
      transport.onclose = () => {
        if (transport.sessionId) transports.delete(transport.sessionId);
      };
      await newServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
    return;
  }
  if (req.method === "GET" || req.method === "DELETE") {
    const transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      reply(res, sid ? 404 : 400, "unknown or missing session");
      return;
    }
    await transport.handleRequest(req, res);
    return;
  }
  res.writeHead(405, { allow: "GET, POST, DELETE" });
  res.end();
}

const http = createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (!res.headersSent) reply(res, 500, `internal error: ${e.message}`);
    else res.end();
  });
});
http.keepAliveTimeout = 65_000;
http.headersTimeout = 66_000;
http.listen(port, host, () =>
  console.error(`node-sdk-peer: listening on http://${host}:${port}/mcp, downstream ${downstream}, sdk-leak-fix ${leakFix ? "on" : "off"}`));
// SIGUSR2: one line on stderr with what each session holds, to check the leak (and the fix).
process.on("SIGUSR2", () => {
  for (const [id, t] of transports) {
    const w = t._webStandardTransport;
    console.error(`node-sdk-peer: session ${id}: streamMapping ${w?._streamMapping?.size}, ` +
      `requestToStream ${w?._requestToStreamMapping?.size}, leak fix applied ${leakFixApplied}`);
  }
  console.error(`node-sdk-peer: memory ${JSON.stringify(process.memoryUsage())}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    http.close();
    dispatcher.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
