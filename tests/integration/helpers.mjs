// Shared helpers for tests/integration/test_*.mjs (node:test, Node 22): start the demo
// downstream API (nginx) and mcpbridge on free 127.0.0.1 ports, connect the official SDK
// client, send raw HTTP. Every process started here is stopped by the returned stop().
// Env (set by tests/integration/CMakeLists.txt): MCPBRIDGE (the binary), MB_SOURCE_DIR.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const SOURCE_DIR = process.env.MB_SOURCE_DIR || resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MCPBRIDGE = process.env.MCPBRIDGE || join(SOURCE_DIR, 'build', 'mcpbridge');
export const DEMO_TOOLS = ['get_customer', 'get_order', 'get_product', 'list_customers', 'list_orders',
  'list_products', 'search_products'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/** Waits until url answers any HTTP status (or throws after ms). */
export async function waitHttp(url, ms = 10000, isDead = () => false) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return;
    } catch (e) {
      if (isDead()) throw new Error(`process exited before ${url} answered`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${url}: ${e.message}`);
      await sleep(50);
    }
  }
}

function stopProcess(child, ms = 5000) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} }, ms);
    child.once('exit', () => { clearTimeout(t); res(); });
    try { child.kill('SIGTERM'); } catch { clearTimeout(t); res(); }
  });
}

/** Starts nginx from a template with @PORT@/@ROOT@/@TMP@ (demo/nginx.conf.template by default). */
export async function startNginx({ template = join(SOURCE_DIR, 'demo', 'nginx.conf.template'),
                                   root = join(SOURCE_DIR, 'demo', 'api') } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'mbnginx-'));
  const port = await freePort();
  const conf = readFileSync(template, 'utf8').replaceAll('@PORT@', String(port))
    .replaceAll('@ROOT@', root).replaceAll('@TMP@', tmp);
  writeFileSync(join(tmp, 'nginx.conf'), conf);
  const args = ['-e', join(tmp, 'nginx-error.log'), '-p', tmp, '-c', join(tmp, 'nginx.conf')];
  const child = spawn('nginx', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(url + '/', 10000, () => child.exitCode !== null);
  } catch (e) {
    await stopProcess(child);
    throw new Error(`nginx did not start: ${e.message}\n${err}`);
  }
  return { port, url, async stop() { await stopProcess(child); rmSync(tmp, { recursive: true, force: true }); } };
}

/** Writes a config file for mcpbridge (JSON) into dir and returns its path. */
export function writeConfig(dir, { specFile, baseUrl, port, extra = {} }) {
  const cfg = {
    api: { openapi: { spec_file: specFile, base_url: baseUrl } },
    runtime: { server: { transport: { type: 'streamable-http', host: '127.0.0.1', port, path: '/mcp' } } },
    assistant: { prompts: { dir: join(SOURCE_DIR, 'demo', 'prompts') },
                 resources: { dir: join(SOURCE_DIR, 'demo', 'resources') } },
  };
  merge(cfg, extra);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}
function merge(a, b) {
  for (const [k, v] of Object.entries(b)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object') merge(a[k], v);
    else a[k] = v;
  }
}

/**
 * Starts the demo: nginx serving demo/api and `mcpbridge serve --config <generated>` on free
 * ports. Options: workers (default 1), extra (merged into the config), args (more CLI args).
 * Returns { url, port, downstream, configFile, pid, log(), stop() }.
 */
export async function startDemo({ workers = 1, extra = {}, args = [] } = {}) {
  const downstream = await startNginx();
  const tmp = mkdtempSync(join(tmpdir(), 'mbdemo-'));
  const port = await freePort();
  const configFile = writeConfig(tmp, { specFile: join(SOURCE_DIR, 'demo', 'openapi.yaml'),
                                        baseUrl: downstream.url, port, extra });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', String(workers), ...args],
                      { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}/mcp`;
  const stop = async () => { await stopProcess(child, 10000); await downstream.stop(); rmSync(tmp, { recursive: true, force: true }); };
  try {
    await waitHttp(url, 15000, () => child.exitCode !== null);
  } catch (e) {
    await stop();
    throw new Error(`mcpbridge did not start: ${e.message}\n--- its stderr ---\n${log}`);
  }
  return { url, port, downstream, configFile, tmp, pid: child.pid, child, log: () => log, stop };
}

/** An SDK client connected over Streamable HTTP. Returns { client, transport }. */
export async function connect(url, name = 'mcpbridge-integration') {
  const client = new Client({ name, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

export const INIT = (id = 1) => ({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

/** POST url with a JSON-RPC body (object or raw string). Returns { status, headers, text, json }. */
export async function post(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: parseBody(text, r.headers.get('content-type')) };
}

/** The JSON-RPC message in a body that is JSON or SSE (last data: line that parses), else undefined. */
export function parseBody(text, contentType = '') {
  if (!text) return undefined;
  if ((contentType || '').includes('text/event-stream')) {
    let last;
    for (const line of text.split('\n')) {
      if (line.startsWith('data:')) { try { last = JSON.parse(line.slice(5).trim()); } catch {} }
    }
    return last;
  }
  try { return JSON.parse(text); } catch { return undefined; }
}

/** initialize + notifications/initialized over raw HTTP; returns the session id. */
export async function rawSession(url) {
  const r = await post(url, INIT());
  if (r.status !== 200) throw new Error(`initialize answered ${r.status}: ${r.text}`);
  const sid = r.headers.get('mcp-session-id');
  if (!sid) throw new Error('initialize returned no Mcp-Session-Id');
  const n = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' },
                       { 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });
  if (n.status !== 202) throw new Error(`notifications/initialized answered ${n.status}`);
  return sid;
}

/** Child pids of pid (Linux /proc). */
export function childPids(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** Reads a demo/api JSON file. */
export function demoJson(rel) {
  return JSON.parse(readFileSync(join(SOURCE_DIR, 'demo', 'api', rel), 'utf8'));
}


/** POST with node:http, so any header can be set (fetch drops Host). Same return shape as post(). */
export function httpPost(url, body, headers = {}) {
  return new Promise((resolvePost, reject) => {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const req = httpRequest(url, {
      method: 'POST', agent: false, timeout: 10000,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
                 'Content-Length': Buffer.byteLength(data), Connection: 'close', ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolvePost({ status: res.statusCode, headers: new Headers(Object.entries(res.headers)
        .map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])), text,
        json: parseBody(text, res.headers['content-type']) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}
