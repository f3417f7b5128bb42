/* Request building: turns validated tool arguments into the downstream HTTP request. Path
 * parameters are expanded into the template (simple, label, matrix) and percent-encoded
 * (RFC 3986 unreserved kept); query parameters follow their OpenAPI style (form with explode
 * by default, spaceDelimited, pipeDelimited, deepObject, allowReserved); parameters declared
 * with JSON "content" are sent as JSON text; header parameters become "Name: value" lines
 * (CR/LF refused); cookie parameters share one "Cookie:" line; the body is encoded by its
 * media type (JSON, urlencoded form, multipart with a random boundary, text, base64-decoded
 * binary). Every buffer is capped. */
#include <errno.h>
#include <math.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
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

/* RFC 3986 reserved characters a value may keep under allowReserved. '#' is still encoded:
 * it would end the URL's query and drop the rest of it. */
static bool reserved_kept(unsigned char c)
{
    return c != '#' && c && strchr(":/?[]@!$&'()*+,;=", c) != NULL;
}

static int pct_encode_x(struct mb_buf *b, const char *s, size_t len, bool keep_reserved)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (unreserved(c) || (keep_reserved && reserved_kept(c))) {
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

static int pct_encode(struct mb_buf *b, const char *s, size_t len)
{
    return pct_encode_x(b, s, len, false);
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

static int append_encoded_value_x(struct mb_buf *b, const json_t *v, bool keep_reserved)
{
    char *t = scalar_text(v);
    if (!t)
        return -ENOMEM;
    int rc = pct_encode_x(b, t, json_is_string(v) ? json_string_length(v) : strlen(t), keep_reserved);
    free(t);
    return rc;
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

/* A parameter declared with "content" (JSON): the value as one string of compact JSON. */
static json_t *json_text(const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *s = t ? json_string(t) : NULL;
    free(t);
    return s;
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
    memset(def, 0, sizeof *def);
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
        /* RFC 6570 {;x} / {;x*}: exploded arrays repeat ";x=", exploded objects become
         * ";k=v" pairs, and an empty string is a bare ";x". */
        if (st->explode && json_is_object(v))
            sep = ';';
        else if ((rc = mb_buf_printf(b, json_is_string(v) && json_string_length(v) == 0 ? ";%s" : ";%s=", name)) != 0)
            return rc;
    }
    bool matrix_explode = st->style == MB_OA_STYLE_MATRIX && st->explode;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (i && matrix_explode)
                rc = mb_buf_printf(b, ";%s=", name);
            else if (i)
                rc = mb_buf_append(b, &sep, 1);
            if (rc)
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
            if ((!first || matrix_explode) && (rc = mb_buf_append(b, &sep, 1)) != 0)
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
static int query_pair_k(struct mb_buf *q, const char *key, size_t keylen, const json_t *v, bool key_encoded,
                        bool keep_reserved)
{
    int rc = mb_buf_append(q, q->len ? "&" : "", q->len ? 1 : 0);
    if (!rc)
        rc = key_encoded ? mb_buf_append(q, key, keylen) : pct_encode(q, key, keylen);
    if (!rc)
        rc = mb_buf_append(q, "=", 1);
    if (!rc)
        rc = append_encoded_value_x(q, v, keep_reserved);
    return rc;
}

static int query_pair(struct mb_buf *q, const char *key, size_t keylen, const json_t *v, bool keep_reserved)
{
    return query_pair_k(q, key, keylen, v, false, keep_reserved);
}

/* deepObject: key[a]=1&key[a][b]=2&key[list]=x&key[list]=y (repeated keys for arrays). */
static int append_deep(struct mb_buf *q, struct mb_buf *key, const json_t *v, int depth, bool kr)
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
                rc = append_deep(q, key, e, depth + 1, kr);
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
            int rc = json_is_object(e) || json_is_array(e) ? query_pair_k(q, key->data, key->len, e, true, kr)
                                                            : append_deep(q, key, e, depth + 1, kr);
            if (rc)
                return rc;
        }
        return 0;
    }
    return query_pair_k(q, key->data, key->len, v, true, kr);
}

static int append_query(struct mb_buf *q, const char *name, const json_t *v, const struct mb_oa_param_style *st)
{
    int rc = 0;
    size_t nlen = strlen(name);
    bool kr = st->allow_reserved;
    if (st->style == MB_OA_STYLE_DEEP && json_is_object(v)) {
        struct mb_buf key;
        mb_buf_init(&key, 4096);
        rc = pct_encode(&key, name, nlen);
        if (!rc)
            rc = append_deep(q, &key, v, 0, kr);
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
                if ((rc = query_pair(q, name, nlen, e, kr)) != 0)
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
                rc = append_encoded_value_x(q, e, kr);
        }
        return rc;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        if (st->explode) { /* form, explode: each property is its own pair */
            json_object_foreach((json_t *)v, k, e) {
                if ((rc = query_pair(q, k, strlen(k), e, kr)) != 0)
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
                rc = append_encoded_value_x(q, e, kr);
        }
        return rc;
    }
    return query_pair(q, name, nlen, v, kr);
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

static int cookie_item(struct mb_buf *b, const json_t *v)
{
    char *t = scalar_text(v);
    if (!t)
        return -ENOMEM;
    size_t len = json_is_string(v) ? json_string_length(v) : strlen(t);
    int rc = has_ctl(t, len) ? -EINVAL : cookie_encode(b, t, len);
    free(t);
    return rc;
}

static int cookie_value(struct mb_buf *b, const json_t *v)
{
    int rc = 0;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if ((i && (rc = mb_buf_append(b, ",", 1)) != 0) || (rc = cookie_item(b, e)) != 0)
                return rc;
        }
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        bool first = true;
        json_object_foreach((json_t *)v, k, e) {
            if (!first && (rc = mb_buf_append(b, ",", 1)) != 0)
                return rc;
            first = false;
            json_t *key = json_string(k);
            rc = key ? cookie_item(b, key) : -ENOMEM;
            json_decref(key);
            if (rc || (rc = mb_buf_append(b, ",", 1)) != 0 || (rc = cookie_item(b, e)) != 0)
                return rc;
        }
        return 0;
    }
    return cookie_item(b, v);
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

/* ---- request bodies ---- */

/* Decodes standard or URL-safe base64 (padding optional, white space skipped) into b.
 * Returns 0, -EINVAL on a bad character or length, or a buffer error. */
static int base64_decode(struct mb_buf *b, const char *s, size_t len)
{
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else if (c == '=') {
            pad++;
            continue;
        } else if (c == ' ' || c == '\r' || c == '\n' || c == '\t')
            continue;
        else
            return -EINVAL;
        if (pad)
            return -EINVAL; /* data after padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char byte = (char)((acc >> bits) & 0xFF);
            int rc = mb_buf_append(b, &byte, 1);
            if (rc)
                return rc;
        }
    }
    if (bits >= 6 || pad > 2 || (acc & ((1u << bits) - 1)) != 0)
        return -EINVAL;
    return 0;
}

/* The schema of the body's property k, read from the tool's inputSchema. */
static const json_t *body_prop_schema(const struct mb_tool *tool, const char *k)
{
    const json_t *body = json_object_get(json_object_get(tool->input_schema, "properties"), tool->body_arg_name);
    return json_object_get(json_object_get(body, "properties"), k);
}

static bool is_base64_schema(const json_t *sc)
{
    const char *enc = json_string_value(json_object_get(sc, "contentEncoding"));
    return enc && strcasecmp(enc, "base64") == 0;
}

/* A multipart boundary: "mcpbridge-" and 24 random hex digits. */
static void make_boundary(char *out, size_t outsize)
{
    unsigned char rnd[12];
    static unsigned long counter;
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        unsigned long x = (unsigned long)time(NULL) ^ (unsigned long)getpid() ^ (++counter * 2654435761u);
        for (size_t i = 0; i < sizeof rnd; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            rnd[i] = (unsigned char)(x >> 56);
    }
    size_t o = (size_t)snprintf(out, outsize, "mcpbridge-");
    for (size_t i = 0; i < sizeof rnd && o + 2 < outsize; i++)
        o += (size_t)snprintf(out + o, outsize - o, "%02x", rnd[i]);
}

/* A part's field name or file name inside quotes: '"', CR and LF percent-encoded (the HTML
 * form encoding rule). */
static int append_quoted_name(struct mb_buf *b, const char *s)
{
    for (; *s; s++) {
        int rc = *s == '"' ? mb_buf_append(b, "%22", 3) : *s == '\r' ? mb_buf_append(b, "%0D", 3)
               : *s == '\n' ? mb_buf_append(b, "%0A", 3) : mb_buf_append(b, s, 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* One part: text for scalars, JSON for objects/arrays, decoded bytes when the schema says
 * base64 (sent as a file named after the field). *clash is set when the content contains
 * the boundary. */
static int append_part(struct mb_buf *b, const char *boundary, const char *name, const json_t *v,
                       const json_t *sc, bool *clash, char *msg, size_t msglen)
{
    struct mb_buf content;
    mb_buf_init(&content, R_BODY_MAX);
    const char *ctype = NULL;
    int rc = 0;
    bool file = false;
    if (json_is_string(v) && is_base64_schema(sc)) {
        rc = base64_decode(&content, json_string_value(v), json_string_length(v));
        if (rc == -EINVAL) {
            mb_buf_dispose(&content);
            return say(msg, msglen, "argument 'body.%s': not valid base64", name);
        }
        file = true;
        ctype = json_string_value(json_object_get(sc, "contentMediaType"));
        if (!ctype)
            ctype = "application/octet-stream";
    } else if (json_is_object(v) || json_is_array(v)) {
        char *j = json_dumps(v, JSON_COMPACT);
        rc = j ? mb_buf_append_str(&content, j) : -ENOMEM;
        free(j);
        ctype = "application/json";
    } else {
        rc = append_raw_value(&content, v);
    }
    if (!rc && content.len >= strlen(boundary) && memmem(content.data, content.len, boundary, strlen(boundary)))
        *clash = true;
    if (!rc)
        rc = mb_buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"", boundary);
    if (!rc)
        rc = append_quoted_name(b, name);
    if (!rc && file) {
        rc = mb_buf_append_str(b, "\"; filename=\"");
        if (!rc)
            rc = append_quoted_name(b, name);
    }
    if (!rc)
        rc = mb_buf_append_str(b, "\"\r\n");
    if (!rc && ctype && !has_ctl(ctype, strlen(ctype)))
        rc = mb_buf_printf(b, "Content-Type: %s\r\n", ctype);
    if (!rc)
        rc = mb_buf_append(b, "\r\n", 2);
    if (!rc && content.len)
        rc = mb_buf_append(b, content.data, content.len);
    if (!rc)
        rc = mb_buf_append(b, "\r\n", 2);
    mb_buf_dispose(&content);
    return rc ? say(msg, msglen, "request body too large") : 0;
}

static int encode_multipart(const struct mb_tool *tool, const json_t *body, struct mb_buf *b, char *boundary,
                            size_t bsize, char *msg, size_t msglen)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        bool clash = false;
        make_boundary(boundary, bsize);
        mb_buf_reset(b);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)body, k, v) {
            const json_t *sc = body_prop_schema(tool, k);
            if (json_is_null(v))
                continue;
            if (json_is_array(v) && (is_base64_schema(json_object_get(sc, "items")) ||
                                     !json_is_object(json_array_get(v, 0)))) {
                size_t i;
                const json_t *e;
                json_array_foreach(v, i, e) { /* repeated parts: files[] and lists of values */
                    if (append_part(b, boundary, k, e, json_object_get(sc, "items"), &clash, msg, msglen))
                        return -1;
                }
                continue;
            }
            if (append_part(b, boundary, k, v, sc, &clash, msg, msglen))
                return -1;
        }
        if (mb_buf_printf(b, "--%s--\r\n", boundary))
            return say(msg, msglen, "request body too large");
        if (!clash)
            return 0;
    }
    return say(msg, msglen, "could not choose a multipart boundary");
}

/* Encodes the body argument by the tool's media type into out->body and adds Content-Type. */
static int encode_body(const struct mb_tool *tool, const json_t *body, struct mb_built_request *out, char *msg,
                       size_t msglen)
{
    int rc = -1;
    const char *ct = tool->body_content_type ? tool->body_content_type : "application/json";
    enum mb_oa_body_kind kind = mb_oa_body_kind(ct);
    struct mb_buf b, line;
    mb_buf_init(&b, R_BODY_MAX);
    mb_buf_init(&line, R_HEADER_MAX);
    char boundary[64] = "";
    if (has_ctl(ct, strlen(ct))) {
        say(msg, msglen, "bad body content type");
        goto done;
    }
    switch (kind) {
    case MB_OA_BODY_FORM:
    case MB_OA_BODY_MULTIPART:
        if (!json_is_object(body)) {
            say(msg, msglen, "argument '%s': expected an object (form fields)", tool->body_arg_name);
            goto done;
        }
        if (kind == MB_OA_BODY_MULTIPART) {
            if (encode_multipart(tool, body, &b, boundary, sizeof boundary, msg, msglen))
                goto done;
            break;
        }
        {
            struct mb_oa_param_style form = {MB_OA_STYLE_FORM, true, false, false};
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)body, k, v) {
                if (!json_is_null(v) && append_query(&b, k, v, &form)) {
                    say(msg, msglen, "request body too large");
                    goto done;
                }
            }
        }
        break;
    case MB_OA_BODY_TEXT:
        if (json_is_string(body) ? mb_buf_append(&b, json_string_value(body), json_string_length(body))
                                 : append_raw_value(&b, body)) {
            say(msg, msglen, "request body too large");
            goto done;
        }
        break;
    case MB_OA_BODY_BINARY: {
        if (!json_is_string(body)) {
            say(msg, msglen, "argument '%s': expected a base64 string", tool->body_arg_name);
            goto done;
        }
        int drc = base64_decode(&b, json_string_value(body), json_string_length(body));
        if (drc) {
            say(msg, msglen, drc == -EINVAL ? "argument '%s': not valid base64" : "request body too large",
                tool->body_arg_name);
            goto done;
        }
        break;
    }
    case MB_OA_BODY_JSON:
    default: {
        char *j = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        int jrc = j ? mb_buf_append_str(&b, j) : -ENOMEM;
        free(j);
        if (jrc) {
            say(msg, msglen, jrc == -ENOMEM ? "out of memory" : "request body too large");
            goto done;
        }
        break;
    }
    }
    if (boundary[0] ? mb_buf_printf(&line, "Content-Type: multipart/form-data; boundary=%s", boundary)
                    : mb_buf_printf(&line, "Content-Type: %s", ct)) {
        say(msg, msglen, "bad body content type");
        goto done;
    }
    if (add_header(out, strdup(line.data))) {
        say(msg, msglen, "too many headers");
        goto done;
    }
    out->body_len = b.len;
    out->body = mb_buf_steal(&b);
    if (!out->body) {
        say(msg, msglen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    mb_buf_dispose(&b);
    mb_buf_dispose(&line);
    return rc;
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
        json_t *jv = st->json_content ? json_text(v) : NULL;
        int arc = append_simple(url, jv ? jv : v, st, tp->name, true);
        json_decref(jv);
        if (arc)
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
    json_t *empty = NULL, *jv = NULL;
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
    if (tool->base_url)
        base_url = tool->base_url; /* the operation's own servers */
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
        json_decref(jv);
        jv = NULL;
        if (v && !json_is_null(v) && st->json_content) {
            if (!(jv = json_text(v))) {
                say(msg, msglen, "out of memory");
                goto done;
            }
            v = jv;
        }
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
            /* form style without explode: arrays "a,b", objects "k,v,k,v"; the commas are
             * delimiters, each item is encoded on its own */
            int crc = mb_buf_printf(&cookie, "%s%s=", cookie.len ? "; " : "", tp->name);
            if (!crc)
                crc = cookie_value(&cookie, v);
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
    if (body && encode_body(tool, body, out, msg, msglen) != 0)
        goto done;
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
    json_decref(jv);
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
