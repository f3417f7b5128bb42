// Arguments for a tool, generated from its inputSchema (JSON Schema 2020-12 as mcpbridge emits
// it): const, then example/examples, default, enum; else a small valid value per type/format.
// Unconstrained strings carry a space and a slash so that percent-encoding is exercised.
// argsFor() returns arguments that the schema accepts (checked with Ajv), or undefined.

const FORMATS = {
  'date-time': '2024-01-02T03:04:05Z', date: '2024-01-02', time: '03:04:05Z', email: 'a@example.com',
  'idn-email': 'a@example.com', uri: 'https://example.com/x', 'uri-reference': '/x', url: 'https://example.com/x',
  iri: 'https://example.com/x', hostname: 'example.com', 'idn-hostname': 'example.com', ipv4: '127.0.0.1',
  ipv6: '::1', uuid: '123e4567-e89b-12d3-a456-426614174000', byte: 'eA==', binary: 'x', password: 'secret',
  duration: 'P1D', 'json-pointer': '/a', regex: '^a$', 'uri-template': '/x/{id}', int32: '1', int64: '1',
};
const PATTERN_CANDIDATES = ['a', 'A', '1', 'ab', 'a1', 'abc', '123', 'A1', 'a-b', 'a_b', 'abc123', '2024-01-02',
  'P001', 'AB12', '+15555550100', 'a@example.com', '#ffffff', 'https://example.com', '0', 'x'];

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeOf(s) {
  let t = s.type;
  if (Array.isArray(t)) t = t.find((x) => x !== 'null') ?? 'null';
  if (t) return t;
  if (s.properties || s.additionalProperties || s.required) return 'object';
  if (s.items || s.prefixItems) return 'array';
  if (s.pattern || s.format || s.minLength !== undefined) return 'string';
  if (s.minimum !== undefined || s.maximum !== undefined) return 'number';
  return undefined;
}

function mergeAll(s) {
  if (!Array.isArray(s.allOf)) return s;
  let out = { ...s };
  delete out.allOf;
  for (const sub of s.allOf) {
    if (!isObj(sub)) continue;
    const m = mergeAll(sub);
    out = { ...m, ...out, properties: { ...(m.properties || {}), ...(out.properties || {}) },
            required: [...new Set([...(m.required || []), ...(out.required || [])])] };
  }
  return out;
}

function str(s, variant, opts) {
  if (s.contentEncoding === 'base64') return 'aGVsbG8gd29ybGQ='; // "hello world"
  if (s.format && FORMATS[s.format]) return FORMATS[s.format];
  const min = s.minLength ?? 0, max = s.maxLength ?? Infinity;
  if (s.pattern) {
    let re;
    try { re = new RegExp(s.pattern, 'u'); } catch { re = null; }
    if (re) for (const c of PATTERN_CANDIDATES) if (re.test(c) && c.length >= min && c.length <= max) return c;
  }
  let v = opts.plain ? `v${variant}` : ['a b/c', 'd e', 'f/g'][variant % 3];
  while (v.length < min) v += 'x';
  if (v.length > max) v = 'abcdefghij'.repeat(Math.ceil(max / 10) + 1).slice(0, Math.max(max, 0));
  return v;
}

function num(s, integer, variant) {
  let lo = typeof s.minimum === 'number' ? s.minimum : -Infinity;
  if (typeof s.exclusiveMinimum === 'number') lo = Math.max(lo, s.exclusiveMinimum + (integer ? 1 : 0.5));
  else if (s.exclusiveMinimum === true && typeof s.minimum === 'number') lo = s.minimum + (integer ? 1 : 0.5);
  let hi = typeof s.maximum === 'number' ? s.maximum : Infinity;
  if (typeof s.exclusiveMaximum === 'number') hi = Math.min(hi, s.exclusiveMaximum - (integer ? 1 : 0.5));
  else if (s.exclusiveMaximum === true && typeof s.maximum === 'number') hi = s.maximum - (integer ? 1 : 0.5);
  let v = (integer ? 1 : 1.5) + variant;
  if (v < lo) v = integer ? Math.ceil(lo) : lo;
  if (v > hi) v = integer ? Math.floor(hi) : hi;
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0) {
    v = Math.ceil(v / s.multipleOf) * s.multipleOf;
    if (v > hi) v -= s.multipleOf;
  }
  return v;
}

/** A value for schema s. opts: {examples: bool, optional: bool, plain: bool}; depth bounds recursion. */
export function gen(schema, opts = {}, depth = 0, variant = 0) {
  if (schema === true || schema === undefined || schema === null) return 'x';
  if (!isObj(schema)) return null;
  let s = mergeAll(schema);
  if ('const' in s) return s.const;
  if (opts.examples !== false) {
    if ('example' in s) return s.example;
    if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  }
  if ('default' in s && variant === 0) return s.default;
  if (Array.isArray(s.enum) && s.enum.length) {
    const e = s.enum.filter((x) => x !== null);
    return e.length ? e[variant % e.length] : null;
  }
  for (const k of ['oneOf', 'anyOf']) {
    if (Array.isArray(s[k]) && s[k].length) {
      const { [k]: alts, ...rest } = s;
      const pick = alts.find((a) => isObj(a) && typeOf(mergeAll(a)) !== 'null') ?? alts[0];
      return gen(isObj(pick) ? { ...rest, ...pick, properties: { ...(rest.properties || {}), ...(pick.properties || {}) },
                                   required: [...(rest.required || []), ...(pick.required || [])] } : rest,
                 opts, depth + 1, variant);
    }
  }
  switch (typeOf(s)) {
    case 'string': return str(s, variant, opts);
    case 'integer': return num(s, true, variant);
    case 'number': return num(s, false, variant);
    case 'boolean': return variant % 2 === 0;
    case 'null': return null;
    case 'array': {
      const want = depth <= 1 ? 2 : 1;
      let n = Math.max(s.minItems ?? 0, Math.min(want, s.maxItems ?? want));
      if (depth > 4) n = s.minItems ?? 0;
      const out = [];
      for (let i = 0; i < n; i++) {
        const itemSchema = s.prefixItems?.[i] ?? s.items;
        out.push(gen(itemSchema, opts, depth + 1, variant + i));
      }
      return out;
    }
    case 'object': {
      const out = {};
      const req = new Set(s.required || []);
      for (const [k, sub] of Object.entries(s.properties || {})) {
        if (!req.has(k) && (depth >= 3 || opts.optional === false)) continue;
        if (isObj(sub) && sub.readOnly) continue;
        out[k] = gen(sub, opts, depth + 1, 0);
      }
      for (const k of req) if (!(k in out)) out[k] = 'x';
      if (!s.properties && !req.size && depth > 0 && s.additionalProperties !== false) out.k = 'v';
      return out;
    }
    default: return 'x';
  }
}

/**
 * Arguments for a tool's inputSchema that `validate` (an Ajv validator of it) accepts: first
 * with examples, then without, then without optional properties. Undefined when none works.
 */
export function argsFor(inputSchema, validate) {
  for (const opts of [{ examples: true }, { examples: false }, { examples: true, plain: true },
                      { examples: false, plain: true }, { examples: false, optional: false }]) {
    let a;
    try { a = gen(inputSchema, opts, 0, 0); } catch { continue; }
    if (!isObj(a)) continue;
    // Top-level properties go one by one: an optional parameter whose example is invalid is dropped.
    if (!validate(a)) {
      const req = new Set(inputSchema.required || []);
      for (const k of Object.keys(a)) {
        if (req.has(k)) continue;
        const { [k]: _, ...rest } = a;
        if (validate(rest)) { a = rest; break; }
      }
    }
    if (validate(a)) return a;
  }
  return undefined;
}
