// The response guard wired into tools/call (docs/internals/guard.md, "Wiring"), through the real
// binary against a downstream written here: a 3,000-item JSON array (with and without paging
// parameters), a 5 MB JSON object, an endless chunked JSON array, invalid JSON, a small document.
// Checked in trim (the default), block and warn modes; per-tool overrides, paging advice that
// follows the call's own offset, the "needs pagination" signal in the log and in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, post, rawSession, writeConfig, sleep } from './helpers.mjs';

const MAX = 1048576;
const ITEMS = Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `item ${i}` }));
const HUGE = (() => { // a 5 MB object: many members, no array
  const o = {};
  for (let i = 0; i < 50000; i++) o[`key${i}`] = 'v'.repeat(90);
  return JSON.stringify(o);
})();
// An unfinished array of about 100 KB; the body adds ",,garbage", so the JSON breaks at the
// second comma, byte LATE_BROKEN_HEAD.length + 1.
const LATE_BROKEN_HEAD = '[' + Array.from({ length: 1500 }, (_, i) => JSON.stringify({ id: i, pad: 'x'.repeat(50) })).join(',');
const SMALL = { a: 1, b: [1, 2, 3], c: { d: 'é', e: null } };
let downstream, downstreamUrl, tmp;
const servers = [];
const endless = new Set();

const ok = { 200: { description: 'ok' } };
const q = (name) => ({ name, in: 'query', schema: { type: 'integer' } });
const spec = {
  openapi: '3.0.3', info: { title: 'guard test', version: '1' },
  paths: {
    '/items': { get: { operationId: 'listItems', parameters: [q('limit'), q('offset')], responses: ok } },
    '/all': { get: { operationId: 'allItems', responses: ok } },
    '/huge': { get: { operationId: 'huge', responses: ok } },
    '/endless': { get: { operationId: 'endless', responses: ok } },
    '/small': { get: { operationId: 'small', responses: ok } },
    '/broken': { get: { operationId: 'broken', responses: ok } },
    '/empty': { get: { operationId: 'empty', responses: ok } },
    '/text': { get: { operationId: 'text', responses: ok } },
    '/late-broken': { get: { operationId: 'lateBroken', responses: ok } },
  },
};

async function startServer(guard = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmp, 'srv-'));
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const extra = { runtime: { middleware: { request_timeout: { timeout_ms: 10000 } },
                             http: { response_guard: guard } } };
  const configFile = writeConfig(dir, { specFile, baseUrl: downstreamUrl, port, extra });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitHttp(url, 15000, () => child.exitCode !== null);
  const s = { url, child, log: () => log, sid: await rawSession(url) };
  servers.push(s);
  return s;
}

const hdr = (sid) => ({ 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });
let nextId = 1;
async function callTool(s, name, args = {}) {
  const r = await post(s.url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } }, hdr(s.sid));
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.result, r.text.slice(0, 500));
  return r.json.result;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mbguard-'));
  downstream = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    res.setHeader('Content-Type', 'application/json');
    if (u.pathname === '/items' || u.pathname === '/all') {
      res.end(JSON.stringify(ITEMS));
    } else if (u.pathname === '/huge') {
      res.end(HUGE);
    } else if (u.pathname === '/small') {
      res.end(JSON.stringify(SMALL));
    } else if (u.pathname === '/broken') {
      res.setHeader('Content-Type', 'application/json');
      res.end('this is not JSON at all, {but it says so}');
    } else if (u.pathname === '/late-broken') {
      // About 100 KB of a valid array, then garbage: too late for the text fallback.
      res.end(LATE_BROKEN_HEAD + ',,garbage');
    } else if (u.pathname === '/empty') {
      res.statusCode = 204;
      res.end();
    } else if (u.pathname === '/text') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('é'.repeat(1500000)); // 3 MB of 2-byte characters
    } else if (u.pathname === '/endless') {
      // Chunked, never ends: items as fast as the client reads them.
      endless.add(res);
      res.write('[');
      const chunk = Array.from({ length: 500 }, (_, i) => JSON.stringify({ n: i, pad: 'p'.repeat(40) })).join(',');
      let first = true;
      const pump = () => {
        while (!res.destroyed) {
          const more = res.write((first ? '' : ',') + chunk);
          first = false;
          if (!more) { res.once('drain', pump); return; }
        }
      };
      res.on('close', () => endless.delete(res));
      pump();
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise((r) => downstream.listen(0, '127.0.0.1', r));
  downstreamUrl = `http://127.0.0.1:${downstream.address().port}`;
});

after(async () => {
  for (const s of servers) s.child.kill('SIGTERM');
  await sleep(300);
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  for (const r of endless) r.destroy();
  downstream?.close();
  downstream?.closeAllConnections?.();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('trim: a 3,000-item array is cut to max_array_items with the _meta marker and paging advice', async () => {
  const s = await startServer();
  const r = await callTool(s, 'listItems', {});
  assert.notEqual(r.isError, true, JSON.stringify(r).slice(0, 500));
  const text = r.content[0].text;
  assert.ok(Buffer.byteLength(text) <= MAX);
  const doc = JSON.parse(text);
  assert.equal(doc.length, 50);
  assert.deepEqual(doc, ITEMS.slice(0, 50));
  const m = r._meta['mcpbridge/guard'];
  assert.equal(m.mode, 'trim');
  assert.equal(m.truncated, true);
  assert.equal(m.limit, 'max_array_items');
  assert.equal(m.originalItems, 3000);
  assert.equal(m.keptItems, 50);
  assert.equal(m.pointer, '');
  assert.equal(r.content.length, 2);
  assert.match(r.content[1].text, /partial/);
  assert.match(r.content[1].text, /3000 items/);
  assert.match(r.content[1].text, /limit=50 and offset=50/);
  // Without paging parameters: the note, no advice.
  const all = await callTool(s, 'allItems');
  assert.equal(JSON.parse(all.content[0].text).length, 50);
  assert.match(all.content[1].text, /partial/);
  assert.doesNotMatch(all.content[1].text, /paging/);
});

test('trim: a 5 MB object becomes valid JSON within max_response_bytes', async () => {
  const s = servers[0] ?? await startServer();
  const r = await callTool(s, 'huge');
  assert.notEqual(r.isError, true);
  const text = r.content[0].text;
  assert.ok(Buffer.byteLength(text) <= MAX, `${Buffer.byteLength(text)} bytes`);
  const doc = JSON.parse(text);
  assert.ok(Object.keys(doc).length > 1000);
  assert.deepEqual(r.structuredContent, doc);
  const m = r._meta['mcpbridge/guard'];
  assert.equal(m.truncated, true);
  assert.equal(m.limit, 'max_response_bytes');
  assert.match(r.content[1].text, /max_response_bytes \(1048576 bytes\)/);
});

test('trim and block: an endless chunked array still answers within 2 s', async () => {
  const trim = servers[0] ?? await startServer();
  let t0 = Date.now();
  const r = await callTool(trim, 'endless');
  assert.ok(Date.now() - t0 < 2000, `trim took ${Date.now() - t0} ms`);
  assert.notEqual(r.isError, true);
  const doc = JSON.parse(r.content[0].text);
  assert.equal(doc.length, 50);
  assert.equal(r._meta['mcpbridge/guard'].truncated, true);
  assert.ok(r._meta['mcpbridge/guard'].atLeast > 50);
  const block = await startServer({ mode: 'block' });
  t0 = Date.now();
  const b = await callTool(block, 'endless');
  assert.ok(Date.now() - t0 < 2000, `block took ${Date.now() - t0} ms`);
  assert.equal(b.isError, true);
  assert.match(b.content[0].text, /max_array_items \(50\)/);
});

test('block: an error result naming the limit and by how much', async () => {
  const s = servers.find((x) => x.block) ?? await startServer({ mode: 'block' });
  const items = await callTool(s, 'listItems');
  assert.equal(items.isError, true);
  assert.match(items.content[0].text, /too large.*max_array_items \(50\)/);
  const huge = await callTool(s, 'huge');
  assert.equal(huge.isError, true);
  assert.match(huge.content[0].text, /max_response_bytes \(1048576 bytes\)/);
  const small = await callTool(s, 'small');
  assert.notEqual(small.isError, true);
  assert.deepEqual(small.structuredContent, SMALL);
});

test('a small document passes unchanged; invalid JSON falls back to text', async () => {
  const s = servers[0] ?? await startServer();
  const r = await callTool(s, 'small');
  assert.notEqual(r.isError, true);
  assert.equal(r._meta, undefined);
  assert.equal(r.content.length, 1);
  assert.deepEqual(r.structuredContent, SMALL);
  assert.deepEqual(JSON.parse(r.content[0].text), SMALL);
  const b = await callTool(s, 'broken');
  assert.notEqual(b.isError, true);
  assert.equal(b.content[0].text, 'this is not JSON at all, {but it says so}');
});

test('trim: text is cut at a UTF-8 boundary within max_response_bytes; an empty body is unchanged', async () => {
  const s = servers[0] ?? await startServer();
  const r = await callTool(s, 'text');
  assert.notEqual(r.isError, true);
  assert.ok(Buffer.byteLength(r.content[0].text) <= MAX);
  assert.match(r.content[0].text, /^é+…\[truncated\]$/);
  assert.equal(r._meta['mcpbridge/guard'].limit, 'max_response_bytes');
  const e = await callTool(s, 'empty');
  assert.notEqual(e.isError, true);
  assert.match(e.content[0].text, /204/);
});

test('warn: passes through and logs a warning', async () => {
  const s = await startServer({ mode: 'warn' });
  const r = await callTool(s, 'listItems');
  assert.notEqual(r.isError, true);
  assert.equal(JSON.parse(r.content[0].text).length, 3000);
  await sleep(100);
  assert.match(s.log(), /response_guard/);
});

test('per-tool overrides: one tool blocked, a pattern trims to its own item limit, advice follows the offset', async () => {
  const s = await startServer({ tools: { allItems: { mode: 'block' }, 'list*': { max_array_items: 10 } } });
  const a = await callTool(s, 'allItems');
  assert.equal(a.isError, true);
  assert.match(a.content[0].text, /max_array_items \(50\)/);
  const l = await callTool(s, 'listItems', { offset: 100 });
  assert.notEqual(l.isError, true);
  assert.equal(JSON.parse(l.content[0].text).length, 10);
  const m = l._meta['mcpbridge/guard'];
  assert.equal(m.keptItems, 10);
  assert.deepEqual(m.nextArguments, { offset: 110, limit: 10 });
  assert.match(l.content[1].text, /limit=10 and offset=110 \(then 120/);
  const h = await callTool(s, 'huge');  // not overridden: the global trim
  assert.notEqual(h.isError, true);
  assert.equal(h._meta['mcpbridge/guard'].limit, 'max_response_bytes');
});

test('pagination signal: a tool that keeps hitting the limits is flagged in the log and in /metrics', async () => {
  const s = await startServer({ pagination_signal: { window: 4, ratio: 0.5 } });
  await callTool(s, 'small');
  await callTool(s, 'listItems');
  assert.doesNotMatch(s.log(), /needs pagination/);
  await callTool(s, 'listItems');
  await sleep(100);
  assert.match(s.log(), /listItems needs pagination: 2 of its last 2 calls/);
  const metricsUrl = s.url.replace(/\/mcp$/, '/metrics');
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^mcpbridge_tool_needs_pagination\{tool="listItems"\} 1$/m);
  assert.match(text, /^mcpbridge_tool_needs_pagination\{tool="small"\} 0$/m);
  assert.match(text, /^mcpbridge_guard_trimmed_total\{tool="listItems"\} 2$/m);
  assert.match(text, /^mcpbridge_guard_calls_total\{tool="small"\} 1$/m);
  assert.match(text, /^# TYPE mcpbridge_guard_near_limit_total counter$/m);
  const post = await fetch(metricsUrl, { method: 'POST', body: '' });
  assert.equal(post.status, 405);
});

test('JSON that breaks after the first 64 KiB: an error result naming the byte, no half-parsed result', async () => {
  const s = servers[0] ?? await startServer();
  const r = await callTool(s, 'lateBroken');
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, new RegExp(`not valid JSON: .* at byte ${LATE_BROKEN_HEAD.length + 1} `));
});
