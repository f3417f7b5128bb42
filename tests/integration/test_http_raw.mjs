// Streamable HTTP edge cases over raw HTTP (fetch): status codes and JSON-RPC error bodies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, post, httpPost, rawSession, INIT } from './helpers.mjs';

let demo, sid;
before(async () => { demo = await startDemo(); sid = await rawSession(demo.url); });
after(async () => { await demo?.stop(); });

const H = () => ({ 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });
const isJsonRpcError = (json, code) => {
  assert.equal(json?.jsonrpc, '2.0', `JSON-RPC body: ${JSON.stringify(json)}`);
  assert.equal(typeof json.error?.code, 'number');
  assert.equal(typeof json.error?.message, 'string');
  if (code !== undefined) assert.equal(json.error.code, code);
};

test('initialize answers 200 with a session id and the requested protocol version', async () => {
  const r = await post(demo.url, INIT(3));
  assert.equal(r.status, 200);
  assert.ok(r.headers.get('mcp-session-id'));
  assert.equal(r.json.id, 3);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
  assert.equal(r.json.result.serverInfo.name, 'mcpbridge');
});

test('a request without session id (other than initialize) is 400', async () => {
  const r = await post(demo.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(r.status, 400);
  isJsonRpcError(r.json);
});

test('an unknown session id is 404', async () => {
  const r = await post(demo.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' },
                       { 'Mcp-Session-Id': 'not-a-session-0123456789abcdef', 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(r.status, 404);
  isJsonRpcError(r.json);
});

test('an Accept header without application/json and text/event-stream is 406', async () => {
  const r = await post(demo.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { ...H(), Accept: 'text/html' });
  assert.equal(r.status, 406);
});

test('a foreign Origin is 403 (DNS rebinding protection); a loopback Origin is fine', async () => {
  const bad = await post(demo.url, INIT(), { Origin: 'http://evil.example.com' });
  assert.equal(bad.status, 403);
  isJsonRpcError(bad.json);
  const host = await httpPost(demo.url, INIT(), { Host: 'evil.example.com' });
  assert.ok(host.status >= 400 && host.status < 500, `foreign Host: ${host.status}`);
  const good = await httpPost(demo.url, INIT(), { Origin: `http://127.0.0.1:${demo.port}`, Host: `127.0.0.1:${demo.port}` });
  assert.equal(good.status, 200);
});

test('a body over runtime.max_request_bytes (10 KB) is 413 with a JSON-RPC error body', async () => {
  const big = { jsonrpc: '2.0', id: 1, method: 'tools/call',
                params: { name: 'search_products', arguments: { q: 'x'.repeat(20000) } } };
  const r = await post(demo.url, big, H());
  assert.equal(r.status, 413);
  isJsonRpcError(r.json);
});

test('malformed JSON is a -32700 parse error', async () => {
  const r = await post(demo.url, '{"jsonrpc":"2.0","id":1,"method":', H());
  assert.ok(r.status === 400 || r.status === 200, `status ${r.status}`);
  isJsonRpcError(r.json, -32700);
  assert.equal(r.json.id, null);
});

test('a notification is accepted with 202 and no body', async () => {
  const r = await post(demo.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, H());
  assert.equal(r.status, 202);
  assert.equal(r.text, '');
});

test('an unknown method is -32601', async () => {
  const r = await post(demo.url, { jsonrpc: '2.0', id: 9, method: 'no/such/method' }, H());
  assert.equal(r.status, 200);
  isJsonRpcError(r.json, -32601);
  assert.equal(r.json.id, 9);
});

test('an unsupported Mcp-Protocol-Version header is 400', async () => {
  const r = await post(demo.url, { jsonrpc: '2.0', id: 1, method: 'ping' },
                       { 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '1999-01-01' });
  assert.equal(r.status, 400);
});
