/* Route management (api.routes): which operations become tools. Rules in "maps" are tried in
 * order and the first whose pattern (POSIX extended regex, searched in the path) and methods
 * match decides (mcp_type TOOL keeps, anything else excludes). An operation no rule matches,
 * and every operation when there is no routes section, is kept only if it is GET or HEAD
 * (the read-only default). "tags" restricts operations to those tags; "exclude_tool_name_patterns"
 * drops tools by fnmatch on their names. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "openapi/catalog_internal.h"

char *mb_oa_tag_normalize(const char *tag)
{
    size_t n = strlen(tag);
    char *out = malloc(n + 7);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = tag;
    if (strncasecmp(tag, "group:", 6) == 0)
        p += 6;
    memcpy(out, "group:", 6);
    o = 6;
    bool dash = false;
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c >= 0x80 || c == '_' || c == '.') {
            out[o++] = (char)tolower(c);
            dash = false;
        } else if (!dash && o > 6) {
            out[o++] = '-';
            dash = true;
        }
    }
    while (o > 6 && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    return out;
}

static int add_strings(char ***list, size_t *count, const json_t *arr, bool normalize_tags,
                       const char *file, const char *what, struct mb_diags *diags)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr)) {
        mb_diags_add(diags, file, 0, "api.routes.%s must be an array of strings", what);
        return -1;
    }
    size_t n = json_array_size(arr);
    *list = calloc(n ? n : 1, sizeof **list);
    if (!*list)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        if (!v) {
            mb_diags_add(diags, file, 0, "api.routes.%s[%zu] must be a string", what, i);
            return -1;
        }
        char *copy = normalize_tags ? mb_oa_tag_normalize(v) : strdup(v);
        if (!copy)
            return -1;
        (*list)[(*count)++] = copy;
    }
    return 0;
}

static int compile_rule(struct mb_oa_route_rule *rule, const json_t *map, size_t i, const char *file,
                        struct mb_diags *diags)
{
    if (!json_is_object(map)) {
        mb_diags_add(diags, file, 0, "api.routes.maps[%zu] must be an object", i);
        return -1;
    }
    const char *pattern = json_string_value(json_object_get(map, "pattern"));
    const char *type = json_string_value(json_object_get(map, "mcp_type"));
    const json_t *methods = json_object_get(map, "methods");
    if (!pattern)
        pattern = "";
    int err = regcomp(&rule->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (err != 0) {
        char why[128];
        regerror(err, &rule->re, why, sizeof why);
        mb_diags_add(diags, file, 0, "api.routes.maps[%zu].pattern '%.200s' is not a valid regex: %s",
                     i, pattern, why);
        return -1;
    }
    rule->re_ok = true;
    if (!type) {
        mb_diags_add(diags, file, 0, "api.routes.maps[%zu].mcp_type is required (TOOL or EXCLUDE)", i);
        return -1;
    }
    /* RESOURCE / RESOURCE_TEMPLATE (other gateways' vocabulary) are not tools either. */
    rule->tool = strcasecmp(type, "TOOL") == 0;
    if (!rule->tool && strcasecmp(type, "EXCLUDE") != 0 && strcasecmp(type, "RESOURCE") != 0 &&
        strcasecmp(type, "RESOURCE_TEMPLATE") != 0) {
        mb_diags_add(diags, file, 0, "api.routes.maps[%zu].mcp_type '%.64s' is not TOOL or EXCLUDE", i, type);
        return -1;
    }
    if (!methods || (json_is_string(methods) && strcmp(json_string_value(methods), "*") == 0)) {
        rule->all_methods = true;
        return 0;
    }
    if (!json_is_array(methods)) {
        mb_diags_add(diags, file, 0, "api.routes.maps[%zu].methods must be an array", i);
        return -1;
    }
    size_t j;
    const json_t *m;
    json_array_foreach(methods, j, m) {
        const char *name = json_string_value(m);
        if (!name || strlen(name) >= sizeof rule->methods[0]) {
            mb_diags_add(diags, file, 0, "api.routes.maps[%zu].methods[%zu] is not an HTTP method", i, j);
            return -1;
        }
        if (strcmp(name, "*") == 0) {
            rule->all_methods = true;
            continue;
        }
        if (rule->method_count >= sizeof rule->methods / sizeof rule->methods[0])
            continue; /* more entries than methods exist: duplicates */
        char *o = rule->methods[rule->method_count++];
        for (size_t k = 0; name[k]; k++)
            o[k] = (char)toupper((unsigned char)name[k]);
        o[strlen(name)] = '\0';
    }
    if (rule->method_count == 0)
        rule->all_methods = true; /* an empty list means "any method", like an absent one */
    return 0;
}

int mb_oa_routes_init(struct mb_oa_routes *r, const json_t *routes, bool all_methods,
                      const char *file, struct mb_diags *diags)
{
    int rc = -1;
    memset(r, 0, sizeof *r);
    r->name_max = MB_OA_NAME_MAX;
    r->all = all_methods;
    if (all_methods || !routes || json_is_null(routes)) {
        rc = 0;
        goto done;
    }
    r->present = true;
    const json_t *maps = json_is_array(routes) ? routes : json_object_get(routes, "maps");
    if (!json_is_array(routes) && !json_is_object(routes)) {
        mb_diags_add(diags, file, 0, "api.routes must be an object");
        goto done;
    }
    if (maps && !json_is_array(maps)) {
        mb_diags_add(diags, file, 0, "api.routes.maps must be an array");
        goto done;
    }
    size_t n = json_array_size(maps);
    r->rules = calloc(n ? n : 1, sizeof *r->rules);
    if (!r->rules)
        goto done;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        r->rule_count = i + 1;
        bad |= compile_rule(&r->rules[i], json_array_get(maps, i), i, file, diags);
    }
    if (bad)
        goto done;
    if (json_is_object(routes)) {
        if (add_strings(&r->tags, &r->tag_count, json_object_get(routes, "tags"), true, file, "tags", diags) ||
            add_strings(&r->name_patterns, &r->name_pattern_count,
                        json_object_get(routes, "exclude_tool_name_patterns"), false, file,
                        "exclude_tool_name_patterns", diags))
            goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        mb_oa_routes_dispose(r);
    return rc;
}

void mb_oa_routes_dispose(struct mb_oa_routes *r)
{
    for (size_t i = 0; i < r->rule_count; i++)
        if (r->rules[i].re_ok)
            regfree(&r->rules[i].re);
    free(r->rules);
    for (size_t i = 0; i < r->tag_count; i++)
        free(r->tags[i]);
    free(r->tags);
    for (size_t i = 0; i < r->name_pattern_count; i++)
        free(r->name_patterns[i]);
    free(r->name_patterns);
    memset(r, 0, sizeof *r);
}

static bool read_only_method(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static bool tags_match(const struct mb_oa_routes *r, const json_t *tags)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tags, i, t) {
        if (!json_is_string(t))
            continue;
        char *norm = mb_oa_tag_normalize(json_string_value(t));
        bool hit = false;
        for (size_t k = 0; norm && k < r->tag_count && !hit; k++)
            hit = strcmp(norm, r->tags[k]) == 0;
        free(norm);
        if (hit)
            return true;
    }
    return false;
}

bool mb_oa_routes_keep(const struct mb_oa_routes *r, const char *method, const char *path,
                       const json_t *tags)
{
    if (r->all)
        return true;
    if (!r->present)
        return read_only_method(method);
    if (r->tag_count > 0 && !tags_match(r, tags))
        return false;
    for (size_t i = 0; i < r->rule_count; i++) {
        const struct mb_oa_route_rule *rule = &r->rules[i];
        bool method_ok = rule->all_methods;
        for (size_t k = 0; k < rule->method_count && !method_ok; k++)
            method_ok = strcmp(rule->methods[k], method) == 0;
        if (method_ok && regexec(&rule->re, path, 0, NULL, 0) == 0)
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
