/* Implementation of resources.h: the listing of a resources directory (every regular file as
 * "file:///<path>", or as _index.json/_index.yaml maps it), RFC 6570 level-1 URI templates,
 * and reads that never leave the directory. Only the listing is kept in memory; contents are
 * read per request through mb_resources_read_beneath (openat2 RESOLVE_BENEATH, or a realpath
 * check), capped at max_file_bytes. The set is immutable once loaded. */
#include "mcp/resources.h"

#include "common/base64.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


#include "common/buf.h"
#include "common/doc.h"
#include "common/log.h"

#define LOGGER "resources"
#define DEFAULT_MAX_FILE_BYTES ((size_t)1 << 20)
#define MAX_FILES 10000          /* files listed from one directory tree */
#define MAX_DEPTH 16             /* directory nesting walked */
#define MAX_REL_PATH 1024        /* bytes of a relative path */
#define MAX_URI 4096             /* bytes of a URI we try to match */
#define MAX_TEMPLATE 1024        /* bytes of a URI template */
#define MAX_TEMPLATE_VARS 16
#define MAX_INDEX_BYTES ((size_t)1 << 20)
#define MAX_COMPLETIONS 100

/* One piece of a parsed level-1 template: literal text or a {variable}. */
struct tpart {
    bool is_var;
    char *text; /* literal bytes or the variable name, owned */
    size_t len;
};

struct tpattern {
    struct tpart *parts;
    size_t nparts;
    size_t nvars;
};

struct res_entry {
    char *uri;
    char *file;    /* relative path below the root */
    char *mime;
    json_t *listing; /* the resources/list entry */
};

struct tmpl_entry {
    char *uri_template;
    struct tpattern uri;
    struct tpattern file;
    char *mime;
    json_t *listing; /* the resources/templates/list entry */
    json_t *values;  /* {var: [strings]} for completion, may be NULL */
};

struct mb_resource_set {
    int dirfd;
    char *root;
    size_t max_file_bytes;
    struct res_entry *res; /* sorted by uri */
    size_t nres, capres;
    struct tmpl_entry *tmpl;
    size_t ntmpl;
};

/* ---- shared helpers ---------------------------------------------------------------- */

static const struct {
    const char *ext;
    const char *mime;
} mime_table[] = {
    {"txt", "text/plain"},        {"text", "text/plain"},      {"md", "text/markdown"},
    {"markdown", "text/markdown"}, {"json", "application/json"}, {"html", "text/html"},
    {"htm", "text/html"},         {"csv", "text/csv"},         {"xml", "application/xml"},
    {"yaml", "application/yaml"}, {"yml", "application/yaml"}, {"css", "text/css"},
    {"png", "image/png"},         {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},         {"svg", "image/svg+xml"},    {"webp", "image/webp"},
    {"wav", "audio/wav"},         {"mp3", "audio/mpeg"},       {"pdf", "application/pdf"},
    {"bin", "application/octet-stream"},
};

const char *mb_resources_mime_type(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *base = slash ? slash + 1 : path;
    const char *dot = base ? strrchr(base, '.') : NULL;
    if (!dot || dot == base)
        return "application/octet-stream";
    for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
        if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
            return mime_table[i].mime;
    return "application/octet-stream";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int mb_resources_mime_is_text(const char *mime)
{
    if (!mime)
        return 0;
    if (strncasecmp(mime, "text/", 5) == 0)
        return 1;
    static const char *const text_types[] = {"application/json", "application/xml",
                                             "application/yaml", "application/x-yaml",
                                             "application/javascript", "image/svg+xml"};
    for (size_t i = 0; i < sizeof text_types / sizeof text_types[0]; i++)
        if (strcasecmp(mime, text_types[i]) == 0)
            return 1;
    return ends_with(mime, "+json") || ends_with(mime, "+xml");
}

/* A relative path we are willing to resolve: not empty, no leading '/', no empty, "." or
 * ".." component, no control characters, at most MAX_REL_PATH bytes. */
static bool rel_path_ok(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > MAX_REL_PATH || rel[0] == '/')
        return false;
    const char *p = rel;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t clen = end ? (size_t)(end - p) : strlen(p);
        if (clen == 0 || (clen == 1 && p[0] == '.') || (clen == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        for (size_t i = 0; i < clen; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return false;
        p += clen;
        if (*p == '/')
            p++;
    }
    return true;
}

/* Opens rel below dirfd without leaving root. Returns an fd or a negative errno. */
static int open_beneath(int dirfd, const char *root, const char *rel)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd >= 0)
        return (int)fd;
    if (errno == EXDEV || errno == ELOOP)
        return -EACCES;
    if (errno != ENOSYS && errno != EPERM && errno != EINVAL)
        return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
    /* No openat2 (old kernel or seccomp): resolve and check the prefix ourselves. */
    char full[PATH_MAX], resolved[PATH_MAX];
    if (snprintf(full, sizeof full, "%s/%s", root, rel) >= (int)sizeof full)
        return -EACCES;
    if (!realpath(full, resolved))
        return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;
    size_t rlen = strlen(root);
    if (strncmp(resolved, root, rlen) != 0 || resolved[rlen] != '/')
        return -EACCES;
    int f = open(resolved, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    return f >= 0 ? f : (errno == ENOENT ? -ENOENT : -EACCES);
}

int mb_resources_read_beneath(int dirfd, const char *root, const char *rel, size_t max_bytes,
                              char **data, size_t *len)
{
    int rc = -EIO;
    int fd = -1;
    char *buf = NULL;
    *data = NULL;
    *len = 0;
    if (!rel || !root || !rel_path_ok(rel)) {
        rc = -EACCES;
        goto done;
    }
    fd = open_beneath(dirfd, root, rel);
    if (fd < 0) {
        rc = fd;
        goto done;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -EIO;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -ENOENT;
        goto done;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        *len = (size_t)st.st_size;
        rc = -EFBIG;
        goto done;
    }
    size_t want = (size_t)st.st_size;
    buf = malloc(want + 2);
    if (!buf) {
        rc = -ENOMEM;
        goto done;
    }
    /* Read one byte more than stat said, to notice a file that grew past the cap. */
    size_t got = 0;
    while (got < want + 1) {
        ssize_t r = read(fd, buf + got, want + 1 - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -EIO;
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > max_bytes) {
        *len = got;
        rc = -EFBIG;
        goto done;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

int mb_resources_substitute(const char *text, size_t len, const json_t *values, struct mb_buf *out)
{
    int rc = 0;
    size_t i = 0, lit = 0; /* lit: start of the literal run not yet copied */
    while (i + 1 < len) {
        if (text[i] != '{' || text[i + 1] != '{') {
            i++;
            continue;
        }
        size_t j = i + 2;
        while (j < len && text[j] == ' ')
            j++;
        size_t name_start = j;
        while (j < len && is_name_char(text[j]) && j - name_start < 128)
            j++;
        size_t name_len = j - name_start;
        while (j < len && text[j] == ' ')
            j++;
        if (name_len == 0 || j + 1 >= len || text[j] != '}' || text[j + 1] != '}') {
            i += 2;
            continue;
        }
        char name[129];
        memcpy(name, text + name_start, name_len);
        name[name_len] = '\0';
        const json_t *v = values ? json_object_get(values, name) : NULL;
        if (!json_is_string(v)) {
            i = j + 2;
            continue;
        }
        if ((rc = mb_buf_append(out, text + lit, i - lit)) != 0 ||
            (rc = mb_buf_append(out, json_string_value(v), json_string_length(v))) != 0)
            goto done;
        i = j + 2;
        lit = i;
    }
    rc = mb_buf_append(out, text + lit, len - lit);
done:
    return rc;
}

/* ---- templates ---------------------------------------------------------------------- */

static void tpattern_dispose(struct tpattern *p)
{
    for (size_t i = 0; i < p->nparts; i++)
        free(p->parts[i].text);
    free(p->parts);
    memset(p, 0, sizeof *p);
}

static int tpattern_add(struct tpattern *p, bool is_var, const char *text, size_t len)
{
    struct tpart *parts = realloc(p->parts, (p->nparts + 1) * sizeof *parts);
    if (!parts)
        return -ENOMEM;
    p->parts = parts;
    char *copy = strndup(text, len);
    if (!copy)
        return -ENOMEM;
    parts[p->nparts++] = (struct tpart){.is_var = is_var, .text = copy, .len = len};
    if (is_var)
        p->nvars++;
    return 0;
}

/* Parses an RFC 6570 level-1 template ("test://x/{id}/data"). Writes a reason into why on
 * failure: operators (+#./;?&), bad names, adjacent variables, too many variables. */
static int tpattern_parse(const char *s, struct tpattern *p, char *why, size_t whylen)
{
    int rc = -EINVAL;
    memset(p, 0, sizeof *p);
    size_t n = strlen(s);
    if (n == 0 || n > MAX_TEMPLATE) {
        snprintf(why, whylen, "empty or longer than %d bytes", MAX_TEMPLATE);
        goto done;
    }
    size_t i = 0;
    while (i < n) {
        if (s[i] == '}') {
            snprintf(why, whylen, "unbalanced '}' at offset %zu", i);
            goto done;
        }
        if (s[i] != '{') {
            size_t j = i;
            while (j < n && s[j] != '{' && s[j] != '}')
                j++;
            if (tpattern_add(p, false, s + i, j - i) != 0) {
                rc = -ENOMEM;
                goto done;
            }
            i = j;
            continue;
        }
        const char *close = memchr(s + i, '}', n - i);
        if (!close) {
            snprintf(why, whylen, "unclosed '{' at offset %zu", i);
            goto done;
        }
        size_t vlen = (size_t)(close - (s + i)) - 1;
        const char *v = s + i + 1;
        if (vlen == 0 || strchr("+#./;?&=,!@|", v[0])) {
            snprintf(why, whylen, "only level-1 {name} expressions are supported (offset %zu)", i);
            goto done;
        }
        for (size_t k = 0; k < vlen; k++)
            if (!isalnum((unsigned char)v[k]) && v[k] != '_' && v[k] != '.') {
                snprintf(why, whylen, "bad variable name '%.*s'", (int)vlen, v);
                goto done;
            }
        if (p->nparts > 0 && p->parts[p->nparts - 1].is_var) {
            snprintf(why, whylen, "adjacent variables need a literal between them");
            goto done;
        }
        if (p->nvars == MAX_TEMPLATE_VARS) {
            snprintf(why, whylen, "more than %d variables", MAX_TEMPLATE_VARS);
            goto done;
        }
        if (tpattern_add(p, true, v, vlen) != 0) {
            rc = -ENOMEM;
            goto done;
        }
        i = (size_t)(close - s) + 1;
    }
    rc = 0;
done:
    if (rc != 0)
        tpattern_dispose(p);
    return rc;
}

static bool tpattern_has_var(const struct tpattern *p, const char *name)
{
    for (size_t i = 0; i < p->nparts; i++)
        if (p->parts[i].is_var && strcmp(p->parts[i].text, name) == 0)
            return true;
    return false;
}

struct match_state {
    const struct tpattern *p;
    const char *u;
    size_t ulen;
    unsigned char *memo; /* nvars x (ulen+1): 1 = known to fail from here */
    size_t *cap_off, *cap_len;
};

static bool match_from(struct match_state *m, size_t pi, size_t vi, size_t ui)
{
    if (pi == m->p->nparts)
        return ui == m->ulen;
    const struct tpart *part = &m->p->parts[pi];
    if (!part->is_var) {
        if (m->ulen - ui < part->len || memcmp(m->u + ui, part->text, part->len) != 0)
            return false;
        return match_from(m, pi + 1, vi, ui + part->len);
    }
    unsigned char *seen = &m->memo[vi * (m->ulen + 1) + ui];
    if (*seen)
        return false;
    for (size_t k = ui; k < m->ulen && m->u[k] != '/'; k++) {
        m->cap_off[pi] = ui;
        m->cap_len[pi] = k + 1 - ui;
        if (match_from(m, pi + 1, vi + 1, k + 1))
            return true;
    }
    *seen = 1;
    return false;
}

/* Matches uri against p; a variable takes one or more characters other than '/'. On a match
 * returns a new object {var: value} (values as they appear in the URI), else NULL. */
static json_t *tpattern_match(const struct tpattern *p, const char *uri)
{
    json_t *vars = NULL;
    size_t ulen = strlen(uri);
    if (ulen > MAX_URI)
        return NULL;
    unsigned char *memo = calloc(p->nvars ? p->nvars * (ulen + 1) : 1, 1);
    size_t *cap_off = calloc(p->nparts + 1, sizeof *cap_off);
    size_t *cap_len = calloc(p->nparts + 1, sizeof *cap_len);
    if (!memo || !cap_off || !cap_len)
        goto done;
    struct match_state m = {p, uri, ulen, memo, cap_off, cap_len};
    if (!match_from(&m, 0, 0, 0))
        goto done;
    vars = json_object();
    for (size_t i = 0; vars && i < p->nparts; i++) {
        if (!p->parts[i].is_var)
            continue;
        json_t *v = json_stringn(uri + cap_off[i], cap_len[i]);
        if (!v || json_object_set_new(vars, p->parts[i].text, v) != 0) {
            json_decref(vars);
            vars = NULL;
        }
    }
done:
    free(memo);
    free(cap_off);
    free(cap_len);
    return vars;
}

/* Expands p with vars into out (level-1, values inserted as they are). */
static int tpattern_expand(const struct tpattern *p, const json_t *vars, struct mb_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < p->nparts && rc == 0; i++) {
        if (!p->parts[i].is_var) {
            rc = mb_buf_append(out, p->parts[i].text, p->parts[i].len);
            continue;
        }
        const json_t *v = json_object_get(vars, p->parts[i].text);
        rc = v ? mb_buf_append_str(out, json_string_value(v)) : -EINVAL;
    }
    return rc;
}

/* ---- the set ------------------------------------------------------------------------ */

static void res_entry_dispose(struct res_entry *r)
{
    free(r->uri);
    free(r->file);
    free(r->mime);
    json_decref(r->listing);
}

static void tmpl_entry_dispose(struct tmpl_entry *t)
{
    free(t->uri_template);
    tpattern_dispose(&t->uri);
    tpattern_dispose(&t->file);
    free(t->mime);
    json_decref(t->listing);
    json_decref(t->values);
}

void mb_resources_destroy(struct mb_resource_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nres; i++)
        res_entry_dispose(&set->res[i]);
    free(set->res);
    for (size_t i = 0; i < set->ntmpl; i++)
        tmpl_entry_dispose(&set->tmpl[i]);
    free(set->tmpl);
    if (set->dirfd >= 0)
        close(set->dirfd);
    free(set->root);
    free(set);
}

size_t mb_resources_count(const struct mb_resource_set *set)
{
    return set ? set->nres : 0;
}

/* Adds a static resource; takes nothing, copies everything. listing_extra may add title and
 * description. Returns 0 or -ENOMEM. */
static int add_resource(struct mb_resource_set *set, const char *uri, const char *file, const char *name,
                        const char *title, const char *description, const char *mime)
{
    if (set->nres == set->capres) {
        size_t cap = set->capres ? set->capres * 2 : 16;
        struct res_entry *res = realloc(set->res, cap * sizeof *res);
        if (!res)
            return -ENOMEM;
        set->res = res;
        set->capres = cap;
    }
    struct res_entry r = {strdup(uri), strdup(file), strdup(mime), json_object()};
    int rc = -ENOMEM;
    if (!r.uri || !r.file || !r.mime || !r.listing)
        goto done;
    if (json_object_set_new(r.listing, "uri", json_string(uri)) != 0 ||
        json_object_set_new(r.listing, "name", json_string(name)) != 0 ||
        (title && json_object_set_new(r.listing, "title", json_string(title)) != 0) ||
        (description && json_object_set_new(r.listing, "description", json_string(description)) != 0) ||
        json_object_set_new(r.listing, "mimeType", json_string(mime)) != 0)
        goto done;
    set->res[set->nres++] = r;
    rc = 0;
done:
    if (rc != 0)
        res_entry_dispose(&r);
    return rc;
}

/* "file:///" + rel with bytes outside RFC 3986 pchar (and '/') percent-encoded. */
static int file_uri(const char *rel, struct mb_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = mb_buf_append_str(out, "file:///");
    for (const unsigned char *p = (const unsigned char *)rel; *p && rc == 0; p++) {
        if (isalnum(*p) || strchr("-._~/!$&'()*+,;=:@", *p)) {
            rc = mb_buf_append(out, p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = mb_buf_append(out, enc, 3);
        }
    }
    return rc;
}

static const char *opt_string(json_t *obj, const char *key, const struct mb_doc *doc, const char *ptr,
                              struct mb_diags *diags, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", ptr, key);
        mb_diags_add(diags, mb_doc_name(doc), mb_doc_line(doc, p), "%s must be a string", key);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static bool file_exists_beneath(const struct mb_resource_set *set, const char *rel, const char **why)
{
    char *data = NULL;
    size_t len = 0;
    int rc = mb_resources_read_beneath(set->dirfd, set->root, rel, 0, &data, &len);
    free(data);
    if (rc == 0 || rc == -EFBIG)
        return true;
    *why = rc == -EACCES ? "is outside the resources directory or not a plain relative path"
                         : "does not exist or is not a regular file";
    return false;
}

static int load_index_resources(struct mb_resource_set *set, const struct mb_doc *doc, json_t *list,
                                 json_t *mapped, struct mb_diags *diags)
{
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/resources/%zu", i);
        int line = mb_doc_line(doc, ptr);
        if (!json_is_object(item)) {
            mb_diags_add(diags, mb_doc_name(doc), line, "resources[%zu] must be an object", i);
            rc = -EINVAL;
            continue;
        }
        bool bad = false;
        const char *uri = opt_string(item, "uri", doc, ptr, diags, &bad);
        const char *file = opt_string(item, "file", doc, ptr, diags, &bad);
        const char *name = opt_string(item, "name", doc, ptr, diags, &bad);
        const char *title = opt_string(item, "title", doc, ptr, diags, &bad);
        const char *desc = opt_string(item, "description", doc, ptr, diags, &bad);
        const char *mime = opt_string(item, "mimeType", doc, ptr, diags, &bad);
        const char *why = NULL;
        if (!bad && (!uri || !*uri || !file)) {
            mb_diags_add(diags, mb_doc_name(doc), line, "resources[%zu] needs \"uri\" and \"file\"", i);
            bad = true;
        }
        if (!bad && !file_exists_beneath(set, file, &why)) {
            mb_diags_add(diags, mb_doc_name(doc), line, "resources[%zu]: file '%s' %s", i, file, why);
            bad = true;
        }
        if (bad) {
            rc = -EINVAL;
            continue;
        }
        const char *slash = strrchr(file, '/');
        int arc = add_resource(set, uri, file, name ? name : (slash ? slash + 1 : file), title, desc,
                               mime ? mime : mb_resources_mime_type(file));
        if (arc != 0 || json_object_set_new(mapped, file, json_true()) != 0)
            return -ENOMEM;
    }
    return rc;
}

static int check_values(const struct mb_doc *doc, const char *ptr, json_t *values,
                        const struct tpattern *uri, struct mb_diags *diags)
{
    int line = mb_doc_line(doc, ptr);
    if (!json_is_object(values)) {
        mb_diags_add(diags, mb_doc_name(doc), line, "values must be an object {variable: [strings]}");
        return -EINVAL;
    }
    const char *var;
    json_t *arr;
    json_object_foreach(values, var, arr) {
        if (!tpattern_has_var(uri, var)) {
            mb_diags_add(diags, mb_doc_name(doc), line, "values: '%s' is not a variable of the template", var);
            return -EINVAL;
        }
        size_t k;
        json_t *s;
        if (!json_is_array(arr)) {
            mb_diags_add(diags, mb_doc_name(doc), line, "values.%s must be a list of strings", var);
            return -EINVAL;
        }
        json_array_foreach(arr, k, s) {
            if (!json_is_string(s)) {
                mb_diags_add(diags, mb_doc_name(doc), line, "values.%s must be a list of strings", var);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static int load_index_templates(struct mb_resource_set *set, const struct mb_doc *doc, json_t *list,
                                struct mb_diags *diags)
{
    int rc = 0;
    size_t n = json_array_size(list);
    set->tmpl = calloc(n ? n : 1, sizeof *set->tmpl);
    if (!set->tmpl)
        return -ENOMEM;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        char ptr[64], vptr[80], why[160];
        snprintf(ptr, sizeof ptr, "/templates/%zu", i);
        int line = mb_doc_line(doc, ptr);
        if (!json_is_object(item)) {
            mb_diags_add(diags, mb_doc_name(doc), line, "templates[%zu] must be an object", i);
            rc = -EINVAL;
            continue;
        }
        bool bad = false;
        const char *ut = opt_string(item, "uriTemplate", doc, ptr, diags, &bad);
        const char *file = opt_string(item, "file", doc, ptr, diags, &bad);
        const char *name = opt_string(item, "name", doc, ptr, diags, &bad);
        const char *title = opt_string(item, "title", doc, ptr, diags, &bad);
        const char *desc = opt_string(item, "description", doc, ptr, diags, &bad);
        const char *mime = opt_string(item, "mimeType", doc, ptr, diags, &bad);
        json_t *values = json_object_get(item, "values");
        if (bad) {
            rc = -EINVAL;
            continue;
        }
        if (!ut || !file) {
            mb_diags_add(diags, mb_doc_name(doc), line, "templates[%zu] needs \"uriTemplate\" and \"file\"", i);
            rc = -EINVAL;
            continue;
        }
        struct tmpl_entry t = {0};
        int prc = tpattern_parse(ut, &t.uri, why, sizeof why);
        if (prc == -ENOMEM)
            return -ENOMEM;
        if (prc != 0) {
            mb_diags_add(diags, mb_doc_name(doc), line, "templates[%zu]: uriTemplate '%s': %s", i, ut, why);
            rc = -EINVAL;
            continue;
        }
        prc = tpattern_parse(file, &t.file, why, sizeof why);
        if (prc == 0) {
            for (size_t k = 0; k < t.file.nparts; k++)
                if (t.file.parts[k].is_var && !tpattern_has_var(&t.uri, t.file.parts[k].text)) {
                    snprintf(why, sizeof why, "variable '%s' is not in the uriTemplate", t.file.parts[k].text);
                    prc = -EINVAL;
                }
            /* The literal parts must already make a plain relative path ("x" for each value). */
            char probe[MAX_REL_PATH + 1] = "";
            size_t off = 0;
            for (size_t k = 0; prc == 0 && k < t.file.nparts && off < sizeof probe; k++)
                off += (size_t)snprintf(probe + off, sizeof probe - off, "%s",
                                        t.file.parts[k].is_var ? "x" : t.file.parts[k].text);
            if (prc == 0 && (off >= sizeof probe || !rel_path_ok(probe))) {
                snprintf(why, sizeof why, "not a plain relative path");
                prc = -EINVAL;
            }
        }
        snprintf(vptr, sizeof vptr, "%s/values", ptr);
        if (prc != 0) {
            mb_diags_add(diags, mb_doc_name(doc), line, "templates[%zu]: file '%s': %s", i, file, why);
        } else if (values && check_values(doc, vptr, values, &t.uri, diags) != 0) {
            prc = -EINVAL;
        }
        if (prc != 0) {
            tmpl_entry_dispose(&t);
            if (prc == -ENOMEM)
                return -ENOMEM;
            rc = -EINVAL;
            continue;
        }
        /* The file of a template may not exist at all for some values; it is checked per read. */
        t.uri_template = strdup(ut);
        t.mime = strdup(mime ? mime : mb_resources_mime_type(file));
        t.values = json_incref(values);
        t.listing = json_object();
        if (!t.uri_template || !t.mime || !t.listing ||
            json_object_set_new(t.listing, "uriTemplate", json_string(ut)) != 0 ||
            json_object_set_new(t.listing, "name", json_string(name ? name : ut)) != 0 ||
            (title && json_object_set_new(t.listing, "title", json_string(title)) != 0) ||
            (desc && json_object_set_new(t.listing, "description", json_string(desc)) != 0) ||
            json_object_set_new(t.listing, "mimeType", json_string(t.mime)) != 0) {
            tmpl_entry_dispose(&t);
            return -ENOMEM;
        }
        set->tmpl[set->ntmpl++] = t;
    }
    return rc;
}

/* Loads _index.json, _index.yaml or _index.yml when present. */
static int load_index(struct mb_resource_set *set, json_t *mapped, struct mb_diags *diags)
{
    static const char *const names[] = {"_index.json", "_index.yaml", "_index.yml"};
    int rc = 0;
    struct mb_doc *doc = NULL;
    const char *found = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct stat st;
        if (fstatat(set->dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (found) {
            mb_warn(LOGGER, "%s/%s ignored: %s is used", set->root, names[i], found);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            mb_diags_add(diags, set->root, 0, "%s must be a regular file", names[i]);
            rc = -EINVAL;
            goto done;
        }
        found = names[i];
    }
    if (!found)
        goto done;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", set->root, found);
    doc = mb_doc_load_file(path, MAX_INDEX_BYTES, diags);
    if (!doc) {
        rc = -EINVAL;
        goto done;
    }
    json_t *root = mb_doc_root(doc);
    if (!json_is_object(root)) {
        mb_diags_add(diags, path, 1, "must be an object with \"resources\" and/or \"templates\"");
        rc = -EINVAL;
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "resources") != 0 && strcmp(key, "templates") != 0)
            mb_warn(LOGGER, "%s:%d: unknown key '%s' ignored", path, mb_doc_line(doc, ""), key);
    }
    json_t *res = json_object_get(root, "resources");
    json_t *tmpl = json_object_get(root, "templates");
    if ((res && !json_is_array(res)) || (tmpl && !json_is_array(tmpl))) {
        mb_diags_add(diags, path, mb_doc_line(doc, res && !json_is_array(res) ? "/resources" : "/templates"),
                     "\"resources\" and \"templates\" must be lists");
        rc = -EINVAL;
        goto done;
    }
    int r1 = res ? load_index_resources(set, doc, res, mapped, diags) : 0;
    int r2 = r1 == -ENOMEM ? 0 : tmpl ? load_index_templates(set, doc, tmpl, diags) : 0;
    rc = r1 ? r1 : r2;
done:
    mb_doc_destroy(doc);
    return rc;
}

/* True when rel is the file of a template (so it is served through the template only). */
static bool is_template_file(const struct mb_resource_set *set, const char *rel)
{
    for (size_t i = 0; i < set->ntmpl; i++) {
        json_t *m = tpattern_match(&set->tmpl[i].file, rel);
        if (m) {
            json_decref(m);
            return true;
        }
    }
    return false;
}

static int add_file(struct mb_resource_set *set, const char *rel, json_t *mapped, struct mb_diags *diags)
{
    int rc = 0;
    struct mb_buf uri;
    mb_buf_init(&uri, MAX_URI);
    if (json_object_get(mapped, rel) || is_template_file(set, rel))
        goto done;
    if (set->nres >= MAX_FILES) {
        mb_diags_add(diags, set->root, 0, "more than %d resource files", MAX_FILES);
        rc = -E2BIG;
        goto done;
    }
    if ((rc = file_uri(rel, &uri)) != 0)
        goto done;
    rc = add_resource(set, uri.data, rel, rel, NULL, NULL, mb_resources_mime_type(rel));
done:
    mb_buf_dispose(&uri);
    return rc;
}

/* True for paths the listing hides: a component starting with '.', or the index itself. */
static bool is_hidden_path(const char *rel)
{
    if (strcmp(rel, "_index.json") == 0 || strcmp(rel, "_index.yaml") == 0 || strcmp(rel, "_index.yml") == 0)
        return true;
    for (const char *p = rel; p; p = strchr(p, '/')) {
        if (*p == '/')
            p++;
        if (*p == '.')
            return true;
    }
    return false;
}

/* Walks the directory open as fd (relative path prefix, "" at the root). Takes ownership of fd. */
static int walk(struct mb_resource_set *set, int fd, const char *prefix, int depth, json_t *mapped,
                struct mb_diags *diags)
{
    int rc = 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        mb_diags_add(diags, set->root, 0, "cannot read directory '%s': %s", *prefix ? prefix : ".", strerror(errno));
        return -EIO;
    }
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] == '.')
            continue; /* ".", ".." and hidden files */
        if (depth == 0 && (strcmp(n, "_index.json") == 0 || strcmp(n, "_index.yaml") == 0 ||
                           strcmp(n, "_index.yml") == 0))
            continue;
        char rel[MAX_REL_PATH + 1];
        if (snprintf(rel, sizeof rel, "%s%s", prefix, n) >= (int)sizeof rel) {
            mb_warn(LOGGER, "%s: path too long, skipped: %s%s", set->root, prefix, n);
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth + 1 >= MAX_DEPTH) {
                mb_warn(LOGGER, "%s: deeper than %d levels, skipped: %s", set->root, MAX_DEPTH, rel);
                continue;
            }
            int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            char sub_prefix[MAX_REL_PATH + 2];
            snprintf(sub_prefix, sizeof sub_prefix, "%s/", rel);
            rc = walk(set, sub, sub_prefix, depth + 1, mapped, diags);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(set, rel, mapped, diags);
        } else if (S_ISLNK(st.st_mode)) {
            const char *why = NULL;
            if (file_exists_beneath(set, rel, &why))
                rc = add_file(set, rel, mapped, diags);
            else
                mb_warn(LOGGER, "%s: symbolic link '%s' skipped: target %s", set->root, rel, why);
        }
    }
    closedir(d);
    return rc;
}

static int cmp_res(const void *a, const void *b)
{
    return strcmp(((const struct res_entry *)a)->uri, ((const struct res_entry *)b)->uri);
}

struct mb_resource_set *mb_resources_load(const char *dir, size_t max_file_bytes, struct mb_diags *diags)
{
    struct mb_resource_set *set = calloc(1, sizeof *set);
    json_t *mapped = json_object();
    int rc = -1;
    if (!set || !mapped)
        goto done;
    set->dirfd = -1;
    set->max_file_bytes = max_file_bytes ? max_file_bytes : DEFAULT_MAX_FILE_BYTES;
    if (!dir) {
        rc = 0;
        goto done;
    }
    char resolved[PATH_MAX];
    if (!realpath(dir, resolved)) {
        mb_diags_add(diags, dir, 0, "resources directory: %s", strerror(errno));
        goto done;
    }
    set->root = strdup(resolved);
    set->dirfd = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!set->root || set->dirfd < 0) {
        mb_diags_add(diags, dir, 0, "resources directory: %s", set->root ? strerror(errno) : "out of memory");
        goto done;
    }
    if (load_index(set, mapped, diags) != 0)
        goto done;
    int fd = dup(set->dirfd);
    if (fd < 0 || walk(set, fd, "", 0, mapped, diags) != 0)
        goto done;
    if (set->nres > 1)
        qsort(set->res, set->nres, sizeof *set->res, cmp_res);
    rc = 0;
    for (size_t i = 1; i < set->nres; i++) {
        if (strcmp(set->res[i - 1].uri, set->res[i].uri) == 0) {
            mb_diags_add(diags, set->root, 0, "URI '%s' names both '%s' and '%s'", set->res[i].uri,
                         set->res[i - 1].file, set->res[i].file);
            rc = -1;
        }
    }
    for (size_t i = 0; i < set->ntmpl; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(set->tmpl[i].uri_template, set->tmpl[k].uri_template) == 0) {
                mb_diags_add(diags, set->root, 0, "uriTemplate '%s' is defined twice", set->tmpl[i].uri_template);
                rc = -1;
            }
done:
    json_decref(mapped);
    if (rc != 0) {
        mb_resources_destroy(set);
        set = NULL;
    }
    return set;
}

json_t *mb_resources_list(const struct mb_resource_set *set)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && set && i < set->nres; i++)
        json_array_append(arr, set->res[i].listing);
    return arr ? json_pack("{s:o}", "resources", arr) : NULL;
}

json_t *mb_resources_templates(const struct mb_resource_set *set)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && set && i < set->ntmpl; i++)
        json_array_append(arr, set->tmpl[i].listing);
    return arr ? json_pack("{s:o}", "resourceTemplates", arr) : NULL;
}

static const struct res_entry *find_static(const struct mb_resource_set *set, const char *uri)
{
    if (!set || set->nres == 0)
        return NULL;
    struct res_entry key = {.uri = (char *)uri};
    return bsearch(&key, set->res, set->nres, sizeof *set->res, cmp_res);
}

/* Finds the first template matching uri; *vars gets the captured variables (new reference). */
static const struct tmpl_entry *find_template(const struct mb_resource_set *set, const char *uri, json_t **vars)
{
    for (size_t i = 0; set && i < set->ntmpl; i++) {
        json_t *v = tpattern_match(&set->tmpl[i].uri, uri);
        if (v) {
            *vars = v;
            return &set->tmpl[i];
        }
    }
    return NULL;
}

int mb_resources_exists(const struct mb_resource_set *set, const char *uri)
{
    if (!uri)
        return 0;
    if (find_static(set, uri))
        return 1;
    json_t *vars = NULL;
    const struct tmpl_entry *t = find_template(set, uri, &vars);
    json_decref(vars);
    return t != NULL;
}

/* Builds {uri, mimeType, text|blob}; takes nothing. */
static json_t *make_content(const char *uri, const char *mime, const char *data, size_t len)
{
    json_t *c = json_pack("{s:s, s:s}", "uri", uri, "mimeType", mime);
    if (!c)
        return NULL;
    json_t *text = mb_resources_mime_is_text(mime) ? json_stringn(data, len) : NULL;
    if (text) {
        if (json_object_set_new(c, "text", text) != 0)
            goto fail;
        return c;
    }
    char *b64 = mb_base64_encode(data, len);
    json_t *blob = b64 ? json_string(b64) : NULL;
    free(b64);
    if (!blob || json_object_set_new(c, "blob", blob) != 0)
        goto fail;
    return c;
fail:
    json_decref(c);
    return NULL;
}

int mb_resources_read(const struct mb_resource_set *set, const char *uri, json_t **result)
{
    int rc = -ENOENT;
    json_t *vars = NULL;
    char *data = NULL;
    size_t len = 0;
    struct mb_buf path, text;
    mb_buf_init(&path, MAX_REL_PATH);
    mb_buf_init(&text, 0);
    *result = NULL;
    if (!set || !uri || !set->root)
        goto done;
    const char *mime = NULL;
    const struct res_entry *r = find_static(set, uri);
    const struct tmpl_entry *t = NULL;
    if (r) {
        mime = r->mime;
        rc = mb_resources_read_beneath(set->dirfd, set->root, r->file, set->max_file_bytes, &data, &len);
    } else if ((t = find_template(set, uri, &vars)) != NULL) {
        mime = t->mime;
        /* Template values must not reach what the listing hides (".env", ".git/", the index). */
        if (tpattern_expand(&t->file, vars, &path) != 0 || !path.data || is_hidden_path(path.data)) {
            rc = -ENOENT;
            goto done;
        }
        rc = mb_resources_read_beneath(set->dirfd, set->root, path.data, set->max_file_bytes, &data, &len);
        if (rc == 0 && mb_resources_mime_is_text(mime)) {
            /* Values come from the URI; a placeholder may repeat, so the text may grow. */
            mb_buf_init(&text, set->max_file_bytes + (size_t)MAX_URI * 16);
            int src = mb_resources_substitute(data, len, vars, &text);
            if (src != 0) {
                rc = src == -E2BIG ? -EFBIG : src;
                goto done;
            }
        }
    } else {
        goto done;
    }
    if (rc == -EACCES)
        rc = -ENOENT; /* a path that would escape names nothing */
    if (rc != 0)
        goto done;
    json_t *content = text.data ? make_content(uri, mime, text.data, text.len)
                                : make_content(uri, mime, data ? data : "", len);
    json_t *contents = content ? json_array() : NULL;
    if (!contents || json_array_append_new(contents, content) != 0) {
        json_decref(contents);
        if (!contents)
            json_decref(content);
        rc = -ENOMEM;
        goto done;
    }
    *result = json_pack("{s:o}", "contents", contents);
    rc = *result ? 0 : -ENOMEM;
done:
    if (rc != 0 && rc != -ENOENT && rc != -EFBIG && rc != -ENOMEM)
        rc = -EIO;
    free(data);
    json_decref(vars);
    mb_buf_dispose(&path);
    mb_buf_dispose(&text);
    return rc;
}

json_t *mb_resources_complete(const struct mb_resource_set *set, const char *uri_template,
                              const char *variable, const char *prefix)
{
    if (!set || !uri_template || !variable)
        return NULL;
    const struct tmpl_entry *t = NULL;
    for (size_t i = 0; i < set->ntmpl && !t; i++)
        if (strcmp(set->tmpl[i].uri_template, uri_template) == 0)
            t = &set->tmpl[i];
    if (!t || !tpattern_has_var(&t->uri, variable))
        return NULL;
    json_t *out = json_array();
    size_t plen = prefix ? strlen(prefix) : 0;
    json_t *vals = t->values ? json_object_get(t->values, variable) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
        if (!out || json_array_size(out) >= MAX_COMPLETIONS)
            break;
        if (strncmp(json_string_value(v), prefix ? prefix : "", plen) == 0)
            json_array_append(out, v);
    }
    return out;
}
