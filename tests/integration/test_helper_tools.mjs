// Helper tools, openapi_visibility and meta mode end to end with the demo (nginx downstream,
// real mcpbridge, official SDK client): in meta mode tools/list shows only the helpers,
// call_tool runs an operation through the same pipeline as tools/call (same structuredContent,
// progress notifications, validation errors), search_tools finds operations; in full mode with
// helpers and visibility on, context files reach descriptions and global.md the instructions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, DEMO_TOOLS, startDemo } from './helpers.mjs';

const META_TOOLS = ['call_tool', 'get_filter_fields', 'get_tool_schema', 'list_all_tags', 'search_tools', 'select_prompts'];
let full, meta, ctx;

before(async () => {
  ctx = mkdtempSync(join(tmpdir(), 'mbctx-'));
  writeFileSync(join(ctx, 'get_product.md'), 'Product ids are P followed by three digits.\nPrices are in euros.\n');
  writeFileSync(join(ctx, 'global.md'), 'The demo catalog API.\nUse search_products for free text.\n');
  writeFileSync(join(ctx, '_index.json'), JSON.stringify({ files: { 'get_product.md': { max_lines: 1 } } }));
  full = await startDemo({ extra: {
    api: { helper_tools: { enabled: true } },
    openapi_visibility: { per_tool_context_enabled: true, context_dir: ctx, add_filter_examples: true },
  } });
  meta = await startDemo({ extra: { api: { tools: { mode: 'meta' } } } });
});

after(async () => {
  await full?.stop();
  await meta?.stop();
  if (ctx) rmSync(ctx, { recursive: true, force: true });
});

test('meta mode: tools/list shows only the helper tools', async () => {
  const { client } = await connect(meta.url);
  try {
    const { tools, nextCursor } = await client.listTools();
    assert.equal(nextCursor, undefined);
    assert.deepEqual(tools.map((t) => t.name).sort(), META_TOOLS);
    const search = tools.find((t) => t.name === 'search_tools');
    assert.match(search.description, /7 API tools/);
    assert.deepEqual(search.inputSchema.required, ['query']);
    const call = tools.find((t) => t.name === 'call_tool');
    assert.equal(call.annotations.readOnlyHint, true, 'the demo exposes GET operations only');
  } finally { await client.close(); }
});

test('meta mode: call_tool get_product gives the same result as tools/call in full mode', async () => {
  const a = await connect(full.url);
  const b = await connect(meta.url);
  try {
    const direct = await a.client.callTool({ name: 'get_product', arguments: { product_id: 'P003' } });
    const viaMeta = await b.client.callTool({ name: 'call_tool', arguments: { name: 'get_product', arguments: { product_id: 'P003' } } });
    assert.notEqual(viaMeta.isError, true, JSON.stringify(viaMeta));
    assert.ok(direct.structuredContent && direct.structuredContent.id === 'P003');
    assert.deepEqual(viaMeta.structuredContent, direct.structuredContent);
    assert.deepEqual(viaMeta.content, direct.content);
    // an unlisted operation stays callable directly
    const hidden = await b.client.callTool({ name: 'get_product', arguments: { product_id: 'P003' } });
    assert.deepEqual(hidden.structuredContent, direct.structuredContent);
  } finally { await a.client.close(); await b.client.close(); }
});

test('meta mode: call_tool reports progress like tools/call', async () => {
  const { client } = await connect(meta.url);
  try {
    const seen = [];
    const r = await client.callTool({ name: 'call_tool', arguments: { name: 'list_products', arguments: { limit: 2 } } },
      undefined, { onprogress: (p) => seen.push(p.progress) });
    assert.notEqual(r.isError, true);
    assert.ok(seen.length >= 2, `progress notifications (got ${seen})`);
    assert.equal(seen[seen.length - 1], 100);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1]);
  } finally { await client.close(); }
});

test('meta mode: call_tool validates, and names close matches for an unknown tool', async () => {
  const { client } = await connect(meta.url);
  try {
    const bad = await client.callTool({ name: 'call_tool', arguments: { name: 'get_product', arguments: { product_id: 'X1' } } });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /Invalid arguments for tool get_product: argument 'product_id'/);
    const unknown = await client.callTool({ name: 'call_tool', arguments: { name: 'get_prodcut' } });
    assert.equal(unknown.isError, true);
    assert.match(unknown.content[0].text, /Unknown tool 'get_prodcut'\. Did you mean: get_product/);
    const missing = await client.callTool({ name: 'call_tool', arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(missing.content[0].text, /Invalid arguments for tool call_tool: argument 'name'/);
  } finally { await client.close(); }
});

test('meta mode: search_tools ranks operations; get_tool_schema and get_filter_fields describe them', async () => {
  const { client } = await connect(meta.url);
  try {
    const found = await client.callTool({ name: 'search_tools', arguments: { query: 'orders of a customer', limit: 3 } });
    const names = found.structuredContent.tools.map((t) => t.name);
    assert.equal(names[0], 'list_orders', JSON.stringify(found.structuredContent));
    assert.ok(names.length <= 3);
    const schema = await client.callTool({ name: 'get_tool_schema', arguments: { name: 'get_product' } });
    assert.equal(schema.structuredContent.path, '/products/{product_id}');
    assert.equal(schema.structuredContent.inputSchema.properties.product_id.pattern, '^P[0-9]{3}$');
    const filters = await client.callTool({ name: 'get_filter_fields', arguments: { name: 'list_products' } });
    const category = filters.structuredContent.filters.find((f) => f.name === 'category');
    assert.deepEqual(category.enum, ['books', 'electronics', 'garden', 'toys']);
    const tags = await client.callTool({ name: 'list_all_tags', arguments: {} });
    assert.ok(tags.structuredContent.tags.some((t) => t.tag === 'group:products' && t.tools.includes('get_product')));
    const prompts = await client.callTool({ name: 'select_prompts', arguments: { query: 'orders' } });
    assert.equal(prompts.structuredContent.prompts[0].name, 'summarize_orders');
  } finally { await client.close(); }
});

test('full mode with helpers and visibility: every tool listed, context and global.md applied', async () => {
  const { client } = await connect(full.url);
  try {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of DEMO_TOOLS) assert.ok(names.includes(n), n);
    for (const n of ['list_all_tags', 'get_tool_schema', 'get_filter_fields', 'select_prompts']) assert.ok(names.includes(n), n);
    assert.ok(!names.includes('call_tool') && !names.includes('search_tools'), 'meta tools only in meta mode');
    const get = tools.find((t) => t.name === 'get_product');
    assert.match(get.description, /\n\nProduct ids are P followed by three digits\.$/, 'max_lines 1 from _index.json');
    const list = tools.find((t) => t.name === 'list_products');
    assert.match(list.description, /Filter example \(arguments\): \{"category":"books"/);
    assert.equal(client.getInstructions(), 'The demo catalog API.\nUse search_products for free text.');
  } finally { await client.close(); }
});
