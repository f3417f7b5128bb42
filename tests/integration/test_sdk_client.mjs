// mcpbridge seen through the official MCP SDK client over Streamable HTTP, on the demo API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startDemo, connect, post, DEMO_TOOLS, demoJson } from './helpers.mjs';

let demo;
before(async () => { demo = await startDemo(); });
after(async () => { await demo?.stop(); });

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

test('initialize reports server info, protocol version and capabilities', async () => {
  const { client } = await connect(demo.url);
  try {
    const info = client.getServerVersion();
    assert.equal(info.name, 'mcpbridge');
    assert.equal(typeof info.version, 'string');
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools, 'tools capability');
    assert.ok(caps.prompts, 'prompts capability');
    assert.ok(caps.resources, 'resources capability');
  } finally { await client.close(); }
});

test('tools/list has one tool per GET operation of the demo spec, with schemas', async () => {
  const { client } = await connect(demo.url);
  try {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of DEMO_TOOLS) assert.ok(names.includes(n), `${n} listed (got ${names})`);
    assert.ok(!names.includes('create_order'), 'read-only default: the POST operation is excluded');
    assert.equal(new Set(names).size, names.length, 'tool names are unique');
    for (const t of tools) {
      assert.ok(t.description && t.description.length > 0, `${t.name} has a description`);
      assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema is an object schema`);
    }
    const get = tools.find((t) => t.name === 'get_product');
    assert.equal(get.inputSchema.properties.product_id.type, 'string');
    assert.equal(get.inputSchema.properties.product_id.pattern, '^P[0-9]{3}$');
    assert.deepEqual(get.inputSchema.required, ['product_id']);
    const list = tools.find((t) => t.name === 'list_products');
    assert.deepEqual(list.inputSchema.properties.category.enum, ['books', 'electronics', 'garden', 'toys']);
    assert.equal(list.inputSchema.properties.limit.type, 'integer');
    assert.equal(list.inputSchema.properties.limit.minimum, 1);
    assert.equal(list.inputSchema.properties.limit.maximum, 100);
    assert.ok(!(list.inputSchema.required || []).length, 'list_products has no required argument');
    const search = tools.find((t) => t.name === 'search_products');
    assert.deepEqual(search.inputSchema.required, ['q']);
  } finally { await client.close(); }
});

test('tools/call returns the downstream JSON as structuredContent and as text', async () => {
  const { client } = await connect(demo.url);
  try {
    const r = await client.callTool({ name: 'get_product', arguments: { product_id: 'P003' } });
    assert.notEqual(r.isError, true, text(r));
    const expected = demoJson('products/P003.json');
    assert.deepEqual(r.structuredContent, expected);
    assert.deepEqual(JSON.parse(text(r)), expected, 'the text content is the same JSON');
    const l = await client.callTool({ name: 'list_orders', arguments: { status: 'shipped', limit: 5 } });
    assert.notEqual(l.isError, true, text(l));
    assert.deepEqual(l.structuredContent, demoJson('orders.json'));
  } finally { await client.close(); }
});

test('invalid arguments give isError naming the field, without a downstream call', async () => {
  const { client } = await connect(demo.url);
  try {
    const missing = await client.callTool({ name: 'get_product', arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /product_id/);
    const bounds = await client.callTool({ name: 'list_products', arguments: { limit: 1000 } });
    assert.equal(bounds.isError, true);
    assert.match(text(bounds), /limit/);
    const enumBad = await client.callTool({ name: 'list_products', arguments: { category: 'weapons' } });
    assert.equal(enumBad.isError, true);
    assert.match(text(enumBad), /category/);
    const pattern = await client.callTool({ name: 'get_order', arguments: { order_id: '../etc/passwd' } });
    assert.equal(pattern.isError, true);
    assert.match(text(pattern), /order_id/);
  } finally { await client.close(); }
});

test('unknown tool is a JSON-RPC error -32602', async () => {
  const { client } = await connect(demo.url);
  try {
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => {
      assert.ok(e instanceof McpError, `McpError expected, got ${e}`);
      assert.equal(e.code, -32602);
      return true;
    });
    await assert.rejects(client.callTool({ name: 'create_order', arguments: {} }), (e) => e.code === -32602,
                         'create_order is excluded by the read-only default');
  } finally { await client.close(); }
});

test('downstream 404 is a tool error with the status', async () => {
  const { client } = await connect(demo.url);
  try {
    const r = await client.callTool({ name: 'get_product', arguments: { product_id: 'P999' } });
    assert.equal(r.isError, true);
    assert.match(text(r), /^HTTP 404 Not Found: /);
    assert.match(text(r), /not_found/);
  } finally { await client.close(); }
});

test('session id is returned, reused, and DELETE ends the session', async () => {
  const { client, transport } = await connect(demo.url);
  const sid = transport.sessionId;
  assert.ok(sid && sid.length >= 16, `session id: ${sid}`);
  assert.match(sid, /^[\x21-\x7e]+$/, 'visible ASCII only');
  await client.ping();
  await client.listTools();
  assert.equal(transport.sessionId, sid, 'same session for later requests');
  // Raw requests with that id work too.
  const ok = await post(demo.url, { jsonrpc: '2.0', id: 7, method: 'ping' },
                        { 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json.result, {});
  await transport.terminateSession();
  const gone = await post(demo.url, { jsonrpc: '2.0', id: 8, method: 'ping' },
                          { 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(gone.status, 404, 'an ended session is unknown');
  await client.close();
});
