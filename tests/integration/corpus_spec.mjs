// Reading OpenAPI documents for the corpus test (test_openapi_corpus.mjs), independently of the
// converter: load JSON/YAML, resolve local $refs, list operations, merge parameters, pick the
// server an operation would use. Nothing here talks to mcpbridge.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Folder of the @readme/oas-examples package (resolved through NODE_PATH / tests/node_modules). */
export function corpusDir() {
  const paths = [process.env.NODE_PATH, new URL('../node_modules', import.meta.url).pathname].filter(Boolean);
  return join(require.resolve('@readme/oas-examples/package.json', { paths }), '..');
}

/** Every spec file under 2.0/, 3.0/, 3.1/ (json and yaml, recursively), as paths relative to dir. */
export function listSpecs(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(json|ya?ml)$/.test(e)) out.push(relative(dir, p));
    }
  };
  for (const v of ['2.0', '3.0', '3.1']) walk(join(dir, v));
  return out;
}

export function loadSpec(file) {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { maxAliasCount: -1 });
}

/** The value a local JSON pointer designates, or undefined. */
export function pointer(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
  let cur = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const k = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** Follows $ref chains (local only) on a node; returns the target (siblings of $ref merged). */
export function deref(doc, node, seen = new Set()) {
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) return node;
    seen.add(node.$ref);
    const { $ref, ...rest } = node;
    const t = pointer(doc, $ref);
    if (t === undefined) return node;
    node = Object.keys(rest).length ? { ...t, ...rest } : t;
  }
  return node;
}

/** Operations of the document: [{method (upper), path, op, item}] for paths (webhooks separately). */
export function operations(doc) {
  const ops = [];
  for (const [path, rawItem] of Object.entries(doc.paths || {})) {
    const item = deref(doc, rawItem);
    if (!item || typeof item !== 'object') continue;
    for (const m of METHODS) {
      if (item[m] && typeof item[m] === 'object') ops.push({ method: m.toUpperCase(), path, op: item[m], item });
    }
  }
  return ops;
}

export const isSwagger2 = (doc) => typeof doc.swagger === 'string';

/** Path-level then operation-level parameters, resolved; an operation one replaces the same name+in. */
export function mergedParameters(doc, { op, item }) {
  const list = [];
  for (const raw of [...(item.parameters || []), ...(op.parameters || [])]) {
    const p = deref(doc, raw);
    if (!p || typeof p !== 'object' || !p.name || !p.in) continue;
    const i = list.findIndex((q) => q.name === p.name && q.in === p.in);
    if (i >= 0) list[i] = p; else list.push(p);
  }
  return list;
}

const fill = (s) => String(s.url).replace(/\{([^}]+)\}/g, (m, v) => (s.variables?.[v]?.default ?? m));

/** True when the document names an absolute server (3.x servers[0] after defaults, 2.0 host). */
export function hasUsableServer(doc) {
  if (isSwagger2(doc)) return typeof doc.host === 'string' && doc.host.length > 0;
  const s = doc.servers?.[0];
  return !!s && /^https?:\/\/[^/{}]+/i.test(fill(s));
}

/**
 * The server URL an operation is sent to per OpenAPI 3: operation servers, else path item
 * servers, else servers[0] (empty arrays do not count); variables replaced by their defaults; a
 * relative URL resolved against servers[0].
 */
export function effectiveServer(doc, { op, item }) {
  const top = doc.servers?.[0] ? fill(doc.servers[0]) : undefined;
  const chosen = (op.servers?.length && op.servers[0]) || (item.servers?.length && item.servers[0]) || doc.servers?.[0];
  if (!chosen) return undefined;
  const url = fill(chosen);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  if (!top) return undefined;
  return new URL(url, top).href;
}
