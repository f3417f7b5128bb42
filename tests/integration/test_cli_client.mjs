// `mcpbridge client` against a real `mcpbridge serve` (the three-operation spec of idp.mjs in
// front of a recording downstream): --list (table and --json), --tool with inline and @file
// arguments, --json results, an isError call (exit 1), an unknown tool (exit 1), a closed port
// and a non-MCP URL (exit 3), usage errors (exit 2); with authentication on: 401 without a
// credential says which one to pass (the service-account header, or --token and the
// authorization server for sso_mode), a refused token gives the server's reason, a valid one
// works, and no token is ever printed. A scripted fake MCP server checks the protocol details
// a real server does not exercise: falling back to the protocol version the server answers,
// following nextCursor pages, an SSE answer with progress and log notifications (--verbose),
// and the DELETE that ends the session. Over https: --cacert for a self-signed server, and
// --cert/--key for a server that asks for a client certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCPBRIDGE, freePort } from './helpers.mjs';
import { startIdp, sign, claimsNow, flipSignature, startDownstream, startBridge, writeBridgeConfig, TOOLS } from './idp.mjs';

const AUD = 'mcpbridge-test';
let idp, ds, plain, fake, dir;
const bridges = [];

/** Runs `mcpbridge client ARGS` without blocking this process's servers. Returns { code, stdout, stderr }. */
function client(args, { timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    execFile(MCPBRIDGE, ['client', ...args], { timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const show = (r) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** A scripted MCP server: protocol 2025-06-18 only, tools/list in three pages, tools/call
 * "progress" answered as SSE with notifications first, "html" path answering a web page. */
async function startFakeMcp() {
  const seen = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const msg = body ? JSON.parse(body) : null;
      seen.push({ http: req.method, url: req.url, headers: { ...req.headers }, msg });
      if (req.url === '/html') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html><body>a web page</body></html>');
        return;
      }
      if (req.method === 'DELETE') { res.writeHead(200); res.end(); return; }
      const json = (obj, headers = {}) => {
        res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify(obj));
      };
      const result = (r, headers) => json({ jsonrpc: '2.0', id: msg.id, result: r }, headers);
      switch (msg.method) {
        case 'initialize':
          result({ protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {} },
                   serverInfo: { name: 'fake', version: '9.9' } }, { 'Mcp-Session-Id': 'fake-session-1' });
          return;
        case 'notifications/initialized':
          res.writeHead(202);
          res.end();
          return;
        case 'logging/setLevel':
          result({});
          return;
        case 'tools/list': {
          const pages = { undefined: [['alpha'], 'p2'], p2: [['beta'], 'p3'], p3: [['gamma'], undefined] };
          const [names, next] = pages[msg.params?.cursor];
          result({ tools: names.map((name) => ({ name, description: `the ${name} tool`, inputSchema: { type: 'object' } })),
                   ...(next ? { nextCursor: next } : {}) });
          return;
        }
        case 'tools/call': {
          if (msg.params.name !== 'progress') {
            json({ jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: `Unknown tool: ${msg.params.name}` } });
            return;
          }
          const token = msg.params._meta?.progressToken;
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          const send = (m) => res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
          if (token !== undefined) {
            send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 50, total: 100, message: 'halfway' } });
          }
          send({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', logger: 'fake', data: 'working' } });
          send({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'done after progress' }] } });
          // The stream stays open: the client must stop reading once it has its response.
          return;
        }
        default:
          json({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, seen, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

before(async () => {
  [idp, ds, fake] = await Promise.all([startIdp({ audience: AUD }), startDownstream(), startFakeMcp()]);
  plain = await startBridge({ downstreamUrl: ds.url });
  bridges.push(plain);
  dir = mkdtempSync(join(tmpdir(), 'mbclient-'));
});

after(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  await Promise.all([ds?.stop(), idp?.stop(), fake?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('--help and usage errors exit 2 with a message', async () => {
  const help = await client(['--help']);
  assert.equal(help.code, 0, show(help));
  assert.match(help.stdout, /usage: mcpbridge client --url URL \(--list \| --tool NAME/);
  assert.match(help.stdout, /exit status: 0 success, 1 the tool returned isError/);
  const cases = [
    [['--list'], /--url URL is required/],
    [['--url', plain.url], /give either --list or --tool NAME/],
    [['--url', plain.url, '--list', '--tool', 'x'], /give either --list or --tool NAME/],
    [['--url', plain.url, '--list', '--args', '{}'], /--args goes with --tool NAME/],
    [['--url', 'ftp://x/mcp', '--list'], /expected http:\/\/HOST:PORT\/PATH/],
    [['--url', plain.url, '--tool', 'getItem', '--args', '{"id": '], /--args is not valid JSON/],
    [['--url', plain.url, '--tool', 'getItem', '--args', '[1, 2]'], /must be a JSON object of arguments/],
    [['--url', plain.url, '--tool', 'getItem', '--args', '@/nonexistent/args.json'], /cannot open '\/nonexistent\/args.json'/],
    [['--url', plain.url, '--list', '--header', 'no colon here'], /--header expects 'Name: value'/],
    [['--url', plain.url, '--list', '--timeout', '0'], /--timeout '0'/],
    [['--url', plain.url, '--list', '--token', 't', '--header', 'Authorization: Bearer u'], /keep one/],
    [['--url', plain.url, '--list', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const r = await client(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});

test('--list prints a table, --json the tool definitions', async () => {
  const r = await client(['--url', plain.url, '--list']);
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^NAME\s+DESCRIPTION$/);
  assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[0]).sort(), TOOLS);
  const j = await client(['--url', plain.url, '--list', '--json']);
  assert.equal(j.code, 0, show(j));
  const tools = JSON.parse(j.stdout);
  assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
  assert.equal(tools.find((t) => t.name === 'getItem').inputSchema.properties.id.type, 'integer');
});

test('--tool with inline and @file arguments prints the text content; --json the whole result', async () => {
  const from = ds.hits.length;
  const r = await client(['--url', plain.url, '--tool', 'getItem', '--args', '{"id": 3}']);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(JSON.parse(r.stdout), { id: 3, name: 'item 3' });
  const file = join(dir, 'args.json');
  writeFileSync(file, '{\n  "id": 7\n}\n');
  const f = await client(['--url', plain.url, '--tool', 'getItem', '--args', `@${file}`]);
  assert.equal(f.code, 0, show(f));
  assert.deepEqual(JSON.parse(f.stdout), { id: 7, name: 'item 7' });
  const j = await client(['--url', plain.url, '--tool', 'getItem', '--args', '{"id": 4}', '--json']);
  assert.equal(j.code, 0, show(j));
  const result = JSON.parse(j.stdout);
  assert.equal(result.isError, undefined);
  assert.deepEqual(result.structuredContent, { id: 4, name: 'item 4' });
  assert.equal(result.content[0].type, 'text');
  assert.deepEqual(ds.hits.slice(from).map((h) => h.path), ['/items/3', '/items/7', '/items/4']);
  const none = await client(['--url', plain.url, '--tool', 'listItems']);
  assert.equal(none.code, 0, show(none));
  assert.equal(JSON.parse(none.stdout).length, 2);
});

test('an isError result exits 1 with its text; a JSON-RPC error exits 1 with its message', async () => {
  const r = await client(['--url', plain.url, '--tool', 'getItem', '--args', '{"id": "three"}']);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /the tool 'getItem' returned an error:\n.*id/);
  assert.equal(r.stdout, '');
  const j = await client(['--url', plain.url, '--tool', 'getItem', '--args', '{"id": "three"}', '--json']);
  assert.equal(j.code, 1, show(j));
  assert.equal(JSON.parse(j.stdout).isError, true);
  ds.fail = 500;
  try {
    const d = await client(['--url', plain.url, '--tool', 'getItem', '--args', '{"id": 1}']);
    assert.equal(d.code, 1, show(d));
    assert.match(d.stderr, /500/);
  } finally {
    ds.fail = 0;
  }
  const u = await client(['--url', plain.url, '--tool', 'noSuchTool']);
  assert.equal(u.code, 1, show(u));
  assert.match(u.stderr, /^mcpbridge client: tools\/call: .*noSuchTool/m);
});

test('transport failures exit 3 and say what to check', async () => {
  const port = await freePort();
  const closed = await client(['--url', `http://127.0.0.1:${port}/mcp`, '--list']);
  assert.equal(closed.code, 3, show(closed));
  assert.match(closed.stderr, new RegExp(`cannot connect to http://127.0.0.1:${port}/mcp .*is the MCP server running there`));
  const wrongPath = await client(['--url', `${plain.base}/nope`, '--list']);
  assert.equal(wrongPath.code, 3, show(wrongPath));
  assert.match(wrongPath.stderr, /answered initialize with HTTP 404.*is this the MCP endpoint\?/);
  const html = await client(['--url', `${fake.url}/html`, '--list']);
  assert.equal(html.code, 3, show(html));
  assert.match(html.stderr, /a body that is not JSON \(Content-Type 'text\/html'/);
  const badHost = await client(['--url', 'http://no-such-host.invalid/mcp', '--list', '--timeout', '5']);
  assert.equal(badHost.code, 3, show(badHost));
  assert.match(badHost.stderr, /cannot resolve the host of http:\/\/no-such-host.invalid\/mcp/);
});

const edToken = (claims = {}, expiresIn = 300) =>
  sign({ alg: 'EdDSA', key: idp.keys.ed, kid: null, claims: claimsNow({ sub: 'svc-a', client_id: 'svc-a', ...claims }, expiresIn) });

function assertNoSecret(r, secret) {
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `the token was printed: ${show(r)}`);
}

test('service-account authentication: 401 names the header to pass, a refused token gives the reason, a valid one works', async () => {
  const b = await startBridge({ downstreamUrl: ds.url, extra: { security: { authentication: { enabled: true,
    service_account: { enabled: true, mode: 'token', public_key: idp.keys.ed.publicPem } } } } });
  bridges.push(b);
  const none = await client(['--url', b.url, '--list']);
  assert.equal(none.code, 3, show(none));
  assert.match(none.stderr, /refused initialize \(HTTP 401\): .*requires the X-OEMCP-SERVICEACCOUNT header/);
  assert.match(none.stderr, /--header 'X-OEMCP-SERVICEACCOUNT: TOKEN'/);
  assert.equal(none.stdout, '');

  const expired = edToken({}, -600);
  const refused = await client(['--url', b.url, '--list', '--header', `X-OEMCP-SERVICEACCOUNT: ${expired}`]);
  assert.equal(refused.code, 3, show(refused));
  assert.match(refused.stderr, /refused initialize \(HTTP 401\): .*token was refused: expired/);
  assert.match(refused.stderr, /The credential you passed was refused\. Pass a valid, unexpired token/);
  assertNoSecret(refused, expired);
  const forged = flipSignature(edToken());
  const bad = await client(['--url', b.url, '--list', '--header', `X-OEMCP-SERVICEACCOUNT: ${forged}`]);
  assert.equal(bad.code, 3, show(bad));
  assertNoSecret(bad, forged);

  const token = edToken();
  const ok = await client(['--url', b.url, '--list', '--header', `X-OEMCP-SERVICEACCOUNT: ${token}`, '--verbose']);
  assert.equal(ok.code, 0, show(ok));
  assert.deepEqual(ok.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]).sort(), TOOLS);
  assertNoSecret(ok, token);
  const call = await client(['--url', b.url, '--tool', 'getItem', '--args', '{"id": 5}', '--header', `X-OEMCP-SERVICEACCOUNT: ${token}`]);
  assert.equal(call.code, 0, show(call));
  assert.deepEqual(JSON.parse(call.stdout), { id: 5, name: 'item 5' });
});

test('sso_mode: 401 asks for --token and names the authorization server; --token works', async () => {
  const b = await startBridge({ downstreamUrl: ds.url, extra: { security: { authentication: { enabled: true,
    service_account: { enabled: true, sso_mode: true, jwks_uri: idp.jwksUri, issuer: idp.issuer, audience: AUD,
                       authorization_servers: [idp.url] } } } } });
  bridges.push(b);
  const none = await client(['--url', b.url, '--list']);
  assert.equal(none.code, 3, show(none));
  assert.match(none.stderr, /HTTP 401/);
  assert.match(none.stderr, /--token TOKEN \(sent as 'Authorization: Bearer TOKEN'\)/);
  assert.ok(none.stderr.includes(`authorization server ${idp.url}`), show(none));
  const token = idp.token();
  const ok = await client(['--url', b.url, '--tool', 'getItem', '--args', '{"id": 2}', '--token', token]);
  assert.equal(ok.code, 0, show(ok));
  assert.deepEqual(JSON.parse(ok.stdout), { id: 2, name: 'item 2' });
  assertNoSecret(ok, token);
});

test('protocol fallback, nextCursor pages, SSE with notifications, and the closing DELETE (scripted server)', async () => {
  fake.seen.length = 0;
  const list = await client(['--url', `${fake.url}/mcp`, '--list', '--json']);
  assert.equal(list.code, 0, show(list));
  assert.deepEqual(JSON.parse(list.stdout).map((t) => t.name), ['alpha', 'beta', 'gamma']);
  const init = fake.seen[0];
  assert.equal(init.msg.method, 'initialize');
  assert.equal(init.msg.params.protocolVersion, '2025-11-25');
  const later = fake.seen.slice(1);
  assert.deepEqual(later.map((s) => s.msg?.method ?? s.http),
    ['notifications/initialized', 'tools/list', 'tools/list', 'tools/list', 'DELETE']);
  assert.deepEqual(later.filter((s) => s.msg?.method === 'tools/list').map((s) => s.msg.params.cursor), [undefined, 'p2', 'p3']);
  for (const s of later) {
    assert.equal(s.headers['mcp-protocol-version'], '2025-06-18', `${s.http} ${s.msg?.method}`);
    assert.equal(s.headers['mcp-session-id'], 'fake-session-1', `${s.http} ${s.msg?.method}`);
  }

  fake.seen.length = 0;
  const call = await client(['--url', `${fake.url}/mcp`, '--tool', 'progress', '--verbose']);
  assert.equal(call.code, 0, show(call));
  assert.equal(call.stdout, 'done after progress\n');
  assert.match(call.stderr, /initialized: fake 9.9, protocol 2025-06-18/);
  assert.match(call.stderr, /progress: 50\/100 halfway/);
  assert.match(call.stderr, /log info fake: working/);
  assert.ok(fake.seen.some((s) => s.msg?.method === 'logging/setLevel'), 'verbose asks for log messages');
  assert.equal(fake.seen.at(-1).http, 'DELETE', 'the session is ended');
  const quiet = await client(['--url', `${fake.url}/mcp`, '--tool', 'progress']);
  assert.equal(quiet.code, 0, show(quiet));
  assert.equal(quiet.stderr, '', 'notifications only with --verbose');
});

test('https: --cacert verifies a self-signed server, --cert/--key answer a client-certificate request', async () => {
  const openssl = (args) => promisify(execFile)('openssl', args);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30'];
  await openssl(['req', '-x509', ...ec, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.crt'),
                 '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  await openssl(['req', '-x509', ...ec, '-keyout', join(dir, 'client.key'), '-out', join(dir, 'client.crt'),
                 '-subj', '/CN=cli-client']);
  const tls = { certfile: join(dir, 'server.crt'), keyfile: join(dir, 'server.key'),
                client_cafile: join(dir, 'client.crt'), require_client_cert: true };
  // startBridge waits with plain HTTP; a TLS server is started here and awaited by its log line.
  const { port, configFile, dir: configDir } = await writeBridgeConfig({ downstreamUrl: ds.url,
    extra: { runtime: { server: { transport: { tls } } } } });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const listening = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => { log += d; if (log.includes('listening on')) resolve(); });
    child.on('exit', () => reject(new Error(`mcpbridge exited: ${log}`)));
  });
  bridges.push({ stop: async () => {
    if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); }
    rmSync(configDir, { recursive: true, force: true });
  } });
  await listening;
  const url = `https://127.0.0.1:${port}/mcp`;
  const unverified = await client(['--url', url, '--list']);
  assert.equal(unverified.code, 3, show(unverified));
  assert.match(unverified.stderr, /TLS handshake with https:\/\/127.0.0.1:\d+\/mcp failed/);
  assert.match(unverified.stderr, /--cacert FILE/);
  const noCert = await client(['--url', url, '--list', '--cacert', join(dir, 'server.crt')]);
  assert.equal(noCert.code, 3, `the server asks for a client certificate: ${show(noCert)}`);
  const ok = await client(['--url', url, '--tool', 'getItem', '--args', '{"id": 9}', '--cacert', join(dir, 'server.crt'),
                           '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key')]);
  assert.equal(ok.code, 0, show(ok));
  assert.deepEqual(JSON.parse(ok.stdout), { id: 9, name: 'item 9' });
  const half = await client(['--url', url, '--list', '--cert', join(dir, 'client.crt')]);
  assert.equal(half.code, 2, show(half));
  assert.match(half.stderr, /--cert FILE and --key FILE go together/);
});
