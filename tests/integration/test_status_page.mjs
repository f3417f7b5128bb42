// The operator's status page (assets/status/status.html, docs/internals/status-page.md) in
// Debian's headless chromium. First against a Node server that serves the page and a scripted
// Prometheus feed with known figures (so the page's parser and histogram_quantile maths are
// checked against numbers worked out by hand), then a refused metrics fetch, then the real
// mcpbridge with 2 workers after a few dozen tools/call, some trimmed by the response guard.
// The DOM is read after the page's scripts ran (--dump-dom with a virtual-time budget of 9 s:
// about 5 polls); a screenshot goes to $MB_BINARY_DIR/test-output/status_page.png.
// chromium missing is a failure that names scripts/install-deps.sh, never a skip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCPBRIDGE, SOURCE_DIR, freePort, waitHttp, writeConfig, connect, sleep } from './helpers.mjs';
import { chromiumPath, runChromium, readMarkers, elementById, renderStatusPage } from './status_page_check.mjs';

const BINARY_DIR = process.env.MB_BINARY_DIR || join(SOURCE_DIR, 'build');
const KNOWN_VERDICTS = ['warming_up', 'ok', 'tune_workers', 'scale_out'];
const BOUNDS = ['0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1',
  '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];
const servers = [];
let tmp;

before(() => { tmp = mkdtempSync(join(tmpdir(), 'mbstatus-')); });
after(async () => {
  for (const s of servers.reverse()) await s.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function listen(handler) {
  return new Promise((resolveListen) => {
    const srv = createServer(handler);
    srv.listen(0, '127.0.0.1', () => {
      const stop = () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); });
      servers.push({ stop });
      resolveListen(`http://127.0.0.1:${srv.address().port}`);
    });
  });
}

// A scripted instance: every scrape adds the same observations, so the quantiles of an
// interval and of the whole history are equal and known:
//   phase tool_call: 5 in (2.5 ms, 5 ms], 4 in (5 ms, 10 ms], 1 in (100 ms, 250 ms] per scrape
//     p50: rank 5 of 10 ends the (2.5, 5] bucket -> 5 ms; p90: rank 9 ends (5, 10] -> 10 ms;
//     p99: rank 9.9, 0.9 of the way through (100, 250] -> 235 ms.
//   phase request: 12 in (0.1 ms, 0.25 ms] -> p50 halfway: 175 µs.
//   guard: listItems trimmed 2 per scrape, huge blocked 1, small never; listItems needs paging.
function scriptedMetrics() {
  let n = 0;
  const hist = (name, label, value, perBucket) => {
    let cum = 0;
    const lines = BOUNDS.map((le) => {
      cum += (perBucket[le] || 0) * n;
      return `${name}_bucket{${label}="${value}",le="${le}"} ${cum}`;
    });
    lines.push(`${name}_sum{${label}="${value}"} ${n}`, `${name}_count{${label}="${value}"} ${cum}`);
    return lines;
  };
  return () => {
    n++;
    return [
      '# HELP mcpbridge_mcp_requests_total MCP requests by method and outcome.',
      '# TYPE mcpbridge_mcp_requests_total counter',
      `mcpbridge_mcp_requests_total{method="tools/call",outcome="ok"} ${7 * n}`,
      `mcpbridge_mcp_requests_total{method="initialize",outcome="ok"} ${n}`,
      '# TYPE mcpbridge_tool_calls_total counter',
      `mcpbridge_tool_calls_total{tool="listItems",outcome="ok"} ${4 * n}`,
      `mcpbridge_tool_calls_total{tool="small",outcome="ok"} ${2 * n}`,
      `mcpbridge_tool_calls_total{tool="small",outcome="tool_error"} ${n}`,
      '# TYPE mcpbridge_tool_call_duration_seconds histogram',
      ...hist('mcpbridge_tool_call_duration_seconds', 'tool', 'listItems', { 0.005: 3, 0.01: 1 }),
      ...hist('mcpbridge_tool_call_duration_seconds', 'tool', 'small', { 0.001: 3 }),
      `mcpbridge_tool_response_bytes_total{tool="listItems"} ${40960 * n}`,
      '# TYPE mcpbridge_phase_duration_seconds histogram',
      ...hist('mcpbridge_phase_duration_seconds', 'phase', 'request', { 0.00025: 12 }),
      ...hist('mcpbridge_phase_duration_seconds', 'phase', 'tool_call', { 0.005: 5, 0.01: 4, 0.25: 1 }),
      '# TYPE mcpbridge_guard_calls_total counter',
      `mcpbridge_guard_calls_total{tool="listItems"} ${4 * n}`,
      `mcpbridge_guard_calls_total{tool="huge"} ${n}`,
      `mcpbridge_guard_calls_total{tool="small"} ${3 * n}`,
      `mcpbridge_guard_trimmed_total{tool="listItems"} ${2 * n}`,
      'mcpbridge_guard_trimmed_total{tool="small"} 0',
      `mcpbridge_guard_blocked_total{tool="huge"} ${n}`,
      'mcpbridge_guard_warned_total{tool="small"} 0',
      'mcpbridge_guard_max_body_bytes{tool="listItems"} 98304',
      'mcpbridge_guard_recent_near_limit_calls{tool="listItems"} 4',
      'mcpbridge_tool_needs_pagination{tool="listItems"} 1',
      'mcpbridge_tool_needs_pagination{tool="small"} 0',
      'mcpbridge_guard_stats_dropped_total 0',
      'mcpbridge_workers 2',
      'mcpbridge_connections_open 3',
      `mcpbridge_http_responses_total{code="2xx"} ${7 * n}`,
      'mcpbridge_http_responses_total{code="4xx"} 1',
      'mcpbridge_capacity_verdict{verdict="warming_up"} 0',
      'mcpbridge_capacity_verdict{verdict="ok"} 0',
      'mcpbridge_capacity_verdict{verdict="tune_workers"} 1',
      'mcpbridge_capacity_verdict{verdict="scale_out"} 0',
      'mcpbridge_capacity_reason{reason="cpu_high"} 1',
      'mcpbridge_capacity_reason{reason="memory_pressure"} 0',
      'mcpbridge_worker_cpu_ratio{worker="0"} 0.82',
      'mcpbridge_worker_cpu_ratio{worker="1"} 0.35',
      'mcpbridge_worker_rss_bytes{worker="0"} 6291456',
      'mcpbridge_worker_rss_bytes{worker="1"} 5242880',
      'mcpbridge_worker_connections{worker="0"} 2',
      'mcpbridge_worker_connections{worker="1"} 1',
      'mcpbridge_worker_connection_cap{worker="0"} 1024',
      'mcpbridge_worker_connection_cap{worker="1"} 1024',
      'mcpbridge_instance_cpu_ratio 0.6',
      'mcpbridge_process_cpu_ratio 0.58',
      'mcpbridge_recommended_workers{profile="cpu"} 4',
      'this line is not Prometheus text and must be skipped',
      '',
    ].join('\n');
  };
}

// The cells of the phase table's row named label exactly (a row computed since start is named
// "label *", so it does not match).
function phaseRow(dom, label) {
  const table = elementById(dom, 'phase-table');
  assert.ok(table, 'no #phase-table in the DOM');
  const row = table.html.split(/<tr>/).find((r) => r.includes(`>${label}<`));
  assert.ok(row, `no row "${label}" in the phase table: ${table.text}`);
  return [...row.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
}

test('a scripted metrics feed: rates, quantiles worked out by hand, guard bars, verdict, workers', { timeout: 120000 }, async () => {
  chromiumPath();
  const scrape = scriptedMetrics();
  const base = await listen((req, res) => {
    if (req.url === '/status') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(renderStatusPage('/metrics'));
    } else if (req.url === '/metrics') {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
      res.end(scrape());
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  const { dom } = await runChromium(`${base}/status`);
  const m = readMarkers(dom);
  assert.equal(m.title, 'mcpbridge status');
  assert.ok(m.updates >= 3, `data-updates=${m.updates}`);
  assert.ok(m.charts.throughput.points > 0, 'throughput chart is empty');
  assert.ok(m.charts.latency.points > 0, 'latency chart is empty');
  assert.match(elementById(dom, 'phase-select').html, /<option value="tool_call" selected/);
  assert.deepEqual(phaseRow(dom, 'tools/call end to end').slice(1, 4), ['5 ms', '10 ms', '235 ms']);
  assert.deepEqual(phaseRow(dom, 'Whole request').slice(1, 2), ['175 µs']);
  // 7 tools/call (1 failed) and 8 MCP requests per scrape, polls two (virtual) seconds apart.
  const legend = elementById(dom, 'legend-throughput').text;
  const rate = (name) => Number(new RegExp(`(?:^| )${name} ([0-9.]+) /s`).exec(legend)?.[1]);
  assert.ok(Math.abs(rate('MCP requests') - 4) < 0.5, legend);
  assert.ok(Math.abs(rate('tools/call') - 3.5) < 0.5, legend);
  assert.ok(Math.abs(rate('failed tools/call') - 0.5) < 0.2, legend);
  assert.equal(m.charts.guard.points, 2);
  const guard = m.charts.guard.text;
  assert.ok(guard.indexOf('listItems') >= 0 && guard.indexOf('listItems') < guard.indexOf('huge'),
    `listItems (2 trims per scrape) should lead huge (1 block): ${guard}`);
  assert.doesNotMatch(guard, /small/);
  assert.match(elementById(dom, 'pagination').text, /listItems/);
  assert.doesNotMatch(elementById(dom, 'pagination').text, /small/);
  assert.equal(m.verdict, 'tune_workers');
  assert.match(elementById(dom, 'reasons').text, /CPU above the threshold now/);
  assert.match(elementById(dom, 'capacity-facts').text, /4 workers, profile "cpu" \(running 2\)/);
  assert.equal(m.charts.workers.points, 2);
  assert.match(m.charts.workers.text, /CPU 82 %/);
  assert.ok(m.charts.cpu.points > 0);
  assert.match(elementById(dom, 'footer').text, /1 metric lines could not be parsed/);
  assert.equal(elementById(dom, 'alert').attrs.hidden, '');
  assert.deepEqual(m.external, []);
});

test('a refused metrics fetch is shown with what to do, not swallowed', { timeout: 120000 }, async () => {
  chromiumPath();
  const base = await listen((req, res) => {
    if (req.url === '/status') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(renderStatusPage('/admin/metrics'));
    } else {
      res.statusCode = req.url === '/admin/metrics' ? 401 : 404;
      res.end();
    }
  });
  const { dom } = await runChromium(`${base}/status`, { budgetMs: 5000 });
  const m = readMarkers(dom);
  assert.equal(m.updates, 0);
  const alert = elementById(dom, 'alert');
  assert.equal(alert.attrs.hidden, undefined, 'the error banner is hidden');
  assert.match(alert.text, /\/admin\/metrics answered 401: this page needs the admin token or a loopback connection/);
  assert.equal(elementById(dom, 'token-form').attrs.hidden, undefined, 'no way to enter the token');
  assert.match(elementById(dom, 'instance-status').text, /Unreachable/);
  assert.equal(m.charts.throughput.points, 0);
});

// A downstream whose /items is a 3,000-item array (the guard trims it to 50) and /small a
// small document.
async function startDownstream() {
  const items = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `item ${i}` })));
  return listen((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/items') res.end(items);
    else if (path === '/small') res.end('{"a":1,"b":[1,2,3]}');
    else { res.statusCode = 404; res.end('{}'); }
  });
}

async function startMcpbridge(downstreamUrl) {
  const dir = mkdtempSync(join(tmp, 'srv-'));
  const spec = {
    openapi: '3.0.3', info: { title: 'status page test', version: '1' },
    paths: {
      '/items': { get: { operationId: 'listItems', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }],
        responses: { 200: { description: 'ok' } } } },
      '/small': { get: { operationId: 'small', responses: { 200: { description: 'ok' } } } },
    },
  };
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const port = await freePort();
  const configFile = writeConfig(dir, { specFile, baseUrl: downstreamUrl, port,
    extra: { runtime: { http: { response_guard: { pagination_signal: { window: 4, ratio: 0.5 } } } } } });
  const child = spawn(MCPBRIDGE, ['serve', '--config', configFile, '--workers', '2'],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: SOURCE_DIR });
  let log = '';
  child.stderr.on('data', (d) => { if (log.length < 100000) log += d; });
  const stop = () => new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    const t = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.once('exit', () => { clearTimeout(t); r(); });
    child.kill('SIGTERM');
  });
  servers.push({ stop });
  const base = `http://127.0.0.1:${port}`;
  await waitHttp(`${base}/mcp`, 15000, () => child.exitCode !== null).catch((e) => {
    throw new Error(`mcpbridge did not start: ${e.message}\n--- its stderr ---\n${log}`);
  });
  return { base, log: () => log };
}

test('mcpbridge with 2 workers: the page at /status polls /metrics and draws real traffic', { timeout: 180000 }, async (t) => {
  chromiumPath();
  const downstream = await startDownstream();
  const mb = await startMcpbridge(downstream);
  const status = await fetch(`${mb.base}/status`, { signal: AbortSignal.timeout(10000) });
  const page = await status.text();
  assert.equal(status.status, 200, `GET /status answered ${status.status} (is observability.status_page ` +
    `served by this build?): ${page.slice(0, 300)}`);
  assert.match(status.headers.get('content-type') || '', /^text\/html/);
  assert.match(page, /const METRICS_PATH = "\/metrics";/, 'the metrics path was not filled in');

  // Two clients (connections can land on either worker), a few dozen calls; listItems is
  // trimmed every time.
  const clients = [await connect(`${mb.base}/mcp`, 'status-a'), await connect(`${mb.base}/mcp`, 'status-b')];
  const call = async (c, i) => {
    const name = i % 3 === 0 ? 'listItems' : 'small';
    const r = await c.client.callTool({ name, arguments: {} });
    assert.notEqual(r.isError, true, JSON.stringify(r).slice(0, 300));
    if (name === 'listItems') assert.equal(r._meta['mcpbridge/guard'].truncated, true);
  };
  for (let i = 0; i < 36; i += 2) await Promise.all([call(clients[0], i), call(clients[1], i + 1)]);

  // Keep light traffic going while chromium polls, so the rates have something to show.
  let load = true;
  const background = (async () => {
    for (let i = 0; load && i < 400; i++) { await call(clients[i % 2], i); await sleep(100); }
  })();
  let dom, shot;
  try {
    ({ dom } = await runChromium(`${mb.base}/status`));
    mkdirSync(join(BINARY_DIR, 'test-output'), { recursive: true });
    shot = join(BINARY_DIR, 'test-output', 'status_page.png');
    rmSync(shot, { force: true });
    await runChromium(`${mb.base}/status`, { screenshot: shot });
  } finally {
    load = false;
    await background;
    for (const c of clients) await c.client.close();
  }

  const m = readMarkers(dom);
  assert.equal(m.title, 'mcpbridge status');
  const alert = elementById(dom, 'alert');
  assert.ok(m.updates >= 2, `data-updates=${m.updates}; banner: ${alert && alert.text}`);
  assert.ok(m.charts.throughput.points > 0, 'throughput chart is empty');
  assert.ok(m.charts.latency.points > 0, `latency chart is empty: ${m.charts.latency.text}`);
  assert.match(m.charts.guard.text, /listItems/, `guard chart: ${m.charts.guard.text}`);
  assert.ok(KNOWN_VERDICTS.includes(m.verdict), `verdict "${m.verdict}" (${m.verdictText})`);
  assert.deepEqual(m.external, [], 'the page refers to something outside itself');
  assert.doesNotMatch(page, /\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  assert.doesNotMatch(page, /<link\b|@import|url\(\s*["']?(https?:)?\/\//i);

  assert.ok(statSync(shot).size > 10000, `screenshot ${shot} is missing or tiny`);
  t.diagnostic(`status page screenshot: ${shot}`);
  console.log(`status page screenshot: ${shot}`);
});
