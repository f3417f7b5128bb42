/* Argument validation: a JSON Schema subset checked against tools/call arguments (type with
 * integer vs number and type arrays, enum, const, numeric bounds in both the 2020-12 and the
 * OpenAPI 3.0 boolean form, string lengths in code points, patterns, array and object
 * keywords, allOf/anyOf/oneOf/not). Patterns are ECMA-262 in the spec; they are translated to
 * POSIX ERE and compiled once per tool at catalog build; a pattern ERE cannot express is
 * skipped. Recursion depth and total work are bounded, so hostile schemas or arguments
 * cannot blow the stack or spin. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi/catalog_internal.h"

#define V_MAX_DEPTH  64
#define V_BUDGET     200000
#define V_PATH_MAX   256

/* ---- ECMA-262 -> POSIX ERE ---- */

struct ere_out {
    char *p;
    size_t n, cap;
    bool overflow;
};

static void put(struct ere_out *o, const char *s)
{
    size_t l = strlen(s);
    if (o->n + l + 1 > o->cap) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->n, s, l + 1);
    o->n += l;
}

static void putc_(struct ere_out *o, char c)
{
    char s[2] = {c, '\0'};
    put(o, s);
}

static int hex_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A character class "[...]" starting at *sp (on '['); writes its ERE form. */
static int ere_class(const char **sp, struct ere_out *o)
{
    const char *s = *sp + 1;
    bool neg = false, rbr = false, dash = false, caret = false;
    char body[512];
    size_t n = 0;
    if (*s == '^') {
        neg = true;
        s++;
    }
    while (*s && *s != ']') {
        char c = *s++;
        const char *add = NULL;
        char one[2] = {0, 0};
        if (c == '\\') {
            char e = *s++;
            switch (e) {
            case 'd': add = "0-9"; break;
            case 'w': add = "A-Za-z0-9_"; break;
            case 's': add = "[:space:]"; break;
            case 'n': one[0] = '\n'; break;
            case 't': one[0] = '\t'; break;
            case 'r': one[0] = '\r'; break;
            case 'f': one[0] = '\f'; break;
            case 'v': one[0] = '\v'; break;
            case 'x': case 'u': {
                int len = e == 'x' ? 2 : 4;
                int v = (int)strnlen(s, (size_t)len) == len ? hex_digits(s, len) : -1;
                if (v <= 0 || v >= 0x80)
                    return -1;
                s += len;
                one[0] = (char)v;
                break;
            }
            case '\0': case 'D': case 'W': case 'S': case 'b': case 'B':
                return -1;
            default:
                if (e >= '0' && e <= '9')
                    return -1;
                one[0] = e;
            }
        } else if (c == '[' && (*s == ':' || *s == '.' || *s == '=')) {
            return -1;
        } else {
            one[0] = c;
        }
        if (!add) {
            /* literal ']' '-' '^' go where POSIX reads them literally */
            if (one[0] == ']') { rbr = true; continue; }
            if (one[0] == '^') { caret = true; continue; }
            if (one[0] == '-' && c == '\\') { dash = true; continue; }
            if (one[0] == '-' && (n == 0 || *s == ']')) { dash = true; continue; }
            add = one;
        }
        size_t l = strlen(add);
        if (n + l >= sizeof body)
            return -1;
        memcpy(body + n, add, l);
        n += l;
    }
    if (*s != ']')
        return -1;
    body[n] = '\0';
    if (n == 0 && !rbr && !caret && !dash)
        return -1; /* "[]" / "[^]" have no ERE form */
    put(o, "[");
    if (neg)
        put(o, "^");
    if (rbr)
        put(o, "]");
    put(o, body);
    if (caret)
        put(o, n || rbr ? "^" : "\\^"); /* never first: "[^]" would negate */
    if (dash)
        put(o, "-");
    put(o, "]");
    *sp = s + 1;
    return 0;
}

static bool valid_interval(const char *s)
{
    /* s on '{': {n}, {n,}, {n,m} */
    s++;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s == ',') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '}';
}

int mb_oa_ecma_to_ere(const char *src, char *out, size_t outsize)
{
    struct ere_out o = {out, 0, outsize, false};
    const char *s = src;
    bool after_quant = false;
    if (outsize == 0)
        return -1;
    out[0] = '\0';
    while (*s) {
        char c = *s;
        bool quant = false;
        if (c == '?' && after_quant) { /* lazy quantifier: same match/no-match */
            s++;
            after_quant = false;
            continue;
        }
        if (c == '\\') {
            char e = s[1];
            s += 2;
            switch (e) {
            case 'd': put(&o, "[0-9]"); break;
            case 'D': put(&o, "[^0-9]"); break;
            case 'w': put(&o, "[A-Za-z0-9_]"); break;
            case 'W': put(&o, "[^A-Za-z0-9_]"); break;
            case 's': put(&o, "[[:space:]]"); break;
            case 'S': put(&o, "[^[:space:]]"); break;
            case 'n': putc_(&o, '\n'); break;
            case 't': putc_(&o, '\t'); break;
            case 'r': putc_(&o, '\r'); break;
            case 'f': putc_(&o, '\f'); break;
            case 'v': putc_(&o, '\v'); break;
            case 'x': case 'u': {
                int len = e == 'x' ? 2 : 4;
                int v = (int)strnlen(s, (size_t)len) == len ? hex_digits(s, len) : -1;
                if (v <= 0 || v >= 0x80)
                    return -1;
                s += len;
                char lit[3] = {'\\', (char)v, '\0'};
                put(&o, strchr(".[]()*+?{}|^$\\", v) ? lit : lit + 1);
                break;
            }
            case '\0': case 'b': case 'B': case 'k': case 'p': case 'P': case 'c':
                return -1;
            default:
                if (e >= '0' && e <= '9')
                    return -1;
                if (strchr(".[]()*+?{}|^$\\", e)) {
                    char esc[3] = {'\\', e, '\0'};
                    put(&o, esc);
                } else {
                    putc_(&o, e);
                }
            }
        } else if (c == '[') {
            if (ere_class(&s, &o) != 0)
                return -1;
        } else if (c == '(') {
            if (s[1] == '?' && s[2] == ':') {
                /* A non-capturing group matches like a plain group; backreferences, whose
                 * numbering this would change, are refused above. */
                putc_(&o, '(');
                s += 3;
                after_quant = false;
                continue;
            }
            if (s[1] == '?')
                return -1; /* lookaround or named groups */
            putc_(&o, c);
            s++;
        } else if (c == '{') {
            if (valid_interval(s)) {
                const char *e = strchr(s, '}');
                while (s <= e)
                    putc_(&o, *s++);
                quant = true;
            } else {
                put(&o, "\\{");
                s++;
            }
        } else if (c == '}') {
            put(&o, "\\}");
            s++;
        } else {
            quant = c == '*' || c == '+' || c == '?';
            putc_(&o, c);
            s++;
        }
        after_quant = quant;
    }
    return o.overflow ? -1 : 0;
}

/* ---- ECMA-262 Annex B -> Unicode mode ---- */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_class_escape(char c)
{
    return c && strchr("dDwWsS", c) != NULL;
}

/* Capturing groups of an ECMA-262 pattern (for checking backreferences). */
static unsigned count_groups(const char *p)
{
    unsigned n = 0;
    bool in_class = false;
    for (; *p; p++) {
        if (*p == '\\') {
            if (!*++p)
                break;
        } else if (in_class) {
            in_class = *p != ']';
        } else if (*p == '[') {
            in_class = true;
        } else if (*p == '(' && (p[1] != '?' || (p[2] == '<' && p[3] != '=' && p[3] != '!'))) {
            n++;
        }
    }
    return n;
}

/* One escape "\c..." at *ps (on the backslash) copied to o in its Unicode-mode form: identity
 * escapes of characters that are not syntax characters lose their backslash, incomplete \x
 * and \u escapes become the letter. Sets *class_escape for \d \D \w \W \s \S. Returns 0 or -1
 * when the escape has no Unicode-mode equivalent. */
static int unicode_escape(const char **ps, struct ere_out *o, bool in_class, unsigned groups, bool *class_escape)
{
    const char *s = *ps + 1;
    char e = *s;
    *class_escape = false;
    if (!e)
        return -1;
    if (is_class_escape(e) || strchr("bBfnrtv", e)) {
        *class_escape = is_class_escape(e);
        char esc[3] = {'\\', e, '\0'};
        put(o, esc);
        s++;
    } else if (e >= '0' && e <= '9') {
        if (e == '0') {
            if (s[1] >= '0' && s[1] <= '9')
                return -1; /* legacy octal */
            put(o, "\\0");
            s++;
        } else {
            unsigned long n = strtoul(s, NULL, 10);
            if (in_class || n > groups)
                return -1; /* octal escape or a reference to a group that does not exist */
            putc_(o, '\\');
            while (*s >= '0' && *s <= '9')
                putc_(o, *s++);
        }
    } else if (e == 'c') {
        if (!((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z')))
            return -1;
        char esc[4] = {'\\', 'c', s[1], '\0'};
        put(o, esc);
        s += 2;
    } else if (e == 'x' && is_hex(s[1]) && is_hex(s[2])) {
        put(o, "\\x");
        putc_(o, s[1]);
        putc_(o, s[2]);
        s += 3;
    } else if (e == 'u' && s[1] == '{') {
        const char *q = s + 2;
        while (is_hex(*q))
            q++;
        if (q == s + 2 || *q != '}')
            return -1;
        putc_(o, '\\');
        while (s <= q)
            putc_(o, *s++);
    } else if (e == 'u' && is_hex(s[1]) && is_hex(s[2]) && is_hex(s[3]) && is_hex(s[4])) {
        putc_(o, '\\');
        for (int i = 0; i < 5; i++)
            putc_(o, *s++);
    } else if ((e == 'p' || e == 'P') && s[1] == '{') {
        const char *q = strchr(s, '}');
        if (!q)
            return -1;
        putc_(o, '\\');
        while (s <= q)
            putc_(o, *s++);
    } else if (e == 'k' && s[1] == '<' && !in_class) {
        const char *q = strchr(s, '>');
        if (!q)
            return -1;
        putc_(o, '\\');
        while (s <= q)
            putc_(o, *s++);
    } else if (strchr("^$\\.*+?()[]{}|/", e) || (e == '-' && in_class)) {
        char esc[3] = {'\\', e, '\0'};
        put(o, esc);
        s++;
    } else {
        putc_(o, e); /* identity escape: the character itself */
        s++;
    }
    *ps = s;
    return 0;
}

int mb_oa_pattern_unicode(const char *src, char **out)
{
    size_t cap = 2 * strlen(src) + 1;
    char *buf = malloc(cap);
    *out = NULL;
    if (!buf)
        return -ENOMEM;
    struct ere_out o = {buf, 0, cap, false};
    buf[0] = '\0';
    unsigned groups = count_groups(src);
    bool lookaround[V_MAX_DEPTH]; /* per open group */
    int depth = 0;
    bool can_quantify = false, after_lookaround = false;
    const char *s = src;
    while (*s) {
        char c = *s;
        bool was_lookaround = after_lookaround, escape_class;
        after_lookaround = false;
        if (c == '\\') {
            char e = s[1];
            if (unicode_escape(&s, &o, false, groups, &escape_class) != 0)
                goto invalid;
            can_quantify = e != 'b' && e != 'B'; /* assertions cannot be repeated */
        } else if (c == '[') {
            putc_(&o, *s++);
            if (*s == '^')
                putc_(&o, *s++);
            bool prev_class = false;
            while (*s && *s != ']') {
                if (*s == '\\') {
                    if (unicode_escape(&s, &o, true, groups, &escape_class) != 0)
                        goto invalid;
                    prev_class = escape_class;
                    continue;
                }
                if (*s == '-' && (prev_class || (s[1] == '\\' && is_class_escape(s[2])))) {
                    put(&o, "\\-"); /* [\d-z]: a '-' next to a class escape is literal */
                    s++;
                } else {
                    putc_(&o, *s++);
                }
                prev_class = false;
            }
            if (*s != ']')
                goto invalid;
            putc_(&o, *s++);
            can_quantify = true;
        } else if (c == '(') {
            if (depth >= V_MAX_DEPTH)
                goto invalid;
            bool look = false;
            putc_(&o, *s++);
            if (*s == '?') {
                if (s[1] == ':') {
                    put(&o, "?:");
                    s += 2;
                } else if (s[1] == '=' || s[1] == '!') {
                    putc_(&o, *s++);
                    putc_(&o, *s++);
                    look = true;
                } else if (s[1] == '<' && (s[2] == '=' || s[2] == '!')) {
                    for (int i = 0; i < 3; i++)
                        putc_(&o, *s++);
                    look = true;
                } else if (s[1] == '<') {
                    const char *q = strchr(s, '>');
                    if (!q || q == s + 2)
                        goto invalid;
                    while (s <= q)
                        putc_(&o, *s++);
                } else {
                    goto invalid; /* inline flags and other extensions */
                }
            }
            lookaround[depth++] = look;
            can_quantify = false;
        } else if (c == ')') {
            if (depth == 0)
                goto invalid;
            putc_(&o, *s++);
            after_lookaround = lookaround[--depth];
            can_quantify = !after_lookaround;
        } else if (c == '*' || c == '+' || c == '?' || (c == '{' && valid_interval(s))) {
            if (!can_quantify || was_lookaround)
                goto invalid;
            if (c == '{') {
                const char *e = strchr(s, '}');
                while (s <= e)
                    putc_(&o, *s++);
            } else {
                putc_(&o, *s++);
            }
            if (*s == '?')
                putc_(&o, *s++);
            can_quantify = false;
        } else if (c == '{' || c == '}' || c == ']') {
            char esc[3] = {'\\', c, '\0'}; /* a lone brace or bracket is a literal */
            put(&o, esc);
            s++;
            can_quantify = true;
        } else {
            putc_(&o, *s++);
            can_quantify = c != '^' && c != '$' && c != '|';
        }
    }
    if (depth != 0 || o.overflow)
        goto invalid;
    if (strcmp(buf, src) == 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    return 1;
invalid:
    free(buf);
    return -1;
}

/* ---- compiled patterns ---- */

static int add_regex(struct mb_oa_tool_priv *priv, const char *src)
{
    for (size_t i = 0; i < priv->regex_count; i++)
        if (strcmp(priv->regexes[i].source, src) == 0)
            return 0;
    struct mb_oa_regex *r = realloc(priv->regexes, (priv->regex_count + 1) * sizeof *r);
    if (!r)
        return -ENOMEM;
    priv->regexes = r;
    struct mb_oa_regex *x = &r[priv->regex_count];
    x->source = strdup(src);
    if (!x->source)
        return -ENOMEM;
    x->ok = false;
    size_t cap = strlen(src) * 16 + 64;
    char *ere = malloc(cap);
    if (!ere) {
        free(x->source);
        return -ENOMEM;
    }
    if (mb_oa_ecma_to_ere(src, ere, cap) == 0)
        x->ok = regcomp(&x->re, ere, REG_EXTENDED | REG_NOSUB) == 0;
    free(ere);
    priv->regex_count++;
    return 0;
}

static int compile_walk(struct mb_oa_tool_priv *priv, const json_t *node, int depth)
{
    if (depth > V_MAX_DEPTH)
        return 0;
    if (json_is_array(node)) {
        size_t i;
        const json_t *v;
        json_array_foreach(node, i, v) {
            int rc = compile_walk(priv, v, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)node, k, v) {
        int rc = 0;
        if (strcmp(k, "pattern") == 0 && json_is_string(v)) {
            rc = add_regex(priv, json_string_value(v));
        } else if (strcmp(k, "patternProperties") == 0 && json_is_object(v)) {
            const char *pk;
            const json_t *pv;
            json_object_foreach((json_t *)v, pk, pv) {
                if ((rc = add_regex(priv, pk)) != 0)
                    return rc;
            }
            rc = compile_walk(priv, v, depth + 1);
        } else if (json_is_object(v) || json_is_array(v)) {
            rc = compile_walk(priv, v, depth + 1);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int mb_oa_priv_compile(struct mb_oa_tool_priv *priv, const json_t *schema)
{
    return compile_walk(priv, schema, 0);
}

void mb_oa_priv_free(struct mb_oa_tool_priv *priv)
{
    for (size_t i = 0; i < priv->regex_count; i++) {
        if (priv->regexes[i].ok)
            regfree(&priv->regexes[i].re);
        free(priv->regexes[i].source);
    }
    free(priv->regexes);
    free(priv->styles);
    memset(priv, 0, sizeof *priv);
}

/* ---- the validator ---- */

struct vctx {
    const struct mb_oa_tool_priv *priv;
    char *msg;
    size_t msglen;
    char path[V_PATH_MAX];
    long budget;
};

static int fail(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct vctx *c, const char *fmt, ...)
{
    if (!c->msg || c->msglen == 0)
        return -1;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (c->path[0])
        snprintf(c->msg, c->msglen, "argument '%s': %s", c->path, text);
    else
        snprintf(c->msg, c->msglen, "arguments: %s", text);
    return -1;
}

static size_t path_push_key(struct vctx *c, const char *key)
{
    size_t saved = strlen(c->path);
    snprintf(c->path + saved, sizeof c->path - saved, "%s%s", saved ? "." : "", key);
    return saved;
}

static size_t path_push_index(struct vctx *c, size_t i)
{
    size_t saved = strlen(c->path);
    snprintf(c->path + saved, sizeof c->path - saved, "[%zu]", i);
    return saved;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static bool type_matches(const char *t, const json_t *v)
{
    if (strcmp(t, "integer") == 0)
        return is_integral(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    return strcmp(t, type_name(v)) == 0 ||
           (strcmp(t, "boolean") == 0 && json_is_boolean(v));
}

/* Value equality with 1 == 1.0 (JSON Schema), depth-bounded. */
static bool equal(const json_t *a, const json_t *b, int depth)
{
    if (depth > V_MAX_DEPTH)
        return false;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            const json_t *w = json_object_get(b, k);
            if (!w || !equal(v, w, depth + 1))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Short text of a value for messages. */
static void value_text(const json_t *v, char *out, size_t outlen)
{
    if (json_is_integer(v)) {
        snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    if (json_is_real(v)) {
        snprintf(out, outlen, "%.15g", json_real_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(out, outlen, "(value)");
        return;
    }
    size_t n = strlen(s);
    if (n >= outlen && outlen > 4)
        snprintf(out, outlen, "%.*s...", (int)(outlen - 4), s);
    else
        snprintf(out, outlen, "%s", s);
    free(s);
}

static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Returns 1 match, 0 no match, -1 pattern unusable (skipped). */
static int pattern_match(const struct vctx *c, const char *pattern, const char *text)
{
    if (c->priv) {
        for (size_t i = 0; i < c->priv->regex_count; i++) {
            const struct mb_oa_regex *r = &c->priv->regexes[i];
            if (strcmp(r->source, pattern) == 0)
                return r->ok ? regexec(&r->re, text, 0, NULL, 0) == 0 : -1;
        }
    }
    /* a hand-built tool: compile for this call */
    struct mb_oa_tool_priv tmp = {0};
    int rc = -1;
    if (add_regex(&tmp, pattern) == 0 && tmp.regexes[0].ok)
        rc = regexec(&tmp.regexes[0].re, text, 0, NULL, 0) == 0;
    mb_oa_priv_free(&tmp);
    return rc;
}

static int v_node(struct vctx *c, const json_t *schema, const json_t *inst, int depth);

static int check_type(struct vctx *c, const json_t *type, const json_t *inst)
{
    if (json_is_string(type)) {
        if (type_matches(json_string_value(type), inst))
            return 0;
        return fail(c, "expected %s, got %s", json_string_value(type), type_name(inst));
    }
    if (!json_is_array(type) || json_array_size(type) == 0)
        return 0;
    char want[128] = "";
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t) {
        if (!json_is_string(t))
            continue;
        if (type_matches(json_string_value(t), inst))
            return 0;
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, "%s%s", l ? " or " : "", json_string_value(t));
    }
    return fail(c, "expected %s, got %s", want, type_name(inst));
}

static int check_number(struct vctx *c, const json_t *s, const json_t *inst)
{
    double v = json_number_value(inst);
    char vt[64], bt[64];
    value_text(inst, vt, sizeof vt);
    const json_t *min = json_object_get(s, "minimum"), *max = json_object_get(s, "maximum");
    const json_t *xmin = json_object_get(s, "exclusiveMinimum"), *xmax = json_object_get(s, "exclusiveMaximum");
    bool min_excl = json_is_true(xmin), max_excl = json_is_true(xmax); /* 3.0 boolean form */
    if (json_is_number(min)) {
        value_text(min, bt, sizeof bt);
        if (min_excl ? !(v > json_number_value(min)) : v < json_number_value(min))
            return min_excl ? fail(c, "%s is not greater than the exclusive minimum %s", vt, bt)
                            : fail(c, "%s is less than the minimum %s", vt, bt);
    }
    if (json_is_number(max)) {
        value_text(max, bt, sizeof bt);
        if (max_excl ? !(v < json_number_value(max)) : v > json_number_value(max))
            return max_excl ? fail(c, "%s is not less than the exclusive maximum %s", vt, bt)
                            : fail(c, "%s is greater than the maximum %s", vt, bt);
    }
    if (json_is_number(xmin) && !(v > json_number_value(xmin))) {
        value_text(xmin, bt, sizeof bt);
        return fail(c, "%s is not greater than the exclusive minimum %s", vt, bt);
    }
    if (json_is_number(xmax) && !(v < json_number_value(xmax))) {
        value_text(xmax, bt, sizeof bt);
        return fail(c, "%s is not less than the exclusive maximum %s", vt, bt);
    }
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (fmt && (strcmp(fmt, "int32") == 0 || strcmp(fmt, "int64") == 0)) {
        double lo = fmt[3] == '3' ? -2147483648.0 : -9223372036854775808.0;
        double hi = fmt[3] == '3' ? 2147483647.0 : 9223372036854775807.0;
        bool out = json_is_integer(inst) ? (fmt[3] == '3' && (json_integer_value(inst) < INT32_MIN ||
                                                              json_integer_value(inst) > INT32_MAX))
                                         : (v < lo || v >= (fmt[3] == '3' ? hi + 1 : hi));
        if (out)
            return fail(c, "%s is out of the %s range (format)", vt, fmt);
    }
    const json_t *mult = json_object_get(s, "multipleOf");
    if (json_is_number(mult) && json_number_value(mult) > 0) {
        double q = v / json_number_value(mult);
        if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q))) {
            value_text(mult, bt, sizeof bt);
            return fail(c, "%s is not a multiple of %s", vt, bt);
        }
    }
    return 0;
}

/* ---- formats ---- */

static bool digits(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static int num(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* RFC 3339 full-date; returns the bytes consumed (10) or 0. */
static size_t parse_date(const char *p)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' || !digits(p + 8, 2))
        return 0;
    int y = num(p, 4), m = num(p + 5, 2), d = num(p + 8, 2);
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 10;
}

/* RFC 3339 full-time (time-offset required); the whole rest of the string. */
static bool parse_time(const char *p)
{
    if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2) || p[5] != ':' || !digits(p + 6, 2))
        return false;
    if (num(p, 2) > 23 || num(p + 3, 2) > 59 || num(p + 6, 2) > 60)
        return false;
    p += 8;
    if (*p == '.') {
        p++;
        if (!digits(p, 1))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    return (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && p[6] == '\0' &&
           num(p + 1, 2) <= 23 && num(p + 4, 2) <= 59;
}

static bool is_hostname(const char *p)
{
    size_t total = strlen(p), label = 0;
    if (total == 0 || total > 253)
        return false;
    for (const char *q = p; *q; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == '.') {
            if (label == 0 || q[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok || (label == 0 && ch == '-') || ++label > 63)
            return false;
    }
    return label > 0 && p[total - 1] != '-';
}

static bool is_ipv4(const char *p)
{
    for (int part = 0; part < 4; part++) {
        int n = 0, v = 0;
        while (p[n] >= '0' && p[n] <= '9' && n < 4)
            v = v * 10 + (p[n++] - '0');
        if (n == 0 || n > 3 || v > 255 || (n > 1 && p[0] == '0'))
            return false;
        p += n;
        if (part < 3 && *p++ != '.')
            return false;
    }
    return *p == '\0';
}

/* strict: RFC 4648 base64 as "format: byte" means it (standard alphabet, padded); otherwise
 * the URL-safe alphabet and missing padding are accepted too. */
static bool is_base64(const char *p, size_t len, bool strict)
{
    size_t n = 0, pad = 0;
    if (strict && len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
                     ch == '/' || (!strict && (ch == '-' || ch == '_'))))
            return false;
        n++;
    }
    if (pad > 2 || (pad && (n + pad) % 4 != 0))
        return false;
    return n % 4 != 1;
}

/* 1 valid, 0 invalid, -1 a format we do not check. */
static int format_ok(const char *fmt, const char *v, size_t len)
{
    if (strcmp(fmt, "date") == 0)
        return parse_date(v) == 10 && v[10] == '\0';
    if (strcmp(fmt, "date-time") == 0)
        return parse_date(v) == 10 && (v[10] == 'T' || v[10] == 't' || v[10] == ' ') && parse_time(v + 11);
    if (strcmp(fmt, "time") == 0)
        return parse_time(v);
    if (strcmp(fmt, "email") == 0) {
        const char *at = strrchr(v, '@');
        if (!at || at == v || (size_t)(at - v) > 64 || strchr(v, ' ') || memchr(v, '@', (size_t)(at - v)))
            return 0;
        return is_hostname(at + 1) || (at[1] == '[' && v[len - 1] == ']');
    }
    if (strcmp(fmt, "uuid") == 0) {
        if (len != 36)
            return 0;
        for (size_t i = 0; i < 36; i++) {
            bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            unsigned char ch = (unsigned char)v[i];
            bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
            if (dash ? ch != '-' : !hex)
                return 0;
        }
        return 1;
    }
    if (strcmp(fmt, "uri") == 0) {
        size_t n = 0;
        if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
            return 0;
        while (v[n] && v[n] != ':') {
            unsigned char ch = (unsigned char)v[n++];
            if (!(isalnum(ch) || ch == '+' || ch == '-' || ch == '.'))
                return 0;
        }
        if (v[n] != ':')
            return 0;
        for (const char *q = v; *q; q++)
            if ((unsigned char)*q <= 0x20 || *q == '"' || *q == '<' || *q == '>' || *q == '\\' || *q == '^' ||
                *q == '`' || *q == '{' || *q == '|' || *q == '}')
                return 0;
        return 1;
    }
    if (strcmp(fmt, "ipv4") == 0)
        return is_ipv4(v);
    if (strcmp(fmt, "ipv6") == 0) {
        unsigned char addr[16];
        return strchr(v, '%') == NULL && inet_pton(AF_INET6, v, addr) == 1;
    }
    if (strcmp(fmt, "hostname") == 0)
        return is_hostname(v);
    if (strcmp(fmt, "byte") == 0)
        return is_base64(v, len, true);
    return -1;
}

static int check_string(struct vctx *c, const json_t *s, const json_t *inst)
{
    const char *str = json_string_value(inst);
    const json_t *minl = json_object_get(s, "minLength"), *maxl = json_object_get(s, "maxLength");
    if (json_is_integer(minl) || json_is_integer(maxl)) {
        size_t len = utf8_length(str);
        if (json_is_integer(minl) && (json_int_t)len < json_integer_value(minl))
            return fail(c, "length %zu is shorter than minLength %" JSON_INTEGER_FORMAT, len, json_integer_value(minl));
        if (json_is_integer(maxl) && (json_int_t)len > json_integer_value(maxl))
            return fail(c, "length %zu is longer than maxLength %" JSON_INTEGER_FORMAT, len, json_integer_value(maxl));
    }
    const char *pattern = json_string_value(json_object_get(s, "pattern"));
    if (pattern && strlen(str) == json_string_length(inst) && pattern_match(c, pattern, str) == 0)
        return fail(c, "does not match the pattern '%.200s'", pattern);
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (fmt && (strlen(str) != json_string_length(inst) || format_ok(fmt, str, json_string_length(inst)) == 0))
        return fail(c, "is not a valid %.40s (format)", fmt);
    const char *enc = json_string_value(json_object_get(s, "contentEncoding"));
    if (enc && strcasecmp(enc, "base64") == 0 && !is_base64(str, json_string_length(inst), false))
        return fail(c, "is not valid base64 (contentEncoding)");
    return 0;
}

static int check_array(struct vctx *c, const json_t *s, const json_t *inst, int depth)
{
    size_t n = json_array_size(inst);
    const json_t *mini = json_object_get(s, "minItems"), *maxi = json_object_get(s, "maxItems");
    if (json_is_integer(mini) && (json_int_t)n < json_integer_value(mini))
        return fail(c, "has %zu items, fewer than minItems %" JSON_INTEGER_FORMAT, n, json_integer_value(mini));
    if (json_is_integer(maxi) && (json_int_t)n > json_integer_value(maxi))
        return fail(c, "has %zu items, more than maxItems %" JSON_INTEGER_FORMAT, n, json_integer_value(maxi));
    if (json_is_true(json_object_get(s, "uniqueItems"))) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (--c->budget < 0)
                    return fail(c, "too complex to validate");
                if (equal(json_array_get(inst, i), json_array_get(inst, j), 0))
                    return fail(c, "items %zu and %zu are equal (uniqueItems)", i, j);
            }
        }
    }
    const json_t *prefix = json_object_get(s, "prefixItems");
    const json_t *items = json_object_get(s, "items");
    size_t first = 0;
    if (json_is_array(prefix) || json_is_array(items)) { /* tuple forms */
        const json_t *tuple = json_is_array(prefix) ? prefix : items;
        for (; first < n && first < json_array_size(tuple); first++) {
            size_t saved = path_push_index(c, first);
            int rc = v_node(c, json_array_get(tuple, first), json_array_get(inst, first), depth + 1);
            c->path[saved] = '\0';
            if (rc)
                return rc;
        }
        if (!json_is_array(prefix))
            items = json_object_get(s, "additionalItems");
    }
    if (items && !json_is_array(items)) {
        for (size_t i = first; i < n; i++) {
            size_t saved = path_push_index(c, i);
            int rc = v_node(c, items, json_array_get(inst, i), depth + 1);
            c->path[saved] = '\0';
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int check_object(struct vctx *c, const json_t *s, const json_t *inst, int depth)
{
    const json_t *req = json_object_get(s, "required");
    size_t i;
    const json_t *r;
    json_array_foreach(req, i, r) {
        const char *name = json_string_value(r);
        if (name && !json_object_get(inst, name)) {
            size_t saved = path_push_key(c, name);
            fail(c, "required property missing");
            c->path[saved] = '\0';
            return -1;
        }
    }
    const json_t *minp = json_object_get(s, "minProperties"), *maxp = json_object_get(s, "maxProperties");
    size_t np = json_object_size(inst);
    if (json_is_integer(minp) && (json_int_t)np < json_integer_value(minp))
        return fail(c, "has %zu properties, fewer than minProperties %" JSON_INTEGER_FORMAT, np, json_integer_value(minp));
    if (json_is_integer(maxp) && (json_int_t)np > json_integer_value(maxp))
        return fail(c, "has %zu properties, more than maxProperties %" JSON_INTEGER_FORMAT, np, json_integer_value(maxp));
    const json_t *props = json_object_get(s, "properties");
    const json_t *pprops = json_object_get(s, "patternProperties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)inst, key, val) {
        size_t saved = path_push_key(c, key);
        int rc = 0;
        bool known = false;
        const json_t *ps = json_object_get(props, key);
        if (ps) {
            known = true;
            rc = v_node(c, ps, val, depth + 1);
        }
        const char *pk;
        const json_t *pv;
        json_object_foreach((json_t *)pprops, pk, pv) {
            if (rc)
                break;
            int m = pattern_match(c, pk, key);
            if (m != 0) { /* matched, or an unusable pattern (taken as matching) */
                known = true;
                if (m == 1)
                    rc = v_node(c, pv, val, depth + 1);
            }
        }
        if (!rc && !known && addl) {
            if (json_is_false(addl))
                rc = fail(c, "unexpected property (not in the schema; additionalProperties is false)");
            else
                rc = v_node(c, addl, val, depth + 1);
        }
        c->path[saved] = '\0';
        if (rc)
            return rc;
    }
    return 0;
}

/* Runs sub against inst without touching the caller's message; fills scratch. */
static int v_trial(struct vctx *c, const json_t *sub, const json_t *inst, int depth, char *scratch, size_t len)
{
    char *msg = c->msg;
    size_t msglen = c->msglen;
    c->msg = scratch;
    c->msglen = len;
    int rc = v_node(c, sub, inst, depth + 1);
    c->msg = msg;
    c->msglen = msglen;
    return rc;
}

static int check_combinators(struct vctx *c, const json_t *s, const json_t *inst, int depth)
{
    char scratch[384] = "";
    size_t i;
    const json_t *sub;
    json_array_foreach(json_object_get(s, "allOf"), i, sub) {
        int rc = v_node(c, sub, inst, depth + 1);
        if (rc)
            return rc;
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (json_is_array(any) && json_array_size(any)) {
        bool ok = false;
        char first[384] = "";
        json_array_foreach(any, i, sub) {
            if (v_trial(c, sub, inst, depth, scratch, sizeof scratch) == 0) {
                ok = true;
                break;
            }
            if (c->budget < 0)
                return fail(c, "too complex to validate");
            if (i == 0)
                memcpy(first, scratch, sizeof first);
        }
        if (!ok)
            return fail(c, "matches none of the anyOf alternatives (first: %.300s)", first);
    }
    const json_t *one = json_object_get(s, "oneOf");
    if (json_is_array(one) && json_array_size(one)) {
        size_t hits = 0;
        char first[384] = "";
        json_array_foreach(one, i, sub) {
            if (v_trial(c, sub, inst, depth, scratch, sizeof scratch) == 0)
                hits++;
            else if (i == 0)
                memcpy(first, scratch, sizeof first);
            if (c->budget < 0)
                return fail(c, "too complex to validate");
        }
        if (hits == 0)
            return fail(c, "matches none of the oneOf alternatives (first: %.300s)", first);
        if (hits > 1)
            return fail(c, "matches %zu of the oneOf alternatives (exactly one allowed)", hits);
    }
    const json_t *not = json_object_get(s, "not");
    if (not && v_trial(c, not, inst, depth, scratch, sizeof scratch) == 0)
        return fail(c, "matches a schema it must not match (not)");
    const json_t *cond = json_object_get(s, "if");
    if (cond) {
        const json_t *branch = v_trial(c, cond, inst, depth, scratch, sizeof scratch) == 0
                                   ? json_object_get(s, "then") : json_object_get(s, "else");
        if (branch)
            return v_node(c, branch, inst, depth + 1);
    }
    return 0;
}

static int v_node(struct vctx *c, const json_t *s, const json_t *inst, int depth)
{
    if (depth > V_MAX_DEPTH)
        return fail(c, "nested too deeply");
    if (--c->budget < 0)
        return fail(c, "too complex to validate");
    if (json_is_false(s))
        return fail(c, "no value is allowed here");
    if (!json_is_object(s))
        return 0;
    const json_t *type = json_object_get(s, "type");
    if (type && check_type(c, type, inst) != 0)
        return -1;
    const json_t *en = json_object_get(s, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *e;
        json_array_foreach(en, i, e) {
            if (equal(e, inst, 0)) {
                found = true;
                break;
            }
        }
        if (!found) {
            char list[200];
            value_text(en, list, sizeof list);
            return fail(c, "value is not one of %s", list);
        }
    }
    const json_t *cst = json_object_get(s, "const");
    if (cst && !equal(cst, inst, 0)) {
        char want[200];
        value_text(cst, want, sizeof want);
        return fail(c, "must be %s (const)", want);
    }
    int rc = 0;
    if (json_is_number(inst))
        rc = check_number(c, s, inst);
    else if (json_is_string(inst))
        rc = check_string(c, s, inst);
    else if (json_is_array(inst))
        rc = check_array(c, s, inst, depth);
    else if (json_is_object(inst))
        rc = check_object(c, s, inst, depth);
    if (rc)
        return rc;
    return check_combinators(c, s, inst, depth);
}

int mb_tool_validate_args(const struct mb_tool *tool, const json_t *args, char *msg, size_t msglen)
{
    struct vctx *c = calloc(1, sizeof *c);
    int rc = -1;
    json_t *empty = NULL;
    if (!c) {
        if (msg && msglen)
            snprintf(msg, msglen, "arguments: out of memory");
        return -1;
    }
    c->priv = tool->priv;
    c->msg = msg;
    c->msglen = msglen;
    c->budget = V_BUDGET;
    if (!args)
        args = empty = json_object();
    if (!json_is_object(args)) {
        fail(c, "must be an object, got %s", type_name(args));
        goto done;
    }
    rc = v_node(c, tool->input_schema, args, 0) == 0 ? 0 : -1;
done:
    json_decref(empty);
    free(c);
    return rc;
}
