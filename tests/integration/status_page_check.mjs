// Helpers for test_status_page.mjs: find Debian's chromium, run it headless against a URL
// (the DOM after the page's scripts ran, or a screenshot) with every process it starts bounded
// in time and killed, and read the status page's machine-checkable markers out of the DOM:
// <svg data-chart data-points>, <body data-updates>, #verdict[data-verdict], element text by id,
// and any src/href that points outside the page.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOURCE_DIR } from './helpers.mjs';

export const STATUS_HTML = join(SOURCE_DIR, 'assets', 'status', 'status.html');
export const METRICS_PLACEHOLDER = '__MCPBRIDGE_METRICS_PATH__';

/** The page source with the metrics path filled in (what mb_status_page_render does, for a
 *  plain path), for serving from a test server. */
export function renderStatusPage(metricsPath) {
  const html = readFileSync(STATUS_HTML, 'utf8');
  if (html.split(METRICS_PLACEHOLDER).length !== 2) {
    throw new Error(`${STATUS_HTML} must hold ${METRICS_PLACEHOLDER} exactly once`);
  }
  return html.replace(METRICS_PLACEHOLDER, metricsPath);
}

/** Path of the chromium binary; throws a message naming the fix when it is missing. */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM, 'chromium'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', c], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error('chromium is not installed: run scripts/install-deps.sh (it installs the Debian ' +
    'package chromium and fonts-dejavu-core), or point $CHROMIUM at a chromium binary');
}

/**
 * Runs headless chromium on url with a fresh profile and returns { dom, stderr, code }.
 * budgetMs: virtual time the page's timers get (polls every 2 s: 9000 ms gives 5 polls).
 * screenshot: a PNG path to write instead of dumping the DOM. The whole process group is
 * killed when it takes longer than timeoutMs (real time; 60 s by default) and after it exits.
 */
export function runChromium(url, { budgetMs = 9000, screenshot, timeoutMs = 60000, windowSize = '1280,1600' } = {}) {
  const bin = chromiumPath();
  const profile = mkdtempSync(join(tmpdir(), 'mbchromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--no-default-browser-check', '--disable-extensions', '--disable-background-networking', '--hide-scrollbars',
    '--force-color-profile=srgb', `--user-data-dir=${profile}`, `--window-size=${windowSize}`,
    `--virtual-time-budget=${budgetMs}`, screenshot ? `--screenshot=${screenshot}` : '--dump-dom', url];
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let dom = '', stderr = '', timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { dom += d; });
    child.stderr.on('data', (d) => { if (stderr.length < 200000) stderr += d; });
    const killGroup = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(() => { timedOut = true; killGroup(); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); rmSync(profile, { recursive: true, force: true }); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup(); // helpers (zygote, GPU, network service) that outlived the browser
      rmSync(profile, { recursive: true, force: true });
      if (timedOut) reject(new Error(`chromium did not finish within ${timeoutMs} ms on ${url}\n${stderr.slice(-2000)}`));
      else resolveRun({ dom, stderr, code });
    });
  });
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: '\u00a0' };
const decode = (s) => s.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e) => ENTITIES[e]);
function attributes(tag) {
  const out = {};
  for (const m of tag.matchAll(/([\w:-]+)(?:="([^"]*)")?/g)) out[m[1].toLowerCase()] = decode(m[2] ?? '');
  return out;
}
const textOf = (html) => decode(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();

/** The element with this id: { attrs, html (inner), text }, or null. Elements of one kind
 *  must not nest inside themselves (true of the page's ids). */
export function elementById(dom, id) {
  const m = new RegExp(`<([a-z][a-z0-9]*)\\b[^>]*\\sid="${id}"[^>]*>`, 'i').exec(dom);
  if (!m) return null;
  const start = m.index + m[0].length;
  const end = dom.indexOf(`</${m[1]}>`, start);
  const html = dom.slice(start, end < 0 ? dom.length : end);
  return { attrs: attributes(m[0].slice(m[1].length + 1, -1)), html, text: textOf(html) };
}

/** The status page's markers from a dumped DOM. */
export function readMarkers(dom) {
  const title = /<title>([^<]*)<\/title>/i.exec(dom);
  const body = /<body\b([^>]*)>/i.exec(dom);
  const bodyAttrs = body ? attributes(body[1]) : {};
  const charts = {};
  for (const m of dom.matchAll(/<svg\b([^>]*)>/gi)) {
    const a = attributes(m[1]);
    if (!a['data-chart']) continue;
    const start = m.index + m[0].length;
    const html = dom.slice(start, dom.indexOf('</svg>', start));
    charts[a['data-chart']] = { points: Number(a['data-points']), html, text: textOf(html) };
  }
  const verdict = elementById(dom, 'verdict');
  const external = [];
  for (const m of dom.matchAll(/\b(src|href)\s*=\s*["']?\s*((?:https?:)?\/\/[^"'\s>]*)/gi)) external.push(m[2]);
  return {
    title: title ? decode(title[1]).trim() : null,
    updates: Number(bodyAttrs['data-updates']),
    charts,
    verdict: verdict ? verdict.attrs['data-verdict'] : null,
    verdictText: verdict ? verdict.text : null,
    external,
  };
}
