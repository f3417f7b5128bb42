// Shared state across instances through Redis (docs/internals/shared-state.md): two mcpbridge
// instances behind no load balancer, sharing runtime.server.session.secret and one
// redis-server started here, stand for a deployment without sticky sessions. A session ended
// on A is refused on B; a logging level chosen on A is honoured on B; a cancellation sent to A
// stops the call running on B; a token exchanged on A is reused on B (the token endpoint counts
// one exchange); an SSE stream cut on A is resumed with GET + Last-Event-ID on B (or on A,
// while its call still runs there), and only by its own session. With Redis stopped both keep serving (sessions validate by
// their HMAC), /readyz and /metrics say the link is down, and an end on A reaches B once Redis
// is back (the writes kept in A's backlog).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { MCPBRIDGE, SOURCE_DIR, freePort, sleep, waitHttp, writeConfig } from './helpers.mjs';
import { McpClient, startIdp, sign, claimsNow } from './idp.mjs';

const SECRET = 'shared-state-test-secret-0123456789';
const ADMIN_TOKEN = `admin-${randomUUID()}`; // /metrics with authentication on
const AUD = 'mcpbridge-test';
let ds, redis, idp;
const instances = [];

before(async () => {
  [ds, redis, idp] = await Promise.all([startDownstream(), startRedis(), startIdp({ audience: AUD })]);
});

after(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await redis?.stop();
  await ds?.stop();
  await idp?.stop();
});

// ---- the harness: a downstream with a slow route, Redis, instances ----

const ok = { 200: { description: 'ok' } };
const SPEC = {
  openapi: '3.0.3', info: { title: 'shared state test', version: '1' },
  paths: {
    '/items/{id}': { get: { operationId: 'getItem', responses: ok,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }] } },
    '/slow/{ms}': { get: { operationId: 'slowItem', responses: ok,
      parameters: [{ name: 'ms', in: 'path', required: true, schema: { type: 'integer' } }] } },
  },
};

/** The API: /items/N at once, /slow/MS after MS milliseconds; records each request and
 * whether its client went away before the answer (aborted). */
async function startDownstream() {
  const d = { hits: [] };
  const server = createServer((req, res) => {
    const hit = { path: req.url, headers: { ...req.headers }, aborted: false };
    d.hits.push(hit);
    res.on('close', () => { if (!res.writableEnded) hit.aborted = true; });
    res.setHeader('Content-Type', 'application/json');
    const slow = /^\/slow\/(\d+)$/.exec(req.url);
    const item = /^\/items\/(\d+)$/.exec(req.url);
    if (slow) setTimeout(() => { if (!res.destroyed) res.end(JSON.stringify({ slept: Number(slow[1]) })); }, Number(slow[1]));
    else if (item) res.end(JSON.stringify({ id: Number(item[1]), name: `item ${item[1]}` }));
    else { res.statusCode = 404; res.end('{}'); }
  });
  server.keepAliveTimeout = 2000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  d.url = `http://127.0.0.1:${server.address().port}`;
  d.stop = () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });
  return d;
}

/** redis-server on a free port, no persistence; start() again after stop() on the same port. */
async function startRedis() {
  const port = await freePort();
  const r = { port, url: `redis://127.0.0.1:${port}`, child: null };
  r.cli = (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  r.start = async () => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (x) => { out += x; });
    child.stderr.on('data', (x) => { out += x; });
    const end = Date.now() + 10000;
    while (r.cli('PING').stdout.trim() !== 'PONG') {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`redis-server did not start:\n${out}`);
      await sleep(50);
    }
    r.child = child;
  };
  r.stop = () => new Promise((res) => {
    const child = r.child;
    r.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
  await r.start();
  return r;
}

/** One mcpbridge instance on SPEC with the shared secret and Redis (more merged into the
 * config). Returns { url, base, log(), stop() }. */
async function startInstance({ workers = 1, prefix, more = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mbstate-'));
  const port = await freePort();
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(SPEC));
  const extra = { runtime: { server: { session: { secret: SECRET } },
                             redis: { url: redis.url, key_prefix: prefix, timeout_ms: 200 },
                             middleware: { request_timeout: { timeout_ms: 20000 } } }, // slow calls
                  observability: { admin: { token_env: 'MB_STATE_ADMIN_TOKEN' } } };
  const configFile = writeConfig(dir, { specFile, baseUrl: ds.url, port, extra: merge(extra, more) });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', String(workers)],
                      { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR,
                        env: { ...process.env, MB_STATE_ADMIN_TOKEN: ADMIN_TOKEN } });
  let log = '';
  child.stderr.on('data', (x) => { log += x; });
  const base = `http://127.0.0.1:${port}`;
  let stopped = false;
  const inst = {
    url: `${base}/mcp`, base, workers, log: () => log,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} }, 5000);
        child.once('exit', () => { clearTimeout(t); res(); });
        child.kill('SIGTERM');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  instances.push(inst);
  try {
    await waitHttp(`${base}/healthz`, 15000, () => child.exitCode !== null);
  } catch (e) {
    await inst.stop();
    throw new Error(`mcpbridge did not start: ${e.message}\n--- its stderr ---\n${log}`);
  }
  return inst;
}

function merge(a, b) {
  for (const [k, v] of Object.entries(b)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object') merge(a[k], v);
    else a[k] = v;
  }
  return a;
}

/** The metrics of an instance as { name: value } (unlabelled samples). */
async function metrics(inst) {
  const r = await fetch(`${inst.base}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200);
  const out = {};
  for (const line of (await r.text()).split('\n')) {
    const m = /^(mcpbridge_[a-z_]+) (\d+(?:\.\d+)?)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function readyz(inst) {
  const r = await fetch(`${inst.base}/readyz`);
  return { status: r.status, json: await r.json() };
}

/** Waits until pred() (async) holds, or fails with what. */
async function waitFor(pred, what, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Every worker of inst has its Redis link up (workers publish their figures every second). */
const linked = (inst) => waitFor(async () => (await metrics(inst)).mcpbridge_redis_connected_workers === inst.workers,
                                 'the Redis links');

const prefixFor = () => `mbtest-${randomUUID().slice(0, 8)}:`;

async function twoInstances(more = {}) {
  const prefix = prefixFor();
  const a = await startInstance({ workers: 2, prefix, more });
  const b = await startInstance({ workers: 1, prefix, more });
  await Promise.all([linked(a), linked(b)]);
  return { a, b, prefix };
}

/** A client of one session that talks to A or B (same session id on both). */
function sessionOn(a, b) {
  const ca = new McpClient(a.url, {}, { fresh: true });
  const cb = new McpClient(b.url, {}, { fresh: true });
  return { ca, cb, async init() { assert.equal((await ca.init()).status, 200); cb.sid = ca.sid; cb.id = 100; } };
}

/** A raw HTTP exchange whose SSE body is parsed as it arrives. cutWhen(events) true: the
 * connection is destroyed at that point (the client "loses" it). Resolves with { status,
 * headers, events: [{ id, event, data, json }], text, ended (the server ended the body) }. */
function sse(url, { method = 'GET', headers = {}, body, cutWhen, maxMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(url, {
      method, agent: false,
      headers: { Accept: 'application/json, text/event-stream', Connection: 'close',
                 ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
                 ...headers },
    }, (res) => {
      const out = { status: res.statusCode, headers: res.headers, events: [], text: '', ended: false };
      let buf = '';
      const timer = setTimeout(() => { req.destroy(); resolve(out); }, maxMs);
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        out.text += chunk;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: undefined, event: undefined, data: undefined };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const m = /^([a-z]+): ?(.*)$/.exec(line);
            if (m && ['id', 'event', 'data', 'retry'].includes(m[1])) ev[m[1]] = m[2];
          }
          if (ev.id === undefined && ev.data === undefined && ev.retry === undefined) continue;
          try { ev.json = ev.data ? JSON.parse(ev.data) : undefined; } catch {}
          out.events.push(ev);
        }
        if (cutWhen && cutWhen(out.events)) { clearTimeout(timer); req.destroy(); resolve(out); }
      });
      res.on('end', () => { clearTimeout(timer); out.ended = true; resolve(out); });
      res.on('error', () => { clearTimeout(timer); resolve(out); });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    if (data) req.write(data);
    req.end();
  });
}

const sessionHeaders = (sid) => ({ 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });

/** A slow tools/call with a progress token on inst, cut once the progress notification arrived. */
async function cutSlowCall(inst, sid, ms, id = 9) {
  const first = await sse(inst.url, { method: 'POST', headers: sessionHeaders(sid),
    body: { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slowItem', arguments: { ms }, _meta: { progressToken: 'p1' } } },
    cutWhen: (evs) => evs.some((e) => e.json?.method === 'notifications/progress') });
  assert.equal(first.status, 200);
  assert.match(first.headers['content-type'], /text\/event-stream/);
  assert.equal(first.ended, false, 'the call ended before the cut');
  return first;
}

// ---- tests ----

test('a session ended on A is refused on B within moments, and B refuses it by name', async () => {
  const { a, b, prefix } = await twoInstances();
  const s = sessionOn(a, b);
  await s.init();
  const before = await s.cb.call('getItem', { id: 1 });
  assert.equal(before.status, 200, before.text);
  assert.notEqual(before.json.result.isError, true, before.text);
  const del = await fetch(a.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': s.ca.sid } });
  assert.equal(del.status, 200);
  assert.equal((await s.ca.call('getItem', { id: 1 })).status, 404, 'A refuses it at once');
  let refused;
  await waitFor(async () => { refused = await s.cb.call('getItem', { id: 1 }); return refused.status === 404; },
                'B to refuse the ended session', 3000);
  assert.match(refused.json.error.message, /ended/);
  // The end is kept in Redis until the session would have expired.
  const members = redis.cli('ZRANGE', `${prefix}sessions:ended`, '0', '-1', 'WITHSCORES').stdout.trim().split('\n');
  assert.equal(members.length, 2, members.join(' '));
  assert.match(members[0], /^[0-9a-f]{16}$/);
  assert.ok(Number(members[1]) > Date.now() / 1000 + 3600, 'expiry = issue time + ttl (a day by default)');
  // Another session is not affected.
  const other = sessionOn(a, b);
  await other.init();
  assert.equal((await other.cb.call('getItem', { id: 2 })).status, 200);
  await Promise.all([a.stop(), b.stop()]);
});

test('a logging level chosen on A is honoured on B: its tools/call streams notifications/message', async () => {
  const { a, b } = await twoInstances();
  const s = sessionOn(a, b);
  await s.init();
  const plain = await s.cb.call('getItem', { id: 3 });
  assert.match(plain.headers.get('content-type'), /application\/json/, 'no level yet: plain JSON');
  const set = await s.ca.request('logging/setLevel', { level: 'info' });
  assert.equal(set.status, 200, set.text);
  let r;
  await waitFor(async () => {
    r = await s.cb.call('getItem', { id: 3 });
    return /text\/event-stream/.test(r.headers.get('content-type') || '');
  }, 'B to honour the level', 3000);
  assert.match(r.text, /"method":"notifications\/message"/);
  assert.match(r.text, /"level":"info"/);
  assert.equal(r.json.result.isError, undefined, r.text);
  // A raised level is honoured too: at "error" the info messages stop.
  assert.equal((await s.ca.request('logging/setLevel', { level: 'error' })).status, 200);
  await waitFor(async () => !/notifications\/message/.test((await s.cb.call('getItem', { id: 4 })).text),
                'B to honour the raised level', 3000);
  await Promise.all([a.stop(), b.stop()]);
});

test('notifications/cancelled sent to A stops the call running on B', async () => {
  const { a, b } = await twoInstances();
  const s = sessionOn(a, b);
  await s.init();
  const hits0 = ds.hits.length;
  const call = s.cb.send({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'slowItem', arguments: { ms: 8000 } } });
  await waitFor(() => ds.hits.length > hits0, 'the slow call to reach the downstream', 3000);
  const cancel = await s.ca.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 77, reason: 'test' } });
  assert.equal(cancel.status, 202);
  const r = await call;
  assert.equal(r.status, 202, `the exchange ended without a response: ${r.status} ${r.text}`);
  assert.equal(r.text, '');
  const hit = ds.hits.slice(hits0).find((h) => h.path === '/slow/8000');
  await waitFor(() => hit.aborted, 'the downstream transfer to be stopped', 2000);
  assert.match(b.log(), /cancelled by the client through another worker/);
  await Promise.all([a.stop(), b.stop()]);
});

test('a token exchanged on A is reused on B: one exchange at the token endpoint, sealed in Redis', async () => {
  const exchange = { security: { authentication: { enabled: true,
    service_account: { enabled: true, mode: 'token', public_key: idp.keys.ed.publicPem },
    user_auth: { enabled: true, mode: 'jwt', jwks_uri: idp.jwksUri, issuer: idp.issuer, audience: AUD,
                 token_exchange: { enabled: true, token_url: idp.tokenUrl, client_id: 'mcpbridge',
                                   client_secret: 'tx-secret-value', audience: 'downstream-api' } } } } };
  const { a, b, prefix } = await twoInstances(exchange);
  const sa = sign({ alg: 'EdDSA', key: idp.keys.ed, kid: null, claims: claimsNow({ sub: 'svc-a', client_id: 'svc-a' }) });
  const alice = idp.token({ claims: { sub: 'alice' } });
  const headers = { 'X-OEMCP-SERVICEACCOUNT': sa, Authorization: `Bearer ${alice}` };
  const ca = new McpClient(a.url, headers, { fresh: true });
  const cb = new McpClient(b.url, headers, { fresh: true });
  assert.equal((await ca.init()).status, 200);
  const req0 = idp.stats.tokenRequests, hits0 = ds.hits.length;
  const ra = await ca.call('getItem', { id: 1 });
  assert.equal(ra.status, 200, ra.text);
  assert.notEqual(ra.json.result.isError, true, ra.text);
  assert.equal(idp.stats.tokenRequests - req0, 1, 'A exchanged the token');
  // The shared entry: one key under the prefix, its TTL the token's life minus the skew, its
  // value sealed (neither the exchanged token nor the user's appears in it).
  let keys = [];
  await waitFor(() => (keys = redis.cli('--scan', '--pattern', `${prefix}tok:*`).stdout.split('\n').filter(Boolean)).length === 1,
                'the shared token entry', 3000);
  assert.match(keys[0], new RegExp(`^${prefix}tok:[0-9a-f]{64}$`));
  const ttl = Number(redis.cli('TTL', keys[0]).stdout.trim());
  assert.ok(ttl > 200 && ttl <= 270, `TTL ${ttl}`);
  const stored = spawnSync('redis-cli', ['-p', String(redis.port), '--no-raw', 'GET', keys[0]], { encoding: 'latin1' }).stdout;
  const exchanged = ds.hits[hits0].headers.authorization.replace(/^Bearer /, '');
  assert.ok(exchanged.length > 20);
  for (const secret of [exchanged.slice(0, 20), alice.slice(0, 20), 'eyJ']) assert.ok(!stored.includes(secret), 'a token is readable in Redis');

  // B: a new session for the same user; its call uses the token A obtained.
  assert.equal((await cb.init()).status, 200);
  const rb = await cb.call('getItem', { id: 2 });
  assert.equal(rb.status, 200, rb.text);
  assert.notEqual(rb.json.result.isError, true, rb.text);
  assert.equal(idp.stats.tokenRequests - req0, 1, 'B reused the exchanged token');
  assert.equal(ds.hits.at(-1).headers.authorization, `Bearer ${exchanged}`);
  // Another user is exchanged once more.
  const bob = new McpClient(b.url, { ...headers, Authorization: `Bearer ${idp.token({ claims: { sub: 'bob' } })}` }, { fresh: true });
  assert.equal((await bob.init()).status, 200);
  assert.equal((await bob.call('getItem', { id: 3 })).status, 200);
  assert.equal(idp.stats.tokenRequests - req0, 2);
  for (const inst of [a, b]) assert.ok(!inst.log().includes('tx-secret-value') && !inst.log().includes(exchanged));
  await Promise.all([a.stop(), b.stop()]);
});

test('SSE: a stream cut on A is resumed on B with Last-Event-ID; the call was not cancelled; ids are per stream', async () => {
  const { a, b, prefix } = await twoInstances();
  const s = sessionOn(a, b);
  await s.init();
  const hits0 = ds.hits.length;
  const first = await cutSlowCall(a, s.ca.sid, 1500);
  // The 2025-11-25 priming event: an id and empty data; then the progress notification.
  const [primer, progress] = first.events;
  assert.match(primer.id, /^p[A-Za-z0-9_-]{22}-0$/);
  assert.equal(primer.data, '');
  const streamId = primer.id.slice(0, -2);
  assert.equal(progress.id, `${streamId}-1`);
  // Another session may not read it; a malformed id is refused.
  const other = sessionOn(a, b);
  await other.init();
  const stolen = await sse(b.url, { headers: { ...sessionHeaders(other.ca.sid), 'Last-Event-ID': progress.id } });
  assert.equal(stolen.status, 400, stolen.text);
  assert.match(stolen.text, /no stream of this session/);
  const bad = await sse(b.url, { headers: { ...sessionHeaders(s.ca.sid), 'Last-Event-ID': 'not-an-id' } });
  assert.equal(bad.status, 400);
  // The owner resumes on B: the rest arrives (the result when the slow call ends), then the end.
  const resumed = await sse(b.url, { headers: { ...sessionHeaders(s.ca.sid), 'Last-Event-ID': progress.id } });
  assert.equal(resumed.status, 200, resumed.text);
  assert.equal(resumed.ended, true, 'the resumed stream ends after the result');
  const result = resumed.events.at(-1);
  assert.equal(result.json.id, 9);
  assert.deepEqual(result.json.result.structuredContent, { slept: 1500 });
  for (const ev of resumed.events) {
    assert.ok(ev.id.startsWith(`${streamId}-`), ev.id);
    assert.ok(Number(ev.id.split('-').at(-1)) > 1, 'nothing at or before the Last-Event-ID again');
  }
  const hit = ds.hits.slice(hits0).find((h) => h.path === '/slow/1500');
  assert.equal(hit.aborted, false, 'the disconnection cancelled the call');
  // The log is in Redis under the session, with the end mark, and expires.
  const keys = redis.cli('--scan', '--pattern', `${prefix}sse:*`).stdout.split('\n').filter(Boolean);
  assert.equal(keys.length, 1);
  assert.ok(keys[0].endsWith(`:${streamId}`));
  assert.match(redis.cli('LINDEX', keys[0], '-1').stdout.trim(), /^\d+ e$/);
  const ttl = Number(redis.cli('TTL', keys[0]).stdout.trim());
  assert.ok(ttl > 0 && ttl <= 60, `TTL ${ttl}`);
  // Resuming again from the start replays everything, from A's own log this time.
  const again = await sse(a.url, { headers: { ...sessionHeaders(s.ca.sid), 'Last-Event-ID': primer.id } });
  assert.equal(again.status, 200);
  assert.deepEqual(again.events.map((e) => e.id), [progress.id, ...resumed.events.map((e) => e.id)]);
  await Promise.all([a.stop(), b.stop()]);
});

test('SSE: resumed on the worker that still runs the call, the stream is relayed live', async () => {
  const prefix = prefixFor();
  const a = await startInstance({ workers: 1, prefix });
  await linked(a);
  const c = new McpClient(a.url, {}, { fresh: true });
  assert.equal((await c.init()).status, 200);
  const first = await cutSlowCall(a, c.sid, 1200, 11);
  const last = first.events.at(-1).id;
  const resumed = await sse(a.url, { headers: { ...sessionHeaders(c.sid), 'Last-Event-ID': last } });
  assert.equal(resumed.status, 200, resumed.text);
  assert.equal(resumed.ended, true);
  assert.equal(resumed.events.at(-1).json.id, 11);
  assert.deepEqual(resumed.events.at(-1).json.result.structuredContent, { slept: 1200 });
  await a.stop();
});

test('Redis down: sessions keep working, /readyz and /metrics say so; back up: links return and B learns what A ended meanwhile', async () => {
  const { a, b } = await twoInstances();
  const s = sessionOn(a, b);
  await s.init();
  const keep = sessionOn(a, b);
  await keep.init();
  const ready = await readyz(a);
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.json.redis, { configured: true, connected: true });
  const m0 = await metrics(a);
  assert.equal(m0.mcpbridge_redis_configured_workers, 2);

  await redis.stop();
  await waitFor(async () => (await metrics(a)).mcpbridge_redis_connected_workers === 0 &&
                            (await metrics(b)).mcpbridge_redis_connected_workers === 0, 'the links to drop');
  for (const inst of [a, b]) {
    const r = await readyz(inst);
    assert.equal(r.status, 200, 'degraded, not unready');
    assert.deepEqual(r.json.redis, { configured: true, connected: false });
    assert.ok((await metrics(inst)).mcpbridge_redis_errors_total > 0);
  }
  // Sessions validate by their HMAC on both; a new one can start on either.
  assert.equal((await s.cb.call('getItem', { id: 5 })).status, 200);
  const fresh = sessionOn(b, a);
  await fresh.init();
  assert.equal((await fresh.cb.call('getItem', { id: 6 })).status, 200);
  // An end on A: refused on A at once; B cannot know yet (documented degradation).
  const del = await fetch(a.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': s.ca.sid } });
  assert.equal(del.status, 200);
  assert.equal((await s.ca.call('getItem', { id: 5 })).status, 404);
  assert.equal((await s.cb.call('getItem', { id: 5 })).status, 200, 'B learns of it only through Redis');

  await redis.start(); // empty: no persistence
  await Promise.all([linked(a), linked(b)]);
  await waitFor(async () => (await s.cb.call('getItem', { id: 5 })).status === 404, 'B to refuse the session A ended', 5000);
  assert.equal((await keep.cb.call('getItem', { id: 7 })).status, 200, 'other sessions unaffected');
  const m1 = await metrics(a);
  assert.ok(m1.mcpbridge_redis_reconnects_total >= 2, `reconnects ${m1.mcpbridge_redis_reconnects_total}`);
  assert.deepEqual((await readyz(b)).json.redis, { configured: true, connected: true });
  assert.match(a.log(), /writing 1 session change\(s\) kept while it was away/);
  await Promise.all([a.stop(), b.stop()]);
});

test('without runtime.redis: /readyz says redis is not configured', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbstate-'));
  try {
    const port = await freePort();
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify(SPEC));
    const configFile = writeConfig(dir, { specFile, baseUrl: ds.url, port });
    const child = spawn(MCPBRIDGE, ['serve', '--config', configFile], { stdio: 'ignore', cwd: SOURCE_DIR });
    try {
      await waitHttp(`http://127.0.0.1:${port}/healthz`, 15000, () => child.exitCode !== null);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.deepEqual((await r.json()).redis, { configured: false, connected: false });
    } finally {
      await new Promise((res) => { child.once('exit', res); child.kill('SIGTERM'); });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
