/* Spec loading for the OpenAPI converter: version detection, RFC 6901 pointers, local $ref
 * resolution and the rewriting of OpenAPI schema objects into self-contained JSON Schemas
 * (refs inlined with cycles and depth cut, nullable -> "null" type, 3.0 boolean exclusive
 * bounds -> numbers, readOnly/writeOnly properties dropped), and the base URL from servers[]. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "openapi/catalog_internal.h"

int mb_oa_spec_init(struct mb_oa_spec *s, struct mb_doc *doc, struct mb_diags *diags)
{
    int rc = -1;
    s->doc = doc;
    s->root = mb_doc_root(doc);
    s->file = mb_doc_name(doc);
    s->diags = diags;
    s->errors = 0;
    s->version = 0;
    if (!json_is_object(s->root)) {
        mb_oa_error(s, "", "an OpenAPI document must be an object");
        goto done;
    }
    /* An unquoted YAML "openapi: 3.1" / "swagger: 2.0" arrives as a number. */
    char oabuf[32], swbuf[32];
    const json_t *oav = json_object_get(s->root, "openapi"), *swv = json_object_get(s->root, "swagger");
    const char *oa = json_string_value(oav), *sw = json_string_value(swv);
    if (json_is_real(oav)) {
        snprintf(oabuf, sizeof oabuf, "%.1f", json_real_value(oav));
        oa = oabuf;
    }
    if (json_is_real(swv)) {
        snprintf(swbuf, sizeof swbuf, "%.1f", json_real_value(swv));
        sw = swbuf;
    }
    if (oa && strncmp(oa, "3.0", 3) == 0)
        s->version = 30;
    else if (oa && strncmp(oa, "3.1", 3) == 0)
        s->version = 31;
    else if (sw && strcmp(sw, "2.0") == 0)
        s->version = 2;
    else {
        mb_oa_error(s, oa ? "/openapi" : sw ? "/swagger" : "",
                    "unsupported document: expected \"openapi\": \"3.0.x\"/\"3.1.x\" or \"swagger\": \"2.0\"");
        goto done;
    }
    const json_t *paths = json_object_get(s->root, "paths");
    if (paths && !json_is_object(paths)) {
        mb_oa_error(s, "/paths", "\"paths\" must be an object");
        goto done;
    }
    rc = 0;
done:
    return rc;
}

int mb_oa_line(const struct mb_oa_spec *s, const char *ptr)
{
    return s->doc ? mb_doc_line(s->doc, ptr) : 0;
}

void mb_oa_error(struct mb_oa_spec *s, const char *ptr, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mb_diags_add(s->diags, s->file, mb_oa_line(s, ptr), "%s", msg);
    s->errors++;
}

int mb_oa_ptr_push(char *buf, size_t bufsize, const char *token)
{
    size_t len = strlen(buf), need = 1;
    for (const char *p = token; *p; p++)
        need += (*p == '~' || *p == '/') ? 2 : 1;
    if (len + need + 1 > bufsize)
        return -1;
    char *o = buf + len;
    *o++ = '/';
    for (const char *p = token; *p; p++) {
        if (*p == '~') {
            *o++ = '~';
            *o++ = '0';
        } else if (*p == '/') {
            *o++ = '~';
            *o++ = '1';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Resolves a local "#/a/b" reference: percent-decodes the fragment into ptr (the pointer,
 * ptrsize bytes) and walks the document. Returns the borrowed node or NULL. */
static const json_t *ref_lookup(const struct mb_oa_spec *s, const char *ref, char *ptr, size_t ptrsize)
{
    if (ref[0] != '#')
        return NULL;
    size_t n = 0;
    for (const char *p = ref + 1; *p; p++) {
        int c = (unsigned char)*p;
        if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = hexval(p[1]) * 16 + hexval(p[2]);
            p += 2;
        }
        if (n + 1 >= ptrsize || c == 0)
            return NULL;
        ptr[n++] = (char)c;
    }
    ptr[n] = '\0';
    if (n > 0 && ptr[0] != '/')
        return NULL;
    const json_t *cur = s->root;
    const char *p = ptr;
    char tok[MB_OA_PTR_MAX];
    while (*p && cur) {
        p++; /* skip '/' */
        size_t t = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            tok[t++] = c; /* t < n < MB_OA_PTR_MAX */
        }
        tok[t] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            cur = (t && *end == '\0') ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
    }
    return cur;
}

const json_t *mb_oa_deref(struct mb_oa_spec *s, const json_t *node, char *ptr, size_t ptrsize)
{
    for (int hops = 0; hops <= MB_OA_MAX_REF_HOPS; hops++) {
        const char *ref = json_string_value(json_object_get(node, "$ref"));
        if (!ref)
            return node;
        char at[MB_OA_PTR_MAX];
        snprintf(at, sizeof at, "%s", ptr);
        mb_oa_ptr_push(at, sizeof at, "$ref");
        if (ref[0] != '#') {
            mb_oa_error(s, at, "external $ref '%.200s' is not supported (only local #/... references)", ref);
            return NULL;
        }
        char target[MB_OA_PTR_MAX];
        const json_t *next = ref_lookup(s, ref, target, sizeof target);
        if (!next) {
            mb_oa_error(s, at, "unresolvable $ref '%.200s'", ref);
            return NULL;
        }
        snprintf(ptr, ptrsize, "%s", target);
        node = next;
    }
    mb_oa_error(s, ptr, "$ref chain longer than %d hops", MB_OA_MAX_REF_HOPS);
    return NULL;
}

/* ---- schema resolution ---- */

struct resolve_ctx {
    struct mb_oa_spec *s;
    enum mb_oa_mode mode;
    const char *stack[MB_OA_MAX_SCHEMA_DEPTH + 1]; /* $refs being expanded */
    size_t stack_len;
    size_t nodes;
    char ptr[MB_OA_PTR_MAX];                       /* where we are in the document */
};

static json_t *placeholder(const char *fmt, const char *arg)
{
    char text[256];
    snprintf(text, sizeof text, fmt, arg);
    return json_pack("{s:s}", "description", text);
}

static json_t *resolve(struct resolve_ctx *c, const json_t *node, int depth);

/* Resolves node found under the key token (and index, when idx >= 0) of the current pointer. */
static json_t *resolve_at(struct resolve_ctx *c, const json_t *node, const char *token, long idx, int depth)
{
    size_t saved = strlen(c->ptr);
    mb_oa_ptr_push(c->ptr, sizeof c->ptr, token);
    if (idx >= 0) {
        char num[24];
        snprintf(num, sizeof num, "%ld", idx);
        mb_oa_ptr_push(c->ptr, sizeof c->ptr, num);
    }
    json_t *r = resolve(c, node, depth);
    c->ptr[saved] = '\0';
    return r;
}

static bool is_schema_keyword(const char *k)
{
    static const char *const single[] = {
        "items", "additionalProperties", "not", "additionalItems", "contains", "propertyNames",
        "if", "then", "else", "unevaluatedProperties", "unevaluatedItems", NULL};
    for (size_t i = 0; single[i]; i++)
        if (strcmp(k, single[i]) == 0)
            return true;
    return false;
}

static bool is_schema_array_keyword(const char *k)
{
    return strcmp(k, "allOf") == 0 || strcmp(k, "anyOf") == 0 || strcmp(k, "oneOf") == 0 ||
           strcmp(k, "prefixItems") == 0;
}

static bool is_dropped_keyword(const char *k)
{
    static const char *const drop[] = {"nullable", "discriminator", "xml", "externalDocs", "$defs",
                                       "definitions", "$schema", "$id", "$comment", "$anchor",
                                       "$dynamicAnchor", "$dynamicRef", NULL};
    if (strncmp(k, "x-", 2) == 0)
        return true;
    for (size_t i = 0; drop[i]; i++)
        if (strcmp(k, drop[i]) == 0)
            return true;
    return false;
}

static bool array_has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Copies one keyword value of a schema into out, resolving nested schemas. */
static int resolve_keyword(struct resolve_ctx *c, json_t *out, const char *key, const json_t *val,
                           int depth, json_t *dropped)
{
    json_t *r = NULL;
    if (strcmp(key, "properties") == 0 || strcmp(key, "patternProperties") == 0 ||
        strcmp(key, "dependentSchemas") == 0) {
        if (!json_is_object(val))
            return 0;
        r = json_object();
        if (!r)
            return -1;
        size_t saved = strlen(c->ptr);
        mb_oa_ptr_push(c->ptr, sizeof c->ptr, key);
        const char *pk;
        const json_t *pv;
        json_object_foreach((json_t *)val, pk, pv) {
            json_t *ps = resolve_at(c, pv, pk, -1, depth + 1);
            if (!ps) {
                c->ptr[saved] = '\0';
                json_decref(r);
                return -1;
            }
            bool drop = strcmp(key, "properties") == 0 &&
                        json_is_true(json_object_get(ps, c->mode == MB_OA_INPUT ? "readOnly" : "writeOnly"));
            if (drop) {
                json_decref(ps);
                json_array_append_new(dropped, json_string(pk));
                continue;
            }
            json_object_set_new(r, pk, ps);
        }
        c->ptr[saved] = '\0';
    } else if (is_schema_keyword(key)) {
        if (json_is_object(val) || json_is_boolean(val)) {
            r = resolve_at(c, val, key, -1, depth + 1);
        } else if (json_is_array(val)) { /* tuple "items" of older drafts */
            r = json_array();
            size_t i;
            const json_t *iv;
            json_array_foreach(val, i, iv) {
                json_t *x = r ? resolve_at(c, iv, key, (long)i, depth + 1) : NULL;
                if (!x) {
                    json_decref(r);
                    return -1;
                }
                json_array_append_new(r, x);
            }
        } else {
            return 0;
        }
        if (!r)
            return -1;
    } else if (is_schema_array_keyword(key)) {
        if (!json_is_array(val))
            return 0;
        r = json_array();
        size_t i;
        const json_t *iv;
        json_array_foreach(val, i, iv) {
            json_t *x = r ? resolve_at(c, iv, key, (long)i, depth + 1) : NULL;
            if (!x) {
                json_decref(r);
                return -1;
            }
            json_array_append_new(r, x);
        }
        if (!r)
            return -1;
    } else {
        r = json_deep_copy(val);
        if (!r)
            return -1;
    }
    json_object_set_new(out, key, r);
    return 0;
}

static json_t *resolve_plain(struct resolve_ctx *c, const json_t *node, int depth)
{
    json_t *out = json_object();
    json_t *dropped = json_array();
    if (!out || !dropped)
        goto fail;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)node, key, val) {
        if (strcmp(key, "$ref") == 0 || is_dropped_keyword(key))
            continue;
        if (resolve_keyword(c, out, key, val, depth, dropped) != 0)
            goto fail;
    }
    /* Properties dropped for readOnly/writeOnly leave "required". */
    json_t *req = json_object_get(out, "required");
    if (json_is_array(req) && json_array_size(dropped)) {
        for (size_t i = json_array_size(req); i-- > 0;) {
            const char *name = json_string_value(json_array_get(req, i));
            if (name && array_has_string(dropped, name))
                json_array_remove(req, i);
        }
        if (json_array_size(req) == 0)
            json_object_del(out, "required");
    }
    /* OpenAPI 3.0 nullable. */
    if (json_is_true(json_object_get(node, "nullable"))) {
        json_t *type = json_object_get(out, "type");
        if (json_is_string(type) && strcmp(json_string_value(type), "null") != 0) {
            json_object_set_new(out, "type", json_pack("[Os]", type, "null"));
        } else if (json_is_array(type) && !array_has_string(type, "null")) {
            json_array_append_new(type, json_string("null"));
        }
        json_t *en = json_object_get(out, "enum");
        if (json_is_array(en)) {
            bool has_null = false;
            size_t i;
            json_t *v;
            json_array_foreach(en, i, v) has_null |= json_is_null(v);
            if (!has_null)
                json_array_append_new(en, json_null());
        }
    }
    /* OpenAPI 3.0 / draft 4 boolean exclusive bounds. */
    static const char *const pairs[2][2] = {{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}};
    for (int i = 0; i < 2; i++) {
        json_t *ex = json_object_get(out, pairs[i][0]);
        if (!json_is_boolean(ex))
            continue;
        json_t *bound = json_object_get(out, pairs[i][1]);
        if (json_is_true(ex) && json_is_number(bound)) {
            json_object_set(out, pairs[i][0], bound);
            json_object_del(out, pairs[i][1]);
        } else {
            json_object_del(out, pairs[i][0]);
        }
    }
    json_decref(dropped);
    return out;
fail:
    json_decref(out);
    json_decref(dropped);
    return NULL;
}

static const char *ref_short_name(const char *ref)
{
    const char *slash = strrchr(ref, '/');
    return slash && slash[1] ? slash + 1 : ref;
}

static json_t *resolve(struct resolve_ctx *c, const json_t *node, int depth)
{
    if (depth > MB_OA_MAX_SCHEMA_DEPTH)
        return placeholder("(schema nested too deeply%s, omitted)", "");
    if (++c->nodes > MB_OA_MAX_SCHEMA_NODES)
        return placeholder("(schema too large%s, omitted)", "");
    if (json_is_boolean(node))
        return json_copy((json_t *)node);
    if (!json_is_object(node))
        return json_object();
    const char *ref = json_string_value(json_object_get(node, "$ref"));
    if (!ref)
        return resolve_plain(c, node, depth);

    char at[MB_OA_PTR_MAX];
    snprintf(at, sizeof at, "%s", c->ptr);
    mb_oa_ptr_push(at, sizeof at, "$ref");
    if (ref[0] != '#') {
        mb_oa_error(c->s, at, "external $ref '%.200s' is not supported (only local #/... references)", ref);
        return NULL;
    }
    for (size_t i = 0; i < c->stack_len; i++)
        if (strcmp(c->stack[i], ref) == 0)
            return placeholder("(recursive reference to %.200s omitted)", ref_short_name(ref));
    if (c->stack_len >= MB_OA_MAX_SCHEMA_DEPTH)
        return placeholder("(schema nested too deeply%s, omitted)", "");
    char target_ptr[MB_OA_PTR_MAX];
    const json_t *target = ref_lookup(c->s, ref, target_ptr, sizeof target_ptr);
    if (!target) {
        mb_oa_error(c->s, at, "unresolvable $ref '%.200s'", ref);
        return NULL;
    }
    char saved[MB_OA_PTR_MAX];
    memcpy(saved, c->ptr, sizeof saved);
    snprintf(c->ptr, sizeof c->ptr, "%s", target_ptr);
    c->stack[c->stack_len++] = ref;
    json_t *r = resolve(c, target, depth + 1);
    c->stack_len--;
    memcpy(c->ptr, saved, sizeof saved);
    if (!r)
        return NULL;
    /* Siblings of $ref (3.1; harmless in 3.0) override the target's keywords. */
    if (json_object_size(node) > 1 && json_is_object(r)) {
        json_t *over = resolve_plain(c, node, depth);
        if (!over) {
            json_decref(r);
            return NULL;
        }
        json_object_update(r, over);
        json_decref(over);
    }
    return r;
}

json_t *mb_oa_schema_resolve(struct mb_oa_spec *s, const json_t *node, const char *ptr,
                             enum mb_oa_mode mode)
{
    struct resolve_ctx *c = calloc(1, sizeof *c);
    json_t *r = NULL;
    if (!c)
        return NULL;
    c->s = s;
    c->mode = mode;
    snprintf(c->ptr, sizeof c->ptr, "%s", ptr);
    r = resolve(c, node, 0);
    free(c);
    return r;
}

/* ---- base URL ---- */

static char *strip_slash(char *u)
{
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    return u;
}

static bool is_absolute_url(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

static char *base_url_v2(struct mb_oa_spec *s)
{
    const char *host = json_string_value(json_object_get(s->root, "host"));
    const char *base = json_string_value(json_object_get(s->root, "basePath"));
    const char *scheme = json_string_value(json_array_get(json_object_get(s->root, "schemes"), 0));
    if (!host || !*host) {
        mb_oa_error(s, "", "the spec has no \"host\" and no base_url is configured; set api.openapi.base_url");
        return NULL;
    }
    struct mb_buf b;
    mb_buf_init(&b, 8192);
    if (mb_buf_printf(&b, "%s://%s%s", scheme ? scheme : "https", host, base ? base : "") != 0) {
        mb_buf_dispose(&b);
        mb_oa_error(s, "/host", "host/basePath too long");
        return NULL;
    }
    return strip_slash(mb_buf_steal(&b));
}

char *mb_oa_base_url(struct mb_oa_spec *s, const char *override)
{
    if (override && *override) {
        char *u = strdup(override);
        return u ? strip_slash(u) : NULL;
    }
    if (s->version == 2)
        return base_url_v2(s);
    const json_t *server = json_array_get(json_object_get(s->root, "servers"), 0);
    const char *url = json_string_value(json_object_get(server, "url"));
    if (!url) {
        mb_oa_error(s, "", "the spec has no servers[0].url and no base_url is configured; set api.openapi.base_url");
        return NULL;
    }
    const json_t *vars = json_object_get(server, "variables");
    struct mb_buf b;
    mb_buf_init(&b, 8192);
    for (const char *p = url; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            if (mb_buf_append(&b, p, 1) != 0)
                goto toolong;
            p++;
            continue;
        }
        char name[128];
        size_t n = (size_t)(close - p - 1);
        if (n >= sizeof name)
            goto toolong;
        memcpy(name, p + 1, n);
        name[n] = '\0';
        const char *def = json_string_value(json_object_get(json_object_get(vars, name), "default"));
        if (!def) {
            mb_oa_error(s, "/servers/0/url", "server variable '%s' has no default; set api.openapi.base_url", name);
            mb_buf_dispose(&b);
            return NULL;
        }
        if (mb_buf_append_str(&b, def) != 0)
            goto toolong;
        p = close + 1;
    }
    char *u = mb_buf_steal(&b);
    if (!u)
        return NULL;
    if (!is_absolute_url(u)) {
        mb_oa_error(s, "/servers/0/url", "servers[0].url is relative; set api.openapi.base_url");
        free(u);
        return NULL;
    }
    return strip_slash(u);
toolong:
    mb_buf_dispose(&b);
    mb_oa_error(s, "/servers/0/url", "servers[0].url is too long");
    return NULL;
}
