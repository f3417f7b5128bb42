/* Implementation of doc.h. JSON is decoded by jansson, then a small scanner walks the same text
 * to learn the line of every value. YAML is read through libyaml's event parser and built into
 * jansson values directly. Lines are kept in a trie of path segments (parent node + key or
 * index -> line) stored in one hash table, so memory stays proportional to the document, never
 * to the sum of pointer lengths. Values with no recorded line (alias copies, merged members)
 * report the line of their nearest recorded ancestor.
 * YAML rules: YAML 1.2 core schema for plain scalars (null/~/empty, true/false, decimal,
 * 0o octal and 0x hex integers, floats; .inf/.nan are refused because JSON cannot hold them;
 * decimal integers beyond 64 bits become reals), quoted scalars stay strings, explicit
 * !!str/!!int/!!float/!!bool/!!null tags are honoured, other tags are ignored, keys are used
 * as written, duplicate keys are errors, "<<" merge keys work, aliases are deep copies bounded
 * to MB_DOC_MAX_NODES expanded nodes, one document per stream (a second one is an error),
 * the root must be a mapping or a sequence, and nesting is limited to MB_DOC_MAX_DEPTH. */
#include "common/doc.h"
#include "common/percent.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"

#define MB_DOC_MAX_DEPTH     512
#define MB_DOC_MAX_NODES     1000000
#define MB_DOC_DEFAULT_LIMIT (64u * 1024 * 1024)
#define NONE                 UINT32_MAX
#define NOLINE               SIZE_MAX

struct lnode {
    size_t seg_off;   /* key bytes in the arena (object member) */
    size_t seg_len;   /* key length, or the index for array elements */
    uint32_t parent;
    int line;
    int is_index;
};

struct mb_doc {
    char *name;
    json_t *root;
    struct lnode *nodes;
    uint32_t node_count, node_cap;
    uint32_t *slots;  /* node index + 1; 0 = empty */
    size_t slot_count; /* power of two */
    char *arena;
    size_t arena_len, arena_cap;
};

/* ---- line table ---- */

static uint64_t seg_hash(uint32_t parent, int is_index, size_t idx, const char *seg, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    unsigned char head[13];
    memcpy(head, &parent, 4);
    head[4] = (unsigned char)is_index;
    uint64_t v = idx;
    memcpy(head + 5, &v, 8);
    for (size_t i = 0; i < sizeof head; i++)
        h = (h ^ head[i]) * 1099511628211ull;
    for (size_t i = 0; !is_index && i < len; i++)
        h = (h ^ (unsigned char)seg[i]) * 1099511628211ull;
    return h;
}

static int node_matches(const struct mb_doc *d, uint32_t n, uint32_t parent, int is_index,
                        const char *seg, size_t len)
{
    const struct lnode *x = &d->nodes[n];
    if (x->parent != parent || x->is_index != is_index || x->seg_len != len)
        return 0;
    return is_index || len == 0 || memcmp(d->arena + x->seg_off, seg, len) == 0;
}

/* Finds a child of parent: an array element (seg NULL, len = index) or an object member. */
static uint32_t node_find(const struct mb_doc *d, uint32_t parent, const char *seg, size_t len)
{
    if (!d->slot_count || parent == NONE)
        return NONE;
    int is_index = seg == NULL;
    size_t mask = d->slot_count - 1;
    size_t i = seg_hash(parent, is_index, is_index ? len : 0, seg, len) & mask;
    while (d->slots[i]) {
        uint32_t n = d->slots[i] - 1;
        if (node_matches(d, n, parent, is_index, seg, len))
            return n;
        i = (i + 1) & mask;
    }
    return NONE;
}

static void slot_insert(struct mb_doc *d, uint32_t n)
{
    const struct lnode *x = &d->nodes[n];
    size_t mask = d->slot_count - 1;
    const char *seg = x->is_index || !x->seg_len ? "" : d->arena + x->seg_off;
    size_t i = seg_hash(x->parent, x->is_index, x->is_index ? x->seg_len : 0, seg, x->seg_len) &
               mask;
    while (d->slots[i])
        i = (i + 1) & mask;
    d->slots[i] = n + 1;
}

static int table_grow(struct mb_doc *d)
{
    size_t count = d->slot_count ? d->slot_count * 2 : 256;
    uint32_t *slots = calloc(count, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    free(d->slots);
    d->slots = slots;
    d->slot_count = count;
    for (uint32_t n = 1; n < d->node_count; n++) /* node 0 is the root: never a child */
        slot_insert(d, n);
    return 0;
}

/* Adds a node (the root when parent is NONE) unless it exists; returns its index or NONE when
 * out of memory. An existing node keeps its first line. */
static uint32_t node_add(struct mb_doc *d, uint32_t parent, const char *seg, size_t len, int line)
{
    if (parent != NONE) {
        uint32_t found = node_find(d, parent, seg, len);
        if (found != NONE)
            return found;
    }
    if (d->node_count == d->node_cap) {
        if (d->node_cap >= UINT32_MAX / 4)
            return NONE;
        uint32_t cap = d->node_cap ? d->node_cap * 2 : 256;
        struct lnode *nodes = realloc(d->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NONE;
        d->nodes = nodes;
        d->node_cap = cap;
    }
    if ((size_t)(d->node_count + 1) * 2 > d->slot_count && table_grow(d) != 0)
        return NONE;
    size_t off = d->arena_len;
    if (seg && len) {
        if (len > d->arena_cap - d->arena_len) {
            size_t cap = d->arena_cap ? d->arena_cap : 4096;
            while (cap - d->arena_len < len)
                cap *= 2;
            char *arena = realloc(d->arena, cap);
            if (!arena)
                return NONE;
            d->arena = arena;
            d->arena_cap = cap;
        }
        memcpy(d->arena + off, seg, len);
        d->arena_len += len;
    }
    uint32_t n = d->node_count++;
    d->nodes[n] = (struct lnode){ .seg_off = off, .seg_len = len, .parent = parent,
                                  .line = line, .is_index = seg == NULL };
    if (parent != NONE)
        slot_insert(d, n);
    return n;
}

/* ---- diagnostics ---- */

static void doc_error(struct mb_diags *diags, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void doc_error(struct mb_diags *diags, const char *name, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (diags)
        mb_diags_add(diags, name, line, "%s", msg);
}

/* Copies at most 40 bytes of s into out for messages, with "..." when cut. */
static const char *excerpt(const char *s, size_t len, char out[48])
{
    size_t n = len > 40 ? 40 : len;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        out[j++] = (s[i] >= 0x20 && s[i] != 0x7f) || (s[i] & 0x80) ? s[i] : '?';
    if (len > n) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}

/* ---- JSON ---- */

struct jscan {
    const char *p, *end;
    int line;
    struct mb_doc *doc;
    struct mb_buf key;
    struct mb_diags *diags;
};

static void js_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
        if (*s->p == '\n')
            s->line++;
        s->p++;
    }
}


static long js_hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = mb_hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static int put_utf8(struct mb_buf *b, unsigned long cp)
{
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return mb_buf_append(b, out, n);
}

/* Reads a string token at s->p (on the opening quote); decodes it into s->key when decode. */
static int js_string(struct jscan *s, int decode)
{
    mb_buf_reset(&s->key);
    s->p++;
    while (s->p < s->end && *s->p != '"') {
        const char *run = s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\')
            s->p++;
        if (decode && s->p > run && mb_buf_append(&s->key, run, (size_t)(s->p - run)) != 0)
            return -1;
        if (s->p >= s->end || *s->p == '"')
            break;
        if (s->end - s->p < 2)
            return -1;
        char c = s->p[1];
        s->p += 2;
        if (c == 'u') {
            long cp = js_hex4(s->p, s->end);
            if (cp < 0)
                return -1;
            s->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->p >= 6 && s->p[0] == '\\' &&
                s->p[1] == 'u') {
                long lo = js_hex4(s->p + 2, s->end);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s->p += 6;
                }
            }
            if (decode && put_utf8(&s->key, (unsigned long)cp) != 0)
                return -1;
        } else if (decode) {
            char out = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r'
                     : c == 't' ? '\t' : c;
            if (mb_buf_append(&s->key, &out, 1) != 0)
                return -1;
        }
    }
    if (s->p >= s->end)
        return -1;
    s->p++;
    return 0;
}

/* Scans one value whose line-table node is node (NONE: do not record). */
static int js_value(struct jscan *s, uint32_t node, int depth)
{
    js_ws(s);
    if (s->p >= s->end)
        return -1;
    char c = *s->p;
    if (c == '{' || c == '[') {
        if (depth >= MB_DOC_MAX_DEPTH) {
            doc_error(s->diags, s->doc->name, s->line, "nesting deeper than %d levels",
                      MB_DOC_MAX_DEPTH);
            return -2;
        }
        char close = c == '{' ? '}' : ']';
        s->p++;
        for (size_t index = 0;; index++) {
            js_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                js_ws(s);
            }
            if (s->p >= s->end)
                return -1;
            if (*s->p == close) {
                s->p++;
                return 0;
            }
            uint32_t child;
            if (close == '}') {
                int line = s->line;
                if (*s->p != '"' || js_string(s, 1) != 0)
                    return -1;
                child = node_add(s->doc, node, s->key.data ? s->key.data : "", s->key.len, line);
                js_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return -1;
                s->p++;
            } else {
                child = node_add(s->doc, node, NULL, index, s->line);
            }
            if (child == NONE)
                return -1;
            int rc = js_value(s, child, depth + 1);
            if (rc != 0)
                return rc;
        }
    }
    if (c == '"')
        return js_string(s, 0);
    const char *start = s->p;
    while (s->p < s->end && *s->p && !strchr(",]} \t\r\n", *s->p))
        s->p++;
    return s->p > start ? 0 : -1;
}

static int load_json(struct mb_doc *doc, const char *text, size_t len, struct mb_diags *diags)
{
    int rc = -1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        doc_error(diags, doc->name, line, "invalid JSON: NUL byte in the text");
        goto done;
    }
    json_error_t err;
    doc->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!doc->root) {
        doc_error(diags, doc->name, err.line > 0 ? err.line : 0, "invalid JSON (column %d): %s",
                  err.column, err.text);
        goto done;
    }
    struct jscan s = { .p = text, .end = text + len, .line = 1, .doc = doc, .diags = diags };
    mb_buf_init(&s.key, len + 16);
    js_ws(&s);
    uint32_t root = node_add(doc, NONE, NULL, 0, s.line);
    int src = root == NONE ? -1 : js_value(&s, root, 0);
    mb_buf_dispose(&s.key);
    if (src == -1)
        doc_error(diags, doc->name, s.line, "cannot index lines (out of memory or scanner error)");
    if (src != 0)
        goto done;
    rc = 0;
done:
    return rc;
}

/* ---- YAML ---- */

struct anchor {
    char *name;
    json_t *value;
    size_t nodes;
    int height;
};

struct yctx {
    yaml_parser_t parser;
    struct mb_doc *doc;
    struct mb_diags *diags;
    size_t nodes;
    struct anchor *anchors;
    size_t anchor_count, anchor_cap;
    size_t *anchor_slots; /* anchor index + 1 */
    size_t anchor_slot_count;
    int failed;
};

static void yerr(struct yctx *c, size_t line0, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void yerr(struct yctx *c, size_t line0, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = line0 < (size_t)INT32_MAX ? (int)line0 + 1 : 0; /* NOLINE gives 0 */
    doc_error(c->diags, c->doc->name, line, "%s", msg);
}

static int y_next(struct yctx *c, yaml_event_t *ev)
{
    if (yaml_parser_parse(&c->parser, ev))
        return 0;
    yaml_parser_t *p = &c->parser;
    if (p->error == YAML_MEMORY_ERROR)
        yerr(c, NOLINE, "out of memory while parsing YAML");
    else if (p->context)
        yerr(c, p->problem_mark.line, "invalid YAML: %s %s", p->problem ? p->problem : "error",
             p->context);
    else
        yerr(c, p->problem_mark.line, "invalid YAML: %s", p->problem ? p->problem : "error");
    return -1;
}

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct anchor *anchor_find(struct yctx *c, const char *name)
{
    if (!c->anchor_slot_count)
        return NULL;
    size_t mask = c->anchor_slot_count - 1;
    for (size_t i = str_hash(name) & mask; c->anchor_slots[i]; i = (i + 1) & mask) {
        struct anchor *a = &c->anchors[c->anchor_slots[i] - 1];
        if (strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

static void anchor_slot_put(struct yctx *c, size_t index)
{
    size_t mask = c->anchor_slot_count - 1;
    size_t i = str_hash(c->anchors[index].name) & mask;
    while (c->anchor_slots[i])
        i = (i + 1) & mask;
    c->anchor_slots[i] = index + 1;
}

/* Records (or redefines) an anchor; takes a new reference to value. */
static int anchor_set(struct yctx *c, const char *name, json_t *value, size_t nodes, int height)
{
    struct anchor *a = anchor_find(c, name);
    if (a) {
        json_decref(a->value);
        a->value = json_incref(value);
        a->nodes = nodes;
        a->height = height;
        return 0;
    }
    if (c->anchor_count == c->anchor_cap) {
        size_t cap = c->anchor_cap ? c->anchor_cap * 2 : 16;
        struct anchor *arr = realloc(c->anchors, cap * sizeof *arr);
        if (!arr)
            return -ENOMEM;
        c->anchors = arr;
        c->anchor_cap = cap;
    }
    if ((c->anchor_count + 1) * 2 > c->anchor_slot_count) {
        size_t count = c->anchor_slot_count ? c->anchor_slot_count * 2 : 32;
        size_t *slots = calloc(count, sizeof *slots);
        if (!slots)
            return -ENOMEM;
        free(c->anchor_slots);
        c->anchor_slots = slots;
        c->anchor_slot_count = count;
        for (size_t i = 0; i < c->anchor_count; i++)
            anchor_slot_put(c, i);
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    c->anchors[c->anchor_count] = (struct anchor){ copy, json_incref(value), nodes, height };
    anchor_slot_put(c, c->anchor_count++);
    return 0;
}

static int count_node(struct yctx *c, size_t line0, size_t n)
{
    if (n > MB_DOC_MAX_NODES - c->nodes) {
        yerr(c, line0, "document expands to more than %d nodes (alias bomb?)", MB_DOC_MAX_NODES);
        return -1;
    }
    c->nodes += n;
    return 0;
}

static int all_match(const char *s, size_t len, const char *set)
{
    if (!len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr(set, s[i]))
            return 0;
    return 1;
}

static int is_null_word(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') || (n == 4 && (!memcmp(s, "null", 4) ||
           !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* 1 true, 0 false, -1 not a boolean. */
static int bool_word(const char *s, size_t n)
{
    if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)))
        return 1;
    if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
        return 0;
    return -1;
}

static int is_decimal_int(const char *s, size_t n)
{
    if (n && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    return all_match(s, n, "0123456789");
}

static int is_float_text(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (!digits)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        if (!(i < n && s[i] >= '0' && s[i] <= '9'))
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

static int is_nonfinite_text(const char *s, size_t n)
{
    if (n && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    return n == 4 && (!memcmp(s, ".inf", 4) || !memcmp(s, ".Inf", 4) || !memcmp(s, ".INF", 4) ||
                      !memcmp(s, ".nan", 4) || !memcmp(s, ".NaN", 4) || !memcmp(s, ".NAN", 4));
}

/* Integer forms of the core schema; returns the value, NULL when s is no integer. Sets
 * *too_big when a decimal integer does not fit in 64 bits. */
static json_t *int_value(const char *s, size_t n, int *too_big)
{
    char tmp[72];
    *too_big = 0;
    if (n >= sizeof tmp)
        return is_decimal_int(s, n) ? (*too_big = 1, NULL) : NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int base = 10;
    const char *digits = tmp;
    if (n > 2 && tmp[0] == '0' && tmp[1] == 'x' && all_match(tmp + 2, n - 2, "0123456789abcdefABCDEF"))
        base = 16, digits = tmp + 2;
    else if (n > 2 && tmp[0] == '0' && tmp[1] == 'o' && all_match(tmp + 2, n - 2, "01234567"))
        base = 8, digits = tmp + 2;
    else if (!is_decimal_int(tmp, n))
        return NULL;
    errno = 0;
    json_int_t v;
    if (base == 10) {
        v = strtoll(digits, NULL, 10);
    } else {
        unsigned long long u = strtoull(digits, NULL, base);
        if (u > (unsigned long long)INT64_MAX)
            errno = ERANGE;
        v = (json_int_t)u;
    }
    if (errno == ERANGE) {
        *too_big = 1;
        return NULL;
    }
    return json_integer(v);
}

static json_t *float_value(struct yctx *c, const char *s, size_t n, size_t line0)
{
    char tmp[128];
    if (n >= sizeof tmp) {
        yerr(c, line0, "number too long");
        return NULL;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    if (!isfinite(d)) {
        yerr(c, line0, "number '%s' is out of range", tmp);
        return NULL;
    }
    return json_real(d);
}

/* Resolves a plain, untagged scalar (YAML 1.2 core schema). */
static json_t *plain_value(struct yctx *c, const char *s, size_t n, size_t line0)
{
    char ex[48];
    if (is_null_word(s, n))
        return json_null();
    int b = bool_word(s, n);
    if (b >= 0)
        return json_boolean(b);
    if (is_nonfinite_text(s, n)) {
        yerr(c, line0, "'%s' is not representable in JSON (quote it to keep it as a string)",
             excerpt(s, n, ex));
        return NULL;
    }
    int too_big;
    json_t *v = int_value(s, n, &too_big);
    if (v)
        return v;
    if (too_big && is_decimal_int(s, n))
        return float_value(c, s, n, line0);
    if (too_big) {
        yerr(c, line0, "integer '%s' is out of range", excerpt(s, n, ex));
        return NULL;
    }
    if (is_float_text(s, n))
        return float_value(c, s, n, line0);
    return json_stringn(s, n);
}

#define YTAG "tag:yaml.org,2002:"

static json_t *scalar_value(struct yctx *c, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t line0 = ev->start_mark.line;
    char ex[48];
    json_t *v = NULL;
    if (memchr(s, '\0', n)) {
        yerr(c, line0, "NUL characters in strings are not supported");
        return NULL;
    }
    if (tag && strncmp(tag, YTAG, strlen(YTAG)) == 0) {
        const char *t = tag + strlen(YTAG);
        int too_big = 0;
        if (strcmp(t, "int") == 0) {
            v = int_value(s, n, &too_big);
            if (!v)
                yerr(c, line0, "'%s' is not a valid !!int", excerpt(s, n, ex));
        } else if (strcmp(t, "float") == 0) {
            if (is_float_text(s, n) || is_decimal_int(s, n))
                v = float_value(c, s, n, line0);
            else
                yerr(c, line0, "'%s' is not a finite !!float", excerpt(s, n, ex));
        } else if (strcmp(t, "bool") == 0) {
            int b = bool_word(s, n);
            if (b >= 0)
                v = json_boolean(b);
            else
                yerr(c, line0, "'%s' is not a valid !!bool", excerpt(s, n, ex));
        } else if (strcmp(t, "null") == 0) {
            if (is_null_word(s, n))
                v = json_null();
            else
                yerr(c, line0, "'%s' is not a valid !!null", excerpt(s, n, ex));
        } else {
            v = json_stringn(s, n); /* !!str, !!binary, !!timestamp, ... */
        }
    } else if (!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        v = plain_value(c, s, n, line0);
    } else if (tag && strcmp(tag, "!") != 0 && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        v = plain_value(c, s, n, line0); /* unknown local tag: ignored */
    } else {
        v = json_stringn(s, n);
    }
    if (!v && !c->failed)
        yerr(c, line0, "invalid UTF-8 or out of memory in scalar");
    return v;
}

/* A scalar-ish value as an object key (for aliases used as keys). */
static char *key_from_value(const json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        return strdup(buf);
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    case JSON_NULL:
        return strdup("null");
    default:
        return NULL;
    }
}

static json_t *y_node(struct yctx *c, const yaml_event_t *ev, uint32_t lnode, int depth,
                      int *height);

static int merge_into(json_t *obj, json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) {
        if (!json_object_get(obj, k) && json_object_set(obj, k, v) != 0)
            return -1;
    }
    return 0;
}

static json_t *y_mapping(struct yctx *c, uint32_t lnode, int depth, int *height)
{
    json_t *obj = json_object();
    json_t *merges = json_array();
    char *key = NULL;
    int maxh = 0;
    if (!obj || !merges) {
        yerr(c, NOLINE, "out of memory");
        goto fail;
    }
    for (;;) {
        yaml_event_t k, v;
        if (y_next(c, &k) != 0)
            goto fail;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            break;
        }
        size_t key_line0 = k.start_mark.line;
        int is_merge = 0;
        if (k.type == YAML_SCALAR_EVENT) {
            const char *ks = (const char *)k.data.scalar.value;
            size_t kn = k.data.scalar.length;
            if (memchr(ks, '\0', kn)) {
                yerr(c, key_line0, "NUL characters in keys are not supported");
            } else {
                is_merge = !k.data.scalar.tag && k.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                           kn == 2 && memcmp(ks, "<<", 2) == 0;
                key = strndup(ks, kn);
                json_t *ks_json = key ? json_string(key) : NULL;
                if (!ks_json)
                    yerr(c, key_line0, "invalid UTF-8 or out of memory in key");
                else if (k.data.scalar.anchor &&
                         anchor_set(c, (const char *)k.data.scalar.anchor, ks_json, 1, 0) != 0)
                    yerr(c, key_line0, "out of memory");
                json_decref(ks_json);
            }
        } else if (k.type == YAML_ALIAS_EVENT) {
            struct anchor *a = anchor_find(c, (const char *)k.data.alias.anchor);
            if (!a)
                yerr(c, key_line0, "unknown anchor '%s'", (const char *)k.data.alias.anchor);
            else if (!(key = key_from_value(a->value)))
                yerr(c, key_line0, "alias '%s' used as a key is not a scalar",
                     (const char *)k.data.alias.anchor);
        } else {
            yerr(c, key_line0, "only scalar mapping keys are supported");
        }
        yaml_event_delete(&k);
        if (c->failed || y_next(c, &v) != 0)
            goto fail;
        int h = 0;
        json_t *val;
        if (is_merge) {
            val = y_node(c, &v, NONE, depth + 1, &h);
            int ok = val && (json_is_object(val) || json_is_array(val));
            for (size_t i = 0; ok && json_is_array(val) && i < json_array_size(val); i++)
                ok = json_is_object(json_array_get(val, i));
            if (val && !ok)
                yerr(c, key_line0, "merge key '<<' needs a mapping or a sequence of mappings");
            if (ok && json_array_append(merges, val) != 0)
                yerr(c, key_line0, "out of memory");
            json_decref(val);
        } else if (json_object_get(obj, key)) {
            uint32_t first = node_find(c->doc, lnode, key, strlen(key));
            char ex[48];
            if (first != NONE)
                yerr(c, key_line0, "duplicate key '%s' (first at line %d)",
                     excerpt(key, strlen(key), ex), c->doc->nodes[first].line);
            else
                yerr(c, key_line0, "duplicate key '%s'", excerpt(key, strlen(key), ex));
        } else {
            uint32_t child = NONE;
            if (lnode != NONE) {
                child = node_add(c->doc, lnode, key, strlen(key), (int)key_line0 + 1);
                if (child == NONE)
                    yerr(c, key_line0, "out of memory");
            }
            val = c->failed ? NULL : y_node(c, &v, child, depth + 1, &h);
            if (val && json_object_set_new(obj, key, val) != 0)
                yerr(c, key_line0, "out of memory");
        }
        yaml_event_delete(&v);
        free(key);
        key = NULL;
        if (c->failed)
            goto fail;
        if (h > maxh)
            maxh = h;
    }
    for (size_t i = 0; i < json_array_size(merges); i++) {
        json_t *m = json_array_get(merges, i);
        int rc = 0;
        if (json_is_object(m))
            rc = merge_into(obj, m);
        for (size_t j = 0; json_is_array(m) && j < json_array_size(m) && rc == 0; j++)
            rc = merge_into(obj, json_array_get(m, j));
        if (rc != 0) {
            yerr(c, NOLINE, "out of memory");
            goto fail;
        }
    }
    json_decref(merges);
    *height = maxh + 1;
    return obj;
fail:
    free(key);
    json_decref(merges);
    json_decref(obj);
    return NULL;
}

static json_t *y_sequence(struct yctx *c, uint32_t lnode, int depth, int *height)
{
    json_t *arr = json_array();
    int maxh = 0;
    if (!arr) {
        yerr(c, NOLINE, "out of memory");
        return NULL;
    }
    for (size_t i = 0;; i++) {
        yaml_event_t e;
        if (y_next(c, &e) != 0)
            goto fail;
        if (e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        uint32_t child = NONE;
        if (lnode != NONE) {
            child = node_add(c->doc, lnode, NULL, i, (int)e.start_mark.line + 1);
            if (child == NONE)
                yerr(c, e.start_mark.line, "out of memory");
        }
        int h = 0;
        json_t *v = c->failed ? NULL : y_node(c, &e, child, depth + 1, &h);
        if (v && json_array_append_new(arr, v) != 0)
            yerr(c, e.start_mark.line, "out of memory");
        yaml_event_delete(&e);
        if (c->failed)
            goto fail;
        if (h > maxh)
            maxh = h;
    }
    *height = maxh + 1;
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

/* Builds the value that starts with event ev (owned by the caller). lnode is its line-table
 * node, or NONE when lines are not recorded (merge sources). *height is its nesting height. */
static json_t *y_node(struct yctx *c, const yaml_event_t *ev, uint32_t lnode, int depth,
                      int *height)
{
    json_t *v = NULL;
    const char *anchor = NULL;
    size_t before = c->nodes;
    *height = 0;
    if (count_node(c, ev->start_mark.line, 1) != 0)
        return NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        v = scalar_value(c, ev);
        break;
    case YAML_ALIAS_EVENT: {
        struct anchor *a = anchor_find(c, (const char *)ev->data.alias.anchor);
        c->nodes--;
        if (!a) {
            yerr(c, ev->start_mark.line, "unknown anchor '%s'", (const char *)ev->data.alias.anchor);
        } else if (depth + a->height > MB_DOC_MAX_DEPTH) {
            yerr(c, ev->start_mark.line, "nesting deeper than %d levels (through alias '%s')",
                 MB_DOC_MAX_DEPTH, a->name);
        } else if (count_node(c, ev->start_mark.line, a->nodes) == 0) {
            v = json_deep_copy(a->value);
            *height = a->height;
            if (!v)
                yerr(c, ev->start_mark.line, "out of memory");
        }
        return v;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (depth >= MB_DOC_MAX_DEPTH) {
            yerr(c, ev->start_mark.line, "nesting deeper than %d levels", MB_DOC_MAX_DEPTH);
            return NULL;
        }
        if (ev->type == YAML_SEQUENCE_START_EVENT) {
            anchor = (const char *)ev->data.sequence_start.anchor;
            v = y_sequence(c, lnode, depth, height);
        } else {
            anchor = (const char *)ev->data.mapping_start.anchor;
            v = y_mapping(c, lnode, depth, height);
        }
        break;
    default:
        yerr(c, ev->start_mark.line, "unexpected YAML event");
        return NULL;
    }
    if (v && anchor && anchor_set(c, anchor, v, c->nodes - before, *height) != 0) {
        yerr(c, ev->start_mark.line, "out of memory");
        json_decref(v);
        v = NULL;
    }
    return v;
}

static int load_yaml(struct mb_doc *doc, const char *text, size_t len, struct mb_diags *diags)
{
    int rc = -1;
    struct yctx c = { .doc = doc, .diags = diags };
    yaml_event_t ev;
    int have_ev = 0;
    if (!yaml_parser_initialize(&c.parser)) {
        doc_error(diags, doc->name, 0, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    /* STREAM-START, then DOCUMENT-START or STREAM-END. */
    if (y_next(&c, &ev) != 0)
        goto done;
    yaml_event_delete(&ev);
    if (y_next(&c, &ev) != 0)
        goto done;
    have_ev = 1;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        yerr(&c, NOLINE, "empty document");
        goto done;
    }
    yaml_event_delete(&ev);
    have_ev = 0;
    if (y_next(&c, &ev) != 0)
        goto done;
    have_ev = 1;
    if (ev.type != YAML_MAPPING_START_EVENT && ev.type != YAML_SEQUENCE_START_EVENT) {
        yerr(&c, ev.start_mark.line, "the document root must be a mapping or a sequence");
        goto done;
    }
    uint32_t root = node_add(doc, NONE, NULL, 0, (int)ev.start_mark.line + 1);
    if (root == NONE) {
        yerr(&c, NOLINE, "out of memory");
        goto done;
    }
    int h;
    doc->root = y_node(&c, &ev, root, 0, &h);
    yaml_event_delete(&ev);
    have_ev = 0;
    if (!doc->root)
        goto done;
    /* DOCUMENT-END, then STREAM-END: a second document is refused. */
    if (y_next(&c, &ev) != 0)
        goto done;
    yaml_event_delete(&ev);
    if (y_next(&c, &ev) != 0)
        goto done;
    have_ev = 1;
    if (ev.type != YAML_STREAM_END_EVENT) {
        yerr(&c, ev.start_mark.line, "only one YAML document per file is supported");
        goto done;
    }
    rc = 0;
done:
    if (have_ev)
        yaml_event_delete(&ev);
    for (size_t i = 0; i < c.anchor_count; i++) {
        free(c.anchors[i].name);
        json_decref(c.anchors[i].value);
    }
    free(c.anchors);
    free(c.anchor_slots);
    yaml_parser_delete(&c.parser);
    return rc;
}

/* ---- public API ---- */

static enum mb_doc_format sniff(const char *text, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    return i < len && (text[i] == '{' || text[i] == '[') ? MB_DOC_JSON : MB_DOC_YAML;
}

struct mb_doc *mb_doc_load_buffer(const char *name, const char *text, size_t len,
                                  enum mb_doc_format format, struct mb_diags *diags)
{
    struct mb_doc *doc = calloc(1, sizeof *doc);
    if (!name)
        name = "<buffer>";
    if (!doc || !(doc->name = strdup(name))) {
        doc_error(diags, name, 0, "out of memory");
        goto fail;
    }
    if (!text)
        len = 0;
    if (format == MB_DOC_AUTO)
        format = sniff(text ? text : "", len);
    int rc = format == MB_DOC_JSON ? load_json(doc, text ? text : "", len, diags)
                                   : load_yaml(doc, text ? text : "", len, diags);
    if (rc != 0)
        goto fail;
    return doc;
fail:
    mb_doc_destroy(doc);
    return NULL;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

struct mb_doc *mb_doc_load_file(const char *path, size_t max_bytes, struct mb_diags *diags)
{
    struct mb_doc *doc = NULL;
    struct mb_buf b;
    size_t limit = max_bytes ? max_bytes : MB_DOC_DEFAULT_LIMIT;
    mb_buf_init(&b, limit);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        doc_error(diags, path, 0, "cannot open: %s", strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        doc_error(diags, path, 0, "cannot read: %s", S_ISDIR(st.st_mode) ? "is a directory"
                                                                        : strerror(errno));
        goto done;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > limit) {
        doc_error(diags, path, 0, "file is %jd bytes, over the %zu-byte limit",
                  (intmax_t)st.st_size, limit);
        goto done;
    }
    for (;;) {
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            doc_error(diags, path, 0, "cannot read: %s", strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        int rc = mb_buf_append(&b, chunk, (size_t)n);
        if (rc == -E2BIG) {
            doc_error(diags, path, 0, "file is over the %zu-byte limit", limit);
            goto done;
        }
        if (rc != 0) {
            doc_error(diags, path, 0, "out of memory");
            goto done;
        }
    }
    enum mb_doc_format fmt = MB_DOC_AUTO;
    if (has_ext(path, ".json"))
        fmt = MB_DOC_JSON;
    else if (has_ext(path, ".yaml") || has_ext(path, ".yml"))
        fmt = MB_DOC_YAML;
    doc = mb_doc_load_buffer(path, b.data ? b.data : "", b.len, fmt, diags);
done:
    if (fd >= 0)
        close(fd);
    mb_buf_dispose(&b);
    return doc;
}

json_t *mb_doc_root(const struct mb_doc *doc)
{
    return doc ? doc->root : NULL;
}

const char *mb_doc_name(const struct mb_doc *doc)
{
    return doc ? doc->name : NULL;
}

int mb_doc_line(const struct mb_doc *doc, const char *json_pointer)
{
    int best = 0;
    char *seg = NULL;
    if (!doc || !doc->root || !json_pointer || !doc->node_count)
        goto done;
    const char *p = json_pointer;
    json_t *v = doc->root;
    uint32_t n = 0;
    int line = doc->nodes[0].line;
    if (*p && *p != '/')
        goto done;
    seg = malloc(strlen(p) + 1);
    if (!seg)
        goto done;
    while (*p == '/') {
        p++;
        size_t len = 0;
        for (; *p && *p != '/'; p++) {
            if (*p == '~') {
                if (p[1] != '0' && p[1] != '1')
                    goto done;
                seg[len++] = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                seg[len++] = *p;
            }
        }
        seg[len] = '\0';
        if (json_is_object(v)) {
            v = json_object_getn(v, seg, len);
            if (n != NONE)
                n = node_find(doc, n, seg, len);
        } else if (json_is_array(v)) {
            if (!len || len > 9 || (len > 1 && seg[0] == '0') || !all_match(seg, len, "0123456789"))
                goto done;
            size_t idx = (size_t)strtoul(seg, NULL, 10);
            v = json_array_get(v, idx);
            if (n != NONE)
                n = node_find(doc, n, NULL, idx);
        } else {
            goto done;
        }
        if (!v)
            goto done;
        if (n != NONE)
            line = doc->nodes[n].line;
    }
    best = line;
done:
    free(seg);
    return best;
}

void mb_doc_destroy(struct mb_doc *doc)
{
    if (!doc)
        return;
    json_decref(doc->root);
    free(doc->name);
    free(doc->nodes);
    free(doc->slots);
    free(doc->arena);
    free(doc);
}
