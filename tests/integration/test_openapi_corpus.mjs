// The OpenAPI corpus (npm @readme/oas-examples: Swagger 2.0, OpenAPI 3.0 and 3.1, JSON and YAML)
// through the real converter, `mcpbridge tools --spec F --json --all-methods`:
//  - it never crashes (exit 0 or 1, no signal) and takes under 5 s per spec; a failure is a
//    `file:line: reason` message and the spec is listed in tests/openapi-corpus/expected-failures.json;
//  - every inputSchema/outputSchema compiles in Ajv (JSON Schema 2020-12, ajv-formats); tool names
//    match ^[A-Za-z0-9_.-]{1,64}$ and are unique; every operation is a tool or listed with a reason;
//  - wire check: for a selection of specs, `mcpbridge serve` in front of a recording downstream,
//    each tool called (official SDK client) with arguments generated from its inputSchema, and the
//    recorded request compared with the OpenAPI serialization rules (corpus_wire.mjs).
// Entries in the expected-failures file that no longer fail make the test fail (stale entries).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, writeConfig, connect } from './helpers.mjs';
import { corpusDir, listSpecs, loadSpec, operations, hasUsableServer, effectiveServer, isSwagger2 } from './corpus_spec.mjs';
import { argsFor } from './corpus_args.mjs';
import { startRecorder, checkRequest } from './corpus_wire.mjs';

const Ajv2020 = Ajv2020Module.default || Ajv2020Module;
const addFormats = addFormatsModule.default || addFormatsModule;
const DIR = corpusDir();
const SPECS = listSpecs(DIR);
const EXPECTED_FILE = join(SOURCE_DIR, 'tests', 'openapi-corpus', 'expected-failures.json');
const EXPECTED = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8'));
const LIMIT_MS = 5000;
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const DUMMY_BASE = 'http://127.0.0.1:1';
const MAX_CALLS = 30;

// Specs whose requests are checked on the wire. mode 'base_url': api.openapi.base_url points at
// the recorder (with a path prefix); mode 'servers': the spec's server URLs are rewritten to the
// recorder's origin (paths and variables kept), so server variables and path/operation-level
// servers decide the request path.
const WIRE = [
  { spec: '3.0/json/parameters-style.json', mode: 'base_url' },
  { spec: '3.1/yaml/parameters-style.yaml', mode: 'base_url' },
  { spec: '3.0/yaml/parameters-common.yaml', mode: 'base_url' },
  { spec: '3.0/json/parameters-cookies.json', mode: 'base_url' },
  { spec: '3.0/json/petstore.json', mode: 'base_url' },
  { spec: '2.0/json/petstore.json', mode: 'base_url' },
  { spec: '3.0/json/form-data.json', mode: 'base_url' },
  { spec: '3.0/json/request-examples.json', mode: 'base_url' },
  { spec: '3.0/json/file-uploads.json', mode: 'base_url' },
  { spec: '3.0/json/circular-request-bodies.json', mode: 'base_url' },
  { spec: '3.0/json/schema-encoding-style.json', mode: 'base_url' },
  { spec: '3.1/json/train-travel.json', mode: 'base_url' },
  { spec: '3.0/json/server-variables.json', mode: 'servers' },
  { spec: '3.0/json/server-path-level.json', mode: 'servers' },
];

const tmp = mkdtempSync(join(tmpdir(), 'mbcorpus-'));
const children = new Set();
after(() => {
  for (const c of children) { try { c.kill('SIGKILL'); } catch {} }
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the binary; resolves {code, signal, stdout, stderr, ms}. Killed after 2 x LIMIT_MS. */
function run(args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(MCPBRIDGE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const out = [], err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 2 * LIMIT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
                ms: performance.now() - t0 });
    });
  });
}

/** Small pool: at most n jobs at a time, all started now; one promise per job, in order. */
function pool(n, jobs) {
  const settle = jobs.map(() => { let r; const p = new Promise((res) => { r = res; }); return { p, r }; });
  let next = 0;
  const worker = async () => { while (next < jobs.length) { const i = next++; settle[i].r(await jobs[i]()); } };
  for (let k = 0; k < n; k++) worker();
  return settle.map((s) => s.p);
}

function newAjv() {
  // code.optimize off: compiling is 3x faster and these validators run a handful of times.
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true, code: { optimize: false },
                            logger: { log() {}, warn() {}, error: console.error } }); // unknown formats are fine
  addFormats(ajv);
  return ajv;
}
// Schemas already compiled (the JSON and YAML twins of a spec give the same ones): text -> error.
const compiled = new Map();
const schemaAjv = newAjv();
function compileError(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) {
    try { schemaAjv.compile(schema); compiled.set(key, null); } catch (e) { compiled.set(key, e.message); }
  }
  return compiled.get(key);
}

const docs = new Map();
const doc = (rel) => { if (!docs.has(rel)) docs.set(rel, loadSpec(join(DIR, rel))); return docs.get(rel); };

const conversions = pool(Math.max(2, Math.min(4, availableParallelism())), SPECS.map((rel) => () => {
  const args = ['tools', '--spec', join(DIR, rel), '--json', '--all-methods'];
  if (!hasUsableServer(doc(rel))) args.push('--base-url', DUMMY_BASE);
  return run(args);
}));

const ANNOTATIONS = { GET: [true, false, true], HEAD: [true, false, true], PUT: [false, false, true], DELETE: [false, true, true] };

SPECS.forEach((rel, i) => {
  test(`convert ${rel}`, async () => {
    const r = await conversions[i];
    assert.equal(r.signal, null, `killed by ${r.signal} after ${Math.round(r.ms)} ms\n${r.stderr}`);
    assert.ok(r.code === 0 || r.code === 1, `exit code ${r.code}\n${r.stderr}`);
    assert.ok(r.ms < LIMIT_MS, `took ${Math.round(r.ms)} ms (limit ${LIMIT_MS})`);
    const listed = EXPECTED.convert?.[rel];
    if (r.code === 1) {
      const first = r.stderr.split('\n').find((l) => l.trim()) || '';
      assert.match(first, /^(\S[^:]*:\d+: \S.*|mcpbridge: \S.*)$/, `stderr is not 'file:line: reason': ${JSON.stringify(r.stderr.slice(0, 500))}`);
      assert.ok(listed, `conversion failed and ${rel} is not in expected-failures.json "convert": ${first}`);
      return;
    }
    assert.ok(!listed, `${rel} converts now: remove it from expected-failures.json "convert" (reason was: ${listed})`);

    let tools;
    try { tools = JSON.parse(r.stdout); } catch (e) { assert.fail(`stdout is not JSON: ${e.message}`); }
    assert.ok(Array.isArray(tools), 'a JSON array of tools');
    const problems = [];
    const allowed = EXPECTED.tools?.[rel] || {};
    const failedTools = new Set();
    const fail = (name, msg) => { failedTools.add(name); if (!allowed[name]) problems.push(`${name}: ${msg}`); };
    const names = new Set();
    for (const t of tools) {
      if (typeof t.name !== 'string' || !NAME_RE.test(t.name)) fail(t.name, `name does not match ${NAME_RE}`);
      if (names.has(t.name)) fail(t.name, 'duplicate name');
      names.add(t.name);
      if (t.inputSchema?.type !== 'object') fail(t.name, 'inputSchema.type is not "object"');
      if (typeof t.description !== 'string' || !t.description || Buffer.byteLength(t.description) > 1024) {
        fail(t.name, `description missing or over 1024 bytes (${Buffer.byteLength(t.description || '')})`);
      }
      for (const k of ['inputSchema', 'outputSchema']) {
        if (t[k] === undefined) continue;
        const err = compileError(t[k]);
        if (err) fail(t.name, `${k} does not compile in Ajv 2020-12: ${err}`);
      }
      if (t.outputSchema !== undefined && t.outputSchema.type !== 'object') fail(t.name, 'outputSchema.type is not "object"');
      const a = t.annotations || {};
      const [ro, destructive, idem] = ANNOTATIONS[t.method] || [false, false, false];
      if (a.readOnlyHint !== ro || a.destructiveHint !== destructive || a.idempotentHint !== idem || a.openWorldHint !== true) {
        fail(t.name, `annotations ${JSON.stringify(a)} do not match method ${t.method}`);
      }
    }
    for (const name of Object.keys(allowed)) {
      if (!failedTools.has(name)) problems.push(`${name} passes now: remove it from expected-failures.json "tools"."${rel}"`);
    }

    // Every operation is a tool, or explained in the expected-failures file.
    const d = doc(rel);
    const byOp = new Map();
    for (const t of tools) {
      const k = `${t.method} ${t.path}`;
      if (byOp.has(k)) problems.push(`two tools for ${k}: ${byOp.get(k).name}, ${t.name}`);
      byOp.set(k, t);
    }
    const explained = EXPECTED.operations?.[rel] || {};
    const opKeys = new Set(operations(d).map((o) => `${o.method} ${o.path}`));
    for (const k of opKeys) {
      if (!byOp.has(k) && !explained[k]) problems.push(`operation ${k} has no tool and is not in expected-failures.json "operations"`);
      if (byOp.has(k) && explained[k]) problems.push(`operation ${k} is a tool now: remove it from expected-failures.json "operations"."${rel}"`);
    }
    for (const k of Object.keys(explained)) if (!opKeys.has(k)) problems.push(`expected-failures.json lists ${k}, which ${rel} does not have`);
    for (const k of byOp.keys()) if (!opKeys.has(k)) problems.push(`tool ${byOp.get(k).name} (${k}) matches no operation of the spec`);
    assert.deepEqual(problems, [], `${rel}:\n  ${problems.join('\n  ')}`);
  });
});

test('expected-failures.json names only specs of the corpus', () => {
  const all = new Set(SPECS);
  const wire = new Set(WIRE.map((w) => w.spec));
  for (const section of ['convert', 'tools', 'operations']) {
    for (const rel of Object.keys(EXPECTED[section] || {})) assert.ok(all.has(rel), `"${section}" names ${rel}, not in the corpus`);
  }
  for (const rel of Object.keys(EXPECTED.wire || {})) assert.ok(wire.has(rel), `"wire" names ${rel}, which is not wire-checked`);
});

/** Copy of the spec with every absolute server URL's origin replaced by `origin`. */
function rewriteServers(d, origin) {
  const c = structuredClone(d);
  const fix = (list) => { for (const s of list || []) if (typeof s.url === 'string') s.url = s.url.replace(/^[^/]*\/\/[^/]*/, origin); };
  fix(c.servers);
  for (const item of Object.values(c.paths || {})) {
    if (!item || typeof item !== 'object') continue;
    fix(item.servers);
    for (const op of Object.values(item)) if (op && typeof op === 'object' && !Array.isArray(op)) fix(op.servers);
  }
  return c;
}

for (const { spec: rel, mode } of WIRE) {
  test(`wire ${rel}`, { timeout: 30000 }, async (t) => {
    const d = doc(rel);
    const recorder = await startRecorder();
    const dir = mkdtempSync(join(tmp, 'wire-'));
    const port = await freePort();
    let specFile = join(DIR, rel), baseUrl, prefix = '/base/v9';
    if (mode === 'servers') {
      specFile = join(dir, 'spec.json');
      writeFileSync(specFile, JSON.stringify(rewriteServers(d, recorder.origin)));
    } else baseUrl = recorder.origin + prefix;
    const configFile = writeConfig(dir, { specFile, baseUrl, port,
      extra: { api: { routes: { maps: [{ pattern: '.*', mcp_type: 'TOOL' }] } } } });
    const listing = await run(['tools', '--spec', specFile, '--json', '--all-methods', ...(baseUrl ? ['--base-url', baseUrl] : [])]);
    assert.equal(listing.code, 0, listing.stderr);
    const tools = JSON.parse(listing.stdout).slice(0, MAX_CALLS);
    const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
    children.add(child);
    let log = '';
    child.stderr.on('data', (x) => { log += x; });
    let client;
    const problems = [];
    const allowed = EXPECTED.wire?.[rel] || {};
    const failed = new Set();
    const seen = [];
    try {
      const url = `http://127.0.0.1:${port}/mcp`;
      await waitHttp(url, 15000, () => child.exitCode !== null).catch((e) => { throw new Error(`${e.message}\n${log}`); });
      ({ client } = await connect(url, 'corpus-wire'));
      const ajv = newAjv();
      const ops = new Map(operations(d).map((o) => [`${o.method} ${o.path}`, o]));
      let checked = 0;
      for (const tool of tools) {
        const opInfo = ops.get(`${tool.method} ${tool.path}`);
        if (!opInfo) { problems.push(`${tool.name}: no operation ${tool.method} ${tool.path}`); continue; }
        const args = argsFor(tool.inputSchema, ajv.compile(tool.inputSchema));
        const miss = (msg) => { failed.add(tool.name); seen.push(`${tool.name}: ${msg}`); if (!allowed[tool.name]) problems.push(`${tool.name} (${tool.method} ${tool.path}): ${msg}`); };
        if (!args) { miss('no valid arguments could be generated from the inputSchema'); continue; }
        recorder.requests.length = 0;
        const res = await client.request({ method: 'tools/call', params: { name: tool.name, arguments: args } },
                                         CallToolResultSchema, { timeout: 10000 });
        const text = (res.content || []).map((c) => c.text || '').join(' ');
        if (recorder.requests.length !== 1) {
          miss(`${recorder.requests.length} downstream requests for arguments ${JSON.stringify(args)}; result: ${text.slice(0, 300)}`);
          continue;
        }
        let pfx = prefix;
        if (mode === 'servers') {
          const server = effectiveServer(isSwagger2(d) ? {} : rewriteServers(d, recorder.origin), opInfo);
          pfx = server ? new URL(server).pathname : '/';
        }
        const errs = checkRequest({ doc: d, opInfo, tool, args, prefix: pfx, rec: recorder.requests[0] });
        if (errs.length) miss(`arguments ${JSON.stringify(args)}:\n      ${errs.join('\n      ')}`);
        else checked++;
      }
      for (const name of Object.keys(allowed)) {
        if (!tools.some((t) => t.name === name)) problems.push(`expected-failures.json "wire" lists ${name}, which is not among the checked tools`);
        else if (!failed.has(name)) problems.push(`${name} passes the wire check now: remove it from expected-failures.json "wire"."${rel}"`);
      }
      if (process.env.MB_CORPUS_VERBOSE) for (const s of seen) t.diagnostic(s);
      t.diagnostic(`${checked} of ${tools.length} tools match on the wire, ${failed.size} listed as expected failures`);
      assert.ok(checked > 0 || Object.keys(allowed).length === tools.length, 'at least one tool checked');
    } finally {
      await client?.close().catch(() => {});
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null || child.signalCode !== null) r(); else { const t = setTimeout(() => child.kill('SIGKILL'), 5000); child.once('exit', () => { clearTimeout(t); r(); }); } });
      children.delete(child);
      await recorder.stop();
    }
    assert.deepEqual(problems, [], `${rel}:\n  ${problems.join('\n  ')}`);
  });
}
