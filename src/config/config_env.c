/* Environment variable substitution for configuration files: "${VAR}" and "${VAR:-default}"
 * inside string values, so secrets and per-host values stay out of the file. Runs on the
 * parsed document before validation; keys are never expanded. */
#include "config/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static int is_name_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

char *mb_config_expand_string(const char *in, int *changed, char *err, size_t errlen)
{
    struct mb_buf b;
    char *out = NULL;
    mb_buf_init(&b, MB_CONFIG_MAX_EXPANDED);
    *changed = 0;
    const char *p = in;
    int rc = 0;
    while (*p && rc == 0) {
        const char *dollar = strchr(p, '$');
        if (!dollar) {
            rc = mb_buf_append_str(&b, p);
            break;
        }
        rc = mb_buf_append(&b, p, (size_t)(dollar - p));
        if (rc)
            break;
        if (dollar[1] == '$' && dollar[2] == '{') {
            rc = mb_buf_append(&b, "${", 2);
            p = dollar + 3;
            *changed = 1;
            continue;
        }
        if (dollar[1] != '{') {
            rc = mb_buf_append(&b, "$", 1);
            p = dollar + 1;
            continue;
        }
        const char *name = dollar + 2, *q = name;
        while (is_name_char(*q, q == name))
            q++;
        size_t name_len = (size_t)(q - name);
        const char *def = NULL;
        size_t def_len = 0;
        if (name_len && q[0] == ':' && q[1] == '-') {
            def = q + 2;
            const char *close = strchr(def, '}');
            if (!close) {
                snprintf(err, errlen, "unterminated '${' reference");
                goto done;
            }
            def_len = (size_t)(close - def);
            q = close;
        }
        if (!name_len || *q != '}') {
            size_t n = strcspn(name, "}");
            snprintf(err, errlen, "malformed reference '${%.*s': expected ${NAME} or ${NAME:-default}",
                     (int)(n > 40 ? 40 : n), name);
            goto done;
        }
        char var[256];
        if (name_len >= sizeof var) {
            snprintf(err, errlen, "variable name too long");
            goto done;
        }
        memcpy(var, name, name_len);
        var[name_len] = '\0';
        const char *val = getenv(var);
        if (val && *val)
            rc = mb_buf_append_str(&b, val);
        else if (def)
            rc = mb_buf_append(&b, def, def_len);
        else {
            snprintf(err, errlen, "environment variable %s is not set (write ${%s:-default} to give a default)",
                     var, var);
            goto done;
        }
        *changed = 1;
        p = q + 1;
    }
    if (rc == -E2BIG) {
        snprintf(err, errlen, "the value is longer than %d bytes after substitution",
                 MB_CONFIG_MAX_EXPANDED);
        goto done;
    }
    if (rc) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    out = mb_buf_steal(&b);
    if (!out)
        snprintf(err, errlen, "out of memory");
done:
    mb_buf_dispose(&b);
    return out;
}

void mb_config_pointer_name(const char *pointer, char *out, size_t cap)
{
    size_t j = 0;
    if (!cap)
        return;
    for (const char *p = *pointer == '/' ? pointer + 1 : pointer; *p && j + 1 < cap; p++) {
        if (*p == '/')
            out[j++] = '.';
        else if (*p == '~' && (p[1] == '0' || p[1] == '1'))
            out[j++] = *++p == '0' ? '~' : '/';
        else
            out[j++] = *p;
    }
    out[j] = '\0';
}

struct walk {
    const struct mb_doc *doc;
    const char *file;
    json_t *changed;
    struct mb_diags *diags;
    struct mb_buf ptr;
    int errors;
};

static int push_key(struct mb_buf *b, const char *key)
{
    int rc = mb_buf_append(b, "/", 1);
    for (const char *k = key; rc == 0 && *k; k++)
        rc = *k == '~' ? mb_buf_append(b, "~0", 2)
           : *k == '/' ? mb_buf_append(b, "~1", 2) : mb_buf_append(b, k, 1);
    return rc;
}

/* Expands value v; returns a replacement (new reference) or NULL when unchanged. */
static json_t *walk_value(struct walk *w, json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child) {
            size_t mark = w->ptr.len;
            if (push_key(&w->ptr, key) == 0) {
                json_t *rep = walk_value(w, child);
                if (rep)
                    json_object_set_new(v, key, rep);
            }
            w->ptr.len = mark;
            if (w->ptr.data)
                w->ptr.data[mark] = '\0';
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t mark = w->ptr.len;
            if (mb_buf_printf(&w->ptr, "/%zu", i) == 0) {
                json_t *rep = walk_value(w, json_array_get(v, i));
                if (rep)
                    json_array_set_new(v, i, rep);
            }
            w->ptr.len = mark;
            if (w->ptr.data)
                w->ptr.data[mark] = '\0';
        }
    } else if (json_is_string(v) && strchr(json_string_value(v), '$')) {
        char err[256];
        int changed = 0;
        const char *ptr = w->ptr.data ? w->ptr.data : "";
        char *s = mb_config_expand_string(json_string_value(v), &changed, err, sizeof err);
        json_t *rep = s && changed ? json_string(s) : NULL;
        if (s && changed && !rep)
            snprintf(err, sizeof err, "the value is not valid UTF-8 after substitution");
        free(s);
        if (!s || (changed && !rep)) {
            char name[256];
            mb_config_pointer_name(ptr, name, sizeof name);
            mb_diags_add(w->diags, w->file, mb_doc_line(w->doc, ptr), "%s: %s", name, err);
            w->errors++;
            return NULL;
        }
        if (rep)
            json_object_set_new(w->changed, ptr, json_true());
        return rep;
    }
    return NULL;
}

int mb_config_expand_env(json_t *root, const struct mb_doc *doc, const char *file,
                         json_t *changed, struct mb_diags *diags)
{
    struct walk w = { .doc = doc, .file = file, .changed = changed, .diags = diags };
    mb_buf_init(&w.ptr, 64 * 1024);
    walk_value(&w, root);
    mb_buf_dispose(&w.ptr);
    return w.errors;
}
