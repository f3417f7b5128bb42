// The wire half of the corpus test: a recording downstream, and what OpenAPI says the request
// for given arguments must look like (method, path, query, headers, cookies, body), computed
// from the spec itself (not from mcpbridge's output), then compared with what was recorded.
import { createServer } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { deref, mergedParameters, isSwagger2 } from './corpus_spec.mjs';

/** HTTP server on 127.0.0.1 that records every request and answers 200 application/json {}. */
export async function startRecorder() {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.setHeader('Content-Type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    requests,
    async stop() { server.closeAllConnections?.(); await new Promise((r) => server.close(r)); },
  };
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Percent-encodes every byte except RFC 3986 unreserved characters. */
export function enc(s) {
  let out = '';
  for (const b of Buffer.from(String(s), 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
/**
 * Canonical form for comparing URL components: %xx in upper case, encoded unreserved characters
 * decoded, raw characters that may not appear in a URL encoded; brackets decoded (deepObject
 * names are sent either way), '|' always %7C (it is not allowed raw, but often sent raw).
 */
export function canon(s) {
  let out = '';
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x25 && i + 2 < bytes.length + 0 && /^[0-9a-fA-F]{2}$/.test(String.fromCharCode(bytes[i + 1], bytes[i + 2]))) {
      const v = parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16);
      const c = String.fromCharCode(v);
      out += (v < 0x80 && (UNRESERVED.test(c) || c === '[' || c === ']')) ? c : '%' + v.toString(16).toUpperCase().padStart(2, '0');
      i += 2;
    } else {
      const c = String.fromCharCode(b);
      out += (b < 0x80 && /[A-Za-z0-9\-._~!$&'()*+,;=:@/?[\]]/.test(c)) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

const prim = (v) => (typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : JSON.stringify(v));
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const LOCATION_ORDER = ['path', 'query', 'header', 'cookie', 'formData'];

/** The argument name the docs promise for each parameter: name, or name__in on a clash. */
function argNames(params, hasBody) {
  const taken = new Set(hasBody ? ['body'] : []);
  const out = new Map();
  const sorted = [...params].sort((a, b) => LOCATION_ORDER.indexOf(a.in) - LOCATION_ORDER.indexOf(b.in));
  for (const p of sorted) {
    if (p.in === 'body') continue;
    if (p.in === 'header' && IGNORED_HEADERS.has(p.name.toLowerCase())) continue;
    const n = taken.has(p.name) ? `${p.name}__${p.in}` : p.name;
    taken.add(n);
    out.set(p, n);
  }
  return out;
}

/** Style, explode and delimiter of a parameter (OpenAPI 3 style/explode, Swagger 2 collectionFormat). */
function styleOf(p, swagger2) {
  if (swagger2) {
    const cf = p.collectionFormat || 'csv';
    const delim = { csv: ',', ssv: ' ', tsv: '\t', pipes: '|' }[cf];
    return { style: cf === 'multi' ? 'form' : (p.in === 'path' || p.in === 'header' ? 'simple' : 'form'),
             explode: cf === 'multi', delim: delim ?? ',' };
  }
  const style = p.style || { query: 'form', path: 'simple', header: 'simple', cookie: 'form' }[p.in];
  const explode = p.explode ?? style === 'form';
  const delim = { spaceDelimited: ' ', pipeDelimited: '|' }[style] ?? ',';
  return { style, explode, delim };
}

/** Expected path fragment for one path parameter (RFC 6570 simple/label/matrix). */
function pathValue(p, v, st) {
  const { style, explode } = st;
  const name = p.name;
  if (p.content) return enc(JSON.stringify(v));
  if (style === 'label') {
    if (Array.isArray(v)) return '.' + v.map((x) => enc(prim(x))).join(explode ? '.' : ',');
    if (isObj(v)) return '.' + Object.entries(v).map(([k, x]) => (explode ? `${enc(k)}=${enc(prim(x))}` : `${enc(k)},${enc(prim(x))}`)).join(explode ? '.' : ',');
    return '.' + enc(prim(v));
  }
  if (style === 'matrix') {
    if (Array.isArray(v)) return explode ? v.map((x) => `;${name}=${enc(prim(x))}`).join('') : `;${name}=` + v.map((x) => enc(prim(x))).join(',');
    if (isObj(v)) return explode ? Object.entries(v).map(([k, x]) => `;${enc(k)}=${enc(prim(x))}`).join('')
      : `;${name}=` + Object.entries(v).map(([k, x]) => `${enc(k)},${enc(prim(x))}`).join(',');
    return `;${name}=${enc(prim(v))}`;
  }
  if (Array.isArray(v)) return v.map((x) => enc(prim(x))).join(st.delim === ',' ? ',' : enc(st.delim));
  if (isObj(v)) return Object.entries(v).map(([k, x]) => (explode ? `${enc(k)}=${enc(prim(x))}` : `${enc(k)},${enc(prim(x))}`)).join(',');
  return enc(prim(v));
}

/** Expected query pairs for one parameter ([[name, value]] already encoded), or null if undefined by the spec. */
function queryPairs(p, v, st) {
  const n = enc(p.name);
  if (p.content) return [[n, enc(JSON.stringify(v))]];
  if (st.style === 'deepObject') {
    if (!isObj(v) || Object.values(v).some((x) => x !== null && typeof x === 'object')) return null;
    return Object.entries(v).map(([k, x]) => [`${n}[${enc(k)}]`, enc(prim(x))]);
  }
  if (Array.isArray(v)) {
    if (v.some((x) => x !== null && typeof x === 'object')) return null;
    if (st.explode) return v.map((x) => [n, enc(prim(x))]);
    return [[n, v.map((x) => enc(prim(x))).join(st.delim === ',' ? ',' : enc(st.delim))]];
  }
  if (isObj(v)) {
    if (Object.values(v).some((x) => x !== null && typeof x === 'object')) return null;
    if (st.explode) return Object.entries(v).map(([k, x]) => [enc(k), enc(prim(x))]);
    return [[n, Object.entries(v).map(([k, x]) => `${enc(k)},${enc(prim(x))}`).join(',')]];
  }
  return [[n, enc(prim(v))]];
}

function headerValue(p, v, st) {
  if (p.content) return JSON.stringify(v);
  if (Array.isArray(v)) return v.map(prim).join(st.delim);
  if (isObj(v)) return Object.entries(v).map(([k, x]) => (st.explode ? `${k}=${prim(x)}` : `${k},${prim(x)}`)).join(',');
  return prim(v);
}

/** Expected cookie value (decoded form), or null when OpenAPI leaves the shape undefined. */
function cookieValue(p, v, st) {
  if (p.content) return JSON.stringify(v);
  if (Array.isArray(v)) return st.explode ? null : v.map(prim).join(',');
  if (isObj(v)) return st.explode ? null : Object.entries(v).map(([k, x]) => `${k},${prim(x)}`).join(',');
  return prim(v);
}

/** The request body media type mcpbridge is documented to pick (JSON first), with its schema. */
export function bodyMedia(doc, op) {
  if (isSwagger2(doc)) {
    const params = (op.parameters || []).map((p) => deref(doc, p));
    const consumes = op.consumes || doc.consumes || [];
    if (params.some((p) => p?.in === 'body')) return consumes.find((c) => /json/i.test(c)) || 'application/json';
    if (params.some((p) => p?.in === 'formData')) return consumes.find((c) => /form/i.test(c)) || 'application/x-www-form-urlencoded';
    return undefined;
  }
  const rb = deref(doc, op.requestBody);
  const types = Object.keys(rb?.content || {});
  if (!types.length) return undefined;
  return types.find((t) => /^application\/json\s*(;|$)/i.test(t)) || types.find((t) => /\+json\s*(;|$)/i.test(t)) || types[0];
}

function parseQuery(url) {
  const i = url.indexOf('?');
  if (i < 0) return [];
  return url.slice(i + 1).split('&').filter(Boolean).map((kv) => {
    const j = kv.indexOf('=');
    return j < 0 ? [canon(kv), null] : [canon(kv.slice(0, j)), canon(kv.slice(j + 1))];
  });
}
const group = (pairs) => {
  const m = new Map();
  for (const [k, v] of pairs) { if (!m.has(k)) m.set(k, []); m.get(k).push(v); }
  return m;
};
function parseCookies(h) {
  const out = new Map();
  for (const part of (h || '').split(/;\s*/).filter(Boolean)) {
    const j = part.indexOf('=');
    const k = part.slice(0, j), v = part.slice(j + 1);
    let d = v;
    try { d = decodeURIComponent(v); } catch {}
    out.set(k, { raw: v, decoded: d });
  }
  return out;
}
/**
 * Expected form fields. urlencoded: objects exploded into their properties (style form);
 * multipart: objects as JSON parts (the OpenAPI default content type for them), base64
 * arguments (contentEncoding) decoded to their bytes. Arrays: one field per item.
 */
function formPairs(obj, multipart, schemas = {}) {
  const out = [];
  for (const [k, v] of Object.entries(obj || {})) {
    if (v === undefined) continue;
    const b64 = schemas[k]?.contentEncoding === 'base64' || schemas[k]?.items?.contentEncoding === 'base64';
    const one = (x) => (b64 && typeof x === 'string' ? Buffer.from(x, 'base64').toString('utf8') : isObj(x) ? JSON.stringify(x) : prim(x));
    if (Array.isArray(v)) for (const x of v) out.push([k, one(x)]);
    else if (isObj(v) && !multipart) for (const [kk, x] of Object.entries(v)) out.push([kk, prim(x)]);
    else out.push([k, one(v)]);
  }
  return out;
}
function multipartParts(body, contentType) {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType || '');
  if (!m) return null;
  const text = body.toString('latin1');
  const parts = [];
  for (const chunk of text.split('--' + m[2]).slice(1)) {
    if (chunk.startsWith('--')) break;
    const [head, ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    parts.push([name, Buffer.from(rest.join('\r\n\r\n').replace(/\r\n$/, ''), 'latin1').toString('utf8')]);
  }
  return parts;
}

/**
 * Compares a recorded request with what OpenAPI says it must be for `args`. `prefix` is the
 * path of the base URL the request goes to. Returns a list of mismatch strings (empty = match).
 */
export function checkRequest({ doc, opInfo, tool, args, prefix, rec }) {
  const errs = [];
  const swagger2 = isSwagger2(doc);
  const props = tool.inputSchema?.properties || {};
  const params = mergedParameters(doc, opInfo);
  const media = bodyMedia(doc, opInfo.op);
  const hasJsonBody = media && /json/i.test(media);
  const names = argNames(params, !!media);
  if (rec.method !== opInfo.method) errs.push(`method ${rec.method}, expected ${opInfo.method}`);

  const val = (p) => args[names.get(p)];
  for (const p of params) {
    if (!names.has(p) || p.in === 'formData') continue;
    if (!(names.get(p) in props)) errs.push(`${p.in} parameter '${p.name}' is not an argument '${names.get(p)}'`);
  }

  // Path: base path + template, the fragment ReadMe puts after '#' in some path keys dropped.
  const template = opInfo.path.split('#')[0];
  const pathParams = new Map(params.filter((p) => p.in === 'path').map((p) => [p.name, p]));
  let path = prefix.replace(/\/$/, '') + template.replace(/\{([^}]+)\}/g, (m, name) => {
    const p = pathParams.get(name);
    const v = p ? val(p) : args[name];
    if (v === undefined) return m;
    return p ? pathValue(p, v, styleOf(p, swagger2)) : enc(prim(v));
  });
  const gotPath = rec.url.split('?')[0];
  if (canon(gotPath) !== canon(path)) errs.push(`path ${gotPath}, expected ${path}`);

  // Query.
  const expected = [];
  let queryExact = true;
  for (const p of params.filter((q) => q.in === 'query')) {
    const v = val(p);
    if (v === undefined || v === null) continue;
    const pairs = queryPairs(p, v, styleOf(p, swagger2));
    if (pairs === null) { queryExact = false; continue; }
    expected.push(...pairs.map(([k, x]) => [canon(k), canon(x)]));
  }
  const got = group(parseQuery(rec.url)), want = group(expected);
  for (const [k, vs] of want) {
    if (!isDeepStrictEqual(got.get(k), vs)) errs.push(`query '${k}': got ${JSON.stringify(got.get(k) ?? null)}, expected ${JSON.stringify(vs)}`);
  }
  if (queryExact) for (const k of got.keys()) if (!want.has(k)) errs.push(`unexpected query '${k}' in ${rec.url}`);

  // Headers.
  for (const p of params.filter((q) => q.in === 'header' && names.has(q))) {
    const v = val(p);
    const h = rec.headers[p.name.toLowerCase()];
    if (v === undefined || v === null) { if (h !== undefined) errs.push(`header ${p.name} sent without an argument`); continue; }
    const w = headerValue(p, v, styleOf(p, swagger2));
    if (h !== w) errs.push(`header ${p.name}: got ${JSON.stringify(h ?? null)}, expected ${JSON.stringify(w)}`);
  }

  // Cookies (compared decoded; the raw bytes must be cookie-octets).
  const cookies = parseCookies(rec.headers.cookie);
  for (const p of params.filter((q) => q.in === 'cookie')) {
    const v = val(p);
    const c = cookies.get(p.name);
    if (v === undefined || v === null) { if (c) errs.push(`cookie ${p.name} sent without an argument`); continue; }
    const w = cookieValue(p, v, styleOf(p, swagger2));
    if (w === null) continue;
    if (!c) { errs.push(`cookie ${p.name} missing (Cookie: ${JSON.stringify(rec.headers.cookie ?? null)})`); continue; }
    if (c.decoded !== w) errs.push(`cookie ${p.name}: got ${JSON.stringify(c.raw)}, expected ${JSON.stringify(w)}`);
    // cookie-octet, plus ',' which OpenAPI uses as the delimiter of non-exploded arrays/objects.
    if (!/^[\x21\x23-\x2B\x2C\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/.test(c.raw)) errs.push(`cookie ${p.name}: ${JSON.stringify(c.raw)} has bytes outside cookie-octet`);
  }

  // Body.
  const ctype = rec.headers['content-type'] || '';
  const formParams = params.filter((p) => p.in === 'formData');
  if (media && !hasJsonBody && formParams.length) {
    // Swagger 2.0 formData: one argument per field (or a body object).
    const fields = {};
    for (const p of formParams) {
      const a = 'body' in props && isObj(args.body) ? args.body[p.name] : args[p.name];
      if (!(p.name in props) && !(isObj(props.body?.properties) && p.name in props.body.properties)) errs.push(`formData parameter '${p.name}' is not an argument`);
      if (a !== undefined) fields[p.name] = a;
    }
    checkForm(errs, media, fields, ctype, rec.body, props.body?.properties || props);
  } else if (media) {
    const b = args.body;
    if (!('body' in props)) errs.push(`request body (${media}) is not an argument`);
    else if (b === undefined) {
      if (rec.body.length) errs.push(`body sent without a body argument: ${rec.body.toString().slice(0, 100)}`);
    } else if (hasJsonBody) {
      if (!ctype.toLowerCase().startsWith(media.split(';')[0].toLowerCase())) errs.push(`content-type ${JSON.stringify(ctype)}, expected ${media}`);
      let parsed;
      try { parsed = JSON.parse(rec.body.toString('utf8')); } catch { errs.push(`body is not JSON: ${rec.body.toString().slice(0, 100)}`); }
      if (parsed !== undefined && !isDeepStrictEqual(parsed, b)) errs.push(`JSON body ${JSON.stringify(parsed).slice(0, 200)}, expected ${JSON.stringify(b).slice(0, 200)}`);
    } else if (/x-www-form-urlencoded|multipart\/form-data/i.test(media)) {
      checkForm(errs, media, isObj(b) ? b : {}, ctype, rec.body, props.body?.properties || {});
    } else if (/^text\//i.test(media)) {
      if (!ctype.toLowerCase().startsWith(media.toLowerCase())) errs.push(`content-type ${JSON.stringify(ctype)}, expected ${media}`);
      if (rec.body.toString('utf8') !== String(b)) errs.push(`text body ${JSON.stringify(rec.body.toString('utf8'))}, expected ${JSON.stringify(String(b))}`);
    } else if (/octet-stream/i.test(media)) {
      if (!ctype.toLowerCase().startsWith(media.toLowerCase())) errs.push(`content-type ${JSON.stringify(ctype)}, expected ${media}`);
      if (!rec.body.equals(Buffer.from(String(b), 'base64'))) errs.push(`octet-stream body is not the base64-decoded argument`);
    } else if (!ctype.toLowerCase().startsWith(media.toLowerCase())) errs.push(`content-type ${JSON.stringify(ctype)}, expected ${media}`);
  } else if (rec.body.length) errs.push(`unexpected body ${rec.body.toString().slice(0, 100)}`);
  return errs;
}

function checkForm(errs, media, fields, ctype, body, schemas) {
  const want = formPairs(fields, /multipart/i.test(media), schemas);
  if (/multipart/i.test(media)) {
    if (!/^multipart\/form-data/i.test(ctype)) { errs.push(`content-type ${JSON.stringify(ctype)}, expected multipart/form-data`); return; }
    const parts = multipartParts(body, ctype);
    if (!parts || !isDeepStrictEqual([...parts].sort(), [...want].sort())) errs.push(`multipart parts ${JSON.stringify(parts)}, expected ${JSON.stringify(want)}`);
    return;
  }
  if (!/^application\/x-www-form-urlencoded/i.test(ctype)) { errs.push(`content-type ${JSON.stringify(ctype)}, expected application/x-www-form-urlencoded`); return; }
  const got = [...new URLSearchParams(body.toString('utf8'))];
  if (!isDeepStrictEqual([...got].sort(), [...want].sort())) errs.push(`form body ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}
