/* Tool building: one MCP tool per kept operation. Names come from operationId (else
 * "<method>_<path>"), sanitized to [A-Za-z0-9_.-], capped at 64 with a hash suffix and made
 * unique without depending on order; inputSchema gathers path/query/header/cookie parameters
 * and a JSON body under "body"; outputSchema is the first 2xx JSON object schema; annotations
 * follow the HTTP method. Swagger 2.0 is read too (body, path, query, header parameters). */
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

/* Cuts name (NUL-terminated, any length) to 64 chars: prefix + '_' + 8 hex of hash(key). */
static void cap_name(char *out, const char *name, const char *key)
{
    size_t n = strlen(name);
    if (n <= MB_OA_NAME_MAX) {
        memmove(out, name, n + 1);
        return;
    }
    uint32_t h = mb_oa_hash(key, strlen(key));
    size_t keep = MB_OA_NAME_MAX - 9;
    memmove(out, name, keep);
    snprintf(out + keep, 10, "_%08x", h);
}

void mb_oa_name_sanitize(const char *in, char *out)
{
    size_t n = strlen(in);
    char *tmp = malloc(n + 1);
    if (!tmp) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++)
        tmp[i] = name_char((unsigned char)in[i]) ? in[i] : '_';
    tmp[n] = '\0';
    cap_name(out, tmp, tmp);
    free(tmp);
}

void mb_oa_name_from_path(const char *method, const char *path, char *out)
{
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
    cap_name(out, tmp, tmp);
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
            if (keep > MB_OA_NAME_MAX - 9)
                keep = MB_OA_NAME_MAX - 9;
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
                             struct param_src *out, size_t cap, const json_t **body, char *body_ptr)
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
            int loc = location_of(in);
            if (loc < 0)
                continue; /* formData and unknown locations are not supported */
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

/* The schema of the first JSON media type of a content map (application/json preferred). */
static const json_t *json_content_schema(const json_t *content, char *ptr, const char **media)
{
    const char *key;
    const json_t *val, *found = NULL;
    json_object_foreach((json_t *)content, key, val) {
        if (!is_json_media(key))
            continue;
        if (!found || strncasecmp(key, "application/json", 16) == 0) {
            if (found && strncasecmp(*media, "application/json", 16) == 0)
                continue;
            found = val;
            *media = key;
        }
    }
    if (!found)
        return NULL;
    mb_oa_ptr_push(ptr, MB_OA_PTR_MAX, "content");
    mb_oa_ptr_push(ptr, MB_OA_PTR_MAX, *media);
    mb_oa_ptr_push(ptr, MB_OA_PTR_MAX, "schema");
    return json_object_get(found, "schema");
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
    const json_t *ex = json_object_get(p, "example");
    if (ex && !json_object_get(schema, "example"))
        json_object_set_new(schema, "example", json_deep_copy(ex));
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
    char *name;                   /* heap, 65 bytes */
};

static bool name_taken(const json_t *props, const char *name, bool body_reserved)
{
    return json_object_get(props, name) != NULL || (body_reserved && strcmp(name, "body") == 0);
}

static int build_body(struct mb_oa_spec *s, struct mb_tool *t, struct op_candidate *c, const json_t *v2_body,
                      const char *v2_body_ptr, json_t **body_schema)
{
    char ptr[MB_OA_PTR_MAX];
    const json_t *raw = NULL;
    const char *media = NULL, *desc = NULL;
    if (s->version == 2) {
        if (!v2_body)
            return 0;
        snprintf(ptr, sizeof ptr, "%s", v2_body_ptr);
        mb_oa_ptr_push(ptr, sizeof ptr, "schema");
        raw = json_object_get(v2_body, "schema");
        media = "application/json";
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
        raw = json_content_schema(json_object_get(rb, "content"), ptr, &media);
        if (!media)
            return 0; /* no JSON media type: the tool has no body */
        desc = json_string_value(json_object_get(rb, "description"));
        t->body_required = json_is_true(json_object_get(rb, "required"));
    }
    json_t *schema = raw ? mb_oa_schema_resolve(s, raw, ptr, MB_OA_INPUT) : json_object();
    if (!schema)
        return -1;
    if (desc && json_is_object(schema) && !json_object_get(schema, "description"))
        json_object_set_new(schema, "description", json_string(desc));
    t->has_body = true;
    t->body_content_type = strdup(media);
    t->body_arg_name = strdup("body");
    *body_schema = schema;
    return (t->body_content_type && t->body_arg_name) ? 0 : -1;
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
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (!type || strcmp(type, "object") != 0) {
        json_decref(schema);
        return NULL;
    }
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

static int build_tool(struct mb_oa_spec *s, struct op_candidate *c, struct mb_tool *t)
{
    int rc = -1;
    int errors_before = s->errors;
    struct param_src *srcs = NULL;
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
    const json_t *v2_body = NULL;
    char v2_body_ptr[MB_OA_PTR_MAX] = "";
    if (!srcs)
        goto done;
    size_t n = collect_params(s, lists, ptrs, srcs, cap, &v2_body, v2_body_ptr);

    if (build_body(s, t, c, v2_body, v2_body_ptr, &body_schema) != 0)
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
            if (!mb_oa_routes_keep(r, method, path, json_object_get(op, "tags")))
                continue;
            char name[MB_OA_NAME_MAX + 1];
            const char *opid = json_string_value(json_object_get(op, "operationId"));
            if (opid && *opid)
                mb_oa_name_sanitize(opid, name);
            else
                mb_oa_name_from_path(key, path, name);
            if (!name[0] || mb_oa_routes_name_excluded(r, name))
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct op_candidate *p = realloc(cands, ncap * sizeof *p);
                if (!p)
                    goto fail;
                cands = p;
                cap = ncap;
            }
            struct op_candidate *c = &cands[n];
            memset(c, 0, sizeof *c);
            c->path = path;
            memcpy(c->method, method, sizeof method);
            c->item = item;
            c->op = op;
            snprintf(c->item_ptr, sizeof c->item_ptr, "%s", item_ptr);
            snprintf(c->op_ptr, sizeof c->op_ptr, "%s", item_ptr);
            mb_oa_ptr_push(c->op_ptr, sizeof c->op_ptr, key);
            c->name = malloc(MB_OA_NAME_MAX + 1);
            if (!c->name)
                goto fail;
            memcpy(c->name, name, sizeof name);
            n++;
        }
    }
    *out = cands;
    *count = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        free(cands[i].name);
    free(cands);
    return -ENOMEM;
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
    mb_oa_names_unique(names, methods, paths, n);
    for (size_t i = 0; i < n; i++) {
        if (mb_oa_routes_name_excluded(r, cands[i].name))
            continue;
        struct mb_tool *t = &cat->tools[cat->tool_count];
        int brc = build_tool(s, &cands[i], t);
        if (brc != 0) {
            mb_oa_tool_dispose(t);
            if (s->errors == 0) /* out of memory */
                goto done;
            continue;
        }
        cat->tool_count++;
    }
    rc = s->errors ? -1 : 0;
done:
    for (size_t i = 0; i < n; i++)
        free(cands[i].name);
    free(cands);
    free(names);
    free(methods);
    free(paths);
    return rc;
}
