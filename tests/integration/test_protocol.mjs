// Protocol behaviour through the real binary, against a downstream written here (node:http) so
// slow, oversized and numerous operations can be exercised: batches by protocol version, exact
// id echo, the GET event stream and DELETE, Host/Content-Type/method guards, health endpoints,
// downstream timeout and size cap, cancellation, progress over SSE, pagination, stateless mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, post, httpPost, rawSession, INIT, writeConfig, sleep } from './helpers.mjs';

const OPS = 150; // more than one tools/list page (100)
let downstream, downstreamUrl, tmp, servers = [];
const itemHeaders = []; // request headers the downstream saw, in order
const aborted = new Set(); // ids of /slow requests whose client went away before the answer
const BIG = JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024) }); // over the 1 MiB response cap

function spec() {
  const paths = {
    '/items/{id}': { get: { operationId: 'getItem', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
                            responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    '/slow': { get: { operationId: 'slow', parameters: [{ name: 'tag', in: 'query', schema: { type: 'string' } }], responses: { 200: { description: 'ok' } } } },
    '/big': { get: { operationId: 'big', responses: { 200: { description: 'ok' } } } },
  };
  for (let i = 0; i < OPS - 3; i++) paths[`/extra/${i}`] = { get: { operationId: `extra_${String(i).padStart(3, '0')}`, responses: { 200: { description: 'ok' } } } };
  return { openapi: '3.0.3', info: { title: 'protocol test', version: '1' }, paths };
}

async function startServer(extra = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmp, 'srv-'));
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec()));
  // A generous default timeout: sanitizer builds on a loaded machine are slow (tests that are
  // about timeouts set their own).
  const config = { runtime: { middleware: { request_timeout: { timeout_ms: 10000 } } } };
  const merged = JSON.parse(JSON.stringify(config));
  for (const [k, v] of Object.entries(extra)) merged[k] = k === 'runtime' ? { ...merged.runtime, ...v } : v;
  const configFile = writeConfig(dir, { specFile, baseUrl: downstreamUrl, port, extra: merged });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitHttp(url, 15000, () => child.exitCode !== null);
  const s = { url, port, child, log: () => log };
  servers.push(s);
  return s;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mbproto-'));
  downstream = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    itemHeaders.push(req.headers);
    if (u.pathname.startsWith('/items/')) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ id: Number(u.pathname.slice(7)), name: 'item' }));
    } else if (u.pathname === '/slow') {
      const tag = u.searchParams.get('tag');
      const timer = setTimeout(() => { res.setHeader('Content-Type', 'application/json'); res.end('{"slow":true}'); }, 2000);
      res.on('close', () => { if (!res.writableFinished) { clearTimeout(timer); aborted.add(tag); } });
    } else if (u.pathname === '/big') {
      res.setHeader('Content-Type', 'application/json');
      res.end(BIG);
    } else {
      res.setHeader('Content-Type', 'application/json');
      res.end('{}');
    }
  });
  await new Promise((r) => downstream.listen(0, '127.0.0.1', r));
  downstreamUrl = `http://127.0.0.1:${downstream.address().port}`;
});

after(async () => {
  for (const s of servers) { s.child.kill('SIGTERM'); }
  await sleep(300);
  for (const s of servers) { if (s.child.exitCode === null) s.child.kill('SIGKILL'); }
  downstream?.close();
  downstream?.closeAllConnections?.();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const hdr = (sid, v = '2025-11-25') => ({ 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': v });
const call = (id, name, args = {}, meta) => ({ jsonrpc: '2.0', id, method: 'tools/call',
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } });

test('batches are answered under 2025-03-26 and refused under later versions', async () => {
  const s = await startServer();
  const sid = await rawSession(s.url);
  const batch = [{ jsonrpc: '2.0', id: 'a', method: 'ping' }, { jsonrpc: '2.0', method: 'notifications/initialized' },
                 call(2, 'getItem', { id: 5 })];
  const old = await post(s.url, batch, hdr(sid, '2025-03-26'));
  assert.equal(old.status, 200, old.text);
  assert.ok(Array.isArray(old.json), old.text);
  assert.deepEqual(old.json.map((m) => m.id).sort(), [2, 'a']);
  assert.deepEqual(old.json.find((m) => m.id === 2).result.structuredContent, { id: 5, name: 'item' });
  const now = await post(s.url, batch, hdr(sid, '2025-11-25'));
  assert.equal(now.status, 400);
  assert.equal(now.json.error.code, -32600);
  assert.match(now.json.error.message, /batch/i);
});

test('a batch whose later request needs SSE sends the earlier answers first, each as its own event', async () => {
  const s = servers[0] ?? await startServer();
  const sid = await rawSession(s.url);
  const batch = [{ jsonrpc: '2.0', id: 'p1', method: 'ping' }, { jsonrpc: '2.0', id: 'p2', method: 'ping' },
                 call(3, 'getItem', { id: 4 }, { progressToken: 't' })];
  const r = await post(s.url, batch, hdr(sid, '2025-03-26'));
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const msgs = r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
  const answers = msgs.filter((m) => m.id !== undefined);
  assert.deepEqual(answers.map((m) => m.id).sort(), [3, 'p1', 'p2'].sort());
  assert.deepEqual(answers.find((m) => m.id === 'p1').result, {});
  assert.deepEqual(answers.find((m) => m.id === 3).result.structuredContent, { id: 4, name: 'item' });
  assert.ok(msgs.some((m) => m.method === 'notifications/progress'));
});

test('ids are echoed exactly, strings and integers', async () => {
  const s = servers[0] ?? await startServer();
  const sid = await rawSession(s.url);
  for (const id of ['ünï-\"quoted\"', 0, -7, 9007199254740991, 'x'.repeat(200)]) {
    const r = await post(s.url, { jsonrpc: '2.0', id, method: 'ping' }, hdr(sid));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { jsonrpc: '2.0', id, result: {} });
  }
  const bad = await post(s.url, { jsonrpc: '2.0', id: null, method: 'ping' }, hdr(sid));
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, -32600);
});

test('GET opens one event stream per session; DELETE ends it and the session', async () => {
  const s = servers[0];
  const sid = await rawSession(s.url);
  const ctrl = new AbortController();
  const stream = await fetch(s.url, { headers: { Accept: 'text/event-stream', ...hdr(sid) }, signal: ctrl.signal });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type'), /text\/event-stream/);
  const reader = stream.body.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /^:/); // an SSE comment opens the stream
  const second = await fetch(s.url, { headers: { Accept: 'text/event-stream', ...hdr(sid) } });
  assert.equal(second.status, 409);
  const del = await fetch(s.url, { method: 'DELETE', headers: hdr(sid) });
  assert.equal(del.status, 200);
  const end = await Promise.race([reader.read(), sleep(3000).then(() => 'timeout')]);
  assert.notEqual(end, 'timeout', 'the stream must end when the session is deleted');
  assert.equal(end.done, true);
  const after = await post(s.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, hdr(sid));
  assert.equal(after.status, 404);
  ctrl.abort();
});

test('foreign Host is 403, wrong Content-Type 415, PUT 405, health endpoints answer', async () => {
  const s = servers[0];
  const sid = await rawSession(s.url);
  const host = await httpPost(s.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { ...hdr(sid), Host: 'evil.example:80' });
  assert.equal(host.status, 403);
  assert.match(JSON.parse(host.text).error.message, /Host/);
  const ct = await post(s.url, '{"jsonrpc":"2.0","id":1,"method":"ping"}', { ...hdr(sid), 'Content-Type': 'text/plain' });
  assert.equal(ct.status, 415);
  const put = await fetch(s.url, { method: 'PUT', headers: hdr(sid), body: '{}' });
  assert.equal(put.status, 405);
  assert.match(put.headers.get('allow'), /POST/);
  const base = s.url.replace('/mcp', '');
  const alive = await fetch(`${base}/healthz`);
  assert.equal(alive.status, 200);
  const ready = await (await fetch(`${base}/readyz`)).json();
  assert.equal(ready.status, 'ready');
  assert.equal(ready.tools, OPS);
});

test('tools/list pages with an opaque cursor; a bad cursor is -32602', async () => {
  const s = servers[0];
  const sid = await rawSession(s.url);
  const p1 = await post(s.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, hdr(sid));
  assert.equal(p1.json.result.tools.length, 100);
  assert.equal(typeof p1.json.result.nextCursor, 'string');
  const p2 = await post(s.url, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { cursor: p1.json.result.nextCursor } }, hdr(sid));
  assert.equal(p2.json.result.tools.length, OPS - 100);
  assert.equal(p2.json.result.nextCursor, undefined);
  const names = new Set([...p1.json.result.tools, ...p2.json.result.tools].map((t) => t.name));
  assert.equal(names.size, OPS);
  const bad = await post(s.url, { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { cursor: 'forged' } }, hdr(sid));
  assert.equal(bad.json.error.code, -32602);
});

test('a downstream slower than request_timeout is a tool error, answered at the timeout', async () => {
  const s = await startServer({ runtime: { middleware: { request_timeout: { timeout_ms: 300 } } } });
  const sid = await rawSession(s.url);
  const t0 = Date.now();
  const slow = await post(s.url, call(1, 'slow', { tag: 'timeout' }), hdr(sid));
  assert.ok(Date.now() - t0 < 1800, 'answered at the timeout, not when the downstream finished');
  assert.equal(slow.json.result.isError, true);
  assert.match(slow.json.result.content[0].text, /did not answer in time/);
});

test('in block mode a downstream body larger than max_response_bytes is a tool error', async () => {
  const s = await startServer({ runtime: { http: { response_guard: { mode: 'block', max_response_bytes: 1048576 } } } });
  const sid = await rawSession(s.url);
  const big = await post(s.url, call(2, 'big'), hdr(sid));
  assert.equal(big.json.result.isError, true);
  assert.match(big.json.result.content[0].text, /too large/);
});

test('notifications/cancelled aborts the downstream call', async () => {
  const s = servers[0];
  const sid = await rawSession(s.url);
  const pending = post(s.url, call(77, 'slow', { tag: 'cancel-me' }), hdr(sid));
  await sleep(300);
  const n = await post(s.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 77, reason: 'test' } }, hdr(sid));
  assert.equal(n.status, 202);
  const r = await pending;
  assert.ok(r.status === 202 || r.status === 200, `the cancelled POST ends (${r.status})`);
  assert.equal(r.json?.result, undefined, 'no result for a cancelled request');
  for (let i = 0; i < 20 && !aborted.has('cancel-me'); i++) await sleep(50);
  assert.ok(aborted.has('cancel-me'), 'the downstream saw the transfer aborted');
});

test('notifications/cancelled reaches the call on whichever worker runs it', async () => {
  const s = await startServer({ runtime: { server: { workers: 2 } } });
  const sid = await rawSession(s.url);
  // Each cancel goes over a fresh connection, so it lands on a worker chosen by the kernel:
  // with two workers, a cancel that only looked at its own worker would miss about half the time.
  for (let trial = 0; trial < 6; trial++) {
    const tag = `xw-${trial}`;
    const pending = post(s.url, call(100 + trial, 'slow', { tag }), hdr(sid));
    await sleep(200);
    const n = await httpPost(s.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 100 + trial } }, hdr(sid));
    assert.equal(n.status, 202);
    for (let i = 0; i < 30 && !aborted.has(tag); i++) await sleep(50);
    assert.ok(aborted.has(tag), `trial ${trial}: the downstream saw the transfer aborted`);
    const r = await pending;
    assert.equal(r.json?.result, undefined, 'no result for a cancelled request');
  }
});

test('a progressToken turns the answer into SSE: increasing progress, then the result', async () => {
  const s = servers[0];
  const sid = await rawSession(s.url);
  const r = await post(s.url, call(5, 'getItem', { id: 9 }, { progressToken: 'tok' }), hdr(sid));
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const msgs = r.text.split('\n').filter((l) => l.startsWith('data:') && l.slice(5).trim()).map((l) => JSON.parse(l.slice(5)));
  const progress = msgs.filter((m) => m.method === 'notifications/progress');
  assert.ok(progress.length >= 3, r.text);
  for (const p of progress) assert.equal(p.params.progressToken, 'tok');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].params.progress > progress[i - 1].params.progress);
  assert.equal(progress.at(-1).params.progress, 100);
  assert.equal(msgs.at(-1).id, 5);
  assert.deepEqual(msgs.at(-1).result.structuredContent, { id: 9, name: 'item' });
});

test('runtime.http.default_headers go with every downstream call', async () => {
  const s = await startServer({ runtime: { http: { default_headers: { 'X-Api-Key': 'k-123', 'X-Team': 'platform' } } } });
  const sid = await rawSession(s.url);
  for (const id of [1, 2]) {
    itemHeaders.length = 0;
    const r = await post(s.url, call(id, 'getItem', { id }), hdr(sid));
    assert.deepEqual(r.json.result.structuredContent, { id, name: 'item' });
    assert.equal(itemHeaders.length, 1);
    assert.equal(itemHeaders[0]['x-api-key'], 'k-123');
    assert.equal(itemHeaders[0]['x-team'], 'platform');
    assert.equal(itemHeaders[0]['mcp-session-id'], undefined, 'the client session never goes downstream');
  }
});

test('with sessions disabled the server is stateless', async () => {
  const s = await startServer({ runtime: { server: { session: { enabled: false } } } });
  const init = await post(s.url, INIT(1));
  assert.equal(init.status, 200);
  assert.equal(init.headers.get('mcp-session-id'), null);
  const r = await post(s.url, call(2, 'getItem', { id: 3 }), { 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.result.structuredContent, { id: 3, name: 'item' });
});
