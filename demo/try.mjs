// Tries the running demo with the official MCP SDK client: lists the tools, calls one.
//   usage: .deps/bin/node demo/try.mjs [http://127.0.0.1:8500/mcp] [tool] [json-arguments]
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The SDK lives in tests/node_modules (scripts/install-deps.sh); ESM ignores NODE_PATH, so
// resolve it from there explicitly.
const fromTests = createRequire(new URL('../tests/package.json', import.meta.url));
const sdk = (p) => import(pathToFileURL(fromTests.resolve(`@modelcontextprotocol/sdk/${p}`)).href);
const { Client } = await sdk('client/index.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const url = process.argv[2] || 'http://127.0.0.1:8500/mcp';
const tool = process.argv[3] || 'get_product';
const args = JSON.parse(process.argv[4] || '{"product_id":"P001"}');

const client = new Client({ name: 'mcpbridge-demo-try', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const info = client.getServerVersion();
console.log(`connected to ${info?.name} ${info?.version} at ${url}`);
const { tools } = await client.listTools();
console.log(`\n${tools.length} tools:`);
for (const t of tools) console.log(`  ${t.name.padEnd(20)} ${(t.description || '').split('\n')[0]}`);
console.log(`\ncalling ${tool} ${JSON.stringify(args)}:`);
const result = await client.callTool({ name: tool, arguments: args });
if (result.structuredContent) console.log(JSON.stringify(result.structuredContent, null, 2));
else for (const c of result.content) console.log(c.type === 'text' ? c.text : `[${c.type} ${c.mimeType || ''}]`);
if (result.isError) console.log('(the tool reported an error)');
await client.close();
