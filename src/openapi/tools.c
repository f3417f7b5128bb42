/* Tool building: one MCP tool per kept operation. Names come from operationId (else
 * "<method>_<path>"), sanitized to [A-Za-z0-9_.-], capped (64 by default, 16..128) with a hash
 * suffix and made unique without depending on order; inputSchema gathers path/query/header/
 * cookie parameters and the request body under "body" (media type chosen JSON, form,
 * multipart, text, binary; binary data as base64 strings); outputSchema is the first 2xx JSON
 * object schema; annotations follow the HTTP method; tags come from routes.c (spec tags,
 * entity_rules, tags) and decide, with the maps, which operations are kept; operation/path-level
 * servers give a tool its own base URL. Swagger 2.0 is read too (body, formData, consumes). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "openapi/catalog_internal.h"

static const char *const http_methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

/* ---- naming ---- */

uint32_t mb_oa_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static bool name_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

static size_t clamp_max(size_t max)
{
    return max < MB_OA_NAME_MIN_LIMIT ? MB_OA_NAME_MIN_LIMIT : max > MB_OA_NAME_LIMIT ? MB_OA_NAME_LIMIT : max;
}

/* Cuts name (NUL-terminated, any length) to max chars: prefix + '_' + 8 hex of hash(key). */
static void cap_name(char *out, const char *name, const char *key, size_t max)
{
    size_t n = strlen(name);
    if (n <= max) {
        memmove(out, name, n + 1);
        return;
    }
    uint32_t h = mb_oa_hash(key, strlen(key));
    size_t keep = max - 9;
    memmove(out, name, keep);
    snprintf(out + keep, 10, "_%08x", h);
}

void mb_oa_name_sanitize(const char *in, char *out)
{
    mb_oa_name_sanitize_n(in, out, MB_OA_NAME_MAX);
}

void mb_oa_name_sanitize_n(const char *in, char *out, size_t max)
{
    max = clamp_max(max);
    size_t n = strlen(in);
    char *tmp = malloc(n + 1);
    if (!tmp) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++)
        tmp[i] = name_char((unsigned char)in[i]) ? in[i] : '_';
    tmp[n] = '\0';
    cap_name(out, tmp, tmp, max);
    free(tmp);
}

void mb_oa_name_from_path(const char *method, const char *path, char *out)
{
    mb_oa_name_from_path_n(method, path, out, MB_OA_NAME_MAX);
}

void mb_oa_name_from_path_n(const char *method, const char *path, char *out, size_t max)
{
    max = clamp_max(max);
    size_t n = strlen(method) + strlen(path) + 2;
    char *tmp = malloc(n);
    if (!tmp) {
        out[0] = '\0';
        return;
    }
    size_t o = 0;
    for (const char *p = method; *p; p++)
        tmp[o++] = (char)tolower((unsigned char)*p);
    tmp[o++] = '_';
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '{' || c == '}')
            continue;
        char ch = name_char(c) ? (char)c : '_';
        if (ch == '_' && o > 0 && tmp[o - 1] == '_')
            continue;
        tmp[o++] = ch;
    }
    while (o > 1 && tmp[o - 1] == '_')
        o--;
    tmp[o] = '\0';
    cap_name(out, tmp, tmp, max);
    free(tmp);
}

struct name_slot {
    char **name;
    size_t idx;
};

static int cmp_slot(const void *a, const void *b)
{
    const struct name_slot *x = a, *y = b;
    int c = strcmp(*x->name, *y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

void mb_oa_names_unique(char **names, const char *const *methods, const char *const *paths, size_t n)
{
    mb_oa_names_unique_n(names, methods, paths, n, MB_OA_NAME_MAX);
}

void mb_oa_names_unique_n(char **names, const char *const *methods, const char *const *paths, size_t n,
                          size_t max)
{
    max = clamp_max(max);
    struct name_slot *slots = calloc(n ? n : 1, sizeof *slots);
    bool *clash = calloc(n ? n : 1, sizeof *clash);
    if (!slots || !clash)
        goto done;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < n; i++) {
            slots[i].name = &names[i];
            slots[i].idx = i;
            clash[i] = false;
        }
        qsort(slots, n, sizeof *slots, cmp_slot);
        bool any = false;
        for (size_t i = 1; i < n; i++) {
            if (strcmp(*slots[i].name, *slots[i - 1].name) == 0) {
                clash[slots[i].idx] = clash[slots[i - 1].idx] = true;
                any = true;
            }
        }
        if (!any)
            break;
        for (size_t i = 0; i < n; i++) {
            if (!clash[i])
                continue;
            char key[1200];
            if (round == 0)
                snprintf(key, sizeof key, "%s %s", methods[i], paths[i]);
            else
                snprintf(key, sizeof key, "%s %s #%d", methods[i], paths[i], round);
            uint32_t h = mb_oa_hash(key, strlen(key));
            size_t keep = strlen(names[i]);
            if (keep > max - 9)
                keep = max - 9;
            snprintf(names[i] + keep, 10, "_%08x", h);
        }
    }
done:
    free(slots);
    free(clash);
}

static void rtrim_len(const char *s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)s[*n - 1]))
        (*n)--;
}

char *mb_oa_text_bounded(const char *a, const char *b, size_t max)
{
    size_t na = a ? strlen(a) : 0, nb = b ? strlen(b) : 0;
    rtrim_len(a, &na);
    rtrim_len(b, &nb);
    char *out = malloc(na + nb + 3);
    if (!out)
        return NULL;
    size_t n = 0;
    memcpy(out, a ? a : "", na);
    n = na;
    if (na && nb) {
        memcpy(out + n, "\n\n", 2);
        n += 2;
    }
    memcpy(out + n, b ? b : "", nb);
    n += nb;
    out[n] = '\0';
    if (n > max && max >= 3) {
        size_t cut = max - 3; /* room for the 3-byte ellipsis */
        while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80)
            cut--;
        memcpy(out + cut, "\xE2\x80\xA6", 4);
    }
    return out;
}

/* ---- parameters ---- */

struct param_src {
    const json_t *p;             /* the (dereferenced) parameter object */
    char ptr[MB_OA_PTR_MAX];
    int loc;                     /* enum mb_param_location, or -1 = skip */
};

static int location_of(const char *in)
{
    if (!in)
        return -1;
    if (strcmp(in, "path") == 0)
        return MB_PARAM_PATH;
    if (strcmp(in, "query") == 0)
        return MB_PARAM_QUERY;
    if (strcmp(in, "header") == 0)
        return MB_PARAM_HEADER;
    if (strcmp(in, "cookie") == 0)
        return MB_PARAM_COOKIE;
    return -1;
}

static const char *const location_names[] = {"path", "query", "header", "cookie"};

/* Merges path-level then operation-level parameters (operation wins on name+in) into
 * out (capacity cap). Swagger 2.0 body parameters are returned through body/body_ptr. */
static size_t collect_params(struct mb_oa_spec *s, const json_t *lists[2], const char *ptrs[2],
                             struct param_src *out, size_t cap, const json_t **body, char *body_ptr,
                             struct param_src *form, size_t *form_n)
{
    size_t n = 0;
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *raw;
        json_array_foreach(lists[l], i, raw) {
            char ptr[MB_OA_PTR_MAX];
            char num[24];
            snprintf(ptr, sizeof ptr, "%s", ptrs[l]);
            snprintf(num, sizeof num, "%zu", i);
            mb_oa_ptr_push(ptr, sizeof ptr, num);
            const json_t *p = mb_oa_deref(s, raw, ptr, sizeof ptr);
            if (!p)
                continue;
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *in = json_string_value(json_object_get(p, "in"));
            if (!name || !in) {
                mb_oa_error(s, ptr, "parameter without \"name\" or \"in\"");
                continue;
            }
            if (s->version == 2 && strcmp(in, "body") == 0) {
                *body = p;
                snprintf(body_ptr, MB_OA_PTR_MAX, "%s", ptr);
                continue;
            }
            if (s->version == 2 && strcmp(in, "formData") == 0) {
                size_t k;
                for (k = 0; k < *form_n; k++)
                    if (strcmp(json_string_value(json_object_get(form[k].p, "name")), name) == 0)
                        break;
                if (k == *form_n) {
                    if (k == cap)
                        continue;
                    (*form_n)++;
                }
                form[k].p = p;
                snprintf(form[k].ptr, sizeof form[k].ptr, "%s", ptr);
                continue;
            }
            int loc = location_of(in);
            if (loc < 0)
                continue; /* unknown locations */
            if (loc == MB_PARAM_HEADER && (strcasecmp(name, "Accept") == 0 || strcasecmp(name, "Content-Type") == 0 ||
                                           strcasecmp(name, "Authorization") == 0))
                continue; /* ignored by the OpenAPI specification */
            size_t k;
            for (k = 0; k < n; k++) {
                if (out[k].loc == loc && strcmp(json_string_value(json_object_get(out[k].p, "name")), name) == 0)
                    break;
            }
            if (k == n) {
                if (n == cap)
                    continue;
                n++;
            }
            out[k].p = p;
            out[k].loc = loc;
            snprintf(out[k].ptr, sizeof out[k].ptr, "%s", ptr);
        }
    }
    return n;
}

static bool is_json_media(const char *mt);

static enum mb_oa_style style_of(const char *s)
{
    static const struct { const char *name; enum mb_oa_style style; } map[] = {
        {"form", MB_OA_STYLE_FORM}, {"simple", MB_OA_STYLE_SIMPLE}, {"spaceDelimited", MB_OA_STYLE_SPACE},
        {"pipeDelimited", MB_OA_STYLE_PIPE}, {"deepObject", MB_OA_STYLE_DEEP}, {"label", MB_OA_STYLE_LABEL},
        {"matrix", MB_OA_STYLE_MATRIX}};
    for (size_t i = 0; s && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].name) == 0)
            return map[i].style;
    return MB_OA_STYLE_DEFAULT;
}

static void param_style(const struct mb_oa_spec *s, const json_t *p, int loc, struct mb_oa_param_style *st)
{
    if (s->version == 2) {
        const char *cf = json_string_value(json_object_get(p, "collectionFormat"));
        st->style = loc == MB_PARAM_QUERY ? MB_OA_STYLE_FORM : MB_OA_STYLE_SIMPLE;
        st->explode = cf && strcmp(cf, "multi") == 0;
        if (cf && strcmp(cf, "ssv") == 0)
            st->style = MB_OA_STYLE_SPACE;
        else if (cf && strcmp(cf, "pipes") == 0)
            st->style = MB_OA_STYLE_PIPE;
        return;
    }
    st->allow_reserved = loc == MB_PARAM_QUERY && json_is_true(json_object_get(p, "allowReserved"));
    st->json_content = false;
    if (!json_object_get(p, "schema")) {
        const char *mk;
        const json_t *mv;
        json_object_foreach(json_object_get(p, "content"), mk, mv) {
            st->json_content |= is_json_media(mk);
        }
    }
    st->style = style_of(json_string_value(json_object_get(p, "style")));
    if (st->style == MB_OA_STYLE_DEFAULT)
        st->style = (loc == MB_PARAM_QUERY || loc == MB_PARAM_COOKIE) ? MB_OA_STYLE_FORM : MB_OA_STYLE_SIMPLE;
    const json_t *ex = json_object_get(p, "explode");
    st->explode = json_is_boolean(ex) ? json_is_true(ex) : st->style == MB_OA_STYLE_FORM;
}

static bool is_json_media(const char *mt)
{
    size_t n = strcspn(mt, ";");
    while (n > 0 && mt[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(mt, "application/json", 16) == 0)
        return true;
    return n >= 5 && strncasecmp(mt + n - 5, "+json", 5) == 0;
}

/* The media type without parameters and surrounding blanks equals want (case-insensitive). */
static bool media_is(const char *mt, const char *want)
{
    size_t n = strcspn(mt, ";");
    while (n > 0 && mt[n - 1] == ' ')
        n--;
    return n == strlen(want) && strncasecmp(mt, want, n) == 0;
}

static bool media_has_suffix(const char *mt, const char *suffix)
{
    size_t n = strcspn(mt, ";"), k = strlen(suffix);
    while (n > 0 && mt[n - 1] == ' ')
        n--;
    return n >= k && strncasecmp(mt + n - k, suffix, k) == 0;
}

enum mb_oa_body_kind mb_oa_body_kind(const char *media)
{
    if (is_json_media(media))
        return MB_OA_BODY_JSON;
    if (media_is(media, "application/x-www-form-urlencoded"))
        return MB_OA_BODY_FORM;
    if (media_is(media, "multipart/form-data"))
        return MB_OA_BODY_MULTIPART;
    if (strncasecmp(media, "text/", 5) == 0 || media_is(media, "application/xml") || media_has_suffix(media, "+xml"))
        return MB_OA_BODY_TEXT;
    return MB_OA_BODY_BINARY;
}

/* Picks the media type of a content map: JSON (application/json itself first), then form,
 * multipart, text, binary; the first in document order within a rank. json_only limits the
 * choice to JSON types (parameters and responses). On success ptr names the media type's
 * schema. Returns the media type object or NULL. */
static const json_t *choose_media(const json_t *content, char *ptr, const char **media, bool json_only)
{
    const char *key;
    const json_t *val, *found = NULL;
    int best = 99;
    json_object_foreach((json_t *)content, key, val) {
        int kind = (int)mb_oa_body_kind(key);
        if (json_only && kind != MB_OA_BODY_JSON)
            continue;
        int rank = kind * 2 + (kind == MB_OA_BODY_JSON && !media_is(key, "application/json"));
        if (rank < best) {
            best = rank;
            found = val;
            *media = key;
        }
    }
    if (!found)
        return NULL;
    mb_oa_ptr_push(ptr, MB_OA_PTR_MAX, "content");
    mb_oa_ptr_push(ptr, MB_OA_PTR_MAX, *media);
    mb_oa_ptr_push(ptr, MB_OA_PTR_MAX, "schema");
    return found;
}

/* The schema of the first JSON media type of a content map (application/json preferred). */
static const json_t *json_content_schema(const json_t *content, char *ptr, const char **media)
{
    return json_object_get(choose_media(content, ptr, media, true), "schema");
}

/* The schema of one parameter, resolved, with the parameter's description/example added. */
static json_t *param_schema(struct mb_oa_spec *s, const struct param_src *ps)
{
    char ptr[MB_OA_PTR_MAX];
    snprintf(ptr, sizeof ptr, "%s", ps->ptr);
    const json_t *p = ps->p;
    json_t *schema = NULL;
    if (s->version == 2) {
        json_t *tmp = json_object();
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)p, k, v) {
            if (strcmp(k, "name") && strcmp(k, "in") && strcmp(k, "required") && strcmp(k, "description") &&
                strcmp(k, "allowEmptyValue") && strcmp(k, "collectionFormat"))
                json_object_set(tmp, k, (json_t *)v);
        }
        schema = tmp ? mb_oa_schema_resolve(s, tmp, ptr, MB_OA_INPUT) : NULL;
        json_decref(tmp);
    } else {
        const json_t *raw = json_object_get(p, "schema");
        if (raw) {
            mb_oa_ptr_push(ptr, sizeof ptr, "schema");
        } else {
            const char *media = NULL;
            raw = json_content_schema(json_object_get(p, "content"), ptr, &media);
            if (!raw && json_object_size(json_object_get(p, "content")) > 0) {
                /* a non-JSON content: take the first media type's schema as is */
                const char *key;
                const json_t *val;
                json_object_foreach(json_object_get(p, "content"), key, val) {
                    raw = json_object_get(val, "schema");
                    break;
                }
            }
        }
        schema = raw ? mb_oa_schema_resolve(s, raw, ptr, MB_OA_INPUT) : json_object();
    }
    if (!schema)
        return NULL;
    if (!json_is_object(schema)) { /* a boolean schema: wrap it */
        json_t *w = json_pack("{s:[o]}", "allOf", schema);
        schema = w;
        if (!schema)
            return NULL;
    }
    const json_t *desc = json_object_get(p, "description");
    if (json_is_string(desc))
        json_object_set(schema, "description", (json_t *)desc);
    /* parameter "example" / "examples" ({name: {value}}) -> the schema's "examples" */
    const json_t *ex = json_object_get(p, "example");
    json_t *values = json_array();
    if (ex && values)
        json_array_append_new(values, json_deep_copy(ex));
    const char *ek;
    const json_t *ev;
    json_object_foreach(json_object_get(p, "examples"), ek, ev) {
        const json_t *val = json_object_get(ev, "value");
        if (val && values)
            json_array_append_new(values, json_deep_copy(val));
    }
    if (json_array_size(values))
        json_object_set_new(schema, "examples", values);
    else
        json_decref(values);
    if (json_is_true(json_object_get(p, "deprecated")))
        json_object_set_new(schema, "deprecated", json_true());
    return schema;
}

/* ---- one operation ---- */

struct op_candidate {
    const char *path;
    char method[8];               /* upper case */
    const json_t *item;           /* path item, dereferenced */
    const json_t *op;
    char item_ptr[MB_OA_PTR_MAX];
    char op_ptr[MB_OA_PTR_MAX];
    char *name;                   /* heap, MB_OA_NAME_LIMIT + 1 bytes */
    char **tags;                  /* from mb_oa_routes_tags, owned until given to the tool */
    size_t tag_count;
};

static bool name_taken(const json_t *props, const char *name, bool body_reserved)
{
    return json_object_get(props, name) != NULL || (body_reserved && strcmp(name, "body") == 0);
}

/* A binary value in a form part: 3.0 "format: binary", or a 3.1 contentMediaType with no
 * contentEncoding (raw bytes), or a Swagger 2.0 "type: file". */
static bool is_binary_schema(const json_t *sc)
{
    const char *f = json_string_value(json_object_get(sc, "format"));
    const char *t = json_string_value(json_object_get(sc, "type"));
    if ((f && strcmp(f, "binary") == 0) || (t && strcmp(t, "file") == 0))
        return true;
    return json_object_get(sc, "contentMediaType") && !json_object_get(sc, "contentEncoding");
}

/* {"type":"string","contentEncoding":"base64"[,"contentMediaType":media]} keeping the
 * description of orig; the arguments carry bytes as base64 and the request decodes them. */
static json_t *base64_schema(const json_t *orig, const char *media, const char *what)
{
    json_t *o = json_pack("{s:s,s:s}", "type", "string", "contentEncoding", "base64");
    if (!o)
        return NULL;
    if (media && *media && !strchr(media, '*'))
        json_object_set_new(o, "contentMediaType", json_string(media));
    const char *d = json_string_value(json_object_get(orig, "description"));
    char text[MB_OA_DESC_MAX];
    snprintf(text, sizeof text, "%s%s(%s, base64-encoded)", d ? d : "", d ? " " : "", what);
    json_object_set_new(o, "description", json_string(text));
    return o;
}

/* Form and multipart bodies: binary properties (and arrays of them) become base64 strings;
 * a multipart "encoding" entry's contentType becomes their contentMediaType. */
static void rewrite_form_parts(json_t *schema, const json_t *encoding)
{
    json_t *props = json_object_get(schema, "properties");
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) {
        const char *ct = json_string_value(json_object_get(json_object_get(encoding, k), "contentType"));
        if (ct && strchr(ct, ','))
            ct = NULL; /* a list of allowed types: no single one to announce */
        if (is_binary_schema(v)) {
            json_t *b = base64_schema(v, ct ? ct : json_string_value(json_object_get(v, "contentMediaType")), "file content");
            if (b)
                json_object_set_new(props, k, b);
        } else if (is_binary_schema(json_object_get(v, "items"))) {
            json_t *items = json_object_get(v, "items");
            json_t *b = base64_schema(items, ct ? ct : json_string_value(json_object_get(items, "contentMediaType")),
                                      "file content");
            if (b)
                json_object_set_new(v, "items", b);
        }
    }
}

/* The body property's schema for a body of this kind, from the resolved media schema
 * (consumed). Returns a new schema or NULL when out of memory. */
static json_t *body_schema_for(enum mb_oa_body_kind kind, const char *media, json_t *schema, const json_t *encoding)
{
    const char *type = json_string_value(json_object_get(schema, "type"));
    switch (kind) {
    case MB_OA_BODY_JSON:
        return schema;
    case MB_OA_BODY_FORM:
    case MB_OA_BODY_MULTIPART:
        if (!json_is_object(schema) || (type && strcmp(type, "object") != 0)) {
            json_decref(schema);
            return json_pack("{s:s}", "type", "object");
        }
        rewrite_form_parts(schema, kind == MB_OA_BODY_MULTIPART ? encoding : NULL);
        return schema;
    case MB_OA_BODY_TEXT:
        if (json_is_object(schema) && type && strcmp(type, "string") == 0)
            return schema;
        json_decref(schema);
        return json_pack("{s:s}", "type", "string");
    case MB_OA_BODY_BINARY:
    default: {
        json_t *b = base64_schema(schema, media, "request body");
        json_decref(schema);
        return b;
    }
    }
}

/* A concrete Content-Type for a media range: "text/" plus a star gives text/plain, any
 * other range application/octet-stream. Heap string. */
static char *concrete_media(const char *media)
{
    if (strncasecmp(media, "text/*", 6) == 0)
        return strdup("text/plain");
    if (strchr(media, '*'))
        return strdup("application/octet-stream");
    return strdup(media);
}

/* Swagger 2.0: the media type to send, chosen from consumes (operation, else root) by the
 * same ranking as OpenAPI 3 content maps; want_form restricts it to form/multipart. */
static const char *v2_consumes(const struct mb_oa_spec *s, const struct op_candidate *c, bool want_form, bool has_file)
{
    const json_t *consumes = json_object_get(c->op, "consumes");
    if (!json_is_array(consumes))
        consumes = json_object_get(s->root, "consumes");
    const char *best = NULL;
    int best_rank = 99;
    size_t i;
    const json_t *v;
    json_array_foreach(consumes, i, v) {
        const char *mt = json_string_value(v);
        if (!mt)
            continue;
        int kind = (int)mb_oa_body_kind(mt);
        if (want_form && kind != MB_OA_BODY_FORM && kind != MB_OA_BODY_MULTIPART)
            continue;
        if (want_form && has_file && kind != MB_OA_BODY_MULTIPART)
            continue; /* files need multipart */
        int rank = kind * 2 + (kind == MB_OA_BODY_JSON && !media_is(mt, "application/json"));
        if (rank < best_rank) {
            best_rank = rank;
            best = mt;
        }
    }
    if (best)
        return best;
    if (want_form)
        return has_file ? "multipart/form-data" : "application/x-www-form-urlencoded";
    return "application/json";
}

/* Swagger 2.0 formData parameters -> one object schema (type: file -> base64 string). */
static json_t *v2_form_schema(struct mb_oa_spec *s, const json_t *const *form, const char *const *form_ptrs,
                              size_t n, bool *required, bool *has_file)
{
    json_t *obj = json_pack("{s:s,s:{}}", "type", "object", "properties");
    json_t *req = json_array();
    if (!obj || !req)
        goto fail;
    json_t *props = json_object_get(obj, "properties");
    for (size_t i = 0; i < n; i++) {
        const json_t *p = form[i];
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *tmp = json_object();
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)p, k, v) {
            if (strcmp(k, "name") && strcmp(k, "in") && strcmp(k, "required") && strcmp(k, "allowEmptyValue") &&
                strcmp(k, "collectionFormat"))
                json_object_set(tmp, k, (json_t *)v);
        }
        json_t *ps = tmp ? mb_oa_schema_resolve(s, tmp, form_ptrs[i], MB_OA_INPUT) : NULL;
        json_decref(tmp);
        if (!ps)
            goto fail;
        if (is_binary_schema(ps)) {
            *has_file = true;
            json_t *b = base64_schema(ps, NULL, "file content");
            json_decref(ps);
            if (!(ps = b))
                goto fail;
        }
        json_object_set_new(props, name, ps);
        if (json_is_true(json_object_get(p, "required"))) {
            json_array_append_new(req, json_string(name));
            *required = true;
        }
    }
    if (json_array_size(req))
        json_object_set(obj, "required", req);
    json_decref(req);
    return obj;
fail:
    json_decref(obj);
    json_decref(req);
    return NULL;
}

static int build_body(struct mb_oa_spec *s, struct mb_tool *t, struct op_candidate *c, const json_t *v2_body,
                      const char *v2_body_ptr, const json_t *const *v2_form, const char *const *v2_form_ptrs,
                      size_t v2_form_count, json_t **body_schema)
{
    char ptr[MB_OA_PTR_MAX];
    const json_t *raw = NULL, *encoding = NULL;
    const char *media = NULL, *desc = NULL;
    json_t *schema = NULL;
    if (s->version == 2 && v2_form_count > 0) {
        bool has_file = false;
        t->body_required = false;
        schema = v2_form_schema(s, v2_form, v2_form_ptrs, v2_form_count, &t->body_required, &has_file);
        if (!schema)
            return -1;
        media = v2_consumes(s, c, true, has_file);
    } else if (s->version == 2) {
        if (!v2_body)
            return 0;
        snprintf(ptr, sizeof ptr, "%s", v2_body_ptr);
        mb_oa_ptr_push(ptr, sizeof ptr, "schema");
        raw = json_object_get(v2_body, "schema");
        media = v2_consumes(s, c, false, false);
        desc = json_string_value(json_object_get(v2_body, "description"));
        t->body_required = json_is_true(json_object_get(v2_body, "required"));
    } else {
        const json_t *rb = json_object_get(c->op, "requestBody");
        if (!rb)
            return 0;
        snprintf(ptr, sizeof ptr, "%s", c->op_ptr);
        mb_oa_ptr_push(ptr, sizeof ptr, "requestBody");
        rb = mb_oa_deref(s, rb, ptr, sizeof ptr);
        if (!rb)
            return -1;
        const json_t *mt = choose_media(json_object_get(rb, "content"), ptr, &media, false);
        if (!mt)
            return 0; /* no media type at all: the tool has no body */
        raw = json_object_get(mt, "schema");
        encoding = json_object_get(mt, "encoding");
        desc = json_string_value(json_object_get(rb, "description"));
        t->body_required = json_is_true(json_object_get(rb, "required"));
    }
    if (!schema)
        schema = raw ? mb_oa_schema_resolve(s, raw, ptr, MB_OA_INPUT) : json_object();
    if (!schema)
        return -1;
    schema = body_schema_for(mb_oa_body_kind(media), media, schema, encoding);
    if (!schema)
        return -1;
    if (desc && json_is_object(schema) && !json_object_get(schema, "description"))
        json_object_set_new(schema, "description", json_string(desc));
    t->has_body = true;
    t->body_content_type = concrete_media(media);
    t->body_arg_name = strdup("body");
    *body_schema = schema;
    return (t->body_content_type && t->body_arg_name) ? 0 : -1;
}

/* Whether every instance valid against a resolved schema is an object: "type": "object", or
 * no type and an allOf with such a member, or a oneOf/anyOf all of whose branches are such. */
static bool implies_object(const json_t *schema, int depth)
{
    const json_t *type = json_object_get(schema, "type");
    if (type)
        return json_is_string(type) && strcmp(json_string_value(type), "object") == 0;
    if (depth > 8)
        return false;
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(schema, "allOf"), i, m) {
        if (implies_object(m, depth + 1))
            return true;
    }
    static const char *const alts[] = {"oneOf", "anyOf"};
    for (int a = 0; a < 2; a++) {
        const json_t *arr = json_object_get(schema, alts[a]);
        bool all = json_array_size(arr) > 0;
        json_array_foreach(arr, i, m) all = all && implies_object(m, depth + 1);
        if (all)
            return true;
    }
    return false;
}

static json_t *build_output(struct mb_oa_spec *s, struct op_candidate *c)
{
    const json_t *responses = json_object_get(c->op, "responses");
    const char *key, *best = NULL;
    const json_t *val;
    json_object_foreach((json_t *)responses, key, val) {
        bool exact = strlen(key) == 3 && key[0] == '2' && isdigit((unsigned char)key[1]) && isdigit((unsigned char)key[2]);
        if (exact && (!best || !isdigit((unsigned char)best[1]) || strcmp(key, best) < 0))
            best = key;
        else if (!best && strcasecmp(key, "2XX") == 0)
            best = key;
    }
    if (!best)
        return NULL;
    char ptr[MB_OA_PTR_MAX];
    snprintf(ptr, sizeof ptr, "%s", c->op_ptr);
    mb_oa_ptr_push(ptr, sizeof ptr, "responses");
    mb_oa_ptr_push(ptr, sizeof ptr, best);
    const json_t *resp = mb_oa_deref(s, json_object_get(responses, best), ptr, sizeof ptr);
    if (!resp)
        return NULL;
    const json_t *raw;
    if (s->version == 2) {
        raw = json_object_get(resp, "schema");
        mb_oa_ptr_push(ptr, sizeof ptr, "schema");
    } else {
        const char *media = NULL;
        raw = json_content_schema(json_object_get(resp, "content"), ptr, &media);
    }
    if (!raw)
        return NULL;
    json_t *schema = mb_oa_schema_resolve(s, raw, ptr, MB_OA_OUTPUT);
    if (!implies_object(schema, 0)) {
        json_decref(schema);
        return NULL;
    }
    if (!json_object_get(schema, "type")) /* MCP wants "type": "object" at the top */
        json_object_set_new(schema, "type", json_string("object"));
    return schema;
}

static json_t *build_annotations(const char *m)
{
    bool ro = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    bool del = strcmp(m, "DELETE") == 0;
    bool idem = ro || del || strcmp(m, "PUT") == 0;
    return json_pack("{s:b,s:b,s:b,s:b}", "readOnlyHint", ro, "destructiveHint", del, "idempotentHint", idem,
                     "openWorldHint", 1);
}

static size_t count_template_vars(const char *path)
{
    size_t n = 0;
    for (; *path; path++)
        n += *path == '{';
    return n;
}

/* Template variables no parameter declares (a common spec slip) become required string
 * path parameters, so the tool can still be called. */
static int add_undeclared_path_params(struct mb_tool *t, struct mb_oa_tool_priv *priv, json_t *props,
                                      json_t *required)
{
    const char *p = t->path_template;
    while ((p = strchr(p, '{')) != NULL) {
        const char *close = strchr(p, '}');
        if (!close)
            break;
        size_t len = (size_t)(close - p - 1);
        bool declared = false;
        for (size_t i = 0; i < t->param_count && !declared; i++)
            declared = t->params[i].location == MB_PARAM_PATH && strlen(t->params[i].name) == len &&
                       memcmp(t->params[i].name, p + 1, len) == 0;
        if (!declared && len > 0) {
            struct mb_tool_param *tp = &t->params[t->param_count];
            tp->name = strndup(p + 1, len);
            if (!tp->name)
                return -1;
            tp->arg_name = strdup(tp->name);
            tp->location = MB_PARAM_PATH;
            tp->required = true;
            tp->schema = json_pack("{s:s}", "type", "string");
            priv->styles[t->param_count].style = MB_OA_STYLE_SIMPLE;
            t->param_count++;
            if (!tp->arg_name || !tp->schema)
                return -1;
            if (name_taken(props, tp->arg_name, t->has_body)) {
                free(tp->arg_name);
                size_t l = strlen(tp->name) + 8;
                tp->arg_name = malloc(l);
                if (!tp->arg_name)
                    return -1;
                snprintf(tp->arg_name, l, "%s__path", tp->name);
            }
            json_object_set(props, tp->arg_name, tp->schema);
            json_array_append_new(required, json_string(tp->arg_name));
        }
        p = close + 1;
    }
    return 0;
}

static int build_tool(struct mb_oa_spec *s, struct op_candidate *c, struct mb_tool *t, const char *root_url)
{
    int rc = -1;
    int errors_before = s->errors;
    struct param_src *srcs = NULL, *forms = NULL;
    const json_t **form_objs = NULL;
    const char **form_ptrs = NULL;
    json_t *body_schema = NULL;
    json_t *props = json_object(), *required = json_array();
    struct mb_oa_tool_priv *priv = calloc(1, sizeof *priv);
    if (!props || !required || !priv)
        goto done;
    t->priv = priv;
    t->name = strdup(c->name);
    t->method = strdup(c->method);
    t->path_template = strdup(c->path);
    if (!t->name || !t->method || !t->path_template)
        goto done;
    t->base_url = mb_oa_operation_base_url(s, c->item, c->item_ptr, c->op, c->op_ptr, root_url);
    if (s->errors != errors_before)
        goto done;

    /* parameters */
    const json_t *lists[2] = {json_object_get(c->item, "parameters"), json_object_get(c->op, "parameters")};
    char item_params[MB_OA_PTR_MAX], op_params[MB_OA_PTR_MAX];
    snprintf(item_params, sizeof item_params, "%s", c->item_ptr);
    mb_oa_ptr_push(item_params, sizeof item_params, "parameters");
    snprintf(op_params, sizeof op_params, "%s", c->op_ptr);
    mb_oa_ptr_push(op_params, sizeof op_params, "parameters");
    const char *ptrs[2] = {item_params, op_params};
    size_t cap = json_array_size(lists[0]) + json_array_size(lists[1]);
    srcs = calloc(cap ? cap : 1, sizeof *srcs);
    forms = calloc(cap ? cap : 1, sizeof *forms);
    const json_t *v2_body = NULL;
    char v2_body_ptr[MB_OA_PTR_MAX] = "";
    if (!srcs || !forms)
        goto done;
    size_t form_n = 0;
    size_t n = collect_params(s, lists, ptrs, srcs, cap, &v2_body, v2_body_ptr, forms, &form_n);
    form_objs = calloc(form_n ? form_n : 1, sizeof *form_objs);
    form_ptrs = calloc(form_n ? form_n : 1, sizeof *form_ptrs);
    if (!form_objs || !form_ptrs)
        goto done;
    for (size_t i = 0; i < form_n; i++) {
        form_objs[i] = forms[i].p;
        form_ptrs[i] = forms[i].ptr;
    }

    if (build_body(s, t, c, v2_body, v2_body_ptr, form_objs, form_ptrs, form_n, &body_schema) != 0)
        goto done;

    size_t slots = n + count_template_vars(c->path) + 1;
    t->params = calloc(slots, sizeof *t->params);
    priv->styles = calloc(slots, sizeof *priv->styles);
    if (!t->params || !priv->styles)
        goto done;
    for (int loc = MB_PARAM_PATH; loc <= MB_PARAM_COOKIE; loc++) {
        for (size_t i = 0; i < n; i++) {
            if (srcs[i].loc != loc)
                continue;
            const char *name = json_string_value(json_object_get(srcs[i].p, "name"));
            char arg[512];
            snprintf(arg, sizeof arg, "%s", name);
            if (name_taken(props, arg, t->has_body))
                snprintf(arg, sizeof arg, "%s__%s", name, location_names[loc]);
            if (name_taken(props, arg, t->has_body))
                continue; /* a duplicate declaration */
            json_t *schema = param_schema(s, &srcs[i]);
            if (!schema)
                continue; /* diagnosed; the build fails below */
            struct mb_tool_param *tp = &t->params[t->param_count];
            tp->name = strdup(name);
            tp->arg_name = strdup(arg);
            tp->location = (enum mb_param_location)loc;
            tp->required = loc == MB_PARAM_PATH || json_is_true(json_object_get(srcs[i].p, "required"));
            tp->schema = schema;
            param_style(s, srcs[i].p, loc, &priv->styles[t->param_count]);
            t->param_count++;
            if (!tp->name || !tp->arg_name)
                goto done;
            json_object_set(props, arg, schema);
            if (tp->required)
                json_array_append_new(required, json_string(arg));
        }
    }
    if (add_undeclared_path_params(t, priv, props, required) != 0)
        goto done;
    if (t->has_body) {
        json_object_set(props, t->body_arg_name, body_schema);
        if (t->body_required)
            json_array_append_new(required, json_string(t->body_arg_name));
    }
    if (s->errors != errors_before)
        goto done;

    t->input_schema = json_pack("{s:s,s:O}", "type", "object", "properties", props);
    if (!t->input_schema)
        goto done;
    if (json_array_size(required))
        json_object_set(t->input_schema, "required", required);
    json_object_set_new(t->input_schema, "additionalProperties", json_false());
    t->output_schema = build_output(s, c);
    if (s->errors != errors_before)
        goto done;

    const char *summary = json_string_value(json_object_get(c->op, "summary"));
    const char *desc = json_string_value(json_object_get(c->op, "description"));
    if (summary && *summary)
        t->title = mb_oa_text_bounded(summary, NULL, MB_OA_TITLE_MAX);
    if ((summary && *summary) || (desc && *desc)) {
        t->description = mb_oa_text_bounded(summary, desc, MB_OA_DESC_MAX);
    } else {
        char fallback[1200];
        snprintf(fallback, sizeof fallback, "%s %s", t->method, t->path_template);
        t->description = mb_oa_text_bounded(fallback, NULL, MB_OA_DESC_MAX);
    }
    if (!t->description || (summary && *summary && !t->title))
        goto done;

    t->definition = json_pack("{s:s}", "name", t->name);
    if (!t->definition)
        goto done;
    if (t->title)
        json_object_set_new(t->definition, "title", json_string(t->title));
    json_object_set_new(t->definition, "description", json_string(t->description));
    json_object_set(t->definition, "inputSchema", t->input_schema);
    if (t->output_schema)
        json_object_set(t->definition, "outputSchema", t->output_schema);
    json_object_set_new(t->definition, "annotations", build_annotations(t->method));
    if (mb_oa_priv_compile(priv, t->input_schema) != 0)
        goto done;
    rc = 0;
done:
    free(srcs);
    free(forms);
    free(form_objs);
    free(form_ptrs);
    json_decref(body_schema);
    json_decref(props);
    json_decref(required);
    return rc;
}

void mb_oa_tool_dispose(struct mb_tool *t)
{
    free(t->name);
    free(t->title);
    free(t->description);
    free(t->method);
    free(t->path_template);
    free(t->base_url);
    for (size_t i = 0; i < t->param_count; i++) {
        free(t->params[i].name);
        free(t->params[i].arg_name);
        json_decref(t->params[i].schema);
    }
    free(t->params);
    free(t->body_content_type);
    free(t->body_arg_name);
    json_decref(t->input_schema);
    json_decref(t->output_schema);
    json_decref(t->definition);
    if (t->priv) {
        mb_oa_priv_free(t->priv);
        free(t->priv);
    }
    memset(t, 0, sizeof *t);
}

/* ---- the whole spec ---- */

static void strings_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void candidates_free(struct op_candidate *cands, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cands[i].name);
        strings_free(cands[i].tags, cands[i].tag_count);
    }
    free(cands);
}

static int gather(struct mb_oa_spec *s, const struct mb_oa_routes *r, struct op_candidate **out, size_t *count)
{
    const json_t *paths = json_object_get(s->root, "paths");
    size_t cap = 0, n = 0;
    struct op_candidate *cands = NULL;
    const char *path;
    const json_t *raw_item;
    json_object_foreach((json_t *)paths, path, raw_item) {
        char item_ptr[MB_OA_PTR_MAX] = "/paths";
        if (mb_oa_ptr_push(item_ptr, sizeof item_ptr, path) != 0)
            continue;
        const json_t *item = mb_oa_deref(s, raw_item, item_ptr, sizeof item_ptr);
        if (!json_is_object(item))
            continue;
        const char *key;
        const json_t *op;
        json_object_foreach((json_t *)item, key, op) {
            size_t m;
            for (m = 0; m < sizeof http_methods / sizeof http_methods[0]; m++)
                if (strcmp(key, http_methods[m]) == 0)
                    break;
            if (m == sizeof http_methods / sizeof http_methods[0] || !json_is_object(op))
                continue;
            char method[8];
            for (size_t k = 0; k <= strlen(key); k++)
                method[k] = (char)toupper((unsigned char)key[k]);
            /* tags first (maps rules may select by them), then maps, then the name */
            char **tags = NULL;
            size_t tag_count = 0;
            if (mb_oa_routes_tags(r, method, path, json_object_get(op, "tags"), &tags, &tag_count) != 0)
                goto fail;
            char name[MB_OA_NAME_LIMIT + 1] = "";
            if (mb_oa_routes_keep(r, method, path, tags, tag_count)) {
                const char *opid = json_string_value(json_object_get(op, "operationId"));
                if (opid && *opid)
                    mb_oa_name_sanitize_n(opid, name, r->name_max ? r->name_max : MB_OA_NAME_MAX);
                else
                    mb_oa_name_from_path_n(key, path, name, r->name_max ? r->name_max : MB_OA_NAME_MAX);
            }
            if (!name[0] || mb_oa_routes_name_excluded(r, name)) {
                strings_free(tags, tag_count);
                continue;
            }
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct op_candidate *p = realloc(cands, ncap * sizeof *p);
                if (!p) {
                    strings_free(tags, tag_count);
                    goto fail;
                }
                cands = p;
                cap = ncap;
            }
            struct op_candidate *c = &cands[n];
            memset(c, 0, sizeof *c);
            c->tags = tags; /* from here on freed with the candidate */
            c->tag_count = tag_count;
            n++;
            c->path = path;
            memcpy(c->method, method, sizeof method);
            c->item = item;
            c->op = op;
            snprintf(c->item_ptr, sizeof c->item_ptr, "%s", item_ptr);
            snprintf(c->op_ptr, sizeof c->op_ptr, "%s", item_ptr);
            mb_oa_ptr_push(c->op_ptr, sizeof c->op_ptr, key);
            c->name = malloc(MB_OA_NAME_LIMIT + 1);
            if (!c->name)
                goto fail;
            memcpy(c->name, name, sizeof name);
        }
    }
    *out = cands;
    *count = n;
    return 0;
fail:
    candidates_free(cands, n);
    return -ENOMEM;
}

/* operationId of a tool whose path item lives in another file: catalog.c's annotate reads
 * it from the spec after the build, when the other files are closed (it finds no path item
 * there and leaves it alone). Returns 0 or -ENOMEM. */
static int annotate_external(struct mb_tool *t, const json_t *op)
{
    const char *opid = json_string_value(json_object_get(op, "operationId"));
    if (opid && !(t->operation_id = strdup(opid)))
        return -ENOMEM;
    return 0;
}

int mb_oa_build_tools(struct mb_catalog *cat, struct mb_oa_spec *s, const struct mb_oa_routes *r)
{
    int rc = -1;
    struct op_candidate *cands = NULL;
    size_t n = 0;
    char **names = NULL;
    const char **methods = NULL, **paths = NULL;
    if (gather(s, r, &cands, &n) != 0)
        goto done;
    names = calloc(n ? n : 1, sizeof *names);
    methods = calloc(n ? n : 1, sizeof *methods);
    paths = calloc(n ? n : 1, sizeof *paths);
    cat->tools = calloc(n ? n : 1, sizeof *cat->tools);
    if (!names || !methods || !paths || !cat->tools)
        goto done;
    for (size_t i = 0; i < n; i++) {
        names[i] = cands[i].name;
        methods[i] = cands[i].method;
        paths[i] = cands[i].path;
    }
    mb_oa_names_unique_n(names, methods, paths, n, r->name_max ? r->name_max : MB_OA_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        if (mb_oa_routes_name_excluded(r, cands[i].name))
            continue;
        struct mb_tool *t = &cat->tools[cat->tool_count];
        int brc = build_tool(s, &cands[i], t, cat->base_url);
        if (brc != 0) {
            mb_oa_tool_dispose(t);
            if (s->errors == 0) /* out of memory */
                goto done;
            continue;
        }
        cat->tool_count++; /* from here on mb_catalog_destroy frees it */
        t->tags = cands[i].tags; /* ownership moves to the tool */
        t->tag_count = cands[i].tag_count;
        cands[i].tags = NULL;
        cands[i].tag_count = 0;
        if (cands[i].item_ptr[0] == '@' && annotate_external(t, cands[i].op) != 0)
            goto done;
    }
    rc = s->errors ? -1 : 0;
done:
    mb_oa_spec_cache_clear(s);
    candidates_free(cands, n);
    free(names);
    free(methods);
    free(paths);
    return rc;
}
