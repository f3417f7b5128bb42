// Audit trail and per-phase timing through the real binary (docs/internals/observability.md):
// the startup_inventory event, one tool_call event per call with principal/tool/status/duration/
// bytes/guard outcome (ok, tool_error for invalid arguments and a downstream 500, guard trims),
// include_payloads off (no arguments in the log) and on (arguments and response masked), JSON and
// text log formats, and the phase histograms in /metrics counting exactly what was called.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, post, rawSession, writeConfig, sleep } from './helpers.mjs';

const ok = { 200: { description: 'ok' } };
const spec = {
  openapi: '3.0.3', info: { title: 'audit test', version: '1' },
  paths: {
    '/items': { get: { operationId: 'listItems', parameters: [{ name: 'limit', in: 'query', required: true, schema: { type: 'integer' } }], responses: ok } },
    // A GET so the default read-only routes expose it; the password travels as a query parameter.
    '/login': { get: { operationId: 'login', parameters: [{ name: 'user', in: 'query', schema: { type: 'string' } }, { name: 'password', in: 'query', schema: { type: 'string' } }], responses: ok } },
    '/fail': { get: { operationId: 'failing', responses: ok } },
  },
};
let downstream, downstreamUrl, tmp;
const servers = [];

async function startServer({ logging = {}, middleware = {} } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmp, 'srv-'));
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const extra = { observability: { logging }, runtime: { middleware: { request_timeout: { timeout_ms: 10000 }, ...middleware } } };
  const configFile = writeConfig(dir, { specFile, baseUrl: downstreamUrl, port, extra });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitHttp(url, 15000, () => child.exitCode !== null);
  const s = { url, base: `http://127.0.0.1:${port}`, child, log: () => log, sid: await rawSession(url) };
  servers.push(s);
  return s;
}

let nextId = 1;
async function call(s, name, args) {
  const r = await post(s.url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } },
    { 'Mcp-Session-Id': s.sid, 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Audit objects of a log: JSON lines whose logger is audit, or the object after "audit: " in text.
function auditEvents(log) {
  const out = [];
  for (const line of log.split('\n')) {
    if (!line.includes('audit')) continue;
    let o = null;
    try {
      if (line.startsWith('{')) { o = JSON.parse(line); if (o.logger !== 'audit') o = null; }
      else { const i = line.indexOf(' audit: {'); if (i >= 0) o = JSON.parse(line.slice(i + 8)); }
    } catch { o = null; }
    if (o) out.push(o);
  }
  return out;
}

async function waitFor(pred, what, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (pred()) return; await sleep(50); }
  assert.fail(`timed out waiting for ${what}`);
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mbaudit-'));
  downstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      if (req.url.startsWith('/fail')) { res.statusCode = 500; res.end('{"error":"boom"}'); return; }
      if (req.url.startsWith('/login')) { res.end(JSON.stringify({ token: 'secret-session-token', user: 'bob' })); return; }
      res.end(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i }))));
    });
  });
  await new Promise((r) => downstream.listen(0, '127.0.0.1', r));
  downstreamUrl = `http://127.0.0.1:${downstream.address().port}`;
});

after(async () => {
  for (const s of servers) s.child.kill('SIGKILL');
  downstream.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('startup_inventory and one tool_call event per call, JSON logs, payloads off', async () => {
  const s = await startServer({ logging: { json: true } });
  await waitFor(() => auditEvents(s.log()).some((e) => e.category === 'startup_inventory'), 'startup_inventory');
  const inv = auditEvents(s.log()).find((e) => e.category === 'startup_inventory');
  assert.equal(inv.action, 'start');
  assert.equal(inv.status, 'ok');
  assert.ok(inv.tools.includes('listItems') && inv.tools.includes('login'), JSON.stringify(inv));
  assert.equal(typeof inv.tool_count, 'number');

  await call(s, 'listItems', { limit: 5 });                       // ok, trimmed (200 > 50 items)
  await call(s, 'listItems', { limit: 'many' });                  // invalid arguments
  await call(s, 'failing', {});                                   // downstream 500
  await call(s, 'login', { user: 'bob', password: 'hunter2' });   // ok
  await waitFor(() => auditEvents(s.log()).filter((e) => e.category === 'tool_call').length >= 4, '4 tool_call events');
  const calls = auditEvents(s.log()).filter((e) => e.category === 'tool_call');
  assert.equal(calls.length, 4);
  const [trimmed, invalid, failing, login] = calls;
  assert.equal(trimmed.tool, 'listItems');
  assert.equal(trimmed.status, 'ok');
  assert.equal(trimmed.guard, 'trimmed');
  assert.equal(trimmed.http_status, 200);
  assert.ok(trimmed.bytes > 1000, JSON.stringify(trimmed));
  assert.ok(trimmed.duration_ms > 0);
  assert.match(trimmed.session_id, /^[0-9a-f]{8}$/);
  assert.equal(invalid.status, 'tool_error');
  assert.equal(invalid.http_status, undefined); // never went downstream
  assert.equal(failing.status, 'tool_error');
  assert.equal(failing.http_status, 500);
  assert.equal(login.status, 'ok');
  assert.ok(!s.log().includes('hunter2'), 'arguments are not logged by default');
  assert.ok(!s.log().includes('secret-session-token'), 'responses are not logged by default');
  assert.equal(login.arguments, undefined);
});

test('include_payloads logs arguments and response, masked; text format keeps one JSON object per event', async () => {
  const s = await startServer({ logging: { format: 'text' }, middleware: { logging: { include_payloads: true } } });
  await call(s, 'login', { user: 'bob', password: 'hunter2' });
  await waitFor(() => auditEvents(s.log()).some((e) => e.category === 'tool_call'), 'tool_call event');
  const ev = auditEvents(s.log()).find((e) => e.category === 'tool_call');
  assert.ok(ev.ts, 'text-format events carry ts');
  assert.equal(ev.arguments.user, 'bob');
  assert.equal(ev.arguments.password, '***');
  assert.equal(ev.response.user, 'bob');
  assert.equal(ev.response.token, '***');
  assert.ok(!s.log().includes('hunter2'));
  assert.ok(!s.log().includes('secret-session-token'));
});

test('phase histograms in /metrics count the calls made', async () => {
  const s = await startServer({ logging: { loggers: { audit: 'OFF' } } });
  const N = 7;
  for (let i = 0; i < N; i++) await call(s, 'listItems', { limit: 1 });
  const text = await (await fetch(`${s.base}/metrics`)).text();
  const value = (re) => { const m = text.match(re); assert.ok(m, `missing ${re}`); return Number(m[1]); };
  assert.equal(value(/^mcpbridge_phase_duration_seconds_count\{phase="tool_call"\} (\d+)$/m), N);
  assert.equal(value(/^mcpbridge_phase_duration_seconds_count\{phase="downstream"\} (\d+)$/m), N);
  assert.equal(value(/^mcpbridge_phase_duration_seconds_count\{phase="first_byte"\} (\d+)$/m), N);
  assert.equal(value(/^mcpbridge_phase_duration_seconds_count\{phase="guard"\} (\d+)$/m), N);
  const connects = value(/^mcpbridge_phase_duration_seconds_count\{phase="connect"\} (\d+)$/m);
  assert.ok(connects >= 1 && connects < N, `keep-alive: ${connects} connects for ${N} calls`);
  assert.equal(value(/^mcpbridge_tool_calls_total\{tool="listItems",outcome="ok"\} (\d+)$/m), N);
  assert.ok(value(/^mcpbridge_mcp_requests_total\{method="tools\/call",outcome="ok"\} (\d+)$/m) >= N);
  assert.equal(value(/^mcpbridge_phase_duration_seconds_count\{phase="auth"\} (\d+)$/m), 0); // auth off
  assert.ok(!auditEvents(s.log()).length, 'audit OFF writes no audit line');
});
