/* Request building: turns validated tool arguments into the downstream HTTP request. Path
 * parameters are expanded into the template and percent-encoded (RFC 3986 unreserved kept);
 * query parameters follow their OpenAPI style (form with explode by default, spaceDelimited,
 * pipeDelimited, deepObject); header parameters become "Name: value" lines (CR/LF refused);
 * cookie parameters share one "Cookie:" line; a JSON body is serialized compactly. Every
 * buffer is capped. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "openapi/catalog_internal.h"

#define R_URL_MAX     (64u * 1024)
#define R_HEADER_MAX  (8u * 1024)
#define R_BODY_MAX    (16u * 1024 * 1024)
#define R_MAX_HEADERS 64
#define R_MAX_DEPTH   8

static const char *const ACCEPT = "Accept: application/json, */*;q=0.5";

static int say(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int say(char *msg, size_t msglen, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int pct_encode(struct mb_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (unreserved(c)) {
            rc = mb_buf_append(b, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = mb_buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Text of a scalar: strings as is, booleans "true"/"false", numbers as the shortest text that
 * reads back to the same double, null "". Arrays/objects as compact JSON. Heap string. */
static char *scalar_text(const json_t *v)
{
    char tmp[64];
    if (json_is_string(v))
        return strndup(json_string_value(v), json_string_length(v));
    if (json_is_true(v))
        return strdup("true");
    if (json_is_false(v))
        return strdup("false");
    if (json_is_null(v))
        return strdup("");
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(tmp);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        return strdup(tmp);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int append_encoded_value(struct mb_buf *b, const json_t *v)
{
    char *t = scalar_text(v);
    if (!t)
        return -ENOMEM;
    int rc = pct_encode(b, t, json_is_string(v) ? json_string_length(v) : strlen(t));
    free(t);
    return rc;
}

static int append_raw_value(struct mb_buf *b, const json_t *v)
{
    char *t = scalar_text(v);
    if (!t)
        return -ENOMEM;
    int rc = mb_buf_append(b, t, json_is_string(v) ? json_string_length(v) : strlen(t));
    free(t);
    return rc;
}

static const struct mb_oa_param_style *style_for(const struct mb_tool *tool, size_t i, struct mb_oa_param_style *def)
{
    const struct mb_oa_tool_priv *priv = tool->priv;
    if (priv && priv->styles)
        return &priv->styles[i];
    enum mb_param_location loc = tool->params[i].location;
    def->style = (loc == MB_PARAM_QUERY || loc == MB_PARAM_COOKIE) ? MB_OA_STYLE_FORM : MB_OA_STYLE_SIMPLE;
    def->explode = def->style == MB_OA_STYLE_FORM;
    return def;
}

/* Simple style (path and header): arrays "a,b", objects "k,v,k,v" (explode: "k=v,k=v");
 * encode chooses percent-encoding of each value. Label/matrix prefixes for path params. */
static int append_simple(struct mb_buf *b, const json_t *v, const struct mb_oa_param_style *st,
                         const char *name, bool encode)
{
    int rc = 0;
    char sep = ',';
    if (st->style == MB_OA_STYLE_LABEL) {
        rc = mb_buf_append(b, ".", 1);
        sep = st->explode ? '.' : ',';
    } else if (st->style == MB_OA_STYLE_MATRIX) {
        if ((rc = mb_buf_printf(b, ";%s=", name)) != 0)
            return rc;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (i && (rc = mb_buf_append(b, &sep, 1)) != 0)
                return rc;
            rc = encode ? append_encoded_value(b, e) : append_raw_value(b, e);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        bool first = true;
        json_object_foreach((json_t *)v, k, e) {
            if (!first && (rc = mb_buf_append(b, &sep, 1)) != 0)
                return rc;
            first = false;
            rc = encode ? pct_encode(b, k, strlen(k)) : mb_buf_append_str(b, k);
            if (!rc)
                rc = mb_buf_append(b, st->explode ? "=" : ",", 1);
            if (!rc)
                rc = encode ? append_encoded_value(b, e) : append_raw_value(b, e);
            if (rc)
                return rc;
        }
        return 0;
    }
    return rc ? rc : encode ? append_encoded_value(b, v) : append_raw_value(b, v);
}

/* Appends "&key=value"; key_encoded says key is already percent-encoded (deepObject). */
static int query_pair_k(struct mb_buf *q, const char *key, size_t keylen, const json_t *v, bool key_encoded)
{
    int rc = mb_buf_append(q, q->len ? "&" : "", q->len ? 1 : 0);
    if (!rc)
        rc = key_encoded ? mb_buf_append(q, key, keylen) : pct_encode(q, key, keylen);
    if (!rc)
        rc = mb_buf_append(q, "=", 1);
    if (!rc)
        rc = append_encoded_value(q, v);
    return rc;
}

static int query_pair(struct mb_buf *q, const char *key, size_t keylen, const json_t *v)
{
    return query_pair_k(q, key, keylen, v, false);
}

/* deepObject: key[a]=1&key[a][b]=2&key[list]=x&key[list]=y (repeated keys for arrays). */
static int append_deep(struct mb_buf *q, struct mb_buf *key, const json_t *v, int depth)
{
    if (depth > R_MAX_DEPTH)
        return -E2BIG;
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            size_t saved = key->len;
            int rc = mb_buf_append(key, "[", 1);
            if (!rc)
                rc = pct_encode(key, k, strlen(k));
            if (!rc)
                rc = mb_buf_append(key, "]", 1);
            if (!rc)
                rc = append_deep(q, key, e, depth + 1);
            key->len = saved;
            key->data[saved] = '\0';
            if (rc)
                return rc;
        }
        return 0;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            int rc = json_is_object(e) || json_is_array(e) ? query_pair_k(q, key->data, key->len, e, true)
                                                            : append_deep(q, key, e, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    return query_pair_k(q, key->data, key->len, v, true);
}

static int append_query(struct mb_buf *q, const char *name, const json_t *v, const struct mb_oa_param_style *st)
{
    int rc = 0;
    size_t nlen = strlen(name);
    if (st->style == MB_OA_STYLE_DEEP && json_is_object(v)) {
        struct mb_buf key;
        mb_buf_init(&key, 4096);
        rc = pct_encode(&key, name, nlen);
        if (!rc)
            rc = append_deep(q, &key, v, 0);
        mb_buf_dispose(&key);
        return rc;
    }
    if (json_is_array(v)) {
        if (json_array_size(v) == 0)
            return 0;
        if (st->explode && st->style != MB_OA_STYLE_SPACE && st->style != MB_OA_STYLE_PIPE) {
            size_t i;
            const json_t *e;
            json_array_foreach(v, i, e) {
                if ((rc = query_pair(q, name, nlen, e)) != 0)
                    return rc;
            }
            return 0;
        }
        const char *sep = st->style == MB_OA_STYLE_SPACE ? "%20" : st->style == MB_OA_STYLE_PIPE ? "%7C" : ",";
        rc = mb_buf_append(q, q->len ? "&" : "", q->len ? 1 : 0);
        if (!rc)
            rc = pct_encode(q, name, nlen);
        if (!rc)
            rc = mb_buf_append(q, "=", 1);
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (!rc && i)
                rc = mb_buf_append_str(q, sep);
            if (!rc)
                rc = append_encoded_value(q, e);
        }
        return rc;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        if (st->explode) { /* form, explode: each property is its own pair */
            json_object_foreach((json_t *)v, k, e) {
                if ((rc = query_pair(q, k, strlen(k), e)) != 0)
                    return rc;
            }
            return 0;
        }
        rc = mb_buf_append(q, q->len ? "&" : "", q->len ? 1 : 0);
        if (!rc)
            rc = pct_encode(q, name, nlen);
        if (!rc)
            rc = mb_buf_append(q, "=", 1);
        bool first = true;
        json_object_foreach((json_t *)v, k, e) {
            if (!rc && !first)
                rc = mb_buf_append(q, ",", 1);
            first = false;
            if (!rc)
                rc = pct_encode(q, k, strlen(k));
            if (!rc)
                rc = mb_buf_append(q, ",", 1);
            if (!rc)
                rc = append_encoded_value(q, e);
        }
        return rc;
    }
    return query_pair(q, name, nlen, v);
}

static bool header_name_ok(const char *n)
{
    if (!*n)
        return false;
    for (; *n; n++) {
        unsigned char c = (unsigned char)*n;
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
            return false;
    }
    return true;
}

static bool has_ctl(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return true;
    return false;
}

/* Cookie values: bytes outside RFC 6265 cookie-octet are percent-encoded. */
static int cookie_encode(struct mb_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
                  (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
        int rc = ok && c != '%' ? mb_buf_append(b, &s[i], 1)
                                : mb_buf_append(b, (char[3]){'%', hex[c >> 4], hex[c & 15]}, 3);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_header(struct mb_built_request *out, char *line)
{
    if (!line)
        return -ENOMEM;
    if (out->header_count >= R_MAX_HEADERS) {
        free(line);
        return -E2BIG;
    }
    out->headers[out->header_count++] = line;
    return 0;
}

/* Expands the path template into url. */
static int expand_path(const struct mb_tool *tool, const json_t *args, struct mb_buf *url, char *msg, size_t msglen)
{
    const char *p = tool->path_template;
    while (*p) {
        const char *open = strchr(p, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            if (mb_buf_append_str(url, p))
                return say(msg, msglen, "request URL too long");
            break;
        }
        if (mb_buf_append(url, p, (size_t)(open - p)))
            return say(msg, msglen, "request URL too long");
        size_t nlen = (size_t)(close - open - 1);
        size_t i;
        for (i = 0; i < tool->param_count; i++) {
            const struct mb_tool_param *tp = &tool->params[i];
            if (tp->location == MB_PARAM_PATH && strlen(tp->name) == nlen && memcmp(tp->name, open + 1, nlen) == 0)
                break;
        }
        if (i == tool->param_count)
            return say(msg, msglen, "path parameter '%.*s' is not declared in the API description",
                       (int)(nlen > 100 ? 100 : nlen), open + 1);
        const struct mb_tool_param *tp = &tool->params[i];
        const json_t *v = json_object_get(args, tp->arg_name);
        if (!v || json_is_null(v))
            return say(msg, msglen, "argument '%s': required path parameter missing", tp->arg_name);
        struct mb_oa_param_style def;
        const struct mb_oa_param_style *st = style_for(tool, i, &def);
        if (append_simple(url, v, st, tp->name, true))
            return say(msg, msglen, "request URL too long");
        p = close + 1;
    }
    return 0;
}

int mb_tool_build_request(const struct mb_tool *tool, const char *base_url, const json_t *args,
                          struct mb_built_request *out, char *msg, size_t msglen)
{
    int rc = -1;
    struct mb_buf url, query, cookie, line;
    mb_buf_init(&url, R_URL_MAX);
    mb_buf_init(&query, R_URL_MAX);
    mb_buf_init(&cookie, R_HEADER_MAX);
    mb_buf_init(&line, R_HEADER_MAX);
    memset(out, 0, sizeof *out);
    json_t *empty = NULL;
    if (!args)
        args = empty = json_object();
    if (!json_is_object(args)) {
        say(msg, msglen, "arguments must be an object");
        goto done;
    }
    out->headers = calloc(R_MAX_HEADERS, sizeof *out->headers);
    out->method = strdup(tool->method);
    if (!out->headers || !out->method) {
        say(msg, msglen, "out of memory");
        goto done;
    }
    if (mb_buf_append_str(&url, base_url ? base_url : "")) {
        say(msg, msglen, "request URL too long");
        goto done;
    }
    if (expand_path(tool, args, &url, msg, msglen) != 0)
        goto done;

    for (size_t i = 0; i < tool->param_count; i++) {
        const struct mb_tool_param *tp = &tool->params[i];
        const json_t *v = json_object_get(args, tp->arg_name);
        struct mb_oa_param_style def;
        const struct mb_oa_param_style *st = style_for(tool, i, &def);
        if (!v || json_is_null(v)) {
            if (tp->required && tp->location != MB_PARAM_PATH) {
                say(msg, msglen, "argument '%s': required %s parameter missing", tp->arg_name,
                    tp->location == MB_PARAM_QUERY ? "query" : tp->location == MB_PARAM_HEADER ? "header" : "cookie");
                goto done;
            }
            continue;
        }
        if (tp->location == MB_PARAM_QUERY) {
            if (append_query(&query, tp->name, v, st)) {
                say(msg, msglen, "request URL too long");
                goto done;
            }
        } else if (tp->location == MB_PARAM_HEADER) {
            if (!header_name_ok(tp->name)) {
                say(msg, msglen, "argument '%s': '%.64s' is not a valid header name", tp->arg_name, tp->name);
                goto done;
            }
            mb_buf_reset(&line);
            if (mb_buf_printf(&line, "%s: ", tp->name) || append_simple(&line, v, st, tp->name, false)) {
                say(msg, msglen, "argument '%s': header value too long", tp->arg_name);
                goto done;
            }
            if (has_ctl(line.data, line.len)) {
                say(msg, msglen, "argument '%s': header value must not contain CR, LF or NUL", tp->arg_name);
                goto done;
            }
            if (add_header(out, strdup(line.data))) {
                say(msg, msglen, "too many headers");
                goto done;
            }
        } else if (tp->location == MB_PARAM_COOKIE) {
            char *t = scalar_text(v);
            int crc = t ? 0 : -ENOMEM;
            if (!crc && has_ctl(t, json_is_string(v) ? json_string_length(v) : strlen(t)))
                crc = -EINVAL;
            if (!crc)
                crc = mb_buf_printf(&cookie, "%s%s=", cookie.len ? "; " : "", tp->name);
            if (!crc)
                crc = cookie_encode(&cookie, t, json_is_string(v) ? json_string_length(v) : strlen(t));
            free(t);
            if (crc) {
                say(msg, msglen, crc == -EINVAL ? "argument '%s': cookie value must not contain CR, LF or NUL"
                                                : "argument '%s': cookie too long", tp->arg_name);
                goto done;
            }
        }
    }
    if (query.len && (mb_buf_append(&url, "?", 1) || mb_buf_append(&url, query.data, query.len))) {
        say(msg, msglen, "request URL too long");
        goto done;
    }
    if (cookie.len) {
        mb_buf_reset(&line);
        if (mb_buf_printf(&line, "Cookie: %s", cookie.data) || add_header(out, strdup(line.data))) {
            say(msg, msglen, "cookie header too long");
            goto done;
        }
    }
    const json_t *body = tool->has_body ? json_object_get(args, tool->body_arg_name) : NULL;
    if (tool->has_body && tool->body_required && !body) {
        say(msg, msglen, "argument '%s': required request body missing", tool->body_arg_name);
        goto done;
    }
    if (body) {
        out->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!out->body) {
            say(msg, msglen, "out of memory");
            goto done;
        }
        out->body_len = strlen(out->body);
        if (out->body_len > R_BODY_MAX) {
            say(msg, msglen, "request body too large");
            goto done;
        }
        mb_buf_reset(&line);
        const char *ct = tool->body_content_type ? tool->body_content_type : "application/json";
        if (has_ctl(ct, strlen(ct)) || mb_buf_printf(&line, "Content-Type: %s", ct) ||
            add_header(out, strdup(line.data))) {
            say(msg, msglen, "bad body content type");
            goto done;
        }
    }
    if (add_header(out, strdup(ACCEPT))) {
        say(msg, msglen, "too many headers");
        goto done;
    }
    out->url = mb_buf_steal(&url);
    if (!out->url) {
        say(msg, msglen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        mb_built_request_dispose(out);
    mb_buf_dispose(&url);
    mb_buf_dispose(&query);
    mb_buf_dispose(&cookie);
    mb_buf_dispose(&line);
    json_decref(empty);
    return rc;
}

void mb_built_request_dispose(struct mb_built_request *req)
{
    if (!req)
        return;
    free(req->method);
    free(req->url);
    for (size_t i = 0; i < req->header_count; i++)
        free(req->headers[i]);
    free(req->headers);
    free(req->body);
    memset(req, 0, sizeof *req);
}
