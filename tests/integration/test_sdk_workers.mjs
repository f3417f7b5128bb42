// With --workers 2, requests of one session spread over both workers (fresh connections)
// and the session stays valid everywhere; a session ended on one worker is gone on all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { startDemo, connect, childPids, demoJson, parseBody } from './helpers.mjs';

let demo;
before(async () => { demo = await startDemo({ workers: 2 }); });
after(async () => { await demo?.stop(); });

// One request on its own TCP connection (no keep-alive), so the kernel may hand it to any worker.
function freshPost(url, sid, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(url, {
      method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
                 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25', Connection: 'close',
                 'Content-Length': Buffer.byteLength(data) },
      timeout: 10000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: parseBody(text, res.headers['content-type']) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

test('master runs two workers', async () => {
  let kids = [];
  for (let i = 0; i < 40 && kids.length < 2; i++) { kids = childPids(demo.pid); await new Promise((r) => setTimeout(r, 50)); }
  assert.equal(kids.length, 2, `children of ${demo.pid}: ${kids}`);
});

// Bytes a process has read (sockets included), from /proc/<pid>/io.
const rchar = (pid) => Number(/rchar:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);

test('one session works across many connections and both workers', async () => {
  const workers = childPids(demo.pid);
  assert.equal(workers.length, 2, `two workers under ${demo.pid}`);
  const before = workers.map(rchar);
  const { client, transport } = await connect(demo.url);
  const sid = transport.sessionId;
  const expected = demoJson('customers/C002.json');
  const calls = [];
  for (let i = 0; i < 40; i++) {
    calls.push(freshPost(demo.url, sid, { jsonrpc: '2.0', id: 100 + i, method: 'tools/call',
                                          params: { name: 'get_customer', arguments: { customer_id: 'C002' } } }));
  }
  const results = await Promise.all(calls);
  results.forEach((r, i) => {
    assert.equal(r.status, 200, `request ${i}`);
    assert.equal(r.json.id, 100 + i);
    assert.notEqual(r.json.result.isError, true, JSON.stringify(r.json.result));
    assert.deepEqual(r.json.result.structuredContent, expected);
  });
  const grew = workers.filter((w, i) => rchar(w) > before[i]);
  assert.equal(grew.length, workers.length, `every worker served requests (workers ${workers}, busy ${grew})`);
  // The SDK client's own connection still works, then the session ends for every worker.
  await client.ping();
  await transport.terminateSession();
  const after = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    freshPost(demo.url, sid, { jsonrpc: '2.0', id: 200 + i, method: 'ping' })));
  for (const r of after) assert.equal(r.status, 404, 'ended session is unknown on every worker');
  await client.close();
});
