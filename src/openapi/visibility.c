/* The catalog options from the configuration (api.helper_tools, api.tools,
 * openapi_visibility) and the openapi_visibility features: parameter and filter examples
 * appended to tool descriptions, per-tool context files from context_dir (<name>.md or .txt,
 * opened beside the directory only, never through a symbolic link) and global.md turned
 * into the server instructions, each shaped by the rules of _index.json. Runs once before the
 * workers fork; every text it adds is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/doc.h"
#include "common/log.h"
#include "openapi/catalog_internal.h"
#include "openapi/visibility.h"

#define LOGGER "openapi.visibility"
#define EXAMPLE_VALUE_MAX 120   /* bytes of one example value in a description */
#define EXAMPLE_LINE_MAX  600   /* bytes of one examples line */

/* ---- configuration ---- */

void mb_oa_options_defaults(struct mb_oa_options *o)
{
    memset(o, 0, sizeof *o);
    o->helpers_enabled = 0;
    o->mode = MB_TOOLS_FULL;
    o->meta_threshold = 200;
    o->tool_name_max = 64;
    o->context_max_files = 500;
    o->context_char_limit = 1000;
}

struct reader {
    const struct mb_config *cfg;
    struct mb_diags *diags;
    int errors;
};

static void cfg_error(struct reader *r, const char *ptr, const char *fmt, const char *detail)
{
    char key[256];
    size_t n = 0;
    for (const char *p = ptr + 1; *p && n + 1 < sizeof key; p++)
        key[n++] = *p == '/' ? '.' : *p;
    key[n] = '\0';
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    mb_diags_add(r->diags, r->cfg->source, r->cfg->doc ? mb_doc_line(r->cfg->doc, ptr) : 0, "%s: %s", key, msg);
    r->errors++;
}

static const json_t *at(const struct reader *r, const char *ptr)
{
    const json_t *v = r->cfg->root;
    char tok[128];
    for (const char *p = ptr; v && *p == '/';) {
        size_t n = strcspn(p + 1, "/");
        if (n >= sizeof tok)
            return NULL;
        memcpy(tok, p + 1, n);
        tok[n] = '\0';
        v = json_object_get(v, tok);
        p += n + 1;
    }
    return v;
}

static void read_bool(struct reader *r, const char *ptr, bool *out)
{
    const json_t *v = at(r, ptr);
    if (!v)
        return;
    if (!json_is_boolean(v))
        cfg_error(r, ptr, "expected true or false%s", "");
    else
        *out = json_is_true(v);
}

static void read_size(struct reader *r, const char *ptr, json_int_t min, json_int_t max, size_t *out)
{
    const json_t *v = at(r, ptr);
    if (!v)
        return;
    char range[96];
    snprintf(range, sizeof range, "%lld to %lld", (long long)min, (long long)max);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        cfg_error(r, ptr, "expected an integer from %s", range);
    else
        *out = (size_t)json_integer_value(v);
}

static void check_keys(struct reader *r, const char *ptr, const char *const *keys)
{
    const json_t *obj = at(r, ptr);
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        cfg_error(r, ptr, "expected an object%s", "");
        return;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], key) != 0)
            i++;
        if (!keys[i] && key[0] != '_' && strcmp(key, "comment") != 0)
            mb_warn(LOGGER, "%s:%d: unknown key \"%.60s\" in %s (ignored)", r->cfg->source,
                    r->cfg->doc ? mb_doc_line(r->cfg->doc, ptr) : 0, key, ptr + 1);
    }
}

int mb_oa_options_read(struct mb_oa_options *o, const struct mb_config *cfg, struct mb_diags *diags)
{
    struct reader r = { cfg, diags, 0 };
    mb_oa_options_defaults(o);
    o->helpers_enabled = -1;
    o->instructions = cfg->instructions;
    o->with_prompts = cfg->prompts_dir != NULL;
    o->source = cfg->source;

    check_keys(&r, "/api/helper_tools", (const char *const[]){ "enabled", NULL });
    if (at(&r, "/api/helper_tools/enabled")) {
        bool on = false;
        read_bool(&r, "/api/helper_tools/enabled", &on);
        o->helpers_enabled = on;
    }

    check_keys(&r, "/api/tools", (const char *const[]){ "mode", "meta_threshold", NULL });
    const json_t *mode = at(&r, "/api/tools/mode");
    if (mode) {
        const char *m = json_string_value(mode);
        if (m && strcmp(m, "full") == 0)
            o->mode = MB_TOOLS_FULL;
        else if (m && strcmp(m, "meta") == 0)
            o->mode = MB_TOOLS_META;
        else if (m && strcmp(m, "auto") == 0)
            o->mode = MB_TOOLS_AUTO;
        else
            cfg_error(&r, "/api/tools/mode", "expected \"full\", \"meta\" or \"auto\"%s", "");
    }
    read_size(&r, "/api/tools/meta_threshold", 1, 1000000, &o->meta_threshold);
    read_size(&r, "/api/openapi/tool_name_max_length", 16, 128, &o->tool_name_max);

    check_keys(&r, "/openapi_visibility",
               (const char *const[]){ "add_filter_examples", "add_param_examples", "per_tool_context_enabled",
                                      "per_tool_context_max_files", "per_tool_context_char_limit",
                                      "context_dir", NULL });
    read_bool(&r, "/openapi_visibility/add_filter_examples", &o->add_filter_examples);
    read_bool(&r, "/openapi_visibility/add_param_examples", &o->add_param_examples);
    read_bool(&r, "/openapi_visibility/per_tool_context_enabled", &o->context_enabled);
    read_size(&r, "/openapi_visibility/per_tool_context_max_files", 1, 100000, &o->context_max_files);
    read_size(&r, "/openapi_visibility/per_tool_context_char_limit", 1, 65536, &o->context_char_limit);
    const json_t *dir = at(&r, "/openapi_visibility/context_dir");
    if (dir && !json_is_null(dir)) {
        if (!json_is_string(dir) || !*json_string_value(dir))
            cfg_error(&r, "/openapi_visibility/context_dir", "expected a directory path%s", "");
        else
            o->context_dir = json_string_value(dir); /* made absolute by the config loader */
    }
    if (o->context_enabled && !o->context_dir)
        cfg_error(&r, "/openapi_visibility/per_tool_context_enabled",
                  "needs openapi_visibility.context_dir (the directory of <operationId>.md files)%s", "");
    return r.errors ? -1 : 0;
}

/* ---- shaping text ---- */

/* Length of a valid UTF-8 sequence at p (at most n bytes), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > n || (len == 2 && p[0] < 0xC2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (len == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0)))
        return 0;
    if (len == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || p[0] > 0xF4 || (p[0] == 0xF4 && p[1] >= 0x90)))
        return 0;
    return len;
}

char *mb_oa_context_shape(const char *text, size_t len, const struct mb_oa_context_rules *rules)
{
    /* Pass 1: valid UTF-8, no control characters but '\n', no '\r'; lines over max_lines dropped. */
    char *clean = malloc(len + 1);
    if (!clean)
        return NULL;
    size_t n = 0, lines = 0;
    bool line_has_text = false;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0) {
            clean[n++] = '?';
            i++;
            line_has_text = true;
            continue;
        }
        if (k == 1 && p[i] == '\n') {
            if (line_has_text)
                lines++;
            line_has_text = false;
            if (rules->max_lines && lines >= rules->max_lines)
                break;
            clean[n++] = '\n';
            i++;
            continue;
        }
        if (k == 1 && (p[i] < 0x20 || p[i] == 0x7F)) {
            if (p[i] != '\r')
                clean[n++] = ' ';
            i++;
            continue;
        }
        if (!(k == 1 && p[i] == ' '))
            line_has_text = true;
        memcpy(clean + n, p + i, k);
        n += k;
        i += k;
    }
    clean[n] = '\0';

    /* Pass 2: white space. Collapsed to single spaces, or (preserve_newlines) trailing spaces
     * cut from each line and runs of blank lines kept to one. Leading/trailing space trimmed. */
    char *out = malloc(n + 4); /* room for the ellipsis of pass 3 */
    if (!out) {
        free(clean);
        return NULL;
    }
    size_t m = 0, newlines = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = clean[i];
        if (c == '\n' && rules->preserve_newlines) {
            newlines++;
            space = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n') {
            space = true;
            continue;
        }
        if (m > 0 && newlines)
            for (size_t j = 0; j < (newlines > 1 ? 2u : 1u); j++)
                out[m++] = '\n';
        else if (m > 0 && space)
            out[m++] = ' ';
        newlines = 0;
        space = false;
        out[m++] = c;
    }
    out[m] = '\0';
    free(clean);

    /* Pass 3: char_limit code points, the last one an ellipsis when cut. */
    if (rules->char_limit) {
        size_t chars = 0, cut = 0;
        for (size_t i = 0; i < m; i++) {
            if (((unsigned char)out[i] & 0xC0) == 0x80)
                continue;
            if (chars == rules->char_limit - 1)
                cut = i;
            chars++;
        }
        if (chars > rules->char_limit) {
            while (cut > 0 && (out[cut - 1] == ' ' || out[cut - 1] == '\n'))
                cut--;
            memcpy(out + cut, "\xE2\x80\xA6", 4); /* "…" and the NUL */
        }
    }
    return out;
}

/* ---- _index.json ---- */

struct context_index {
    struct mb_doc *doc;          /* NULL when there is no _index.json */
    struct mb_oa_context_rules defaults;
};

static int index_rules(struct mb_doc *doc, const json_t *entry, const char *ptr, struct mb_oa_context_rules *r,
                       struct mb_diags *diags)
{
    int errors = 0;
    const char *key;
    const json_t *v;
    if (!json_is_object(entry)) {
        mb_diags_add(diags, mb_doc_name(doc), mb_doc_line(doc, ptr), "%s: expected an object", ptr);
        return -1;
    }
    json_object_foreach((json_t *)entry, key, v) {
        char kp[MB_OA_PTR_MAX];
        snprintf(kp, sizeof kp, "%s", ptr);
        mb_oa_ptr_push(kp, sizeof kp, key);
        int line = mb_doc_line(doc, kp);
        if (strcmp(key, "priority") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < -1000000 || json_integer_value(v) > 1000000) {
                mb_diags_add(diags, mb_doc_name(doc), line, "%s: expected an integer from -1000000 to 1000000", kp);
                errors++;
            } else {
                r->priority = (long)json_integer_value(v);
            }
        } else if (strcmp(key, "preserve_newlines") == 0) {
            if (!json_is_boolean(v)) {
                mb_diags_add(diags, mb_doc_name(doc), line, "%s: expected true or false", kp);
                errors++;
            } else {
                r->preserve_newlines = json_is_true(v);
            }
        } else if (strcmp(key, "max_lines") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000) {
                mb_diags_add(diags, mb_doc_name(doc), line, "%s: expected an integer from 0 (no limit) to 10000", kp);
                errors++;
            } else {
                r->max_lines = (size_t)json_integer_value(v);
            }
        } else if (strcmp(key, "char_limit") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65536) {
                mb_diags_add(diags, mb_doc_name(doc), line, "%s: expected an integer from 1 to 65536", kp);
                errors++;
            } else {
                r->char_limit = (size_t)json_integer_value(v);
            }
        } else if (key[0] != '_' && strcmp(key, "comment") != 0) {
            mb_warn(LOGGER, "%s:%d: unknown key \"%.60s\" in %s (ignored)", mb_doc_name(doc), line, key, ptr);
        }
    }
    return errors ? -1 : 0;
}

/* Loads dir/_index.json when present and checks every entry. Returns 0 or -1 after diagnostics. */
static int index_load(struct context_index *ix, const char *dir, struct mb_diags *diags)
{
    memset(ix, 0, sizeof *ix);
    ix->defaults = (struct mb_oa_context_rules){ .priority = 0, .preserve_newlines = false,
                                                 .max_lines = 5, .char_limit = 500 };
    char path[4096];
    snprintf(path, sizeof path, "%s/_index.json", dir);
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISREG(st.st_mode)) {
        mb_diags_add(diags, path, 0, "not a regular file (symbolic links are not followed in context_dir)");
        return -1;
    }
    ix->doc = mb_doc_load_file(path, MB_OA_CONTEXT_INDEX_MAX, diags);
    if (!ix->doc)
        return -1;
    const json_t *root = mb_doc_root(ix->doc);
    if (!json_is_object(root)) {
        mb_diags_add(diags, path, 1, "expected an object {\"defaults\": {...}, \"files\": {...}}");
        return -1;
    }
    int rc = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        if (strcmp(key, "defaults") == 0) {
            if (index_rules(ix->doc, v, "/defaults", &ix->defaults, diags) != 0)
                rc = -1;
        } else if (strcmp(key, "files") == 0) {
            if (!json_is_object(v)) {
                mb_diags_add(diags, path, mb_doc_line(ix->doc, "/files"), "/files: expected an object of file name -> rules");
                rc = -1;
                continue;
            }
            const char *fname;
            const json_t *entry;
            json_object_foreach((json_t *)v, fname, entry) {
                char ptr[MB_OA_PTR_MAX] = "/files";
                struct mb_oa_context_rules scratch = ix->defaults;
                mb_oa_ptr_push(ptr, sizeof ptr, fname);
                if (index_rules(ix->doc, entry, ptr, &scratch, diags) != 0)
                    rc = -1;
            }
        } else if (key[0] != '_' && strcmp(key, "comment") != 0) {
            mb_warn(LOGGER, "%s:%d: unknown key \"%.60s\" (expected defaults and files; ignored)", path,
                    mb_doc_line(ix->doc, ""), key);
        }
    }
    return rc;
}

/* The rules for a file: files[<file>] or files[<stem>] over base (already checked). */
static struct mb_oa_context_rules index_lookup(const struct context_index *ix, const char *file, const char *stem,
                                               struct mb_oa_context_rules base)
{
    const json_t *files = ix->doc ? json_object_get(mb_doc_root(ix->doc), "files") : NULL;
    const json_t *entry = json_object_get(files, file);
    if (!entry)
        entry = json_object_get(files, stem);
    if (json_is_object(entry)) {
        const json_t *v;
        if ((v = json_object_get(entry, "priority")))
            base.priority = (long)json_integer_value(v);
        if ((v = json_object_get(entry, "preserve_newlines")))
            base.preserve_newlines = json_is_true(v);
        if ((v = json_object_get(entry, "max_lines")))
            base.max_lines = (size_t)json_integer_value(v);
        if ((v = json_object_get(entry, "char_limit")))
            base.char_limit = (size_t)json_integer_value(v);
    }
    return base;
}

/* ---- reading files inside context_dir ---- */

/* A name that stays inside the directory: [A-Za-z0-9_.-], no leading dot, bounded. */
static bool safe_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 200 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Opens dirfd/name read-only without following a symbolic link; only regular files. */
static int open_in(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads at most MB_OA_CONTEXT_FILE_MAX bytes. Returns a heap buffer (NUL-terminated) or NULL. */
static char *read_bounded(int fd, const char *dir, const char *name, size_t *len)
{
    char *data = malloc(MB_OA_CONTEXT_FILE_MAX + 1);
    size_t n = 0;
    if (!data)
        return NULL;
    while (n < MB_OA_CONTEXT_FILE_MAX) {
        ssize_t r = read(fd, data + n, MB_OA_CONTEXT_FILE_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            mb_warn(LOGGER, "%s/%s: %s (skipped)", dir, name, strerror(errno));
            free(data);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    char extra;
    if (n == MB_OA_CONTEXT_FILE_MAX && read(fd, &extra, 1) == 1)
        mb_warn(LOGGER, "%s/%s: larger than %u bytes; only the beginning is used", dir, name,
                MB_OA_CONTEXT_FILE_MAX);
    data[n] = '\0';
    *len = n;
    return data;
}

/* ---- examples ---- */

/* The example of a schema: "example", else the first of "examples" (an array). Borrowed. */
static const json_t *schema_example(const json_t *schema)
{
    const json_t *ex = json_object_get(schema, "example");
    if (ex)
        return ex;
    const json_t *list = json_object_get(schema, "examples");
    return json_is_array(list) ? json_array_get(list, 0) : NULL;
}

/* Appends "name=<compact JSON>" (value cut to EXAMPLE_VALUE_MAX bytes) to buf. */
static void append_pair(struct mb_buf *buf, const char *name, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return;
    size_t len = strlen(text);
    if (buf->len + strlen(name) + 4 + EXAMPLE_VALUE_MAX > EXAMPLE_LINE_MAX) {
        free(text);
        return;
    }
    if (buf->len)
        mb_buf_append(buf, ", ", 2);
    mb_buf_append(buf, name, strlen(name));
    mb_buf_append(buf, "=", 1);
    if (len > EXAMPLE_VALUE_MAX) {
        size_t cut = EXAMPLE_VALUE_MAX - 3;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--;
        mb_buf_append(buf, text, cut);
        mb_buf_append(buf, "\xE2\x80\xA6", 3);
    } else {
        mb_buf_append(buf, text, len);
    }
    free(text);
}

/* "Parameter examples: a=1, b=\"x\"" from the examples in the parameter schemas (and the
 * body's example), or NULL when there are none. Heap string. */
static char *param_examples(const struct mb_tool *t)
{
    struct mb_buf b;
    mb_buf_init(&b, EXAMPLE_LINE_MAX + 64);
    for (size_t i = 0; i < t->param_count; i++) {
        const json_t *ex = schema_example(t->params[i].schema);
        if (ex)
            append_pair(&b, t->params[i].arg_name, ex);
    }
    if (t->has_body && t->body_arg_name) {
        const json_t *body = json_object_get(json_object_get(t->input_schema, "properties"), t->body_arg_name);
        const json_t *ex = schema_example(body);
        if (ex)
            append_pair(&b, t->body_arg_name, ex);
    }
    char *line = NULL;
    if (b.len && asprintf(&line, "Parameter examples: %.*s", (int)b.len, b.data) < 0)
        line = NULL;
    mb_buf_dispose(&b);
    return line;
}

/* "Filter example (arguments): {...}" from the query parameters (example, else first enum
 * value, else default), or NULL when no query parameter has such a value. Heap string. */
static char *filter_example(const struct mb_tool *t)
{
    json_t *args = json_object();
    char *line = NULL;
    if (!args)
        return NULL;
    for (size_t i = 0; i < t->param_count; i++) {
        const struct mb_tool_param *p = &t->params[i];
        if (p->location != MB_PARAM_QUERY)
            continue;
        const json_t *v = schema_example(p->schema);
        if (!v)
            v = json_array_get(json_object_get(p->schema, "enum"), 0);
        if (!v || json_is_null(v))
            v = json_object_get(p->schema, "default");
        if (v && !json_is_null(v))
            json_object_set(args, p->arg_name, (json_t *)v);
    }
    if (json_object_size(args)) {
        char *text = json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (text && strlen(text) <= EXAMPLE_LINE_MAX && asprintf(&line, "Filter example (arguments): %s", text) < 0)
            line = NULL;
        free(text);
    }
    json_decref(args);
    return line;
}

/* ---- apply ---- */

struct match {
    size_t tool;
    char file[256];
    struct mb_oa_context_rules rules;
};

static int by_priority(const void *a, const void *b)
{
    const struct match *x = a, *y = b;
    if (x->rules.priority != y->rules.priority)
        return x->rules.priority > y->rules.priority ? -1 : 1;
    return x->tool < y->tool ? -1 : x->tool > y->tool;
}

/* Replaces the description of t (and its definition's) by description + "\n\n" + extra. */
static int append_description(struct mb_tool *t, const char *extra)
{
    if (!extra || !*extra)
        return 0;
    char *desc = NULL;
    if (asprintf(&desc, "%s\n\n%s", t->description ? t->description : "", extra) < 0)
        return -ENOMEM;
    json_t *s = json_string(desc);
    if (!s || json_object_set_new(t->definition, "description", s) != 0) {
        free(desc);
        return -ENOMEM;
    }
    free(t->description);
    t->description = desc;
    return 0;
}

/* Finds the context file of tool i: <name>.md, <name>.txt, then the raw operationId's. */
static bool find_context(int dirfd, const struct mb_tool *t, char *file, size_t filesize, char *stem, size_t stemsize)
{
    const char *stems[2] = { t->name, t->operation_id };
    for (size_t s = 0; s < 2; s++) {
        if (!safe_name(stems[s]) || (s == 1 && strcmp(stems[1], stems[0]) == 0))
            continue;
        static const char *const exts[] = { ".md", ".txt" };
        for (size_t e = 0; e < 2; e++) {
            snprintf(file, filesize, "%s%s", stems[s], exts[e]);
            int fd = open_in(dirfd, file);
            if (fd >= 0) {
                close(fd);
                snprintf(stem, stemsize, "%s", stems[s]);
                return true;
            }
        }
    }
    return false;
}

static int apply_context(struct mb_catalog *cat, const struct mb_oa_options *o, int dirfd,
                         const struct context_index *ix)
{
    int rc = -ENOMEM;
    struct match *found = calloc(cat->operation_count ? cat->operation_count : 1, sizeof *found);
    size_t n = 0;
    if (!found)
        return -ENOMEM;
    for (size_t i = 0; i < cat->operation_count; i++) {
        char stem[256];
        if (!find_context(dirfd, &cat->tools[i], found[n].file, sizeof found[n].file, stem, sizeof stem))
            continue;
        found[n].tool = i;
        found[n].rules = index_lookup(ix, found[n].file, stem, ix->defaults);
        n++;
    }
    qsort(found, n, sizeof *found, by_priority);
    if (n > o->context_max_files)
        mb_warn(LOGGER, "%zu tools have a context file in %s; per_tool_context_max_files keeps the %zu with the "
                "highest priority (first skipped: %s)", n, o->context_dir, o->context_max_files,
                found[o->context_max_files].file);
    size_t applied = 0;
    for (size_t k = 0; k < n && k < o->context_max_files; k++) {
        int fd = open_in(dirfd, found[k].file);
        if (fd < 0)
            continue;
        size_t len = 0;
        char *data = read_bounded(fd, o->context_dir, found[k].file, &len);
        close(fd);
        if (!data)
            continue;
        struct mb_oa_context_rules r = found[k].rules;
        if (r.char_limit == 0 || r.char_limit > o->context_char_limit)
            r.char_limit = o->context_char_limit;
        char *text = mb_oa_context_shape(data, len, &r);
        free(data);
        if (!text)
            goto done;
        int arc = append_description(&cat->tools[found[k].tool], text);
        free(text);
        if (arc != 0)
            goto done;
        applied++;
    }
    mb_debug(LOGGER, "context files applied to %zu tools from %s", applied, o->context_dir);
    rc = 0;
done:
    free(found);
    return rc;
}

/* global.md -> cat->instructions (after server.instructions). */
static int apply_global(struct mb_catalog *cat, const struct mb_oa_options *o, int dirfd,
                        const struct context_index *ix)
{
    int fd = open_in(dirfd, "global.md");
    if (fd < 0)
        return 0;
    size_t len = 0;
    char *data = read_bounded(fd, o->context_dir, "global.md", &len);
    close(fd);
    if (!data)
        return 0;
    struct mb_oa_context_rules base = { .priority = 0, .preserve_newlines = true, .max_lines = 0,
                                        .char_limit = MB_OA_CONTEXT_GLOBAL_CHARS };
    struct mb_oa_context_rules r = index_lookup(ix, "global.md", "global", base);
    char *text = mb_oa_context_shape(data, len, &r);
    free(data);
    if (!text)
        return -ENOMEM;
    if (!*text) {
        free(text);
        return 0;
    }
    char *joined = NULL;
    if (o->instructions && *o->instructions) {
        if (asprintf(&joined, "%s\n\n%s", o->instructions, text) < 0)
            joined = NULL;
        free(text);
        if (!joined)
            return -ENOMEM;
    } else {
        joined = text;
    }
    free(cat->instructions);
    cat->instructions = joined;
    return 0;
}

int mb_oa_visibility_apply(struct mb_catalog *cat, const struct mb_oa_options *o, struct mb_diags *diags)
{
    int rc = 0;
    for (size_t i = 0; i < cat->operation_count && (o->add_param_examples || o->add_filter_examples); i++) {
        struct mb_tool *t = &cat->tools[i];
        char *line = o->add_param_examples ? param_examples(t) : NULL;
        rc = append_description(t, line);
        free(line);
        line = rc == 0 && o->add_filter_examples ? filter_example(t) : NULL;
        if (rc == 0)
            rc = append_description(t, line);
        free(line);
        if (rc != 0)
            return rc;
    }
    if (!o->context_dir)
        return 0;
    int dirfd = open(o->context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        mb_diags_add(diags, o->source, 0, "openapi_visibility.context_dir: cannot open '%s': %s", o->context_dir,
                     strerror(errno));
        return -1;
    }
    struct context_index ix;
    if (index_load(&ix, o->context_dir, diags) != 0) {
        rc = -1;
        goto done;
    }
    if (o->context_enabled)
        rc = apply_context(cat, o, dirfd, &ix);
    if (rc == 0)
        rc = apply_global(cat, o, dirfd, &ix);
done:
    mb_doc_destroy(ix.doc);
    close(dirfd);
    return rc;
}
