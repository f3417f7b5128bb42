// The admin surface through the real binary (issue 6): GET /metrics (Prometheus text with the
// worker, guard, call-statistics and capacity families) and the status page; who may read
// them (loopback peers when no credential method is configured; else the admin token from
// observability.admin.token_env or a principal with observability.admin.scope, from every
// peer); the separate admin listener (observability.metrics.port); tools/call counted exactly
// once across two workers whichever worker answers; /readyz with the master's capacity sample
// and a verdict that leaves "ok" under forced thresholds. Every case starts its own mcpbridge
// against a recording downstream (idp.mjs); the JWT case uses the local IdP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import { MCPBRIDGE, freePort, sleep } from './helpers.mjs';
import { startIdp, startDownstream, startBridge, writeBridgeConfig, McpClient } from './idp.mjs';

const AUD = 'mcpbridge-test';
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";
const TOKEN_ENV = 'MB_TEST_ADMIN_TOKEN';
const TOKEN = 'admin-token-9f2c41d07be35a68c1e4d2b7a9f0c3e5';
let idp, ds;
const bridges = [];

before(async () => {
  [idp, ds] = await Promise.all([startIdp({ audience: AUD }), startDownstream()]);
});

after(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  await ds?.stop();
  await idp?.stop();
  // Under the sanitizer build a memory error shows in a log, not always as a failed request.
  for (const b of bridges)
    assert.doesNotMatch(b.log(), /AddressSanitizer|LeakSanitizer|runtime error:|killed by signal/);
});

/** mcpbridge on its own config; env: variables set for the child only while it starts. */
async function bridge(extra = {}, { workers = 1, env = {} } = {}) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const b = await startBridge({ downstreamUrl: ds.url, extra, workers });
    bridges.push(b);
    return b;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** One request on a fresh connection (so requests spread over the workers). Host may be set. */
function get(url, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, timeout: 10000, headers: { Connection: 'close', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const json = (r) => JSON.parse(r.text);

/** The samples of a Prometheus text as [{ name, labels, value }]. */
function samples(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] || '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map((l) => [l[1], l[2]]));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of tools/call counted for tool over every outcome. */
function toolCalls(text, tool) {
  return samples(text).filter((s) => s.name === 'mcpbridge_tool_calls_total' && s.labels.tool === tool)
    .reduce((sum, s) => sum + s.value, 0);
}

function assertChallenge(r, error) {
  const h = r.headers['www-authenticate'];
  assert.ok(h, `no WWW-Authenticate on ${r.status}: ${r.text}`);
  assert.match(h, /^Bearer realm="mcpbridge-admin"/);
  if (error) assert.match(h, new RegExp(`error="${error}"`));
  else assert.doesNotMatch(h, /error=/);
}

/** A non-loopback IPv4 address of this machine, or null. */
function externalAddress() {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

test('default config: /metrics and the status page answer 127.0.0.1, with every family and strict headers', async () => {
  const b = await bridge();
  const r = await get(`${b.base}/metrics`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.equal(r.headers['cache-control'], 'no-store');
  for (const family of ['mcpbridge_build_info', 'mcpbridge_generation', 'mcpbridge_uptime_seconds',
    'mcpbridge_workers', 'mcpbridge_http_responses_total', 'mcpbridge_guard_calls_total', 'mcpbridge_mcp_requests_total',
    'mcpbridge_tool_calls_total', 'mcpbridge_phase_duration_seconds', 'mcpbridge_capacity_verdict'])
    assert.match(r.text, new RegExp(`^# TYPE ${family} `, 'm'), `family ${family} missing`);
  const s = samples(r.text);
  assert.equal(s.find((x) => x.name === 'mcpbridge_build_info')?.value, 1);
  assert.match(s.find((x) => x.name === 'mcpbridge_build_info').labels.version, /^\d+\.\d+\.\d+/);
  assert.equal(s.find((x) => x.name === 'mcpbridge_generation')?.value, 1);
  assert.ok(s.find((x) => x.name === 'mcpbridge_uptime_seconds')?.value >= 0);

  const page = await get(`${b.base}/status`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html; charset=utf-8/);
  assert.ok(page.headers['content-security-policy'].startsWith(CSP), page.headers['content-security-policy']);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.match(page.text, /<html/i);
  assert.match(page.text, /\/metrics/, 'the page polls the configured metrics path');

  for (const path of ['/metrics', '/status']) {
    const post = await get(`${b.base}${path}`, {}, 'POST');
    assert.equal(post.status, 405, `POST ${path}`);
    assert.equal(post.headers.allow, 'GET');
    const rebinding = await get(`${b.base}${path}`, { Host: 'attacker.example' });
    assert.equal(rebinding.status, 403, `foreign Host on ${path}`);
    const origin = await get(`${b.base}${path}`, { Origin: 'https://attacker.example' });
    assert.equal(origin.status, 403, `foreign Origin on ${path}`);
  }
});

test('metrics and status page disabled, or moved to other paths: 404 on the old ones', async () => {
  const b = await bridge({ observability: { metrics: { enabled: false }, status_page: { path: '/ops/status' } } });
  assert.equal((await get(`${b.base}/metrics`)).status, 404);
  assert.equal((await get(`${b.base}/status`)).status, 404);
  const page = await get(`${b.base}/ops/status`);
  assert.equal(page.status, 200);
});

test('token_env: 401 with the admin challenge without or with a wrong token, from loopback too; 200 with it', async () => {
  const b = await bridge({ observability: { admin: { token_env: TOKEN_ENV } } }, { env: { [TOKEN_ENV]: TOKEN } });
  const none = await get(`${b.base}/metrics`);
  assert.equal(none.status, 401, none.text);
  assertChallenge(none);
  assert.doesNotMatch(none.text, /mcpbridge_/);
  const wrong = await get(`${b.base}/metrics`, { Authorization: `Bearer ${TOKEN}x` });
  assert.equal(wrong.status, 401, wrong.text);
  assertChallenge(wrong, 'invalid_token');
  const prefix = await get(`${b.base}/metrics`, { Authorization: `Bearer ${TOKEN.slice(0, -1)}` });
  assert.equal(prefix.status, 401, prefix.text);
  const basic = await get(`${b.base}/metrics`, { Authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` });
  assert.equal(basic.status, 401);
  const good = await get(`${b.base}/metrics`, { Authorization: `Bearer ${TOKEN}` });
  assert.equal(good.status, 200, good.text);
  assert.match(good.text, /^# TYPE mcpbridge_tool_calls_total counter$/m);
  // The status page is a shell without figures (a browser cannot send the token with a page
  // load): served to anyone past the Host/Origin guard; its metrics requests carry the token.
  const page = await get(`${b.base}/status`);
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.text, /^mcpbridge_/m);
  assert.equal((await get(`${b.base}/status`, { Host: 'attacker.example' })).status, 403);
  // /readyz and /healthz stay open to probes; MCP is untouched by the admin token.
  assert.equal((await get(`${b.base}/readyz`)).status, 200);
  assert.equal((await new McpClient(b.url).init()).status, 200);
  await sleep(100);
  assert.ok(!b.log().includes(TOKEN), 'the admin token appears in the log');
  assert.match(b.log(), /"category":"admin"[^\n]*"status":"deny"/);
});

test('token_env naming an unset variable stops start-up and names the variable', async () => {
  const { configFile } = await writeBridgeConfig({ downstreamUrl: ds.url,
    extra: { observability: { admin: { token_env: 'MB_TEST_NEVER_SET' } } } });
  const env = { ...process.env };
  delete env.MB_TEST_NEVER_SET;
  const r = spawnSync(MCPBRIDGE, ['serve', '--config', configFile], { encoding: 'utf8', env, timeout: 10000 });
  assert.equal(r.status, 1, `serve did not stop: ${r.signal ?? ''} ${r.stderr}`);
  assert.match(r.stderr, /observability\.admin\.token_env: the environment variable MB_TEST_NEVER_SET is not set: set it/);
});

test('security authentication (JWT): 401 without a token, 403 without the admin scope, 200 with it', async () => {
  const b = await bridge({ security: { authentication: { enabled: true, service_account: {
    enabled: true, sso_mode: true, jwks_uri: idp.jwksUri, issuer: idp.issuer, audience: AUD } } } });
  const none = await get(`${b.base}/metrics`);
  assert.equal(none.status, 401, none.text);
  assertChallenge(none);
  const forged = await get(`${b.base}/metrics`, { Authorization: 'Bearer not.a.jwt' });
  assert.equal(forged.status, 401, forged.text);
  assertChallenge(forged, 'invalid_token');
  const user = idp.token({ claims: { sub: 'reader', scope: 'items:read' } });
  const noScope = await get(`${b.base}/metrics`, { Authorization: `Bearer ${user}` });
  assert.equal(noScope.status, 403, noScope.text);
  assertChallenge(noScope, 'insufficient_scope');
  assert.match(noScope.headers['www-authenticate'], /scope="mcpbridge:admin"/);
  const admin = idp.token({ claims: { sub: 'ops', scope: 'items:read mcpbridge:admin' } });
  for (const path of ['/metrics', '/status']) {
    const r = await get(`${b.base}${path}`, { Authorization: `Bearer ${admin}` });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
  }
  // The same token still has to pass the MCP endpoint's own rules.
  assert.equal((await new McpClient(b.url, { Authorization: `Bearer ${admin}` }).init()).status, 200);
});

test('separate admin listener: the admin routes only there (404 on the MCP port), MCP still works', async () => {
  const adminPort = await freePort();
  const b = await bridge({ observability: { metrics: { port: adminPort } } }, { workers: 2 });
  const admin = `http://127.0.0.1:${adminPort}`;
  assert.match(b.log(), new RegExp(`admin routes \\(metrics, status page\\) on http://127\\.0\\.0\\.1:${adminPort}`));
  // The MCP port answers as soon as one worker is ready; wait until both have started
  // (each publishes its figures before it reports ready).
  for (const end = Date.now() + 10000; Date.now() < end;) {
    if (/^mcpbridge_workers 2$/m.test((await get(`${admin}/metrics`)).text)) break;
    await sleep(100);
  }
  for (let i = 0; i < 4; i++) {
    const m = await get(`${admin}/metrics`);
    assert.equal(m.status, 200, m.text);
    assert.match(m.text, /^mcpbridge_workers 2$/m);
  }
  assert.equal((await get(`${admin}/status`)).status, 200);
  assert.equal((await get(`${b.base}/metrics`)).status, 404);
  assert.equal((await get(`${b.base}/status`)).status, 404);
  for (const path of ['/mcp', '/healthz', '/readyz', '/nothing'])
    assert.equal((await get(`${admin}${path}`)).status, 404, `${path} on the admin listener`);
  assert.equal((await get(`${admin}/metrics`, { Host: 'attacker.example' })).status, 403);
  const c = new McpClient(b.url);
  assert.equal((await c.init()).status, 200);
  const call = await c.call('getItem', { id: 3 });
  assert.equal(call.status, 200, call.text);
  assert.deepEqual(JSON.parse(call.json.result.content[0].text), { id: 3, name: 'item 3' });
  // A graceful stop closes the admin listener with the MCP one.
  await b.stop();
  await assert.rejects(get(`${admin}/metrics`));
});

/** Rewrites b's config with change(cfg), sends SIGHUP and waits for a line matching re. */
async function reload(b, change, re) {
  const cfg = JSON.parse(readFileSync(b.configFile, 'utf8'));
  change(cfg);
  writeFileSync(b.configFile, JSON.stringify(cfg));
  const from = b.log().length;
  process.kill(b.child.pid, 'SIGHUP');
  for (let i = 0; i < 100 && !re.test(b.log().slice(from)); i++) await sleep(100);
  assert.match(b.log().slice(from), re);
  return b.log().slice(from);
}

test('reload keeps the admin listener: another port is only warned about, moving the routes is refused', async () => {
  const adminPort = await freePort();
  const b = await bridge({ observability: { metrics: { port: adminPort } } });
  const otherPort = await freePort();
  const moved = await reload(b, (c) => { c.observability.metrics.port = otherPort; }, /reload complete: generation 2/);
  assert.match(moved, new RegExp(`admin listener's address changed \\(127\\.0\\.0\\.1 port ${otherPort}\\); that needs a restart, still listening on 127\\.0\\.0\\.1 port ${adminPort}`));
  const m = await get(`http://127.0.0.1:${adminPort}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.text, /^mcpbridge_generation 2$/m);
  const refused = await reload(b, (c) => { c.observability.metrics.port = 0; }, /reload failed, keeping generation 2/);
  assert.match(refused, /observability\.metrics\.port changed from \d+ to 0; moving the admin routes onto the MCP listener needs a restart/);
  assert.equal((await get(`${b.base}/metrics`)).status, 404);
  assert.equal((await get(`http://127.0.0.1:${adminPort}/metrics`)).status, 200);
});

test('non-loopback peers: 403 naming the keys to set when no credential is configured; the token otherwise', { skip: !externalAddress() && 'no non-loopback IPv4 address' }, async () => {
  const addr = externalAddress();
  const open = await freePort();
  const a = await bridge({ observability: { metrics: { host: '0.0.0.0', port: open } } });
  assert.equal((await get(`http://127.0.0.1:${open}/metrics`)).status, 200, 'loopback is let in');
  const far = await get(`http://${addr}:${open}/metrics`);
  assert.equal(far.status, 403, far.text);
  assert.match(json(far).error_description, /observability\.admin\.token_env/);
  assert.equal(far.headers['www-authenticate'], undefined);
  assert.equal((await get(`http://${addr}:${open}/status`)).status, 403, 'without a credential method the page follows the loopback rule too');
  await a.stop();

  const guarded = await freePort();
  const b = await bridge({ observability: { metrics: { host: '0.0.0.0', port: guarded }, admin: { token_env: TOKEN_ENV } } },
                         { env: { [TOKEN_ENV]: TOKEN } });
  const farNone = await get(`http://${addr}:${guarded}/metrics`);
  assert.equal(farNone.status, 401, farNone.text);
  assertChallenge(farNone);
  const farGood = await get(`http://${addr}:${guarded}/metrics`, { Authorization: `Bearer ${TOKEN}` });
  assert.equal(farGood.status, 200, farGood.text);
  assert.equal((await get(`http://127.0.0.1:${guarded}/metrics`)).status, 401, 'loopback does not bypass the token');
  assert.equal((await get(`http://${addr}:${guarded}/status`)).status, 200,
               'with a token configured the page shell loads (it asks for the token; its figures need it)');
});

test('two workers: N tools/call on N fresh connections are counted exactly N times, whichever worker answers', async () => {
  const b = await bridge({}, { workers: 2 });
  // Both workers accept connections (SO_REUSEPORT spreads fresh ones).
  const seen = new Set();
  for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(json(await get(`${b.base}/readyz`)).worker);
  assert.equal(seen.size, 2, 'fresh connections reached both workers');
  const N = 24;
  const c = new McpClient(b.url, {}, { fresh: true });
  assert.equal((await c.init()).status, 200);
  for (let i = 0; i < N; i++) {
    const r = await c.call('getItem', { id: i + 1 });
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.result.isError, true, r.text);
  }
  const counts = [];
  for (let i = 0; i < 10; i++) counts.push(toolCalls((await get(`${b.base}/metrics`)).text, 'getItem'));
  assert.deepEqual(counts, Array(10).fill(N));
  const text = (await get(`${b.base}/metrics`)).text;
  assert.equal(toolCalls(text, 'listItems'), 0);
  const ok = samples(text).find((s) => s.name === 'mcpbridge_tool_calls_total' && s.labels.tool === 'getItem' &&
                                       s.labels.outcome === 'ok');
  assert.equal(ok?.value, N);
});

test('/readyz: the capacity sample with a verdict after the first samples; /healthz unchanged', async () => {
  const b = await bridge({}, { workers: 2 });
  const first = json(await get(`${b.base}/readyz`));
  assert.equal(first.status, 'ready');
  assert.equal(first.generation, 1);
  assert.equal(first.tools, 3);
  assert.equal(typeof first.worker, 'number');
  assert.ok('capacity' in first);
  let cap = first.capacity;
  for (let i = 0; i < 50 && !(cap && cap.verdict && cap.verdict !== 'warming_up'); i++) {
    await sleep(100);
    cap = json(await get(`${b.base}/readyz`)).capacity;
  }
  assert.ok(['ok', 'tune_workers', 'scale_out'].includes(cap.verdict), JSON.stringify(cap));
  assert.ok(Array.isArray(cap.reasons));
  assert.equal(cap.workers.length, 2);
  for (const w of cap.workers) assert.equal(w.connection_cap, 10000);
  assert.ok(cap.recommendation && typeof cap.recommendation.workers === 'number');
  const health = json(await get(`${b.base}/healthz`));
  assert.deepEqual(Object.keys(health).sort(), ['status', 'worker']);
  assert.equal(health.status, 'alive');
});

test('forced thresholds under load: the verdict leaves ok', async () => {
  const b = await bridge({ observability: { capacity: { cpu_threshold: 0.01, sustain_seconds: 1, sample_interval_ms: 200 } } },
                         { workers: 1 });
  const c = new McpClient(b.url);
  assert.equal((await c.init()).status, 200);
  let cap = null, metrics = null;
  let stop = false;
  const load = Promise.all(Array.from({ length: 4 }, async () => {
    while (!stop) await c.call('listItems');
  }));
  try {
    for (let i = 0; i < 100; i++) {
      await sleep(100);
      cap = json(await get(`${b.base}/readyz`)).capacity;
      if (cap && ['tune_workers', 'scale_out'].includes(cap.verdict)) {
        metrics = samples((await get(`${b.base}/metrics`)).text);
        break;
      }
    }
  } finally {
    stop = true;
    await load;
  }
  assert.ok(['tune_workers', 'scale_out'].includes(cap?.verdict), JSON.stringify(cap));
  assert.ok(cap.reasons.includes('cpu_sustained'), JSON.stringify(cap.reasons));
  const verdicts = metrics.filter((s) => s.name === 'mcpbridge_capacity_verdict');
  assert.equal(verdicts.find((s) => s.labels.verdict === 'ok')?.value, 0, JSON.stringify(verdicts));
  assert.equal(verdicts.find((s) => s.labels.verdict === 'warming_up')?.value, 0, JSON.stringify(verdicts));
});
