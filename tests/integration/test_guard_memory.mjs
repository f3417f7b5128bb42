// The response guard's memory bound, measured on the real binary: nginx serves a 100 MB JSON
// array, a 100 MB text file, a JSON body trickled at 1 MB/s, and a gzip bomb (100 MB of JSON
// in about 100 KB, with accept_encoding on so libcurl decodes it); a Node server sends an
// endless chunked array. Each call must answer promptly with a bounded result, and the
// worker's peak RSS (VmHWM) must stay within a small multiple of max_response_bytes (1 MiB)
// of its resting size, including four large calls at once: nothing buffers a whole body.
// Under ASan (ASAN_OPTIONS set by `make asan`) the RSS figures are meaningless (shadow memory,
// quarantine), so only the functional checks run there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, post, rawSession, writeConfig, sleep, startNginx,
         childPids } from './helpers.mjs';

const MIB = 1048576;
const UNDER_ASAN = process.env.ASAN_OPTIONS !== undefined;
let tmp, nginx, endlessServer, endlessUrl, mb;
const endless = new Set();

// Writes `count` copies of `chunk` between head and tail into file (optionally gzipped).
async function writeRepeated(file, head, chunk, count, tail, gzip = false) {
  const out = createWriteStream(file);
  const sink = gzip ? createGzip({ level: 9 }) : out;
  if (gzip) sink.pipe(out);
  const write = async (s) => { if (!sink.write(s)) await once(sink, 'drain'); };
  await write(head);
  for (let i = 0; i < count; i++) await write(i ? ',' + chunk : chunk);
  await write(tail);
  sink.end();
  await once(out, 'finish');
}

function vm(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))[1]);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mbguardmem-'));
  const root = join(tmp, 'root');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(root);
  const item = JSON.stringify({ id: 123456, name: 'an item of the large list', tags: ['a', 'b', 'c'], price: 12.5 });
  // ~100 MB each.
  await writeRepeated(join(root, 'large.json'), '[', item, Math.ceil(100 * MIB / (item.length + 1)), ']');
  await writeRepeated(join(root, 'large.txt'), '', 'x'.repeat(1023), 100 * 1024, '\n');
  await writeRepeated(join(root, 'slow.json'), '[', item, Math.ceil(2.5 * MIB / (item.length + 1)), ']');
  await writeRepeated(join(root, 'bomb.json.gz'), '[', '0'.repeat(1000), 100 * 1024, ']', true);
  nginx = await startNginx({ template: join(SOURCE_DIR, 'tests', 'integration', 'fixtures', 'guard_nginx.conf.template'), root });

  endlessServer = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    endless.add(res);
    res.on('close', () => endless.delete(res));
    res.write('[');
    const chunk = Array.from({ length: 500 }, () => JSON.stringify({ pad: 'p'.repeat(100) })).join(',');
    let first = true;
    const pump = () => {
      while (!res.destroyed) {
        const more = res.write((first ? '' : ',') + chunk);
        first = false;
        if (!more) { res.once('drain', pump); return; }
      }
    };
    pump();
  });
  await new Promise((r) => endlessServer.listen(0, '127.0.0.1', r));
  endlessUrl = `http://127.0.0.1:${endlessServer.address().port}`;

  const ok = { 200: { description: 'ok' } };
  const spec = {
    openapi: '3.0.3', info: { title: 'guard memory', version: '1' },
    servers: [{ url: nginx.url }],
    paths: {
      '/large': { get: { operationId: 'large', responses: ok } },
      '/large-text': { get: { operationId: 'largeText', responses: ok } },
      '/slow': { get: { operationId: 'slow', responses: ok } },
      '/bomb': { get: { operationId: 'bomb', responses: ok } },
    },
  };
  const specFile = join(tmp, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const port = await freePort();
  const configFile = writeConfig(tmp, {
    specFile, baseUrl: nginx.url, port,
    extra: { runtime: { http: { accept_encoding: true, response_guard: { max_response_bytes: MIB } },
                        middleware: { request_timeout: { timeout_ms: 30000 } } } },
  });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', '1'],
                      { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitHttp(url, 15000, () => child.exitCode !== null);
  mb = { child, url, log: () => log, sid: await rawSession(url) };
  mb.worker = childPids(child.pid)[0];
  assert.ok(mb.worker, 'the worker process');
});

after(async () => {
  if (mb) { mb.child.kill('SIGTERM'); await sleep(300); if (mb.child.exitCode === null) mb.child.kill('SIGKILL'); }
  for (const r of endless) r.destroy();
  endlessServer?.close();
  endlessServer?.closeAllConnections?.();
  await nginx?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

let nextId = 1;
async function call(name, baseUrl) {
  const params = { name, arguments: {} };
  const t0 = Date.now();
  const r = await post(mb.url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params },
                       { 'Mcp-Session-Id': mb.sid, 'Mcp-Protocol-Version': '2025-11-25' });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.ok(r.json.result, r.text.slice(0, 300));
  return { result: r.json.result, ms: Date.now() - t0, bytes: r.text.length };
}

test('large, slow, compressed and endless bodies: bounded results, bounded worker memory', async () => {
  // Resting size after one small call (pools, buffers warmed up).
  await call('slow');
  const rest = vm(mb.worker);

  const large = await call('large');
  assert.notEqual(large.result.isError, true);
  const lm = large.result._meta['mcpbridge/guard'];
  assert.equal(lm.truncated, true);
  assert.equal(JSON.parse(large.result.content[0].text).length, 50);
  assert.ok(lm.atLeast > 50 || lm.originalItems > 50, JSON.stringify(lm));
  // trim reads at most 16 x max_response_bytes of the 100 MB to count, then stops.
  assert.ok(lm.bytesRead <= 16 * MIB + 65536, `read ${lm.bytesRead}`);

  const text = await call('largeText');
  assert.notEqual(text.result.isError, true);
  assert.ok(Buffer.byteLength(text.result.content[0].text) <= MIB);
  assert.equal(text.result._meta['mcpbridge/guard'].limit, 'max_response_bytes');

  const slow = await call('slow');
  assert.notEqual(slow.result.isError, true);
  assert.ok(slow.ms >= 1000, `a 2.5 MB body at 1 MB/s answered in ${slow.ms} ms: was it really slow?`);

  const bomb = await call('bomb');
  assert.notEqual(bomb.result.isError, true, JSON.stringify(bomb.result).slice(0, 300));
  const bm = bomb.result._meta['mcpbridge/guard'];
  assert.equal(bm.truncated, true);
  assert.ok(bm.bytesRead <= 16 * MIB + 65536, `decoded bytes read: ${bm.bytesRead}`);

  // Four large bodies at once.
  const four = await Promise.all([call('large'), call('largeText'), call('large'), call('bomb')]);
  for (const r of four) assert.notEqual(r.result.isError, true);

  const peak = vm(mb.worker);
  const grew = peak.hwm - rest.rss;
  console.log(`worker RSS at rest ${(rest.rss / MIB).toFixed(1)} MiB, peak ${(peak.hwm / MIB).toFixed(1)} MiB ` +
              `(+${(grew / MIB).toFixed(1)} MiB) after 100 MB bodies, 4 at once; max_response_bytes 1 MiB`);
  if (!UNDER_ASAN) {
    // Per call: the guard's output (1 MiB) + the encoded result (text and structuredContent,
    // about 2.3x the output) + libcurl's buffers. Four at once: well under 32 MiB; a design that
    // buffered bodies would need 400 MB.
    assert.ok(grew < 32 * MIB, `the worker grew by ${(grew / MIB).toFixed(1)} MiB`);
  }
});

test('an endless chunked body ends promptly in trim and block', async () => {
  // The endless server is a second downstream: point a tool at it through a second server.
  const dir = mkdtempSync(join(tmp, 'endless-'));
  const spec = { openapi: '3.0.3', info: { title: 'endless', version: '1' }, paths: {
    '/e': { get: { operationId: 'endless', responses: { 200: { description: 'ok' } } } } } };
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  for (const mode of ['trim', 'block']) {
    const port = await freePort();
    const configFile = writeConfig(dir, { specFile, baseUrl: endlessUrl, port,
      extra: { runtime: { http: { response_guard: { mode, max_array_items: 1000000 } } } } });
    const child = spawn(MCPBRIDGE, ['serve', '--config', configFile], { stdio: 'ignore', cwd: SOURCE_DIR });
    const url = `http://127.0.0.1:${port}/mcp`;
    try {
      await waitHttp(url, 15000, () => child.exitCode !== null);
      const sid = await rawSession(url);
      const t0 = Date.now();
      const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'endless', arguments: {} } },
                           { 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25' });
      const ms = Date.now() - t0;
      assert.ok(ms < 5000, `${mode}: ${ms} ms`);
      const res = r.json.result;
      if (mode === 'trim') {
        assert.notEqual(res.isError, true);
        assert.equal(res._meta['mcpbridge/guard'].limit, 'max_response_bytes');
        assert.ok(Buffer.byteLength(res.content[0].text) <= MIB);
      } else {
        assert.equal(res.isError, true);
        assert.match(res.content[0].text, /max_response_bytes \(1048576 bytes\)/);
      }
    } finally {
      child.kill('SIGTERM');
      await sleep(200);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
});
