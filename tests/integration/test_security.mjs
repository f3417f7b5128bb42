// The security gateway through the real binary (issue 5): service-account tokens (token mode,
// Ed25519 PEM), sso_mode against a local identity provider's JWKS (idp.mjs: keys made with the
// openssl CLI at test time), per-tool scopes (tools/list filtering, 403 insufficient_scope),
// the verified-token cache and the JWKS shared by the workers of an instance (checked through
// the IdP's fetch count and /metrics), key rotation under load, user_auth beside a service
// account, failing closed when the identity provider cannot be reached, and what goes
// downstream: the API key, client_credentials and token-exchange tokens, never the client's
// own credentials. Every case starts its own mcpbridge; the downstream records the headers it
// receives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { MCPBRIDGE, SOURCE_DIR, freePort, sleep } from './helpers.mjs';
import { startIdp, makeKey, sign, claimsNow, noneToken, hsWithPublicKey, flipSignature, tamper,
         startDownstream, startBridge, writeBridgeConfig, McpClient, TOOLS } from './idp.mjs';

const AUD = 'mcpbridge-test';
let idp, ds;
const bridges = [];

// /metrics is an admin route: with authentication on it needs a credential. The admin token
// (observability.admin.token_env) is checked before the gateway, so reading the counters does
// not move them.
const ADMIN_TOKEN_ENV = 'MB_TEST_ADMIN_TOKEN';
const ADMIN_TOKEN = 'security-test-metrics-reader-0123456789abcdef';

before(async () => {
  process.env[ADMIN_TOKEN_ENV] = ADMIN_TOKEN;
  [idp, ds] = await Promise.all([startIdp({ audience: AUD }), startDownstream()]);
});

after(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  await ds?.stop();
  await idp?.stop();
});

async function bridge(extra, workers = 1) {
  const b = await startBridge({ downstreamUrl: ds.url, workers,
                               extra: { ...extra, observability: { admin: { token_env: ADMIN_TOKEN_ENV } } } });
  bridges.push(b);
  return b;
}

const auth = (sa, user = {}, more = {}) => ({
  security: { authentication: { enabled: true, service_account: { enabled: true, ...sa }, ...user }, ...more },
});
const tokenMode = () => auth({ mode: 'token', public_key: idp.keys.ed.publicPem });
const ssoMode = (more = {}) => auth({ sso_mode: true, jwks_uri: idp.jwksUri, issuer: idp.issuer, audience: AUD,
                                      authorization_servers: [idp.url], ...more });
const edToken = (claims = {}, expiresIn = 300) =>
  sign({ alg: 'EdDSA', key: idp.keys.ed, kid: null, claims: claimsNow({ sub: 'svc-a', client_id: 'svc-a', ...claims }, expiresIn) });
const bearer = (t) => ({ Authorization: `Bearer ${t}` });
const SA = (t) => ({ 'X-OEMCP-SERVICEACCOUNT': t });

/** The challenge parameters of a WWW-Authenticate: Bearer header, as an object. */
function challenge(r) {
  const h = r.headers.get('www-authenticate');
  assert.ok(h, `no WWW-Authenticate on ${r.status}: ${r.text}`);
  assert.match(h, /^Bearer /);
  const params = {};
  for (const m of h.slice(7).matchAll(/([a-z_]+)="([^"]*)"/g)) params[m[1]] = m[2];
  return params;
}

function assertDenied(r, status, error) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.jsonrpc, '2.0', r.text);
  assert.ok(r.json.error && typeof r.json.error.code === 'number', r.text);
  assert.equal(r.json.result, undefined);
  const c = challenge(r);
  assert.equal(c.error, error, r.headers.get('www-authenticate'));
  return c;
}

/** POST an initialize over a raw socket with extra header lines (so a header can repeat).
 * Returns the status code. */
function rawInit(port, headerLines) {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => { out += d; });
    s.on('error', reject);
    s.on('end', () => resolve(Number(out.split(' ')[1])));
    s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
            `Accept: application/json, text/event-stream\r\nConnection: close\r\n` +
            headerLines.map((l) => `${l}\r\n`).join('') + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

function assertNoClientCredentialsDownstream(from) {
  assert.ok(ds.hits.length > from, 'the downstream was called');
  for (const h of ds.hits.slice(from)) {
    assert.equal(h.headers['x-oemcp-serviceaccount'], undefined, 'service-account header forwarded');
    assert.equal(h.headers.authorization, undefined, 'Authorization header forwarded');
  }
}

/** The counters of /metrics as { name: value }. */
async function metrics(b) {
  const text = await (await fetch(`${b.base}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  return Object.fromEntries(text.split('\n').filter((l) => /^mcpbridge_\w+ /.test(l))
    .map((l) => [l.split(' ')[0], Number(l.split(' ')[1])]));
}

async function toolNames(c) {
  const r = await c.request('tools/list');
  assert.equal(r.status, 200, r.text);
  return r.json.result.tools.map((t) => t.name).sort();
}

test('service account, token mode: 401 with a challenge, a valid EdDSA token works end to end, bad tokens are refused', async () => {
  const b = await bridge(tokenMode());
  const from = ds.hits.length;
  // No header at all.
  const anon = await new McpClient(b.url).init();
  assert.equal(anon.status, 401, anon.text);
  assert.equal(anon.json.error.code, -32010);
  assert.equal(anon.json.id, null);
  const c0 = challenge(anon);
  assert.equal(c0.resource_metadata, `http://127.0.0.1:${b.port}/.well-known/oauth-protected-resource/mcp`);
  assert.equal(c0.error, undefined, 'no error code when no credentials were sent (RFC 6750 3.1)');

  // A valid token: initialize, tools/list, tools/call.
  const c = new McpClient(b.url, SA(edToken()));
  const init = await c.init();
  assert.equal(init.status, 200, init.text);
  assert.ok(c.sid);
  assert.deepEqual(await toolNames(c), TOOLS);
  const call = await c.call('getItem', { id: 7 });
  assert.equal(call.status, 200, call.text);
  assert.notEqual(call.json.result.isError, true, call.text);
  assert.deepEqual(JSON.parse(call.json.result.content[0].text), { id: 7, name: 'item 7' });
  assert.equal(ds.hits.at(-1).path, '/items/7');
  assertNoClientCredentialsDownstream(from);

  // The session is bound to that token's principal: another service account cannot use it.
  const other = await c.request('tools/list', {}, SA(edToken({ sub: 'svc-b', client_id: 'svc-b' })));
  assert.equal(other.status, 404, `a session id used by another principal: ${other.status} ${other.text}`);

  const now = Math.floor(Date.now() / 1000);
  const otherEd = await makeKey('ed25519');
  const bad = {
    expired: edToken({ iat: now - 1000, exp: now - 200 }),
    'not yet valid (nbf)': edToken({ nbf: now + 600 }),
    'forged signature (bit flipped)': flipSignature(edToken()),
    'tampered payload': tamper(edToken(), claimsNow({ sub: 'root', client_id: 'root' })),
    'signed by another Ed25519 key': sign({ alg: 'EdDSA', key: otherEd, kid: null, claims: claimsNow({ sub: 'svc-a' }) }),
    'alg none': noneToken(claimsNow({ sub: 'svc-a' })),
    'alg none with a signature': noneToken(claimsNow({ sub: 'svc-a' }), { withSig: true }),
    'HS256 keyed with the public key': hsWithPublicKey(idp.keys.ed, claimsNow({ sub: 'svc-a' }), undefined),
    'no exp': sign({ alg: 'EdDSA', key: idp.keys.ed, kid: null, claims: { sub: 'svc-a', iat: now } }),
    oversized: edToken({ pad: 'x'.repeat(9000) }),
  };
  assert.ok(bad.oversized.length > 8192);
  for (const [what, tok] of Object.entries(bad)) {
    const r = await c.request('tools/list', {}, SA(tok));
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
    assertDenied(r, 401, 'invalid_token');
    assert.ok(!r.text.includes(tok.slice(-20)), `${what}: the token is echoed`);
  }
  // Not a bearer value of the expected shape: invalid_request.
  const garbage = await c.request('tools/list', {}, SA('   '));
  assert.equal(garbage.status, 401, garbage.text);
  // Clock skew: a token expired 30 s ago is inside the default 60 s leeway.
  const skewed = await new McpClient(b.url, SA(edToken({ iat: now - 400, exp: now - 30 }))).init();
  assert.equal(skewed.status, 200, skewed.text);
  // The credential header twice is ambiguous: refused whichever line holds the valid token.
  const good = edToken();
  assert.equal(await rawInit(b.port, [`X-OEMCP-SERVICEACCOUNT: ${good}`]), 200);
  assert.equal(await rawInit(b.port, [`X-OEMCP-SERVICEACCOUNT: ${good}`, 'x-oemcp-serviceaccount: junk']), 401);
  assert.equal(await rawInit(b.port, ['X-OEMCP-SERVICEACCOUNT: junk', `X-OEMCP-SERVICEACCOUNT: ${good}`]), 401);
  assert.equal(await rawInit(b.port, [`X-OEMCP-SERVICEACCOUNT: ${good}`, `X-OEMCP-SERVICEACCOUNT: ${good}`]), 401);
  // Tokens are read from headers only: not from the query.
  const q = await fetch(`${b.url}?access_token=${good}`, { method: 'POST', body: '{}',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' } });
  assert.equal(q.status, 401);
  // GET (SSE) and DELETE need the credential as well.
  assert.equal((await fetch(b.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': c.sid } })).status, 401);
  assert.equal((await fetch(b.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': c.sid } })).status, 401);
  // A valid token still works afterwards (no state poisoned by the refusals).
  const again = await c.call('listItems');
  assert.equal(again.status, 200, again.text);
  assertNoClientCredentialsDownstream(from);
  await b.stop();
});

test('sso_mode: RS256/512, PS256, ES256 and EdDSA tokens from the JWKS are accepted; wrong audience, issuer, alg confusion are 401; metadata is served', async () => {
  const b = await bridge(ssoMode());
  const from = ds.hits.length;
  for (const [alg, key] of [['RS256', idp.keys.rsa], ['PS256', idp.keys.rsa], ['ES256', idp.keys.ec], ['RS512', idp.keys.rsa],
                            ['EdDSA', idp.keys.ed]]) {
    const c = new McpClient(b.url, bearer(idp.token({ alg, key, claims: { sub: `user-${alg}` } })));
    const r = await c.init();
    assert.equal(r.status, 200, `${alg}: ${r.text}`);
    const call = await c.call('listItems');
    assert.equal(call.status, 200, `${alg}: ${call.text}`);
    assert.notEqual(call.json.result.isError, true, call.text);
  }
  assertNoClientCredentialsDownstream(from);

  const refused = {
    'wrong audience': idp.token({ claims: { aud: 'some-other-api' } }),
    'wrong issuer': idp.token({ claims: { iss: 'https://evil.example' } }),
    'HS256 keyed with the RSA public key PEM': hsWithPublicKey(idp.keys.rsa,
      claimsNow({ iss: idp.issuer, aud: AUD, sub: 'svc' })),
    'unknown kid': sign({ alg: 'RS256', key: (await makeKey('rsa', 'nobody')), claims: claimsNow({ iss: idp.issuer, aud: AUD, sub: 'x' }) }),
    'expired': idp.token({ expiresIn: -120 }),
    'RS256 naming the EC key': sign({ alg: 'RS256', key: idp.keys.rsa, kid: idp.keys.ec.kid,
                                      claims: claimsNow({ iss: idp.issuer, aud: AUD, sub: 'x' }) }),
    'a PKCS#1 v1.5 signature labelled PS256': sign({ alg: 'RS256', key: idp.keys.rsa, header: { alg: 'PS256' },
                                                     claims: claimsNow({ iss: idp.issuer, aud: AUD, sub: 'x' }) }),
    'PS256 with a 20-byte salt': sign({ alg: 'PS256', key: idp.keys.rsa, pssSaltLength: 20,
                                        claims: claimsNow({ iss: idp.issuer, aud: AUD, sub: 'x' }) }),
  };
  for (const [what, tok] of Object.entries(refused)) {
    const r = await new McpClient(b.url, bearer(tok)).init();
    assert.equal(r.status, 401, `${what}: ${r.text}`);
    const c = assertDenied(r, 401, 'invalid_token');
    assert.equal(c.resource_metadata, `http://127.0.0.1:${b.port}/.well-known/oauth-protected-resource/mcp`);
  }
  // The wrong scheme on Authorization.
  const basic = await new McpClient(b.url, { Authorization: 'Basic dXNlcjpwYXNz' }).init();
  assert.equal(basic.status, 401, basic.text);

  for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
    const r = await fetch(b.base + path);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type'), /application\/json/);
    const doc = await r.json();
    assert.equal(doc.resource, `http://127.0.0.1:${b.port}/mcp`, path);
    assert.deepEqual(doc.authorization_servers, [idp.url]);
    assert.ok(Array.isArray(doc.scopes_supported));
    assert.deepEqual(doc.bearer_methods_supported, ['header']);
  }
  // Another suffix is not the metadata, and POST is not allowed on it.
  assert.equal((await fetch(b.base + '/.well-known/oauth-protected-resource/other')).status, 404);
  assert.equal((await fetch(b.base + '/.well-known/oauth-protected-resource/mcp', { method: 'POST' })).status, 405);
  await b.stop();
});

test('scopes: tools/list shows only permitted tools; calling one without its scope is 403 insufficient_scope', async () => {
  const cfg = ssoMode();
  cfg.security.authorization = { tools: { default: ['items:read'], adminReport: ['admin'] } };
  const b = await bridge(cfg);
  const meta = await (await fetch(b.base + '/.well-known/oauth-protected-resource')).json();
  assert.deepEqual(meta.scopes_supported.sort(), ['admin', 'items:read']);
  const reader = new McpClient(b.url, bearer(idp.token({ claims: { sub: 'reader', scope: 'items:read' } })));
  assert.equal((await reader.init()).status, 200);
  assert.deepEqual(await toolNames(reader), ['getItem', 'listItems']);
  assert.equal((await reader.call('getItem', { id: 1 })).status, 200);
  const adminHits0 = ds.hits.filter((h) => h.path === '/admin/report').length;
  const denied = await reader.call('adminReport');
  const c = assertDenied(denied, 403, 'insufficient_scope');
  assert.equal(c.scope, 'admin');
  assert.equal(denied.json.error.code, -32011);
  assert.equal(ds.hits.filter((h) => h.path === '/admin/report').length, adminHits0, 'the downstream was called');

  const nobody = new McpClient(b.url, bearer(idp.token({ claims: { sub: 'nobody', scope: 'other' } })));
  assert.equal((await nobody.init()).status, 200);
  assert.deepEqual(await toolNames(nobody), []);
  const d2 = await nobody.call('listItems');
  assert.equal(challenge(d2).scope, 'items:read');
  assert.equal(d2.status, 403);

  const admin = new McpClient(b.url, bearer(idp.token({ claims: { sub: 'admin', scope: 'items:read admin' } })));
  assert.equal((await admin.init()).status, 200);
  assert.deepEqual(await toolNames(admin), TOOLS);
  const ok = await admin.call('adminReport');
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(JSON.parse(ok.json.result.content[0].text), { report: 'secret numbers' });
  // "scp" as an array counts as well.
  const scp = new McpClient(b.url, bearer(idp.token({ claims: { sub: 'scp', scp: ['items:read', 'admin'] } })));
  assert.equal((await scp.init()).status, 200);
  assert.deepEqual(await toolNames(scp), TOOLS);

  // In a batch (protocol 2025-03-26) the refusal is a JSON-RPC error for that element only.
  const old = new McpClient(b.url, bearer(idp.token({ claims: { sub: 'batcher', scope: 'items:read' } })),
                            { protocol: '2025-03-26' });
  assert.equal((await old.init()).status, 200);
  const batch = await old.send([
    { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'adminReport', arguments: {} } },
    { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'listItems', arguments: {} } },
  ]);
  assert.equal(batch.status, 200, batch.text);
  const byId = Object.fromEntries(JSON.parse(batch.text).map((m) => [m.id, m]));
  assert.equal(byId.a.error?.code, -32011, batch.text);
  assert.ok(byId.b.result && !byId.b.result.isError, batch.text);
  assert.equal(ds.hits.filter((h) => h.path === '/admin/report').length, adminHits0 + 1, 'only the admin call reached it');
  await b.stop();
});

test('service account required: false: no header is let through, a bad token is still refused', async () => {
  const b = await bridge(auth({ mode: 'token', public_key: idp.keys.ed.publicPem, required: false }));
  const anon = new McpClient(b.url);
  assert.equal((await anon.init()).status, 200);
  assert.equal((await anon.call('listItems')).status, 200);
  const bad = await new McpClient(b.url, SA(flipSignature(edToken()))).init();
  assertDenied(bad, 401, 'invalid_token');
  // The anonymous session is not usable with a service account's token, nor the other way round.
  const named = await anon.request('tools/list', {}, SA(edToken()));
  assert.equal(named.status, 404, named.text);
  await b.stop();
});

test('sso_mode with resource and required_scopes: the resource is the audience; a token without the scope is 403', async () => {
  const resource = 'https://mcp.example.test/mcp';
  const b = await bridge(auth({ sso_mode: true, jwks_uri: idp.jwksUri, issuer: idp.issuer, resource,
                                required_scopes: ['mcp:use'] }));
  const good = await new McpClient(b.url, bearer(idp.token({ claims: { aud: resource, scope: 'mcp:use other' } }))).init();
  assert.equal(good.status, 200, good.text);
  const noScope = await new McpClient(b.url, bearer(idp.token({ claims: { aud: resource, scope: 'other' } }))).init();
  const c = assertDenied(noScope, 403, 'insufficient_scope');
  assert.equal(c.scope, 'mcp:use');
  const otherAud = await new McpClient(b.url, bearer(idp.token({ claims: { aud: AUD, scope: 'mcp:use' } }))).init();
  assertDenied(otherAud, 401, 'invalid_token');
  const doc = await (await fetch(b.base + '/.well-known/oauth-protected-resource/mcp')).json();
  assert.equal(doc.resource, resource);
  await b.stop();
});

test('first JWKS fetch still running: requests wait for it instead of failing; a client leaving meanwhile does no harm', async () => {
  idp.jwksDelayMs = 1500;
  try {
    const b = await bridge(ssoMode());
    const tok = idp.token({ claims: { sub: 'early' } });
    const t0 = Date.now();
    // A client that sends its request and disconnects while it waits for the keys.
    const quitter = connect(b.port, '127.0.0.1');
    quitter.on('error', () => {});
    quitter.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nAuthorization: Bearer ${tok}\r\n` +
                  'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
                  'Content-Length: 2\r\n\r\n{}');
    let quitterGot = '';
    quitter.on('data', (d) => { quitterGot += d; });
    setTimeout(() => quitter.destroy(), 200);
    const waiting = Array.from({ length: 6 }, () => new McpClient(b.url, bearer(tok), { fresh: true }).init());
    const results = await Promise.all(waiting);
    const waited = Date.now() - t0;
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.ok(waited > 700, `answered after ${waited} ms: the keys cannot have been there yet`);
    assert.equal(quitterGot, '', 'the leaving client was answered before the keys came');
    // Still healthy, same worker, keys loaded.
    const c = new McpClient(b.url, bearer(tok));
    assert.equal((await c.init()).status, 200);
    assert.equal((await c.call('listItems')).status, 200);
    assert.equal(b.child.exitCode, null);
    assert.doesNotMatch(b.log(), /exited|signal 11|crash/i);
    await b.stop();
  } finally {
    idp.jwksDelayMs = 0;
  }
});

test('verified-token cache: many calls with one token over 2 workers; the JWKS is fetched once per instance', async () => {
  const fetches0 = idp.stats.jwksFetches;
  const b = await bridge(ssoMode(), 2);
  const tok = idp.token({ claims: { sub: 'cached' } });
  const c = new McpClient(b.url, bearer(tok), { fresh: true });
  assert.equal((await c.init()).status, 200);
  const results = [];
  for (let round = 0; round < 6; round++)
    results.push(...await Promise.all(Array.from({ length: 8 }, () => c.call('listItems'))));
  const bad = results.filter((r) => r.status !== 200 || r.json?.result?.isError);
  assert.equal(bad.length, 0, bad.map((r) => `${r.status} ${r.text}`).join('\n'));
  // Both workers served (each logs its own JWKS generation once loaded).
  assert.equal(idp.stats.jwksFetches - fetches0, 1, `JWKS fetched ${idp.stats.jwksFetches - fetches0} times`);
  const loaded = b.log().match(/\[w\d\] auth: service account keys: JWKS generation \d+ loaded/g) || [];
  assert.equal(new Set(loaded.map((l) => l.slice(1, 3))).size, 2, `both workers loaded the keys:\n${b.log()}`);
  // /metrics (summed over the workers, republished every second): one signature check per
  // worker, every other request of that token answered from the cache.
  const requests = 1 + 1 + results.length; // initialize, notifications/initialized, the calls
  let m = {};
  for (const end = Date.now() + 5000; Date.now() < end && m.mcpbridge_auth_allowed_total !== requests;) {
    await sleep(200);
    m = await metrics(b);
  }
  assert.equal(m.mcpbridge_auth_allowed_total, requests, JSON.stringify(m));
  assert.equal(m.mcpbridge_auth_signature_checks_total, 2, JSON.stringify(m));
  assert.equal(m.mcpbridge_auth_token_cache_hits_total, requests - 2, JSON.stringify(m));
  assert.equal(m.mcpbridge_auth_denied_total, 0);
  await b.stop();
});

test('key rotation under load: the unknown kid refreshes the JWKS once; no request fails', async () => {
  const fetches0 = idp.stats.jwksFetches;
  const b = await bridge(ssoMode(), 2);
  const oldKid = idp.current.kid;
  const clients = Array.from({ length: 4 }, (_, i) => new McpClient(b.url, bearer(idp.token({ claims: { sub: `rot-${i}` } })),
                                                                    { fresh: true }));
  for (const c of clients) assert.equal((await c.init()).status, 200);
  const failures = [];
  let okOld = 0, okNew = 0;
  const end = Date.now() + 3000;
  let rotated = null;
  setTimeout(async () => { rotated = await idp.rotate(); }, 1400);
  await Promise.all(clients.map(async (c, i) => {
    while (Date.now() < end) {
      const key = idp.current; // sign with whatever the IdP currently uses, a fresh token each time
      const r = await c.call('listItems', {}, bearer(idp.token({ key, claims: { sub: `rot-${i}` } })));
      if (r.status !== 200 || r.json?.result?.isError) failures.push(`${key.kid}: ${r.status} ${r.text.slice(0, 200)}`);
      else if (key.kid === oldKid) okOld++;
      else okNew++;
    }
  }));
  assert.ok(rotated && rotated.kid !== oldKid, 'the IdP rotated');
  assert.deepEqual(failures, []);
  assert.ok(okOld > 5 && okNew > 5, `calls before (${okOld}) and after (${okNew}) the rotation`);
  assert.equal(idp.stats.jwksFetches - fetches0, 2, 'one initial fetch and one refresh for the instance');
  // The new kid parked at least one request on the refresh, and nothing was refused.
  let m = {};
  for (const end = Date.now() + 5000; Date.now() < end && !(m.mcpbridge_auth_waited_for_keys_total >= 1);) {
    await sleep(200);
    m = await metrics(b);
  }
  assert.ok(m.mcpbridge_auth_waited_for_keys_total >= 1, JSON.stringify(m));
  assert.equal(m.mcpbridge_auth_denied_total, 0, JSON.stringify(m));
  await b.stop();
  idp.retire(oldKid);
});

test('user_auth jwt beside a service account: both credentials are required', async () => {
  const b = await bridge(auth({ mode: 'token', public_key: idp.keys.ed.publicPem },
    { user_auth: { enabled: true, mode: 'jwt', jwks_uri: idp.jwksUri, issuer: idp.issuer, audience: AUD } }));
  const from = ds.hits.length;
  const user = idp.token({ claims: { sub: 'alice' } });
  const both = new McpClient(b.url, { ...SA(edToken()), ...bearer(user) });
  assert.equal((await both.init()).status, 200);
  const call = await both.call('listItems');
  assert.equal(call.status, 200, call.text);
  assertNoClientCredentialsDownstream(from);

  const noUser = await new McpClient(b.url, SA(edToken())).init();
  assert.equal(noUser.status, 401, noUser.text);
  assert.match(noUser.json.error.message, /Authorization/);
  const noSa = await new McpClient(b.url, bearer(user)).init();
  assert.equal(noSa.status, 401, noSa.text);
  assert.match(noSa.json.error.message, /X-OEMCP-SERVICEACCOUNT/);
  const badUser = await new McpClient(b.url, { ...SA(edToken()), ...bearer(idp.token({ claims: { sub: 'alice', aud: 'other' } })) }).init();
  assertDenied(badUser, 401, 'invalid_token');
  // The user's session is bound to the user as well: bob cannot continue alice's session.
  const bob = await both.request('tools/list', {}, bearer(idp.token({ claims: { sub: 'bob' } })));
  assert.equal(bob.status, 404, bob.text);
  await b.stop();
});

test('security.downstream.api_key: the downstream receives the configured header, not the client credential', async () => {
  const cfg = tokenMode();
  cfg.security.downstream = { api_key: { header: 'X-API-Key', value: 'k-123-secret' } };
  const b = await bridge(cfg);
  const from = ds.hits.length;
  const c = new McpClient(b.url, SA(edToken()));
  assert.equal((await c.init()).status, 200);
  assert.equal((await c.call('listItems')).status, 200);
  assert.equal((await c.call('getItem', { id: 3 })).status, 200);
  assert.equal(ds.hits.length - from, 2);
  for (const h of ds.hits.slice(from)) assert.equal(h.headers['x-api-key'], 'k-123-secret');
  assertNoClientCredentialsDownstream(from);
  assert.ok(!b.log().includes('k-123-secret'), 'the API key was logged');
  await b.stop();
});

test('an unreachable identity provider: 503 with Retry-After (fail closed), at once after the first timeout; `mcpbridge check` passes; keys are picked up when it comes back', async () => {
  const closed = await freePort();
  const extra = auth({ sso_mode: true, jwks_uri: `http://127.0.0.1:${closed}/jwks`, issuer: idp.issuer, audience: AUD });
  const { dir, configFile } = await writeBridgeConfig({ downstreamUrl: ds.url, extra });
  const check = spawnSync(MCPBRIDGE, ['check', '--config', configFile], { encoding: 'utf8', cwd: SOURCE_DIR, timeout: 15000 });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /configuration OK/);

  const b = await bridge(extra);
  const tok = idp.token({ claims: { sub: 'late' } });
  let t0 = Date.now();
  const r = await new McpClient(b.url, bearer(tok)).init();
  const first = Date.now() - t0;
  assert.equal(r.status, 503, r.text);
  assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
  assert.equal(r.json.result, undefined);
  assert.ok(r.json.error, r.text);
  assert.ok(first < 8000, `the first request waited ${first} ms`);
  // Once the first wait has timed out, requests are refused at once instead of parking again.
  t0 = Date.now();
  const r2 = await new McpClient(b.url, bearer(tok)).init();
  const second = Date.now() - t0;
  assert.equal(r2.status, 503, r2.text);
  assert.ok(second < 1000, `the second request waited ${second} ms`);
  assert.equal((await new McpClient(b.url).init()).status, 401, 'no token is still 401');
  // The identity provider comes up on that port: the background retries pick the keys up.
  const late = createServer(async (req, res) => {
    const upstream = await fetch(idp.jwksUri);
    res.writeHead(upstream.status, { 'Content-Type': 'application/json' });
    res.end(await upstream.text());
  });
  await new Promise((res) => late.listen(closed, '127.0.0.1', res));
  try {
    let status = 0;
    const end = Date.now() + 12000;
    while (Date.now() < end && status !== 200) {
      await sleep(250);
      status = (await new McpClient(b.url, bearer(tok)).init()).status;
      assert.ok(status === 200 || status === 503, `status ${status}`);
    }
    assert.equal(status, 200, 'the keys were never fetched once the identity provider was back');
  } finally {
    late.closeAllConnections();
    await new Promise((res) => late.close(res));
  }
  await b.stop();
});

// Outbound credentials (docs/internals/outbound-auth.md): the token endpoint of idp.mjs.
const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const downstreamBearer = (h) => {
  const m = /^Bearer (.+)$/.exec(h.headers.authorization || '');
  assert.ok(m, `downstream Authorization: ${h.headers.authorization}`);
  return m[1];
};

test('security.downstream.client_credentials: the downstream gets a token from the IdP (HTTP Basic client auth), fetched once; a failing IdP denies the call', async () => {
  const cfg = tokenMode();
  cfg.security.downstream = { client_credentials: { enabled: true, token_url: idp.tokenUrl, client_id: 'mcpbridge',
                                                    client_secret: 'cc-secret-value', scope: 'api:read' } };
  const b = await bridge(cfg);
  const from = ds.hits.length, req0 = idp.stats.tokenRequests;
  const c = new McpClient(b.url, SA(edToken()));
  assert.equal((await c.init()).status, 200);
  for (const r of [await c.call('listItems'), await c.call('getItem', { id: 2 })]) {
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.result.isError, true, r.text);
  }
  assert.equal(idp.stats.tokenRequests - req0, 1, 'one token request for two calls');
  assert.equal(idp.stats.tokenForms.at(-1).grant_type, 'client_credentials');
  assert.equal(idp.stats.tokenForms.at(-1).scope, 'api:read');
  assert.deepEqual(idp.stats.tokenClients.at(-1), { id: 'mcpbridge', secret: 'cc-secret-value', method: 'basic' });
  assert.equal(ds.hits.length - from, 2);
  const tokens = ds.hits.slice(from).map(downstreamBearer);
  assert.equal(tokens[0], tokens[1], 'the cached token is reused');
  assert.equal(payloadOf(tokens[0]).client_id, 'mcpbridge');
  for (const h of ds.hits.slice(from)) assert.equal(h.headers['x-oemcp-serviceaccount'], undefined);
  assert.ok(!b.log().includes('cc-secret-value'), 'the client secret was logged');
  assert.ok(!b.log().includes(tokens[0]), 'the downstream token was logged');
  await b.stop();

  // The token endpoint fails: the call is denied with a tool error and nothing reaches the API.
  idp.failToken = 503;
  try {
    const b2 = await bridge(cfg);
    const c2 = new McpClient(b2.url, SA(edToken()));
    assert.equal((await c2.init()).status, 200);
    const hits = ds.hits.length;
    const r = await c2.call('listItems');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.isError, true, r.text);
    assert.match(r.json.result.content[0].text, /could not obtain a credential/);
    assert.equal(ds.hits.length, hits, 'the downstream was called without a credential');
    await b2.stop();
  } finally {
    idp.failToken = 0;
  }
});

test('user_auth token_exchange: the user token is exchanged (RFC 8693), cached per user, and only the new token goes downstream', async () => {
  const b = await bridge(auth({ mode: 'token', public_key: idp.keys.ed.publicPem },
    { user_auth: { enabled: true, mode: 'jwt', jwks_uri: idp.jwksUri, issuer: idp.issuer, audience: AUD,
                   token_exchange: { enabled: true, token_url: idp.tokenUrl, client_id: 'mcpbridge',
                                     client_secret: 'tx-secret-value', audience: 'downstream-api' } } }));
  const from = ds.hits.length, req0 = idp.stats.tokenRequests;
  const alice = idp.token({ claims: { sub: 'alice' } });
  const c = new McpClient(b.url, { ...SA(edToken()), ...bearer(alice) });
  assert.equal((await c.init()).status, 200);
  for (let i = 0; i < 2; i++) {
    const r = await c.call('listItems');
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.result.isError, true, r.text);
  }
  assert.equal(idp.stats.tokenRequests - req0, 1, 'one exchange for two calls with the same user token');
  const form = idp.stats.tokenForms.at(-1);
  assert.equal(form.grant_type, 'urn:ietf:params:oauth:grant-type:token-exchange');
  assert.equal(form.subject_token, alice);
  assert.equal(form.subject_token_type, 'urn:ietf:params:oauth:token-type:access_token');
  assert.equal(form.audience, 'downstream-api');
  assert.deepEqual(idp.stats.tokenClients.at(-1), { id: 'mcpbridge', secret: 'tx-secret-value', method: 'basic' });
  assert.equal(ds.hits.length - from, 2);
  for (const h of ds.hits.slice(from)) {
    const t = downstreamBearer(h);
    assert.notEqual(t, alice, 'the user token went downstream');
    assert.equal(payloadOf(t).sub, 'exchanged');
    assert.equal(payloadOf(t).aud, 'downstream-api');
  }
  // Another user: another exchange.
  const bob = new McpClient(b.url, { ...SA(edToken()), ...bearer(idp.token({ claims: { sub: 'bob' } })) });
  assert.equal((await bob.init()).status, 200);
  assert.equal((await bob.call('listItems')).status, 200);
  assert.equal(idp.stats.tokenRequests - req0, 2);
  assert.ok(!b.log().includes('tx-secret-value'), 'the client secret was logged');
  assert.ok(!b.log().includes(alice), 'the user token was logged');
  await b.stop();
});

test('user_auth forward_downstream: the user token is sent as is (explicit opt-in), the service-account token never', async () => {
  const b = await bridge(auth({ mode: 'token', public_key: idp.keys.ed.publicPem },
    { user_auth: { enabled: true, mode: 'token', forward_downstream: true } }));
  const from = ds.hits.length;
  const c = new McpClient(b.url, { ...SA(edToken()), Authorization: 'Bearer opaque-user-token-123' });
  assert.equal((await c.init()).status, 200);
  assert.equal((await c.call('listItems')).status, 200);
  assert.equal(ds.hits.length - from, 1);
  assert.equal(ds.hits.at(-1).headers.authorization, 'Bearer opaque-user-token-123');
  assert.equal(ds.hits.at(-1).headers['x-oemcp-serviceaccount'], undefined);
  await b.stop();
});
