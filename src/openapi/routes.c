/* Route management (api.routes): which operations become tools and which tags they carry.
 * Each operation's tags are computed first: its spec tags normalized ("APSV Transport" ->
 * "group:apsv-transport"), then "entity:<name>" from every matching entity_rules entry, then
 * the tags of every matching "tags" entry. Then "maps" rules are tried in order and the first
 * whose pattern (POSIX extended regex, searched in the path), methods and tags all match decides
 * (mcp_type TOOL keeps, anything else excludes). An operation no rule matches, and every
 * operation when there is no routes section, is kept only if it is GET or HEAD (the read-only
 * default). Last, "exclude_tool_name_patterns" drops tools by fnmatch on their names.
 * Configuration errors are reported with the config file's line when the document is known. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "openapi/catalog_internal.h"

/* ---- tag spelling ---- */

/* prefix + the slug of text: lower case, runs of other characters than letters, digits, '_',
 * '.' and non-ASCII bytes turned into one '-', no '-' at either end. */
static char *slug(const char *prefix, const char *text)
{
    size_t plen = strlen(prefix), n = strlen(text);
    char *out = malloc(plen + n + 1);
    if (!out)
        return NULL;
    memcpy(out, prefix, plen);
    size_t o = plen;
    bool dash = false;
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c >= 0x80 || c == '_' || c == '.') {
            out[o++] = (char)tolower(c);
            dash = false;
        } else if (!dash && o > plen) {
            out[o++] = '-';
            dash = true;
        }
    }
    while (o > plen && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    return out;
}

char *mb_oa_tag_normalize(const char *tag)
{
    return slug("group:", strncasecmp(tag, "group:", 6) == 0 ? tag + 6 : tag);
}

char *mb_oa_tag_canon(const char *tag)
{
    if (strchr(tag, ':') && strncasecmp(tag, "group:", 6) != 0)
        return strdup(tag);
    return mb_oa_tag_normalize(tag);
}

/* ---- compiling ---- */

/* Pointer buffers below the routes section: a rule ("/entity_rules/12"), a member of it, an item.
 */
#define REL_MAX  64
#define SUB_MAX  (REL_MAX + 32)
#define ITEM_MAX (SUB_MAX + 24)

struct loader {
    const char *file;
    const struct mb_doc *doc; /* the config document, for lines; may be NULL */
    const char *base;         /* pointer of the routes section in doc */
    struct mb_diags *diags;
};

/* Adds "file:line: message"; rel is the pointer below the routes section ("/maps/0/pattern").
 * A member that is absent is located at its closest present ancestor. */
static void routes_error(const struct loader *L, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void routes_error(const struct loader *L, const char *rel, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = 0;
    if (L->doc) {
        char ptr[MB_OA_PTR_MAX];
        snprintf(ptr, sizeof ptr, "%s%s", L->base, rel);
        size_t keep = strlen(L->base);
        for (;;) {
            line = mb_doc_line(L->doc, ptr);
            char *slash = strrchr(ptr, '/');
            if (line > 0 || !slash || (size_t)(slash - ptr) < keep)
                break;
            *slash = '\0';
        }
    }
    mb_diags_add(L->diags, L->file, line, "%s", msg);
}

static void strings_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Compiles "pattern" and "methods" of rule object obj (named what, located at rel).
 * pattern_required: an absent pattern is an error (else it matches every path). */
static int compile_match(struct mb_oa_route_match *m, const json_t *obj, bool pattern_required,
                         const struct loader *L, const char *what, const char *rel)
{
    char sub[SUB_MAX];
    const json_t *pj = json_object_get(obj, "pattern");
    const char *pattern = json_string_value(pj);
    snprintf(sub, sizeof sub, "%s/pattern", rel);
    if ((pj && !pattern) || (!pj && pattern_required)) {
        routes_error(L, sub,
                     "%s.pattern must be a string (a POSIX extended regex searched in the path)",
                     what);
        return -1;
    }
    if (!pattern)
        pattern = "";
    int err = regcomp(&m->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (err != 0) {
        char why[128];
        regerror(err, &m->re, why, sizeof why);
        routes_error(L, sub, "%s.pattern '%.200s' is not a valid regex: %s", what, pattern, why);
        return -1;
    }
    m->re_ok = true;
    const json_t *methods = json_object_get(obj, "methods");
    snprintf(sub, sizeof sub, "%s/methods", rel);
    if (!methods || json_is_null(methods) ||
        (json_is_string(methods) && strcmp(json_string_value(methods), "*") == 0)) {
        m->all_methods = true;
        return 0;
    }
    if (!json_is_array(methods)) {
        routes_error(L, sub, "%s.methods must be an array", what);
        return -1;
    }
    size_t j;
    const json_t *v;
    json_array_foreach(methods, j, v) {
        const char *name = json_string_value(v);
        if (!name || !*name || strlen(name) >= sizeof m->methods[0]) {
            char item[ITEM_MAX];
            snprintf(item, sizeof item, "%s/%zu", sub, j);
            routes_error(L, item, "%s.methods[%zu] is not an HTTP method", what, j);
            return -1;
        }
        if (strcmp(name, "*") == 0) {
            m->all_methods = true;
            continue;
        }
        if (m->method_count >= sizeof m->methods / sizeof m->methods[0])
            continue; /* more entries than methods exist: duplicates */
        char *o = m->methods[m->method_count++];
        for (size_t k = 0; name[k]; k++)
            o[k] = (char)toupper((unsigned char)name[k]);
        o[strlen(name)] = '\0';
    }
    if (m->method_count == 0)
        m->all_methods = true; /* an empty list means "any method", like an absent one */
    return 0;
}

static void match_dispose(struct mb_oa_route_match *m)
{
    if (m->re_ok)
        regfree(&m->re);
    m->re_ok = false;
}

/* Reads a list of tag strings (member key of obj) into *out in canonical spelling
 * (mb_oa_tag_canon), without duplicates. required: absent or empty is an error. */
static int compile_tags(char ***out, size_t *count, const json_t *obj, const char *key,
                        bool required, const struct loader *L, const char *what, const char *rel)
{
    char sub[SUB_MAX];
    snprintf(sub, sizeof sub, "%s/%s", rel, key);
    const json_t *arr = json_object_get(obj, key);
    if (!arr || json_is_null(arr)) {
        if (!required)
            return 0;
        routes_error(L, sub, "%s.%s is required (a list of tags)", what, key);
        return -1;
    }
    if (!json_is_array(arr) || (required && json_array_size(arr) == 0)) {
        routes_error(L, sub, "%s.%s must be %s array of strings", what, key,
                     required ? "a non-empty" : "an");
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    *out = calloc(n, sizeof **out);
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        char *tag = v ? mb_oa_tag_canon(v) : NULL;
        if (v && !tag)
            return -ENOMEM;
        if (!tag || strcmp(tag, "group:") == 0 || tag[strlen(tag) - 1] == ':') {
            char item[ITEM_MAX];
            snprintf(item, sizeof item, "%s/%zu", sub, i);
            routes_error(L, item, "%s.%s[%zu] must be a tag name with letters or digits", what, key,
                         i);
            free(tag);
            return -1;
        }
        bool dup = false;
        for (size_t d = 0; d < *count && !dup; d++)
            dup = strcmp((*out)[d], tag) == 0;
        if (dup)
            free(tag);
        else
            (*out)[(*count)++] = tag;
    }
    return 0;
}

static int compile_map(struct mb_oa_route_rule *rule, const json_t *map, size_t i,
                       const char *rel_maps, const struct loader *L)
{
    char what[64], rel[REL_MAX];
    snprintf(what, sizeof what, "api.routes.maps[%zu]", i);
    snprintf(rel, sizeof rel, "%s/%zu", rel_maps, i);
    if (!json_is_object(map)) {
        routes_error(L, rel, "%s must be an object", what);
        return -1;
    }
    if (compile_match(&rule->m, map, false, L, what, rel) != 0)
        return -1;
    int rc = compile_tags(&rule->tags, &rule->tag_count, map, "tags", false, L, what, rel);
    if (rc != 0)
        return rc;
    const char *type = json_string_value(json_object_get(map, "mcp_type"));
    char sub[SUB_MAX];
    snprintf(sub, sizeof sub, "%s/mcp_type", rel);
    if (!type) {
        routes_error(L, sub, "%s.mcp_type is required (TOOL or EXCLUDE)", what);
        return -1;
    }
    /* RESOURCE / RESOURCE_TEMPLATE (other gateways' vocabulary) are not tools either. */
    rule->tool = strcasecmp(type, "TOOL") == 0;
    if (!rule->tool && strcasecmp(type, "EXCLUDE") != 0 && strcasecmp(type, "RESOURCE") != 0 &&
        strcasecmp(type, "RESOURCE_TEMPLATE") != 0) {
        routes_error(L, sub, "%s.mcp_type '%.64s' is not TOOL or EXCLUDE", what, type);
        return -1;
    }
    return 0;
}

static int compile_entity_rule(struct mb_oa_tag_rule *rule, const json_t *obj, size_t i,
                               const struct loader *L)
{
    char what[64], rel[REL_MAX], sub[SUB_MAX];
    snprintf(what, sizeof what, "api.routes.entity_rules[%zu]", i);
    snprintf(rel, sizeof rel, "/entity_rules/%zu", i);
    if (!json_is_object(obj)) {
        routes_error(L, rel, "%s must be an object {pattern, entity, methods?}", what);
        return -1;
    }
    if (compile_match(&rule->m, obj, true, L, what, rel) != 0)
        return -1;
    const char *entity = json_string_value(json_object_get(obj, "entity"));
    snprintf(sub, sizeof sub, "%s/entity", rel);
    if (!entity) {
        routes_error(L, sub, "%s.entity is required (a string naming the entity)", what);
        return -1;
    }
    char *tag = slug("entity:", strncasecmp(entity, "entity:", 7) == 0 ? entity + 7 : entity);
    if (!tag)
        return -ENOMEM;
    if (strcmp(tag, "entity:") == 0) {
        routes_error(L, sub, "%s.entity '%.64s' has no letters or digits", what, entity);
        free(tag);
        return -1;
    }
    rule->tags = calloc(1, sizeof *rule->tags);
    if (!rule->tags) {
        free(tag);
        return -ENOMEM;
    }
    rule->tags[0] = tag;
    rule->tag_count = 1;
    return 0;
}

static int compile_tag_rule(struct mb_oa_tag_rule *rule, const json_t *obj, size_t i,
                            const struct loader *L)
{
    char what[64], rel[REL_MAX];
    snprintf(what, sizeof what, "api.routes.tags[%zu]", i);
    snprintf(rel, sizeof rel, "/tags/%zu", i);
    if (json_is_string(obj)) {
        /* the first slice's meaning: a filter. Say how to write that now. */
        routes_error(
            L, rel,
            "%s is a plain string, but api.routes.tags adds tags to operations "
            "({\"pattern\": ..., \"methods\": [...], \"tags\": [...]}); to select operations by "
            "tag, "
            "use a maps rule with \"tags\", e.g. {\"pattern\": \".*\", \"tags\": [\"%.64s\"], "
            "\"mcp_type\": \"TOOL\"}",
            what, json_string_value(obj));
        return -1;
    }
    if (!json_is_object(obj)) {
        routes_error(L, rel, "%s must be an object {pattern, methods?, tags}", what);
        return -1;
    }
    if (compile_match(&rule->m, obj, true, L, what, rel) != 0)
        return -1;
    return compile_tags(&rule->tags, &rule->tag_count, obj, "tags", true, L, what, rel);
}

static int compile_name_patterns(struct mb_oa_routes *r, const json_t *arr, const struct loader *L)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        routes_error(L, "/exclude_tool_name_patterns",
                     "api.routes.exclude_tool_name_patterns must be an array of strings");
        return -1;
    }
    size_t n = json_array_size(arr);
    r->name_patterns = calloc(n ? n : 1, sizeof *r->name_patterns);
    if (!r->name_patterns)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        if (!v) {
            char rel[64];
            snprintf(rel, sizeof rel, "/exclude_tool_name_patterns/%zu", i);
            routes_error(L, rel, "api.routes.exclude_tool_name_patterns[%zu] must be a string", i);
            return -1;
        }
        if (!(r->name_patterns[r->name_pattern_count] = strdup(v)))
            return -ENOMEM;
        r->name_pattern_count++;
    }
    return 0;
}

/* Compiles one optional array member of routes with fn (one call per element). */
static int
compile_tag_rules(struct mb_oa_tag_rule **rules, size_t *count, const json_t *arr, const char *key,
                  int (*fn)(struct mb_oa_tag_rule *, const json_t *, size_t, const struct loader *),
                  const struct loader *L)
{
    if (!arr || json_is_null(arr))
        return 0;
    char rel[64];
    snprintf(rel, sizeof rel, "/%s", key);
    if (!json_is_array(arr)) {
        routes_error(L, rel, "api.routes.%s must be an array of objects", key);
        return -1;
    }
    size_t n = json_array_size(arr);
    *rules = calloc(n ? n : 1, sizeof **rules);
    if (!*rules)
        return -ENOMEM;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        *count = i + 1;
        int rc = fn(&(*rules)[i], json_array_get(arr, i), i, L);
        if (rc == -ENOMEM)
            return rc;
        bad |= rc;
        if (rc != 0 && json_is_string(json_array_get(arr, i)))
            break; /* the old filter form: one explanation is enough */
    }
    return bad ? -1 : 0;
}

int mb_oa_routes_init(struct mb_oa_routes *r, const json_t *routes, bool all_methods,
                      const char *file, struct mb_diags *diags)
{
    return mb_oa_routes_init_doc(r, routes, all_methods, file, NULL, NULL, diags);
}

int mb_oa_routes_init_doc(struct mb_oa_routes *r, const json_t *routes, bool all_methods,
                          const char *file, const struct mb_doc *doc, const char *ptr,
                          struct mb_diags *diags)
{
    int rc = -1;
    struct loader L = {file, ptr ? doc : NULL, ptr ? ptr : "", diags};
    memset(r, 0, sizeof *r);
    r->name_max = MB_OA_NAME_MAX;
    r->all = all_methods;
    if (all_methods || !routes || json_is_null(routes)) {
        rc = 0;
        goto done;
    }
    r->present = true;
    if (!json_is_array(routes) && !json_is_object(routes)) {
        routes_error(&L, "", "api.routes must be an object");
        goto done;
    }
    const json_t *maps = json_is_array(routes) ? routes : json_object_get(routes, "maps");
    const char *rel_maps = json_is_array(routes) ? "" : "/maps";
    if (maps && !json_is_null(maps) && !json_is_array(maps)) {
        routes_error(&L, rel_maps, "api.routes.maps must be an array");
        goto done;
    }
    size_t n = json_array_size(maps);
    r->rules = calloc(n ? n : 1, sizeof *r->rules);
    if (!r->rules)
        goto nomem;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        r->rule_count = i + 1;
        int crc = compile_map(&r->rules[i], json_array_get(maps, i), i, rel_maps, &L);
        if (crc == -ENOMEM)
            goto nomem;
        bad |= crc;
    }
    if (json_is_object(routes)) {
        int crc[3];
        crc[0] = compile_tag_rules(&r->entity_rules, &r->entity_rule_count,
                                   json_object_get(routes, "entity_rules"), "entity_rules",
                                   compile_entity_rule, &L);
        crc[1] = compile_tag_rules(&r->tag_rules, &r->tag_rule_count,
                                   json_object_get(routes, "tags"), "tags", compile_tag_rule, &L);
        crc[2] =
            compile_name_patterns(r, json_object_get(routes, "exclude_tool_name_patterns"), &L);
        for (int k = 0; k < 3; k++) {
            if (crc[k] == -ENOMEM)
                goto nomem;
            bad |= crc[k];
        }
    }
    if (bad)
        goto done;
    rc = 0;
    goto done;
nomem:
    mb_diags_add(diags, file, 0, "out of memory while reading api.routes");
done:
    if (rc != 0)
        mb_oa_routes_dispose(r);
    return rc;
}

static void tag_rules_dispose(struct mb_oa_tag_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        match_dispose(&rules[i].m);
        strings_free(rules[i].tags, rules[i].tag_count);
    }
    free(rules);
}

void mb_oa_routes_dispose(struct mb_oa_routes *r)
{
    for (size_t i = 0; i < r->rule_count; i++) {
        match_dispose(&r->rules[i].m);
        strings_free(r->rules[i].tags, r->rules[i].tag_count);
    }
    free(r->rules);
    tag_rules_dispose(r->entity_rules, r->entity_rule_count);
    tag_rules_dispose(r->tag_rules, r->tag_rule_count);
    strings_free(r->name_patterns, r->name_pattern_count);
    memset(r, 0, sizeof *r);
}

/* ---- applying ---- */

static bool matches(const struct mb_oa_route_match *m, const char *method, const char *path)
{
    bool method_ok = m->all_methods;
    for (size_t k = 0; k < m->method_count && !method_ok; k++)
        method_ok = strcmp(m->methods[k], method) == 0;
    return method_ok && regexec(&m->re, path, 0, NULL, 0) == 0;
}

/* Appends tag (heap, ownership taken: freed when it is a duplicate or does not fit) to list
 * (capacity cap). Returns 0, or -ENOMEM when tag is NULL (a failed copy). */
static int add_tag(char **list, size_t *n, size_t cap, char *tag)
{
    if (!tag)
        return -ENOMEM;
    for (size_t d = 0; d < *n; d++) {
        if (strcmp(list[d], tag) == 0) {
            free(tag);
            return 0;
        }
    }
    if (*n >= cap) {
        free(tag);
        return 0;
    }
    list[(*n)++] = tag;
    return 0;
}

int mb_oa_routes_tags(const struct mb_oa_routes *r, const char *method, const char *path,
                      const json_t *spec_tags, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t cap = json_array_size(spec_tags);
    for (size_t i = 0; i < r->entity_rule_count; i++)
        cap += matches(&r->entity_rules[i].m, method, path) ? r->entity_rules[i].tag_count : 0;
    for (size_t i = 0; i < r->tag_rule_count; i++)
        cap += matches(&r->tag_rules[i].m, method, path) ? r->tag_rules[i].tag_count : 0;
    if (cap == 0)
        return 0;
    char **list = calloc(cap, sizeof *list);
    if (!list)
        return -ENOMEM;
    size_t n = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(spec_tags, i, t) {
        const char *raw = json_string_value(t);
        if (!raw || !*raw)
            continue;
        if (add_tag(list, &n, cap, mb_oa_tag_normalize(raw)) != 0)
            goto nomem;
    }
    const struct {
        const struct mb_oa_tag_rule *rules;
        size_t n;
    } sets[2] = {{r->entity_rules, r->entity_rule_count}, {r->tag_rules, r->tag_rule_count}};
    for (int s = 0; s < 2; s++) {
        for (size_t k = 0; k < sets[s].n; k++) {
            const struct mb_oa_tag_rule *rule = &sets[s].rules[k];
            if (!matches(&rule->m, method, path))
                continue;
            for (size_t j = 0; j < rule->tag_count; j++)
                if (add_tag(list, &n, cap, strdup(rule->tags[j])) != 0)
                    goto nomem;
        }
    }
    if (n == 0) {
        free(list);
        return 0;
    }
    *out = list;
    *count = n;
    return 0;
nomem:
    strings_free(list, n);
    return -ENOMEM;
}

static bool read_only_method(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static bool tags_match(const struct mb_oa_route_rule *rule, char *const *tags, size_t tag_count)
{
    for (size_t i = 0; i < rule->tag_count; i++)
        for (size_t k = 0; k < tag_count; k++)
            if (strcmp(rule->tags[i], tags[k]) == 0)
                return true;
    return false;
}

bool mb_oa_routes_keep(const struct mb_oa_routes *r, const char *method, const char *path,
                       char *const *tags, size_t tag_count)
{
    if (r->all)
        return true;
    if (!r->present)
        return read_only_method(method);
    for (size_t i = 0; i < r->rule_count; i++) {
        const struct mb_oa_route_rule *rule = &r->rules[i];
        if (rule->tag_count > 0 && !tags_match(rule, tags, tag_count))
            continue;
        if (matches(&rule->m, method, path))
            return rule->tool;
    }
    return read_only_method(method);
}

bool mb_oa_routes_name_excluded(const struct mb_oa_routes *r, const char *name)
{
    if (r->all)
        return false;
    for (size_t i = 0; i < r->name_pattern_count; i++)
        if (fnmatch(r->name_patterns[i], name, 0) == 0)
            return true;
    return false;
}
