// Inbound TLS and mutual TLS through the real binary (docs/internals/tls.md): certificates are
// made here with the openssl CLI (a CA, the server's certificate for 127.0.0.1, two client
// certificates from that CA and one from another CA). With require_client_cert, a client without
// a certificate or with a foreign one cannot even complete the handshake; plain HTTP on the TLS
// port gets a readable 400. The certificate's identity (CN) is the caller's client id without any
// token: the rate limiter keys on it across sessions, and a session is bound to it (another
// client's certificate gets 404 for it). /metrics counts the handshakes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCPBRIDGE, SOURCE_DIR, sleep } from './helpers.mjs';
import { startDownstream, writeBridgeConfig } from './idp.mjs';

let dir, ds, child, base, log = '';
const pem = {};

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCert(name, subject, caName, ext) {
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  openssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial',
          '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  pem[name] = { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.crt`)) };
}

function makeCa(name) {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
          '-subj', `/CN=${name}`, '-days', '2', '-out', `${name}.crt`);
  pem[name] = { cert: readFileSync(join(dir, `${name}.crt`)) };
}

/** One HTTPS request (a fresh connection each time). who: a client certificate name, or null. */
function tls(method, path, { body, headers = {}, who = 'agent7' } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const opts = {
      host: '127.0.0.1', port: base.port, path, method, agent: false, ca: pem.ca.cert, servername: 'localhost',
      headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
                 Accept: 'application/json, text/event-stream', ...headers },
      ...(who ? { cert: pem[who].cert, key: pem[who].key } : {}),
    };
    const req = httpsRequest(opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    if (data) req.write(data);
    req.end();
  });
}

async function session(who) {
  const r = await tls('POST', '/mcp', { who, body: { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'tls-test', version: '1' } } } });
  assert.equal(r.status, 200, r.text);
  const sid = r.headers['mcp-session-id'];
  assert.ok(sid);
  const h = { 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' };
  const n = await tls('POST', '/mcp', { who, headers: h, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  assert.equal(n.status, 202);
  return h;
}

let nextId = 10;
const call = (who, h, name = 'getItem', args = { id: 1 }) =>
  tls('POST', '/mcp', { who, headers: h, body: { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } } });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mbtls-'));
  makeCa('ca');
  makeCa('otherca');
  makeCert('server', '/CN=localhost', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  makeCert('agent7', '/CN=agent-7', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeCert('agent8', '/CN=agent-8', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeCert('rogue', '/CN=agent-7', 'otherca', 'extendedKeyUsage=clientAuth\n');
  ds = await startDownstream();
  const cfg = await writeBridgeConfig({ downstreamUrl: ds.url, extra: { runtime: {
    server: { transport: { tls: { certfile: join(dir, 'server.crt'), keyfile: join(dir, 'server.key'),
                                  client_cafile: join(dir, 'ca.crt'), require_client_cert: true } } },
    middleware: { rate_limiting: { enabled: true, max_rps: 0.001, burst: 2 } } } } });
  base = { port: cfg.port };
  child = spawn(MCPBRIDGE, ['serve', '--config', cfg.configFile, '--workers', '2'],
                { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  child.stderr.on('data', (d) => { log += d; });
  for (let i = 0; ; i++) {
    try {
      const r = await tls('GET', '/healthz');
      if (r.status === 200) break;
    } catch (e) {
      if (i > 150 || child.exitCode !== null) throw new Error(`mcpbridge with TLS did not start: ${e.message}\n${log}`);
    }
    await sleep(100);
  }
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    for (let i = 0; i < 50 && child.exitCode === null; i++) await sleep(100);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await ds?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('with a client certificate from the CA: MCP works over TLS', async () => {
  const h = await session('agent7');
  const r = await call('agent7', h);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.result.structuredContent, r.text);
});

test('without a certificate, or with one from another CA, the handshake fails', async () => {
  await assert.rejects(tls('GET', '/healthz', { who: null }));
  await assert.rejects(tls('GET', '/healthz', { who: 'rogue' }));
});

test('plain HTTP on the TLS port gets a readable 400', async () => {
  const r = await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: base.port, path: '/healthz', agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(r.status, 400);
  assert.match(r.text, /HTTPS/);
});

test('the certificate identity is the client id: one rate-limit bucket across sessions, sessions bound to it', async () => {
  // agent-8 has its own bucket (burst 2) shared by its two sessions.
  const a = await session('agent8');
  const b = await session('agent8');
  const results = [await call('agent8', a), await call('agent8', b), await call('agent8', a)];
  const ok = results.filter((r) => r.json?.result);
  const limited = results.filter((r) => r.json?.error?.code === -32029);
  assert.equal(ok.length, 2, results.map((r) => r.text).join('\n'));
  assert.equal(limited.length, 1);
  assert.equal(limited[0].json.error.data.scope, 'client');
  // agent-7's session is not agent-8's to use.
  const h7 = await session('agent7');
  const stolen = await call('agent8', h7);
  assert.equal(stolen.status, 404, stolen.text);
  await sleep(100);
  assert.match(log, /"category":"rate_limit"[^\n]*"key":"c:agent-8"/);
});

test('/metrics counts the TLS handshakes of every worker', async () => {
  let text = '';
  // Workers republish their figures every second: wait until both counters have arrived.
  for (let i = 0; i < 30; i++) {
    text = (await tls('GET', '/metrics')).text;
    const m = text.match(/^mcpbridge_tls_handshakes_total (\d+)$/m);
    const f = text.match(/^mcpbridge_tls_handshake_failures_total (\d+)$/m);
    if (m && Number(m[1]) >= 8 && f && Number(f[1]) >= 3) break;
    await sleep(100);
  }
  assert.match(text, /^mcpbridge_workers 2$/m);
  const handshakes = Number(text.match(/^mcpbridge_tls_handshakes_total (\d+)$/m)[1]);
  assert.ok(handshakes >= 8, `handshakes ${handshakes}`);
  const failures = Number(text.match(/^mcpbridge_tls_handshake_failures_total (\d+)$/m)[1]);
  assert.ok(failures >= 3, `failures ${failures} (no cert, foreign CA, plain HTTP)`);
});
