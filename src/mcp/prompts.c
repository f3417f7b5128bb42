/* Implementation of prompts.h: loads every <name>.md of a prompts directory once, parses the
 * YAML front matter (through common/doc), reads the images and resource files the messages
 * refer to (confined to the directory, like resources), and keeps each prompt as a list entry
 * plus message templates. prompts/get copies the templates and replaces "{{argument}}"
 * placeholders; nothing is read from disk after load. The aggregate size of all files read is
 * capped; going over fails the load with the total, the cap and the three largest files. */
#include "mcp/prompts.h"

#include "common/base64.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/doc.h"
#include "common/log.h"
#include "mcp/resources.h"

#define LOGGER "prompts"
#define DEFAULT_MAX_TOTAL_BYTES ((size_t)256 << 10)
#define MAX_PROMPTS 10000
#define MAX_NAME 128
#define MAX_DESCRIPTION_FROM_BODY 200
#define MAX_TEXT_BYTES ((size_t)4 << 20) /* one message text after substitution */
#define MAX_COMPLETIONS 100

struct prompt_arg {
    char *name;
    bool required;
    json_t *values; /* completion values (array of strings), may be NULL */
};

struct prompt {
    char *name;
    char *description;
    json_t *listing;  /* the prompts/list entry */
    json_t *messages; /* [{role, content}] with placeholders not yet replaced */
    struct prompt_arg *args;
    size_t nargs;
};

struct mb_prompt_set {
    struct prompt *items; /* sorted by name */
    size_t count;
};

/* The files read so far, for the aggregate size guard: the total and the three largest. */
struct ledger {
    size_t total, cap;
    struct {
        char name[NAME_MAX + 1];
        size_t size;
    } top[3];
};

/* The state of one load, passed to the per-file parsers. */
struct loader {
    int dirfd;
    const char *root;
    struct ledger ledger;
    struct mb_diags *diags;
};

static void ledger_add(struct ledger *l, const char *name, size_t size)
{
    l->total = size > SIZE_MAX - l->total ? SIZE_MAX : l->total + size;
    for (size_t i = 0; i < 3; i++) {
        if (l->top[i].name[0] && l->top[i].size >= size)
            continue;
        memmove(&l->top[i + 1], &l->top[i], (2 - i) * sizeof l->top[0]);
        snprintf(l->top[i].name, sizeof l->top[i].name, "%s", name);
        l->top[i].size = size;
        break;
    }
}

static size_t ledger_left(const struct ledger *l)
{
    return l->total >= l->cap ? 0 : l->cap - l->total;
}

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static void prompt_dispose(struct prompt *p)
{
    free(p->name);
    free(p->description);
    json_decref(p->listing);
    json_decref(p->messages);
    for (size_t i = 0; i < p->nargs; i++) {
        free(p->args[i].name);
        json_decref(p->args[i].values);
    }
    free(p->args);
}

void mb_prompts_destroy(struct mb_prompt_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        prompt_dispose(&set->items[i]);
    free(set->items);
    free(set);
}

size_t mb_prompts_count(const struct mb_prompt_set *set)
{
    return set ? set->count : 0;
}

/* Finds the front matter: the text must open with a "---" line; the YAML runs to the next
 * "---" (or "...") line. *yaml_len covers the opening line too, so YAML line numbers are file
 * line numbers. Returns 1 with front matter, 0 without, -1 when it is never closed. */
static int split_front_matter(const char *t, size_t len, size_t *yaml_len, size_t *body_off)
{
    size_t i = 0;
    if (len < 3 || memcmp(t, "---", 3) != 0)
        return 0;
    i = 3;
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r'))
        i++;
    if (i < len && t[i] != '\n')
        return 0; /* "----" or "--- text": not a front matter marker */
    while (i < len) {
        size_t line = i + 1; /* start of the next line */
        if (line >= len)
            break;
        size_t end = line;
        while (end < len && t[end] != '\n')
            end++;
        size_t k = end;
        while (k > line && (t[k - 1] == ' ' || t[k - 1] == '\t' || t[k - 1] == '\r'))
            k--;
        if (k - line == 3 && (memcmp(t + line, "---", 3) == 0 || memcmp(t + line, "...", 3) == 0)) {
            *yaml_len = line;
            *body_off = end < len ? end + 1 : len;
            return 1;
        }
        i = end;
    }
    return -1;
}

/* The body without leading blank lines and trailing white space. */
static void trim_body(const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;
    for (;;) {
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n && p[k] == '\n') {
            p += k + 1;
            n -= k + 1;
            continue;
        }
        break;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    *s = p;
    *len = n;
}

/* A short description from the body's first non-empty line ("# Title" -> "Title"). */
static char *description_from_body(const char *body, size_t len, const char *fallback)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '\n')
            end++;
        size_t s = i;
        while (s < end && (body[s] == '#' || isspace((unsigned char)body[s])))
            s++;
        size_t e = end;
        while (e > s && isspace((unsigned char)body[e - 1]))
            e--;
        if (e > s) {
            size_t n = e - s;
            if (n > MAX_DESCRIPTION_FROM_BODY) {
                n = MAX_DESCRIPTION_FROM_BODY;
                while (n > 0 && ((unsigned char)body[s + n] & 0xC0) == 0x80)
                    n--; /* do not cut a UTF-8 sequence */
            }
            return strndup(body + s, n);
        }
        i = end + 1;
    }
    return strdup(fallback);
}

static void diag_at(struct loader *ld, const char *file, const struct mb_doc *doc, const char *ptr,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Adds a diagnostic at the line of the front matter value named by the JSON pointer ptr. */
static void diag_at(struct loader *ld, const char *file, const struct mb_doc *doc, const char *ptr,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mb_diags_add(ld->diags, file, doc ? mb_doc_line(doc, ptr) : 0, "%s", msg);
}

/* Reads a file a message refers to, charging it to the size guard. Returns 0, 1 when the
 * guard is already exceeded (the caller stops quietly; the guard reports), or -1 after a
 * diagnostic. */
static int read_referenced(struct loader *ld, const char *file, const struct mb_doc *doc, const char *ptr,
                           const char *what, const char *rel, char **data, size_t *len)
{
    int rc = mb_resources_read_beneath(ld->dirfd, ld->root, rel, ledger_left(&ld->ledger), data, len);
    if (rc == 0 || rc == -EFBIG)
        ledger_add(&ld->ledger, rel, *len);
    if (rc == 0)
        return 0;
    if (rc == -EFBIG)
        return 1;
    diag_at(ld, file, doc, ptr, "%s '%s' %s", what, rel,
            rc == -EACCES ? "must be a plain relative path inside the prompts directory"
            : rc == -ENOENT ? "does not exist or is not a regular file"
                            : "cannot be read");
    return -1;
}

static const char *member_string(json_t *obj, const char *key, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_string(v))
        *bad = true;
    return json_string_value(v);
}

/* Builds the content object of one front matter message. Returns 0, 1 (size guard), -1. */
static int build_content(struct loader *ld, const char *file, const struct mb_doc *doc, const char *ptr,
                         json_t *m, json_t **content)
{
    int rc = -1;
    char *data = NULL, *b64 = NULL;
    size_t len = 0;
    bool bad = false;
    const char *text = member_string(m, "text", &bad);
    const char *image = member_string(m, "image", &bad);
    const char *mime = member_string(m, "mimeType", &bad);
    json_t *res = json_object_get(m, "resource");
    int kinds = (text != NULL) + (image != NULL) + (res != NULL);
    *content = NULL;
    if (bad || kinds != 1) {
        diag_at(ld, file, doc, ptr, "a message needs exactly one of text, image, resource%s",
                bad ? " (text, image and mimeType are strings)" : "");
        goto done;
    }
    if (text) {
        *content = json_pack("{s:s, s:s}", "type", "text", "text", text);
    } else if (image) {
        if (!mime)
            mime = mb_resources_mime_type(image);
        if (strncmp(mime, "image/", 6) != 0) {
            diag_at(ld, file, doc, ptr, "image '%s': unknown image type (%s); give mimeType", image, mime);
            goto done;
        }
        if ((rc = read_referenced(ld, file, doc, ptr, "image", image, &data, &len)) != 0)
            goto done;
        rc = -1;
        b64 = mb_base64_encode(data, len);
        *content = b64 ? json_pack("{s:s, s:s, s:s}", "type", "image", "data", b64, "mimeType", mime) : NULL;
    } else {
        const char *uri = json_is_object(res) ? member_string(res, "uri", &bad) : NULL;
        const char *rtext = json_is_object(res) ? member_string(res, "text", &bad) : NULL;
        const char *rfile = json_is_object(res) ? member_string(res, "file", &bad) : NULL;
        const char *rmime = json_is_object(res) ? member_string(res, "mimeType", &bad) : NULL;
        if (bad || !uri || (rtext != NULL) == (rfile != NULL)) {
            diag_at(ld, file, doc, ptr, "resource needs a string uri and exactly one of text, file");
            goto done;
        }
        json_t *inner = json_pack("{s:s}", "uri", uri);
        if (!inner)
            goto done;
        if (rtext) {
            json_object_set_new(inner, "mimeType", json_string(rmime ? rmime : "text/plain"));
            json_object_set_new(inner, "text", json_string(rtext));
        } else {
            int r = read_referenced(ld, file, doc, ptr, "resource file", rfile, &data, &len);
            if (r != 0) {
                json_decref(inner);
                rc = r;
                goto done;
            }
            if (!rmime)
                rmime = mb_resources_mime_type(rfile);
            json_object_set_new(inner, "mimeType", json_string(rmime));
            json_t *t = mb_resources_mime_is_text(rmime) ? json_stringn(data, len) : NULL;
            if (!t) {
                b64 = mb_base64_encode(data, len);
                json_object_set_new(inner, "blob", b64 ? json_string(b64) : NULL);
            } else {
                json_object_set_new(inner, "text", t);
            }
        }
        *content = json_pack("{s:s, s:o}", "type", "resource", "resource", inner);
    }
    rc = *content ? 0 : -1;
    if (rc != 0)
        mb_diags_add(ld->diags, file, 0, "out of memory");
done:
    free(data);
    free(b64);
    return rc;
}

static int parse_arguments(struct loader *ld, const char *file, const struct mb_doc *doc, json_t *list,
                           struct prompt *p, json_t *listing)
{
    int rc = -1;
    json_t *out = json_array();
    p->args = calloc(json_array_size(list) + 1, sizeof *p->args);
    if (!out || !p->args)
        goto done;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/arguments/%zu", i);
        bool bad = false;
        const char *name = json_is_string(a) ? json_string_value(a) : member_string(a, "name", &bad);
        const char *desc = json_is_object(a) ? member_string(a, "description", &bad) : NULL;
        const char *title = json_is_object(a) ? member_string(a, "title", &bad) : NULL;
        json_t *req = json_is_object(a) ? json_object_get(a, "required") : NULL;
        json_t *values = json_is_object(a) ? json_object_get(a, "enum") : NULL;
        if (!values && json_is_object(a))
            values = json_object_get(a, "values");
        if (bad || !name || !name_ok(name, strlen(name)) || (req && !json_is_boolean(req))) {
            diag_at(ld, file, doc, ptr, "an argument needs a name matching [A-Za-z0-9_.-]+; "
                    "description and title are strings, required a boolean");
            goto done;
        }
        for (size_t k = 0; k < p->nargs; k++)
            if (strcmp(p->args[k].name, name) == 0) {
                diag_at(ld, file, doc, ptr, "argument '%s' is declared twice", name);
                goto done;
            }
        if (values) {
            size_t k;
            json_t *v;
            bool ok = json_is_array(values);
            json_array_foreach(values, k, v) ok = ok && json_is_string(v);
            if (!ok) {
                diag_at(ld, file, doc, ptr, "argument '%s': enum/values must be a list of strings", name);
                goto done;
            }
        }
        struct prompt_arg *pa = &p->args[p->nargs];
        pa->name = strdup(name);
        pa->required = json_is_true(req);
        pa->values = json_incref(values);
        p->nargs++;
        json_t *entry = json_pack("{s:s, s:b}", "name", name, "required", pa->required);
        if (!pa->name || !entry || (title && json_object_set_new(entry, "title", json_string(title)) != 0) ||
            (desc && json_object_set_new(entry, "description", json_string(desc)) != 0) ||
            json_array_append_new(out, entry) != 0)
            goto done;
    }
    rc = json_object_set(listing, "arguments", out) == 0 ? 0 : -1;
done:
    json_decref(out);
    return rc;
}

/* Parses one prompt file (text of len bytes, NUL-terminated). Returns 0, 1 when the size guard
 * stopped it, -1 after diagnostics. */
static int parse_prompt(struct loader *ld, const char *fname, const char *name, const char *text, size_t len,
                        struct prompt *p)
{
    int rc = -1;
    struct mb_doc *doc = NULL;
    json_t *meta = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", ld->root, fname);
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->listing = json_pack("{s:s}", "name", name);
    p->messages = json_array();
    if (!p->name || !p->listing || !p->messages)
        goto oom;

    size_t bom = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    size_t yaml_len = 0, body_off = 0;
    int fm = split_front_matter(text + bom, len - bom, &yaml_len, &body_off);
    if (fm < 0) {
        mb_diags_add(ld->diags, path, 1, "front matter opened with '---' is never closed");
        goto done;
    }
    const char *body = text + bom + (fm ? body_off : 0);
    size_t body_len = len - bom - (fm ? body_off : 0);
    trim_body(&body, &body_len);
    if (fm) {
        const char *y = text + bom + 3;
        size_t ylen = yaml_len - 3, k = 0;
        while (k < ylen && isspace((unsigned char)y[k]))
            k++;
        if (k < ylen) {
            doc = mb_doc_load_buffer(path, text + bom, yaml_len, MB_DOC_YAML, ld->diags);
            if (!doc)
                goto done;
            meta = mb_doc_root(doc);
            if (json_is_null(meta)) {
                meta = NULL;
            } else if (!json_is_object(meta)) {
                mb_diags_add(ld->diags, path, 1, "front matter must be a mapping");
                goto done;
            }
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val) {
        char ptr[160];
        snprintf(ptr, sizeof ptr, "/%s", key);
        if (strcmp(key, "title") && strcmp(key, "description") && strcmp(key, "arguments") &&
            strcmp(key, "messages"))
            mb_warn(LOGGER, "%s:%d: unknown front matter key '%s' ignored", path, mb_doc_line(doc, ptr), key);
    }
    json_t *title = json_object_get(meta, "title");
    json_t *desc = json_object_get(meta, "description");
    json_t *args = json_object_get(meta, "arguments");
    json_t *msgs = json_object_get(meta, "messages");
    if ((title && !json_is_string(title)) || (desc && !json_is_string(desc))) {
        diag_at(ld, path, doc, title && !json_is_string(title) ? "/title" : "/description",
                "%s must be a string", title && !json_is_string(title) ? "title" : "description");
        goto done;
    }
    if ((args && !json_is_array(args)) || (msgs && !json_is_array(msgs))) {
        diag_at(ld, path, doc, args && !json_is_array(args) ? "/arguments" : "/messages", "%s must be a list",
                args && !json_is_array(args) ? "arguments" : "messages");
        goto done;
    }
    p->description = desc ? strdup(json_string_value(desc))
                          : description_from_body(body, body_len, title ? json_string_value(title) : name);
    if (!p->description || (title && json_object_set(p->listing, "title", title) != 0) ||
        json_object_set_new(p->listing, "description", json_string(p->description)) != 0)
        goto oom;
    if (args && parse_arguments(ld, path, doc, args, p, p->listing) != 0)
        goto done;

    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/messages/%zu", i);
        bool bad = !json_is_object(m);
        const char *role = bad ? NULL : member_string(m, "role", &bad);
        if (!role)
            role = "user";
        if (bad || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            diag_at(ld, path, doc, ptr, "a message is a mapping whose role is user or assistant");
            goto done;
        }
        json_t *content = NULL;
        int crc = build_content(ld, path, doc, ptr, m, &content);
        if (crc != 0) {
            rc = crc;
            goto done;
        }
        if (json_array_append_new(p->messages, json_pack("{s:s, s:o}", "role", role, "content", content)) != 0)
            goto oom;
    }
    /* The body is the only message, or follows the front matter messages when not empty. */
    if (!msgs || body_len > 0) {
        json_t *t = json_stringn(body, body_len);
        if (!t) {
            mb_diags_add(ld->diags, path, 0, "the body is not valid UTF-8");
            goto done;
        }
        if (json_array_append_new(p->messages, json_pack("{s:s, s:{s:s, s:o}}", "role", "user", "content",
                                                         "type", "text", "text", t)) != 0)
            goto oom;
    }
    rc = 0;
    goto done;
oom:
    mb_diags_add(ld->diags, path, 0, "out of memory");
done:
    mb_doc_destroy(doc);
    if (rc != 0)
        prompt_dispose(p);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_prompt(const void *a, const void *b)
{
    return strcmp(((const struct prompt *)a)->name, ((const struct prompt *)b)->name);
}

/* The sorted names of the *.md files of the directory open as fd (takes ownership of fd). */
static int list_md_files(int fd, const char *root, char ***names, size_t *count, struct mb_diags *diags)
{
    int rc = -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        mb_diags_add(diags, root, 0, "cannot read the prompts directory: %s", strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n <= 3 || strcmp(e->d_name + n - 3, ".md") != 0)
            continue;
        if (!name_ok(e->d_name, n - 3)) {
            mb_warn(LOGGER, "%s/%s skipped: a prompt name must match [A-Za-z0-9_.-]+ (at most %d bytes)",
                    root, e->d_name, MAX_NAME);
            continue;
        }
        if (*count == MAX_PROMPTS) {
            mb_diags_add(diags, root, 0, "more than %d prompt files", MAX_PROMPTS);
            goto done;
        }
        char **grown = realloc(*names, (*count + 1) * sizeof *grown);
        if (!grown)
            goto done;
        *names = grown;
        if (!(grown[*count] = strdup(e->d_name)))
            goto done;
        (*count)++;
    }
    if (*count > 1)
        qsort(*names, *count, sizeof **names, cmp_str);
    rc = 0;
done:
    closedir(d);
    return rc;
}

struct mb_prompt_set *mb_prompts_load(const char *dir, size_t max_total_bytes, struct mb_diags *diags)
{
    struct mb_prompt_set *set = calloc(1, sizeof *set);
    char **names = NULL;
    size_t nnames = 0;
    char root[PATH_MAX];
    struct loader ld = {.dirfd = -1, .root = root, .diags = diags};
    ld.ledger.cap = max_total_bytes ? max_total_bytes : DEFAULT_MAX_TOTAL_BYTES;
    int rc = -1;
    if (!set)
        goto done;
    if (!dir) {
        rc = 0;
        goto done;
    }
    if (!realpath(dir, root) || (ld.dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        mb_diags_add(diags, dir, 0, "prompts directory: %s", strerror(errno));
        goto done;
    }
    int fd = dup(ld.dirfd);
    if (fd < 0 || list_md_files(fd, root, &names, &nnames, diags) != 0)
        goto done;
    set->items = calloc(nnames + 1, sizeof *set->items);
    if (!set->items)
        goto done;
    bool failed = false;
    for (size_t i = 0; i < nnames; i++) {
        char *text = NULL;
        size_t len = 0;
        int r = mb_resources_read_beneath(ld.dirfd, root, names[i], ledger_left(&ld.ledger), &text, &len);
        if (r == 0 || r == -EFBIG)
            ledger_add(&ld.ledger, names[i], len);
        if (r == -EACCES) {
            mb_warn(LOGGER, "%s/%s skipped: it leads outside the prompts directory", root, names[i]);
        } else if (r == -ENOENT) {
            mb_warn(LOGGER, "%s/%s skipped: not a regular file", root, names[i]);
        } else if (r != 0 && r != -EFBIG) {
            mb_diags_add(diags, root, 0, "%s: cannot be read (%s)", names[i], strerror(-r));
            failed = true;
        } else if (r == 0) {
            names[i][strlen(names[i]) - 3] = '\0';
            char fname[NAME_MAX + 1];
            snprintf(fname, sizeof fname, "%s.md", names[i]);
            int pr = parse_prompt(&ld, fname, names[i], text, len, &set->items[set->count]);
            if (pr == 0)
                set->count++;
            else if (pr < 0)
                failed = true;
        }
        free(text);
    }
    if (ld.ledger.total > ld.ledger.cap) {
        char largest[3 * (NAME_MAX + 32)] = "";
        size_t off = 0;
        for (size_t i = 0; i < 3 && ld.ledger.top[i].name[0]; i++) {
            int w = snprintf(largest + off, sizeof largest - off, "%s%s (%zu bytes)", i ? ", " : "",
                             ld.ledger.top[i].name, ld.ledger.top[i].size);
            if (w < 0 || (size_t)w >= sizeof largest - off)
                break;
            off += (size_t)w;
        }
        mb_diags_add(diags, root, 0,
                     "prompt files total %zu bytes, over assistant.prompts.max_total_bytes %zu; largest: %s",
                     ld.ledger.total, ld.ledger.cap, largest);
        failed = true;
    }
    if (failed)
        goto done;
    if (set->count > 1)
        qsort(set->items, set->count, sizeof *set->items, cmp_prompt);
    rc = 0;
done:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (ld.dirfd >= 0)
        close(ld.dirfd);
    if (rc != 0) {
        mb_prompts_destroy(set);
        set = NULL;
    }
    return set;
}

json_t *mb_prompts_list(const struct mb_prompt_set *set)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && set && i < set->count; i++)
        json_array_append(arr, set->items[i].listing);
    return arr ? json_pack("{s:o}", "prompts", arr) : NULL;
}

static const struct prompt *find_prompt(const struct mb_prompt_set *set, const char *name)
{
    if (!set || !name || set->count == 0)
        return NULL;
    struct prompt key = {.name = (char *)name};
    return bsearch(&key, set->items, set->count, sizeof *set->items, cmp_prompt);
}

/* Replaces obj[key] (a string) by its substituted text. */
static int substitute_member(json_t *obj, const char *key, const json_t *vals)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return 0;
    struct mb_buf out;
    mb_buf_init(&out, MAX_TEXT_BYTES);
    int rc = mb_resources_substitute(json_string_value(v), json_string_length(v), vals, &out);
    if (rc == 0) {
        json_t *s = json_stringn(out.data ? out.data : "", out.len);
        rc = s && json_object_set_new(obj, key, s) == 0 ? 0 : -ENOMEM;
    }
    mb_buf_dispose(&out);
    return rc;
}

int mb_prompts_get(const struct mb_prompt_set *set, const char *name, const json_t *arguments,
                   json_t **result, char *msg, size_t msglen)
{
    int rc = -EINVAL;
    json_t *vals = json_object();
    json_t *messages = NULL;
    *result = NULL;
    if (msglen)
        msg[0] = '\0';
    const struct prompt *p = find_prompt(set, name);
    if (!p) {
        snprintf(msg, msglen, "unknown prompt '%s'", name ? name : "");
        rc = -ENOENT;
        goto done;
    }
    if (!vals) {
        rc = -ENOMEM;
        goto done;
    }
    if (arguments && !json_is_object(arguments) && !json_is_null(arguments)) {
        snprintf(msg, msglen, "arguments must be an object");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)arguments, key, v) {
        if (!json_is_string(v)) {
            snprintf(msg, msglen, "argument '%s' must be a string", key);
            goto done;
        }
    }
    for (size_t i = 0; i < p->nargs; i++) {
        json_t *given = json_object_get(arguments, p->args[i].name);
        if (!given && p->args[i].required) {
            snprintf(msg, msglen, "missing required argument '%s'", p->args[i].name);
            goto done;
        }
        /* A declared optional argument left out becomes empty text. */
        if (json_object_set_new(vals, p->args[i].name, given ? json_incref(given) : json_string("")) != 0) {
            rc = -ENOMEM;
            goto done;
        }
    }
    messages = json_deep_copy(p->messages);
    if (!messages) {
        rc = -ENOMEM;
        goto done;
    }
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *c = json_object_get(m, "content");
        json_t *r = json_object_get(c, "resource");
        int src = substitute_member(c, "text", vals);
        if (src == 0 && r) {
            src = substitute_member(r, "uri", vals);
            if (src == 0)
                src = substitute_member(r, "text", vals);
        }
        if (src == -E2BIG) {
            snprintf(msg, msglen, "the prompt text is over %zu bytes after substitution", MAX_TEXT_BYTES);
            goto done;
        }
        if (src != 0) {
            rc = -ENOMEM;
            goto done;
        }
    }
    *result = json_pack("{s:s, s:O}", "description", p->description, "messages", messages);
    rc = *result ? 0 : -ENOMEM;
done:
    json_decref(vals);
    json_decref(messages);
    return rc;
}

json_t *mb_prompts_complete(const struct mb_prompt_set *set, const char *name, const char *argument,
                            const char *prefix)
{
    const struct prompt *p = find_prompt(set, name);
    const struct prompt_arg *a = NULL;
    for (size_t i = 0; p && argument && i < p->nargs && !a; i++)
        if (strcmp(p->args[i].name, argument) == 0)
            a = &p->args[i];
    if (!a)
        return NULL;
    json_t *out = json_array();
    size_t plen = prefix ? strlen(prefix) : 0;
    size_t i;
    json_t *v;
    json_array_foreach(a->values, i, v) {
        if (!out || json_array_size(out) >= MAX_COMPLETIONS)
            break;
        if (strncmp(json_string_value(v), prefix ? prefix : "", plen) == 0)
            json_array_append(out, v);
    }
    return out;
}
