// mcpbridge over stdio (`mcpbridge stdio --config FILE`) with the SDK's StdioClientTransport.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { MCPBRIDGE, SOURCE_DIR, DEMO_TOOLS, startNginx, writeConfig, freePort, demoJson } from './helpers.mjs';

let downstream, tmp, configFile;
before(async () => {
  downstream = await startNginx();
  tmp = mkdtempSync(join(tmpdir(), 'mbstdio-'));
  configFile = writeConfig(tmp, { specFile: join(SOURCE_DIR, 'demo', 'openapi.yaml'),
                                  baseUrl: downstream.url, port: await freePort() });
});
after(async () => { await downstream?.stop(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

test('stdio: initialize, list tools, call one, close', async () => {
  const transport = new StdioClientTransport({ command: MCPBRIDGE, args: ['stdio', '--config', configFile],
                                               stderr: 'pipe', cwd: SOURCE_DIR });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  try {
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'mcpbridge');
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of DEMO_TOOLS) assert.ok(names.includes(n), `${n} listed (got ${names})`);
    assert.ok(!names.includes('create_order'));
    const r = await client.callTool({ name: 'get_order', arguments: { order_id: 'O1001' } });
    assert.notEqual(r.isError, true, JSON.stringify(r.content));
    assert.deepEqual(r.structuredContent, demoJson('orders/O1001.json'));
    await assert.rejects(client.callTool({ name: 'nope', arguments: {} }), (e) => e.code === -32602);
    assert.deepEqual(await client.ping(), {});
  } catch (e) {
    e.message += `\n--- mcpbridge stderr ---\n${stderr}`;
    throw e;
  } finally {
    await client.close();
  }
});
