// A local identity provider for the security tests (tests/integration/test_security*.mjs):
// keys made at test time with the openssl CLI (RSA 2048, EC P-256, Ed25519) and published as
// a JWKS, a token endpoint (client_credentials and RFC 8693 token exchange), and a JWS signer
// built on node:crypto, with helpers for the tokens an attacker would send (forged signature,
// alg "none", HS256 keyed with the RSA public key PEM, tampered payload). Listens on 127.0.0.1
// only; stop() closes it. Nothing here is secret: every key lives for one test run.
// Also the small harness both files share: a downstream that records the headers it receives,
// a three-operation spec, mcpbridge started on its own config, and a raw MCP client.
import { createServer } from 'node:http';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHmac, createPrivateKey, createPublicKey, constants, randomUUID, sign as cryptoSign } from 'node:crypto';

import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, writeConfig, httpPost, post } from './helpers.mjs';

const run = promisify(execFile);

const GENPKEY = {
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  ed25519: ['-algorithm', 'ED25519'],
};

/** A fresh key pair from `openssl genpkey`: { type, kid, privateKey, publicKey, publicPem, jwk }.
 * type: 'rsa' | 'ec' | 'ed25519'. The JWK carries kid and use; alg only for EC and Ed25519
 * (an RSA key serves RS256/384/512 and PS256). */
export async function makeKey(type, kid = `${type}-${randomUUID().slice(0, 8)}`) {
  const { stdout } = await run('openssl', ['genpkey', ...GENPKEY[type]], { encoding: 'utf8' });
  const privateKey = createPrivateKey(stdout);
  const publicKey = createPublicKey(privateKey);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' };
  if (type === 'ec') jwk.alg = 'ES256';
  if (type === 'ed25519') jwk.alg = 'EdDSA';
  return { type, kid, privateKey, publicKey, publicPem, jwk };
}

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
const seg = (obj) => b64url(JSON.stringify(obj));

/** The signature of data (a string) for alg with key (a KeyObject, or a secret for HS*). */
function signature(alg, data, key, saltLength = 32) {
  switch (alg) {
    case 'RS256': return cryptoSign('sha256', Buffer.from(data), key);
    case 'RS384': return cryptoSign('sha384', Buffer.from(data), key);
    case 'RS512': return cryptoSign('sha512', Buffer.from(data), key);
    case 'PS256': return cryptoSign('sha256', Buffer.from(data),
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    case 'ES256': return cryptoSign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA': return cryptoSign(null, Buffer.from(data), key);
    case 'HS256': return createHmac('sha256', key).update(data).digest();
    case 'none': return Buffer.alloc(0);
    default: throw new Error(`unsupported alg ${alg}`);
  }
}

/** Default claims: now-based iat/exp (expiresIn seconds, default 300), merged with claims. */
export function claimsNow(claims = {}, expiresIn = 300) {
  const now = Math.floor(Date.now() / 1000);
  return { iat: now, exp: now + expiresIn, ...claims };
}

/** A compact JWS. key: a key from makeKey (its kid goes into the header unless kid is given;
 * kid null leaves it out) or a raw KeyObject/secret. header: more header members (an alg there
 * overrides the one written, not the one used to sign). pssSaltLength: PS256's salt (32). */
export function sign({ alg, kid, claims = {}, key, header = {}, pssSaltLength = 32 }) {
  const keyObj = key && key.privateKey ? key.privateKey : key;
  const useKid = kid === undefined ? (key && key.kid) : kid;
  const h = { alg, typ: 'JWT', ...(useKid ? { kid: useKid } : {}), ...header };
  const input = `${seg(h)}.${seg(claims)}`;
  return `${input}.${b64url(signature(alg, input, keyObj, pssSaltLength))}`;
}

/** alg "none" with an empty signature segment (and, withSig, a junk one). */
export function noneToken(claims, { kid, withSig = false } = {}) {
  const input = `${seg({ alg: 'none', typ: 'JWT', ...(kid ? { kid } : {}) })}.${seg(claims)}`;
  return `${input}.${withSig ? b64url('not a signature') : ''}`;
}

/** HS256 keyed with the text of a public key PEM (the classic algorithm-confusion attack). */
export function hsWithPublicKey(key, claims, kid = key.kid) {
  return sign({ alg: 'HS256', kid, claims, key: Buffer.from(key.publicPem) });
}

/** token with its payload replaced by claims, keeping header and (now wrong) signature. */
export function tamper(token, claims) {
  const [h, , s] = token.split('.');
  return `${h}.${seg(claims)}.${s}`;
}

/** token with one bit of its signature flipped (a forged signature of the right length). */
export function flipSignature(token) {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${b64url(sig)}`;
}

function readBody(req) {
  return new Promise((res, rej) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => res(body));
    req.on('error', rej);
  });
}

/**
 * Starts the IdP. Returns an object with:
 *   url, issuer, jwksUri, tokenUrl
 *   keys: { rsa, ec, ed } (published), current: the RSA key tokens are signed with by token()
 *   stats: { jwksFetches, tokenRequests, tokenForms: [parsed forms], tokenClients: [{ id, secret, method }] }
 *   failJwks (status to answer /jwks with, 0 = serve), failToken (status for /token, 0 = serve),
 *   jwksDelayMs (answer /jwks that much later)
 *   token({ claims, alg, key, expiresIn }): a token for this issuer signed with current (RS256)
 *   rotate(): publishes a new RSA key (new kid) and makes it current; returns it
 *   retire(kid): stops publishing a key
 *   stop()
 */
export async function startIdp({ audience = 'mcpbridge-test' } = {}) {
  const [rsa, ec, ed, spare] = await Promise.all([makeKey('rsa', 'rsa-1'), makeKey('ec', 'ec-1'),
    makeKey('ed25519', 'ed-1'), makeKey('rsa', 'rsa-2')]);
  const published = [rsa, ec, ed];
  let nextSpare = spare;
  const stats = { jwksFetches: 0, tokenRequests: 0, tokenForms: [], tokenClients: [] };
  const idp = {
    keys: { rsa, ec, ed },
    current: rsa,
    stats,
    failJwks: 0,
    failToken: 0,
    jwksDelayMs: 0,
    audience,
  };
  const server = createServer(async (req, res) => {
    const u = new URL(req.url, 'http://idp');
    if (req.method === 'GET' && u.pathname === '/jwks') {
      stats.jwksFetches++;
      if (idp.jwksDelayMs) await new Promise((r) => setTimeout(r, idp.jwksDelayMs));
      if (idp.failJwks) { res.writeHead(idp.failJwks, { 'Content-Type': 'text/plain' }); res.end('down'); return; }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=300' });
      res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
      return;
    }
    if (req.method === 'POST' && u.pathname === '/token') {
      const body = await readBody(req);
      stats.tokenRequests++;
      const form = Object.fromEntries(new URLSearchParams(body));
      // Client authentication: HTTP Basic (RFC 6749 2.3.1: form-urlencoded id and secret), else form fields.
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization || '');
      let client = { id: form.client_id, secret: form.client_secret, method: form.client_id ? 'post' : 'none' };
      if (basic) {
        const [id, secret] = Buffer.from(basic[1], 'base64').toString().split(':');
        client = { id: decodeURIComponent(id), secret: decodeURIComponent(secret ?? ''), method: 'basic' };
      }
      stats.tokenForms.push(form);
      stats.tokenClients.push(client);
      if (idp.failToken) {
        res.writeHead(idp.failToken, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'temporarily_unavailable' }));
        return;
      }
      const json = (status, obj) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
      const expiresIn = 300;
      if (form.grant_type === 'client_credentials') {
        const id = client.id || 'anonymous';
        json(200, { access_token: idp.token({ claims: { sub: id, client_id: id, scope: form.scope || '' }, expiresIn }),
          expires_in: expiresIn, token_type: 'Bearer' });
      } else if (form.grant_type === 'urn:ietf:params:oauth:grant-type:token-exchange') {
        if (!form.subject_token) { json(400, { error: 'invalid_request' }); return; }
        json(200, { access_token: idp.token({ claims: { sub: 'exchanged', act: { sub: 'mcpbridge' },
          aud: form.audience || audience, scope: form.scope || '' }, expiresIn }),
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', expires_in: expiresIn, token_type: 'Bearer' });
      } else {
        json(400, { error: 'unsupported_grant_type' });
      }
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":"not_found"}');
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  Object.assign(idp, { url, issuer: url, jwksUri: `${url}/jwks`, tokenUrl: `${url}/token` });
  idp.token = ({ claims = {}, alg = 'RS256', key = idp.current, expiresIn = 300 } = {}) =>
    sign({ alg, key, claims: claimsNow({ iss: idp.issuer, aud: audience, sub: 'svc', ...claims }, expiresIn) });
  idp.rotate = async () => {
    const k = nextSpare || await makeKey('rsa');
    nextSpare = null;
    published.push(k);
    idp.current = k;
    return k;
  };
  idp.retire = (kid) => {
    const i = published.findIndex((k) => k.kid === kid);
    if (i >= 0) published.splice(i, 1);
  };
  idp.published = () => published.map((k) => k.kid);
  idp.stop = () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });
  return idp;
}

// ---- the harness both security test files share: a downstream that records what it gets, a
// three-operation spec, and mcpbridge started on its own config ----

const ok = { 200: { description: 'ok' } };
export const SPEC = {
  openapi: '3.0.3', info: { title: 'security test', version: '1' },
  paths: {
    '/items': { get: { operationId: 'listItems', responses: ok } },
    '/items/{id}': { get: { operationId: 'getItem', responses: ok,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }] } },
    '/admin/report': { get: { operationId: 'adminReport', responses: ok } },
  },
};
export const TOOLS = ['adminReport', 'getItem', 'listItems'];

/** A downstream API for SPEC that records every request ({ method, path, headers }) in hits.
 * Set fail to an HTTP status to make it answer that with an error body. */
export async function startDownstream() {
  const d = { hits: [], fail: 0 };
  const server = createServer((req, res) => {
    d.hits.push({ method: req.method, path: req.url, headers: { ...req.headers } });
    res.setHeader('Content-Type', 'application/json');
    if (d.fail) { res.statusCode = d.fail; res.end('{"error":"down"}'); return; }
    const m = /^\/items\/(\d+)$/.exec(req.url);
    if (req.url === '/items') res.end(JSON.stringify([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]));
    else if (m) res.end(JSON.stringify({ id: Number(m[1]), name: `item ${m[1]}` }));
    else if (req.url === '/admin/report') res.end(JSON.stringify({ report: 'secret numbers' }));
    else { res.statusCode = 404; res.end('{}'); }
  });
  server.keepAliveTimeout = 2000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  d.url = `http://127.0.0.1:${server.address().port}`;
  d.stop = () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });
  return d;
}

function stopChild(child, ms = 5000) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} }, ms);
    child.once('exit', () => { clearTimeout(t); res(); });
    try { child.kill('SIGTERM'); } catch { clearTimeout(t); res(); }
  });
}

/** Writes SPEC and a config (extra merged in) to a fresh directory and returns its paths. */
export async function writeBridgeConfig({ downstreamUrl, extra = {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'mbsec-'));
  const port = await freePort();
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(SPEC));
  const configFile = writeConfig(dir, { specFile, baseUrl: downstreamUrl, port, extra });
  return { dir, port, configFile };
}

/** Starts `mcpbridge serve` on its own config. Returns { url (the MCP endpoint), base, port,
 * configFile, child, log(), stop() }; stop() is safe to call twice. */
export async function startBridge({ downstreamUrl, extra = {}, workers = 1 }) {
  const { dir, port, configFile } = await writeBridgeConfig({ downstreamUrl, extra });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', String(workers)],
                      { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHttp(`${base}/healthz`, 15000, () => child.exitCode !== null);
  } catch (e) {
    await stop();
    throw new Error(`mcpbridge did not start: ${e.message}\n--- its stderr ---\n${log}`);
  }
  return { url: `${base}/mcp`, base, port, configFile, child, log: () => log, stop };
}

/** A raw MCP client over HTTP with fixed credential headers. fresh: one connection per request
 * (Connection: close), so that the connections spread over the workers. */
export class McpClient {
  constructor(url, headers = {}, { fresh = false, protocol = '2025-11-25' } = {}) {
    this.url = url;
    this.headers = headers;
    this.fresh = fresh;
    this.protocol = protocol;
    this.sid = null;
    this.id = 1;
  }
  send(body, headers = {}) {
    const h = { ...this.headers, ...(this.sid ? { 'Mcp-Session-Id': this.sid, 'Mcp-Protocol-Version': this.protocol } : {}),
                ...headers };
    return this.fresh ? httpPost(this.url, body, h) : post(this.url, body, h);
  }
  async init() {
    const r = await this.send({ jsonrpc: '2.0', id: this.id++, method: 'initialize',
      params: { protocolVersion: this.protocol, capabilities: {}, clientInfo: { name: 'sectest', version: '1' } } });
    if (r.status !== 200) return r;
    this.sid = r.headers.get('mcp-session-id');
    const n = await this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    if (n.status !== 202) throw new Error(`notifications/initialized answered ${n.status}: ${n.text}`);
    return r;
  }
  request(method, params = {}, headers = {}) {
    return this.send({ jsonrpc: '2.0', id: this.id++, method, params }, headers);
  }
  call(name, args = {}, headers = {}) {
    return this.request('tools/call', { name, arguments: args }, headers);
  }
}
