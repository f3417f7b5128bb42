// Rate limiting and the circuit breaker on the tools/call path, through the real binary
// (docs/internals/limits.md): the GCRA bucket is exact across the workers of one instance
// (shared memory) and across instances (a real redis-server started here), denials are
// JSON-RPC errors -32029 with data.retryAfterMs, and the per-host breaker opens after
// min_requests failing calls, refuses without touching the downstream, lets one probe through
// after open_seconds and closes again when the downstream heals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort, sleep } from './helpers.mjs';
import { startDownstream, startBridge, McpClient, makeKey, sign, claimsNow } from './idp.mjs';

let ds;
const bridges = [];
let redis = null;

before(async () => { ds = await startDownstream(); });

after(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  if (redis) await redis.stop();
  await ds?.stop();
});

async function bridge(extra, workers = 1) {
  const b = await startBridge({ downstreamUrl: ds.url, extra, workers });
  bridges.push(b);
  return b;
}

const rate = (more = {}) => ({ runtime: { middleware: { rate_limiting: { enabled: true, max_rps: 0.001, burst: 5, ...more } } } });

/** Splits tools/call answers into successes and rate-limit denials (anything else fails). */
function tally(results) {
  const ok = [], limited = [];
  for (const r of results) {
    assert.equal(r.status, 200, r.text);
    if (r.json?.result) {
      assert.notEqual(r.json.result.isError, true, r.text);
      ok.push(r);
    } else {
      assert.equal(r.json?.error?.code, -32029, r.text);
      assert.ok(r.json.error.data.retryAfterMs > 0, r.text);
      assert.match(r.json.error.message, /Rate limit exceeded/);
      limited.push(r);
    }
  }
  return { ok, limited };
}

/** Workers (w0, w1, ...) that logged a rate_limit audit event. */
const rateWorkers = (log) => new Set([...log.matchAll(/\[(w\d+)\] audit: \{[^\n]*"category":"rate_limit"/g)].map((m) => m[1]));

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const cli = (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  const end = Date.now() + 10000;
  while (cli('PING').stdout.trim() !== 'PONG') {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`redis-server did not start:\n${out}`);
    await sleep(50);
  }
  const stop = () => new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
  return { port, url: `redis://127.0.0.1:${port}`, cli, stop };
}

test('rate limit: exact across 2 workers of one instance (burst 5 of 20 concurrent calls)', async () => {
  const b = await bridge(rate(), 2);
  const c = new McpClient(b.url, {}, { fresh: true });
  assert.equal((await c.init()).status, 200);
  const hits0 = ds.hits.length;
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('getItem', { id: i })));
  const { ok, limited } = tally(results);
  assert.equal(ok.length, 5, `${ok.length} calls allowed`);
  assert.equal(limited.length, 15);
  assert.equal(ds.hits.length - hits0, 5, 'only the allowed calls reached the downstream');
  assert.equal(limited[0].json.error.data.scope, 'session');
  // At 0.001 per second, a token comes back after 1000 s.
  for (const r of limited) assert.ok(r.json.error.data.retryAfterMs > 900000, JSON.stringify(r.json.error.data));
  assert.deepEqual([...rateWorkers(b.log())].sort(), ['w0', 'w1'], 'both workers served calls');
  // Another session has its own bucket (not global).
  const other = new McpClient(b.url, {}, { fresh: true });
  assert.equal((await other.init()).status, 200);
  const more = tally(await Promise.all(Array.from({ length: 7 }, () => other.call('listItems'))));
  assert.equal(more.ok.length, 5);
  assert.equal(more.limited.length, 2);
  // Cheap methods are not limited.
  const list = await c.request('tools/list');
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json.result.tools.length === 3);
  await b.stop();
});

test('rate limit: an authenticated client has one bucket across its sessions; another client has its own', async () => {
  const key = await makeKey('ed25519');
  const b = await bridge({ ...rate({ burst: 3 }), security: { authentication: { enabled: true,
    service_account: { enabled: true, mode: 'token', public_key: key.publicPem } } } }, 2);
  const tok = (client) => ({ 'X-OEMCP-SERVICEACCOUNT': sign({ alg: 'EdDSA', key, kid: null,
                                                              claims: claimsNow({ sub: client, client_id: client }) }) });
  const a1 = new McpClient(b.url, tok('client-a'), { fresh: true });
  const a2 = new McpClient(b.url, tok('client-a'), { fresh: true });
  const bb = new McpClient(b.url, tok('client-b'), { fresh: true });
  for (const c of [a1, a2, bb]) assert.equal((await c.init()).status, 200);
  const a = tally(await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a1 : a2).call('listItems'))));
  assert.equal(a.ok.length, 3, 'client-a: one bucket for both sessions');
  assert.equal(a.limited[0].json.error.data.scope, 'client');
  const other = tally(await Promise.all(Array.from({ length: 4 }, () => bb.call('listItems'))));
  assert.equal(other.ok.length, 3, 'client-b has its own bucket');
  await b.stop();
});

test('rate limit: exact across two instances through Redis (global bucket)', async () => {
  redis = await startRedis();
  const prefix = `mbtest-${randomUUID().slice(0, 8)}:`;
  const extra = { ...rate({ global: true }), runtime: { ...rate({ global: true }).runtime,
    redis: { url: redis.url, key_prefix: prefix, timeout_ms: 1000 } } };
  const [a, b] = await Promise.all([bridge(extra), bridge(extra)]);
  const ca = new McpClient(a.url, {}, { fresh: true });
  const cb = new McpClient(b.url, {}, { fresh: true });
  assert.equal((await ca.init()).status, 200);
  assert.equal((await cb.init()).status, 200);
  const hits0 = ds.hits.length;
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? ca : cb).call('getItem', { id: i })));
  const { ok, limited } = tally(results);
  assert.equal(ok.length, 5, `${ok.length} calls allowed across both instances`);
  assert.equal(limited.length, 11);
  assert.equal(ds.hits.length - hits0, 5);
  assert.equal(limited[0].json.error.data.scope, 'global');
  // The bucket lives in Redis under the prefix, and both instances used it (no local fallback).
  const keys = redis.cli('--scan', '--pattern', `${prefix}*`).stdout.split('\n').filter(Boolean);
  assert.equal(keys.length, 1, `keys: ${keys}`);
  for (const s of [a, b]) assert.doesNotMatch(s.log(), /redis_unavailable_local_fallback/);
  assert.equal(rateWorkers(a.log()).size, 1);
  assert.equal(rateWorkers(b.log()).size, 1);
  await Promise.all([a.stop(), b.stop()]);
  await redis.stop();
  redis = null;
});

test('rate limit: Redis unreachable -> the instance\'s own buckets decide (still exact), and the audit says so', async () => {
  const closed = await freePort();
  const extra = { ...rate(), runtime: { ...rate().runtime, redis: { url: `redis://127.0.0.1:${closed}`, timeout_ms: 200 } } };
  const b = await bridge(extra, 2);
  const c = new McpClient(b.url, {}, { fresh: true });
  assert.equal((await c.init()).status, 200);
  const t0 = Date.now();
  const { ok, limited } = tally(await Promise.all(Array.from({ length: 9 }, () => c.call('listItems'))));
  assert.ok(Date.now() - t0 < 3000, 'calls waited for Redis');
  assert.equal(ok.length, 5);
  assert.equal(limited.length, 4);
  assert.match(b.log(), /redis_unavailable_local_fallback/);
  await b.stop();
});

test('circuit breaker: opens after min_requests failures, refuses without calling the downstream, probes after open_seconds', async () => {
  const b = await bridge({ runtime: { middleware: { circuit_breaker: { enabled: true, min_requests: 4, error_threshold: 0.5,
                                                                       window_seconds: 60, open_seconds: 1 } } } });
  const c = new McpClient(b.url);
  assert.equal((await c.init()).status, 200);
  const hits = () => ds.hits.length;
  const text = (r) => r.json.result.content.map((x) => x.text).join('\n');
  try {
    ds.fail = 500;
    const h0 = hits();
    for (let i = 0; i < 4; i++) {
      const r = await c.call('listItems');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.result.isError, true, r.text);
      assert.doesNotMatch(text(r), /circuit breaker/);
    }
    assert.equal(hits() - h0, 4);
    // Open: refused at once, the downstream is not called.
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await c.call('getItem', { id: 1 });
      assert.ok(Date.now() - t0 < 500);
      assert.equal(r.json.result.isError, true, r.text);
      assert.match(text(r), /circuit breaker/);
      assert.match(text(r), /retry in \d+ ms/);
    }
    assert.equal(hits() - h0, 4, 'the downstream was called while the circuit was open');
    // After open_seconds one probe goes out; it fails, so the circuit opens again.
    await sleep(1150);
    const probe = await c.call('listItems');
    assert.equal(probe.json.result.isError, true);
    assert.doesNotMatch(text(probe), /circuit breaker/, 'the probe went downstream');
    assert.equal(hits() - h0, 5);
    const again = await c.call('listItems');
    assert.match(text(again), /circuit breaker/);
    assert.equal(hits() - h0, 5);
    // Healed: after open_seconds the probe succeeds and the circuit closes.
    ds.fail = 0;
    await sleep(1150);
    const ok = await c.call('listItems');
    assert.notEqual(ok.json.result.isError, true, ok.text);
    assert.equal(hits() - h0, 6);
    for (let i = 0; i < 3; i++) {
      const r = await c.call('getItem', { id: i });
      assert.notEqual(r.json.result.isError, true, r.text);
    }
    assert.equal(hits() - h0, 9);
    // The instance's metrics tell the same story.
    const m = await (await fetch(`${b.base}/metrics`)).text();
    const v = (re) => { const x = m.match(re); assert.ok(x, `missing ${re}`); return Number(x[1]); };
    assert.equal(v(/^mcpbridge_circuit_refused_total (\d+)$/m), 4);
    assert.equal(v(/^mcpbridge_circuit_transitions_total\{to="open"\} (\d+)$/m), 2);
    assert.equal(v(/^mcpbridge_circuit_transitions_total\{to="half_open"\} (\d+)$/m), 2);
    assert.equal(v(/^mcpbridge_circuit_transitions_total\{to="closed"\} (\d+)$/m), 1);
    assert.equal(v(/^mcpbridge_tool_calls_total\{tool="getItem",outcome="denied"\} (\d+)$/m), 3);
  } finally {
    ds.fail = 0;
  }
  await b.stop();
});
