/* Spec loading for the OpenAPI converter: version detection, RFC 6901 pointers, $ref
 * resolution (local, and into other files of the spec's directory tree, each loaded once per
 * build and bounded in number) and the rewriting of OpenAPI schema objects into self-contained
 * JSON Schemas (refs inlined with cycles and depth cut, nullable -> "null" type, 3.0 boolean
 * exclusive bounds -> numbers, readOnly/writeOnly properties dropped, patterns made valid in
 * Unicode mode), and the base URL from servers[]. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/percent.h"
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
    s->cache = NULL;
    s->base_overridden = false;
    s->spec_real[0] = '\0';
    s->root_dir[0] = '\0';
    s->ext = NULL;
    s->ext_count = 0;
    s->ext_closed = false;
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

/* Splits a location into its document (NULL when unknown or closed), file name and pointer. */
static const struct mb_doc *loc_split(const struct mb_oa_spec *s, const char *loc, const char **file,
                                      const char **pointer)
{
    *file = s->file;
    *pointer = loc;
    if (loc[0] != '@')
        return s->doc;
    char *end;
    unsigned long n = strtoul(loc + 1, &end, 10);
    *pointer = *end == ':' ? end + 1 : "";
    if (n == 0 || n > s->ext_count)
        return NULL;
    *file = s->ext[n - 1].path;
    return s->ext[n - 1].doc;
}

int mb_oa_line(const struct mb_oa_spec *s, const char *ptr)
{
    const char *file, *pointer;
    const struct mb_doc *doc = loc_split(s, ptr, &file, &pointer);
    return doc ? mb_doc_line(doc, pointer) : 0;
}

void mb_oa_error(struct mb_oa_spec *s, const char *ptr, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *file, *pointer;
    loc_split(s, ptr, &file, &pointer);
    mb_diags_add(s->diags, file, mb_oa_line(s, ptr), "%s", msg);
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

/* Percent-decodes n bytes of src into out (outsize bytes). Returns 0 or -1 (too long, NUL). */
static int pct_decode(const char *src, size_t n, char *out, size_t outsize)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%' && i + 2 < n && mb_hexval(src[i + 1]) >= 0 && mb_hexval(src[i + 2]) >= 0) {
            c = mb_hexval(src[i + 1]) * 16 + mb_hexval(src[i + 2]);
            i += 2;
        }
        if (o + 1 >= outsize || c == 0)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* Walks an RFC 6901 pointer from root. Returns the borrowed node or NULL. */
static const json_t *pointer_walk(const json_t *root, const char *ptr)
{
    if (ptr[0] && ptr[0] != '/')
        return NULL;
    const json_t *cur = root;
    const char *p = ptr;
    char tok[MB_OA_PTR_MAX];
    while (*p && cur) {
        p++; /* skip '/' */
        size_t t = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            tok[t++] = c; /* t < strlen(ptr) < MB_OA_PTR_MAX */
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

/* Lexically normalizes the absolute path in buf in place ("." and ".." segments, repeated
 * '/'). Returns 0 or -1 when ".." would climb above "/". */
static int path_normalize(char *buf)
{
    char *seg[256];
    size_t n = 0;
    char *p = buf + 1;
    while (*p) {
        char *e = strchr(p, '/');
        if (e)
            *e = '\0';
        if (strcmp(p, "..") == 0) {
            if (n == 0)
                return -1;
            n--;
        } else if (*p && strcmp(p, ".") != 0) {
            if (n == sizeof seg / sizeof seg[0])
                return -1;
            seg[n++] = p;
        }
        if (!e)
            break;
        p = e + 1;
    }
    char out[PATH_MAX];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(seg[i]);
        if (o + l + 2 > sizeof out)
            return -1;
        out[o++] = '/';
        memcpy(out + o, seg[i], l);
        o += l;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    memcpy(buf, out, o + 1);
    return 0;
}

static bool path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool has_scheme(const char *ref)
{
    size_t n = strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return n > 0 && ref[n] == ':';
}

/* The index (0 = the spec, k = ext[k - 1]) of the file a $ref names relative to the document
 * of index base, loading it on first use. Returns the index, or -1 with a reason in why (empty
 * when nothing should be reported: the files are closed). */
static long ref_file(struct mb_oa_spec *s, long base, const char *rel, char *why, size_t whysize)
{
    char real[PATH_MAX], joined[PATH_MAX + MB_OA_PTR_MAX];
    why[0] = '\0';
    if (!s->root_dir[0]) {
        if (s->file && realpath(s->file, s->spec_real)) {
            /* the tree is the directory of the spec's canonical path */
            snprintf(s->root_dir, sizeof s->root_dir, "%s", s->spec_real);
            char *slash = strrchr(s->root_dir, '/');
            slash[slash == s->root_dir ? 1 : 0] = '\0';
        } else {
            s->spec_real[0] = '\0'; /* realpath may leave a partial path behind */
        }
    }
    if (!s->spec_real[0]) {
        snprintf(why, whysize, "a spec given in memory cannot refer to other files");
        return -1;
    }
    if (rel[0] == '/' || has_scheme(rel) || rel[0] == '\\') {
        snprintf(why, whysize, "refused: a $ref to another file must be a relative path inside the spec's directory "
                               "(%.300s); absolute paths and URLs are not followed", s->root_dir);
        return -1;
    }
    if (base < 0 || base > (long)s->ext_count)
        return -1;
    /* relative to the directory of the referring file */
    const char *base_path = base == 0 ? s->spec_real : s->ext[base - 1].path;
    const char *slash = strrchr(base_path, '/'); /* canonical paths: there is one */
    size_t dirlen = slash ? (size_t)(slash - base_path) : 0;
    if ((size_t)snprintf(joined, sizeof joined, "%.*s/%s", (int)dirlen, base_path, rel) >= PATH_MAX ||
        path_normalize(joined) != 0 || !path_inside(joined, s->root_dir)) {
        snprintf(why, whysize, "refused: a $ref to another file must stay inside the spec's directory (%.300s); "
                               "'..' may not lead out of it", s->root_dir);
        return -1;
    }
    if (!realpath(joined, real)) {
        snprintf(why, whysize, "cannot open '%.300s': %s", joined, strerror(errno));
        return -1;
    }
    if (!path_inside(real, s->root_dir)) {
        snprintf(why, whysize, "refused: '%.300s' leads out of the spec's directory (%.300s) through a symbolic link",
                 joined, s->root_dir);
        return -1;
    }
    if (strcmp(real, s->spec_real) == 0)
        return 0;
    for (size_t i = 0; i < s->ext_count; i++) {
        if (strcmp(s->ext[i].path, real) == 0) {
            if (!s->ext[i].doc)
                snprintf(why, whysize, "'%.300s' could not be loaded", real);
            return s->ext[i].doc ? (long)i + 1 : -1;
        }
    }
    if (s->ext_closed)
        return -1;
    if (s->ext_count >= MB_OA_MAX_REF_FILES) {
        snprintf(why, whysize, "too many files reached through $ref (at most %d)", MB_OA_MAX_REF_FILES);
        return -1;
    }
    if (!s->ext && !(s->ext = calloc(MB_OA_MAX_REF_FILES, sizeof *s->ext))) {
        snprintf(why, whysize, "out of memory");
        return -1;
    }
    struct mb_oa_extdoc *e = &s->ext[s->ext_count];
    if (!(e->path = strdup(real))) {
        snprintf(why, whysize, "out of memory");
        return -1;
    }
    e->doc = mb_doc_load_file(real, MB_OA_MAX_SPEC_BYTES, s->diags);
    s->ext_count++;
    if (!e->doc) {
        snprintf(why, whysize, "'%.300s' could not be loaded", real);
        return -1;
    }
    return (long)s->ext_count;
}

/* Resolves a $ref found at location base ("#/a/b", "other.yaml#/a/b", "pet.json"): finds the
 * file (see ref_file), percent-decodes the fragment and walks the document. Writes the
 * target's location into loc (locsize bytes). Returns the borrowed node, or NULL with a
 * reason in why (empty: say "unresolvable", or nothing when the files are closed). */
static const json_t *ref_lookup(struct mb_oa_spec *s, const char *ref, const char *base, char *loc, size_t locsize,
                                char *why, size_t whysize)
{
    why[0] = '\0';
    long idx = 0;
    if (base[0] == '@')
        idx = strtol(base + 1, NULL, 10);
    const char *hash = strchr(ref, '#');
    size_t flen = hash ? (size_t)(hash - ref) : strlen(ref);
    if (flen > 0) {
        char rel[PATH_MAX];
        if (pct_decode(ref, flen, rel, sizeof rel) != 0) {
            snprintf(why, whysize, "bad file name in $ref");
            return NULL;
        }
        idx = ref_file(s, idx, rel, why, whysize);
        if (idx < 0)
            return NULL;
    }
    const char *frag = hash ? hash + 1 : "";
    char prefix[32] = "";
    if (idx > 0)
        snprintf(prefix, sizeof prefix, "@%ld:", idx);
    size_t pl = strlen(prefix);
    if (pl >= locsize || pct_decode(frag, strlen(frag), loc + pl, locsize - pl) != 0)
        return NULL;
    memcpy(loc, prefix, pl);
    const json_t *root = idx == 0 ? s->root : idx <= (long)s->ext_count && s->ext[idx - 1].doc
                                                  ? mb_doc_root(s->ext[idx - 1].doc) : NULL;
    return root ? pointer_walk(root, loc + pl) : NULL;
}

const json_t *mb_oa_deref(struct mb_oa_spec *s, const json_t *node, char *ptr, size_t ptrsize)
{
    for (int hops = 0; hops <= MB_OA_MAX_REF_HOPS; hops++) {
        const char *ref = json_string_value(json_object_get(node, "$ref"));
        if (!ref)
            return node;
        char at[MB_OA_PTR_MAX], why[768];
        snprintf(at, sizeof at, "%s", ptr);
        mb_oa_ptr_push(at, sizeof at, "$ref");
        char target[MB_OA_PTR_MAX];
        const json_t *next = ref_lookup(s, ref, ptr, target, sizeof target, why, sizeof why);
        if (!next) {
            if (s->ext_closed && ref[0] != '#')
                return NULL; /* after the build (catalog.c's annotate): other files are gone */
            if (why[0])
                mb_oa_error(s, at, "$ref '%.200s': %s", ref, why);
            else
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
    char stack[MB_OA_MAX_SCHEMA_DEPTH + 1][MB_OA_PTR_MAX]; /* targets of the $refs being expanded */
    size_t stack_len;
    size_t nodes;
    size_t cuts;                                   /* placeholders emitted (cycle, depth, size) */
    int max_depth;                                 /* deepest level reached so far */
    char ptr[MB_OA_PTR_MAX];                       /* where we are in the document */
};

static json_t *placeholder(struct resolve_ctx *c, const char *fmt, const char *arg)
{
    char text[256];
    c->cuts++;
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

/* Appends a sentence to a schema's description (kept under MB_OA_DESC_MAX bytes). */
static void note_description(json_t *schema, const char *note)
{
    const char *d = json_string_value(json_object_get(schema, "description"));
    char text[MB_OA_DESC_MAX];
    snprintf(text, sizeof text, "%.700s%s%s", d ? d : "", d ? " " : "", note);
    json_object_set_new(schema, "description", json_string(text));
}

/* "pattern" and patternProperties keys written for non-Unicode ECMA-262 are rewritten so
 * 2020-12 validators (Unicode mode) compile them; one that cannot be is dropped with a note
 * in the description. Returns 0 or -1 (out of memory). */
static int unicode_patterns(json_t *out)
{
    const char *pat = json_string_value(json_object_get(out, "pattern"));
    char *fixed = NULL;
    int rc = pat ? mb_oa_pattern_unicode(pat, &fixed) : 0;
    if (rc == -ENOMEM)
        return -1;
    if (rc == 1) {
        json_object_set_new(out, "pattern", json_string(fixed));
        free(fixed);
    } else if (rc < 0) {
        char note[320];
        snprintf(note, sizeof note, "(The pattern '%.200s' is not a valid JSON Schema regular expression and is not checked.)",
                 pat);
        note_description(out, note);
        json_object_del(out, "pattern");
    }
    json_t *pp = json_object_get(out, "patternProperties");
    if (!json_is_object(pp))
        return 0;
    json_t *fresh = json_object();
    if (!fresh)
        return -1;
    bool changed = false;
    const char *k;
    json_t *v;
    json_object_foreach(pp, k, v) {
        rc = mb_oa_pattern_unicode(k, &fixed);
        if (rc == -ENOMEM) {
            json_decref(fresh);
            return -1;
        }
        changed |= rc != 0;
        if (rc >= 0)
            json_object_set(fresh, rc == 1 ? fixed : k, v);
        free(fixed);
        fixed = NULL;
    }
    if (changed)
        json_object_set(out, "patternProperties", fresh);
    json_decref(fresh);
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
    if (unicode_patterns(out) != 0)
        goto fail;
    /* OpenAPI "example" -> JSON Schema "examples" (strict 2020-12 validators refuse unknown
     * keywords). */
    const json_t *example = json_object_get(out, "example");
    if (example) {
        if (!json_object_get(out, "examples"))
            json_object_set_new(out, "examples", json_pack("[O]", example));
        json_object_del(out, "example");
    }
    /* discriminator: not a JSON Schema keyword; its property name becomes a hint. */
    const char *disc = json_string_value(json_object_get(json_object_get(node, "discriminator"), "propertyName"));
    if (disc && strlen(disc) < 200) {
        char note[256];
        snprintf(note, sizeof note, "The property '%s' tells which alternative applies.", disc);
        note_description(out, note);
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

/* ---- the resolved-schema cache ----
 * A $ref target resolved without any cut (no cycle placeholder, depth or size limit) does not
 * depend on where it is used, so it is resolved once per mode and shared by reference between
 * tools (big specs reuse a few hundred component schemas thousands of times). Each entry keeps
 * the node count and height it stands for, so the per-schema bounds still hold when it is reused. */

static void cache_key(const struct resolve_ctx *c, const char *target_ptr, char *key, size_t keysize)
{
    snprintf(key, keysize, "%c%s#%s", c->mode == MB_OA_INPUT ? 'I' : 'O', c->s->file ? c->s->file : "", target_ptr);
}

/* A new reference to the cached schema for target_ptr, or NULL (not cached, or too big/deep here). */
static json_t *cache_get(struct resolve_ctx *c, const char *target_ptr, int depth)
{
    if (!c->s->cache)
        return NULL;
    char key[MB_OA_PTR_MAX + 512];
    cache_key(c, target_ptr, key, sizeof key);
    const json_t *e = json_object_get(c->s->cache, key);
    if (!e)
        return NULL;
    size_t nodes = (size_t)json_integer_value(json_array_get(e, 1));
    int height = (int)json_integer_value(json_array_get(e, 2));
    if (depth + height > MB_OA_MAX_SCHEMA_DEPTH || c->nodes + nodes > MB_OA_MAX_SCHEMA_NODES)
        return NULL; /* resolve again here, where the cuts apply */
    c->nodes += nodes;
    if (depth + height > c->max_depth)
        c->max_depth = depth + height;
    return json_incref(json_array_get(e, 0));
}

static void cache_put(struct resolve_ctx *c, const char *target_ptr, json_t *schema, size_t nodes, int height)
{
    if (!c->s->cache && !(c->s->cache = json_object()))
        return;
    char key[MB_OA_PTR_MAX + 512];
    cache_key(c, target_ptr, key, sizeof key);
    json_object_set_new(c->s->cache, key, json_pack("[OII]", schema, (json_int_t)nodes, (json_int_t)height));
}

void mb_oa_spec_cache_clear(struct mb_oa_spec *s)
{
    json_decref(s->cache);
    s->cache = NULL;
    for (size_t i = 0; i < s->ext_count; i++) {
        mb_doc_destroy(s->ext[i].doc);
        free(s->ext[i].path);
    }
    free(s->ext);
    s->ext = NULL;
    s->ext_count = 0;
    s->ext_closed = true;
}

static json_t *resolve(struct resolve_ctx *c, const json_t *node, int depth)
{
    if (depth > c->max_depth)
        c->max_depth = depth;
    if (depth > MB_OA_MAX_SCHEMA_DEPTH)
        return placeholder(c, "(schema nested too deeply%s, omitted)", "");
    if (++c->nodes > MB_OA_MAX_SCHEMA_NODES)
        return placeholder(c, "(schema too large%s, omitted)", "");
    if (json_is_boolean(node))
        return json_copy((json_t *)node);
    if (!json_is_object(node))
        return json_object();
    const char *ref = json_string_value(json_object_get(node, "$ref"));
    if (!ref)
        return resolve_plain(c, node, depth);

    char at[MB_OA_PTR_MAX], why[768];
    snprintf(at, sizeof at, "%s", c->ptr);
    mb_oa_ptr_push(at, sizeof at, "$ref");
    char target_ptr[MB_OA_PTR_MAX];
    const json_t *target = ref_lookup(c->s, ref, c->ptr, target_ptr, sizeof target_ptr, why, sizeof why);
    if (!target) {
        if (why[0])
            mb_oa_error(c->s, at, "$ref '%.200s': %s", ref, why);
        else
            mb_oa_error(c->s, at, "unresolvable $ref '%.200s'", ref);
        return NULL;
    }
    for (size_t i = 0; i < c->stack_len; i++)
        if (strcmp(c->stack[i], target_ptr) == 0)
            return placeholder(c, "(recursive reference to %.200s omitted)", ref_short_name(ref));
    if (c->stack_len >= MB_OA_MAX_SCHEMA_DEPTH)
        return placeholder(c, "(schema nested too deeply%s, omitted)", "");
    json_t *r = cache_get(c, target_ptr, depth);
    if (!r) {
        char saved[MB_OA_PTR_MAX];
        memcpy(saved, c->ptr, sizeof saved);
        snprintf(c->ptr, sizeof c->ptr, "%s", target_ptr);
        snprintf(c->stack[c->stack_len++], MB_OA_PTR_MAX, "%s", target_ptr);
        size_t nodes0 = c->nodes, cuts0 = c->cuts;
        int maxd0 = c->max_depth;
        c->max_depth = depth;
        r = resolve(c, target, depth + 1);
        int height = c->max_depth - depth;
        if (c->max_depth < maxd0)
            c->max_depth = maxd0;
        c->stack_len--;
        memcpy(c->ptr, saved, sizeof saved);
        if (!r)
            return NULL;
        if (c->cuts == cuts0)
            cache_put(c, target_ptr, r, c->nodes - nodes0, height);
    }
    /* Siblings of $ref (3.1; harmless in 3.0) override the target's keywords. */
    if (json_object_size(node) > 1 && json_is_object(r)) {
        json_t *own = json_copy(r); /* r may be shared through the cache */
        json_decref(r);
        r = own;
        if (!r)
            return NULL;
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
    if (r && r->refcount > 1) { /* shared with the cache: callers may change the top level */
        json_t *own = json_copy(r);
        json_decref(r);
        r = own;
    }
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

/* Expands one server object's url with its variables' defaults into a heap string; ptr
 * locates the server for diagnostics. Returns NULL after a diagnostic. */
static char *server_url(struct mb_oa_spec *s, const json_t *server, const char *ptr)
{
    char at[MB_OA_PTR_MAX];
    snprintf(at, sizeof at, "%s", ptr);
    mb_oa_ptr_push(at, sizeof at, "url");
    const char *url = json_string_value(json_object_get(server, "url"));
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
        const json_t *def = json_object_get(json_object_get(vars, name), "default");
        if (!json_is_string(def)) {
            mb_oa_error(s, at, "server variable '%s' has no default; set api.openapi.base_url", name);
            mb_buf_dispose(&b);
            return NULL;
        }
        if (mb_buf_append_str(&b, json_string_value(def)) != 0)
            goto toolong;
        p = close + 1;
    }
    char *u = mb_buf_steal(&b);
    if (!u)
        mb_oa_error(s, at, "out of memory");
    return u;
toolong:
    mb_buf_dispose(&b);
    mb_oa_error(s, at, "server url is too long");
    return NULL;
}

char *mb_oa_base_url(struct mb_oa_spec *s, const char *override)
{
    s->base_overridden = override && *override;
    if (s->base_overridden) {
        char *u = strdup(override);
        return u ? strip_slash(u) : NULL;
    }
    if (s->version == 2)
        return base_url_v2(s);
    const json_t *server = json_array_get(json_object_get(s->root, "servers"), 0);
    if (!json_is_string(json_object_get(server, "url"))) {
        mb_oa_error(s, "", "the spec has no servers[0].url and no base_url is configured; set api.openapi.base_url");
        return NULL;
    }
    char *u = server_url(s, server, "/servers/0");
    if (u && !is_absolute_url(u)) {
        mb_oa_error(s, "/servers/0/url", "servers[0].url '%.200s' is relative; set api.openapi.base_url", u);
        free(u);
        return NULL;
    }
    return u ? strip_slash(u) : NULL;
}

char *mb_oa_operation_base_url(struct mb_oa_spec *s, const json_t *item, const char *item_ptr, const json_t *op,
                               const char *op_ptr, const char *root)
{
    if (s->base_overridden || s->version == 2)
        return NULL;
    const json_t *holder = op;
    const char *holder_ptr = op_ptr;
    if (!json_is_string(json_object_get(json_array_get(json_object_get(op, "servers"), 0), "url"))) {
        holder = item;
        holder_ptr = item_ptr;
        if (!json_is_string(json_object_get(json_array_get(json_object_get(item, "servers"), 0), "url")))
            return NULL;
    }
    char ptr[MB_OA_PTR_MAX];
    snprintf(ptr, sizeof ptr, "%s", holder_ptr);
    mb_oa_ptr_push(ptr, sizeof ptr, "servers");
    mb_oa_ptr_push(ptr, sizeof ptr, "0");
    char *u = server_url(s, json_array_get(json_object_get(holder, "servers"), 0), ptr);
    if (!u || is_absolute_url(u))
        return u ? strip_slash(u) : NULL;
    if (u[0] == '/' && u[1] != '/' && root) {
        /* "/v2" on the root's origin: scheme://host[:port] */
        const char *host = strstr(root, "://");
        size_t origin = host ? strcspn(host + 3, "/") + (size_t)(host + 3 - root) : strlen(root);
        size_t n = origin + strlen(u) + 1;
        char *joined = malloc(n);
        if (joined)
            snprintf(joined, n, "%.*s%s", (int)origin, root, u);
        free(u);
        if (!joined)
            mb_oa_error(s, ptr, "out of memory");
        return joined ? strip_slash(joined) : NULL;
    }
    mb_oa_ptr_push(ptr, sizeof ptr, "url");
    mb_oa_error(s, ptr, "server url '%.200s' is relative; set api.openapi.base_url", u);
    free(u);
    return NULL;
}
