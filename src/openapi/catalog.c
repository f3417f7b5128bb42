/* The catalog's life cycle: load the spec, compile the routes, build the tools, tag them,
 * apply openapi_visibility, add the helper tools (and meta mode), index them by name and
 * serialize the tools/list pages, all before the workers fork; afterwards the catalog is
 * only read. Also the `mcpbridge tools` listing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "openapi/catalog_internal.h"
#include "openapi/visibility.h"

/* ---- operationId, from the spec (the document is alive during the build) ---- */

/* The tools' tags were attached while building (routes.c: spec tags, entity_rules, tags). */
static int annotate(struct mb_catalog *cat, struct mb_oa_spec *s)
{
    const json_t *paths = json_object_get(s->root, "paths");
    for (size_t i = 0; i < cat->tool_count; i++) {
        struct mb_tool *t = &cat->tools[i];
        char ptr[MB_OA_PTR_MAX] = "/paths";
        const json_t *item = json_object_get(paths, t->path_template);
        if (!item || mb_oa_ptr_push(ptr, sizeof ptr, t->path_template) != 0)
            continue;
        item = mb_oa_deref(s, item, ptr, sizeof ptr);
        char method[8];
        size_t k = 0;
        for (; t->method[k] && k + 1 < sizeof method; k++)
            method[k] = (char)tolower((unsigned char)t->method[k]);
        method[k] = '\0';
        const json_t *op = json_object_get(item, method);
        const char *opid = json_string_value(json_object_get(op, "operationId"));
        if (opid && !t->operation_id && !(t->operation_id = strdup(opid)))
            return -ENOMEM;
    }
    return 0;
}

char *mb_catalog_tag_normalize(const char *tag)
{
    return mb_oa_tag_canon(tag ? tag : "");
}

/* ---- helper tools ---- */

struct helper_def {
    enum mb_helper_id id;
    const char *name;
    const char *title;
    const char *schema;   /* inputSchema, JSON */
};

static const struct helper_def helper_defs[] = {
    { MB_HELPER_SEARCH_TOOLS, "search_tools", "Search the API's tools",
      "{\"type\":\"object\",\"properties\":{"
      "\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200,"
      "\"description\":\"Keywords, e.g. 'list orders of a customer'; matched against tool names, titles, descriptions, tags and paths.\"},"
      "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,\"default\":10,"
      "\"description\":\"How many tools to return, best matches first.\"},"
      "\"tag\":{\"type\":\"string\",\"maxLength\":128,"
      "\"description\":\"Only tools with this tag (as listed by list_all_tags, e.g. group:orders).\"}},"
      "\"required\":[\"query\"],\"additionalProperties\":false}" },
    { MB_HELPER_GET_TOOL_SCHEMA, "get_tool_schema", "Get a tool's definition",
      "{\"type\":\"object\",\"properties\":{"
      "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,"
      "\"description\":\"The exact tool name.\"}},"
      "\"required\":[\"name\"],\"additionalProperties\":false}" },
    { MB_HELPER_CALL_TOOL, "call_tool", "Call an API tool by name",
      "{\"type\":\"object\",\"properties\":{"
      "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,"
      "\"description\":\"The exact tool name (from search_tools).\"},"
      "\"arguments\":{\"type\":\"object\","
      "\"description\":\"The tool's arguments, as its inputSchema describes them (get_tool_schema).\"}},"
      "\"required\":[\"name\"],\"additionalProperties\":false}" },
    { MB_HELPER_LIST_ALL_TAGS, "list_all_tags", "List the tags of the API's tools",
      "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}" },
    { MB_HELPER_GET_FILTER_FIELDS, "get_filter_fields", "Get a tool's filter parameters",
      "{\"type\":\"object\",\"properties\":{"
      "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,"
      "\"description\":\"The exact name of a list or search tool.\"}},"
      "\"required\":[\"name\"],\"additionalProperties\":false}" },
    { MB_HELPER_SELECT_PROMPTS, "select_prompts", "Find prompt templates",
      "{\"type\":\"object\",\"properties\":{"
      "\"query\":{\"type\":\"string\",\"maxLength\":200,"
      "\"description\":\"Keywords matched against prompt names, titles, descriptions and argument names; absent or empty lists every prompt.\"},"
      "\"tag\":{\"type\":\"string\",\"maxLength\":128,"
      "\"description\":\"A tool tag (e.g. group:orders, from list_all_tags): prompts about that tag or its tools.\"}},"
      "\"additionalProperties\":false}" },
};

#define HELPER_COUNT (sizeof helper_defs / sizeof helper_defs[0])

/* Whether helper d is offered: search_tools and call_tool only in meta mode; the others when
 * helpers are enabled (unset: in meta mode only; get_tool_schema always in meta mode);
 * select_prompts needs prompts. */
static bool helper_offered(const struct helper_def *d, const struct mb_oa_options *o, bool meta)
{
    bool enabled = o->helpers_enabled < 0 ? meta : o->helpers_enabled > 0;
    switch (d->id) {
    case MB_HELPER_SEARCH_TOOLS:
    case MB_HELPER_CALL_TOOL:
        return meta;
    case MB_HELPER_GET_TOOL_SCHEMA:
        return meta || enabled;
    case MB_HELPER_SELECT_PROMPTS:
        return enabled && o->with_prompts;
    default:
        return enabled;
    }
}

static const char *helper_description(enum mb_helper_id id, const char *const *names, size_t ops, char *buf,
                                      size_t size)
{
    switch (id) {
    case MB_HELPER_SEARCH_TOOLS:
        snprintf(buf, size,
                 "Searches this server's %zu API tools by keywords in their names, descriptions, tags and paths, "
                 "best matches first. The API is large, so tools/list shows only helper tools: find the tool "
                 "here, read its arguments with %s, then run it with %s.",
                 ops, names[MB_HELPER_GET_TOOL_SCHEMA], names[MB_HELPER_CALL_TOOL]);
        break;
    case MB_HELPER_GET_TOOL_SCHEMA:
        snprintf(buf, size,
                 "Returns the full definition of one tool by name: description, inputSchema (the arguments "
                 "it accepts), outputSchema, annotations, tags and, for API operations, the HTTP method and path.");
        break;
    case MB_HELPER_CALL_TOOL:
        snprintf(buf, size,
                 "Calls one API tool by name, exactly as if it were called directly: the arguments are "
                 "validated against the tool's inputSchema (see %s) and the result is the tool's result. "
                 "Find names with %s.",
                 names[MB_HELPER_GET_TOOL_SCHEMA], names[MB_HELPER_SEARCH_TOOLS]);
        break;
    case MB_HELPER_LIST_ALL_TAGS:
        snprintf(buf, size,
                 "Lists the tags that group this server's API tools (group:<name> from the API description, "
                 "entity:<name> and others from the server's configuration), with the "
                 "number of tools and the tool names under each tag, and the tools without a tag. Use it "
                 "for an overview of what the API can do.");
        break;
    case MB_HELPER_GET_FILTER_FIELDS:
        snprintf(buf, size,
                 "Lists the query parameters of one API tool that work as filters (useful for list and "
                 "search operations): argument name, type, allowed values, default, description, examples "
                 "and whether it is required.");
        break;
    case MB_HELPER_SELECT_PROMPTS:
        snprintf(buf, size,
                 "Finds this server's prompt templates by keywords (query) or by a tool tag (tag), with "
                 "their descriptions and arguments. Get a chosen prompt with prompts/get.");
        break;
    default:
        buf[0] = '\0';
    }
    return buf;
}

/* Annotations of call_tool summarize the operations it can reach. */
static json_t *helper_annotations(const struct mb_catalog *cat, enum mb_helper_id id)
{
    if (id != MB_HELPER_CALL_TOOL)
        return json_pack("{s:b,s:b,s:b,s:b}", "readOnlyHint", 1, "destructiveHint", 0, "idempotentHint", 1,
                         "openWorldHint", 0);
    bool read_only = true, destructive = false;
    for (size_t i = 0; i < cat->operation_count; i++) {
        const char *m = cat->tools[i].method;
        read_only &= strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
        destructive |= strcmp(m, "DELETE") == 0;
    }
    return json_pack("{s:b,s:b,s:b,s:b}", "readOnlyHint", read_only, "destructiveHint", destructive,
                     "idempotentHint", read_only, "openWorldHint", 1);
}

/* Appends the offered helpers after the operations and, in meta mode, unlists the
 * operations. A helper whose name an operation already has is renamed "mcpbridge_<name>". */
static int add_helpers(struct mb_catalog *cat, const struct mb_oa_options *o, const char *file,
                       struct mb_diags *diags)
{
    bool meta = o->mode == MB_TOOLS_META || (o->mode == MB_TOOLS_AUTO && cat->operation_count > o->meta_threshold);
    char names[MB_HELPER_CALL_TOOL + 1][MB_OA_NAME_MAX + 1];
    const char *name_ptrs[MB_HELPER_CALL_TOOL + 1] = { 0 };
    size_t count = 0;
    for (size_t h = 0; h < HELPER_COUNT; h++) {
        const struct helper_def *d = &helper_defs[h];
        snprintf(names[d->id], sizeof names[d->id], "%s", d->name);
        name_ptrs[d->id] = names[d->id];
        if (!helper_offered(d, o, meta))
            continue;
        count++;
        for (size_t i = 0; i < cat->operation_count; i++) {
            if (strcmp(cat->tools[i].name, names[d->id]) != 0)
                continue;
            snprintf(names[d->id], sizeof names[d->id], "mcpbridge_%s", d->name);
            mb_warn("openapi", "an operation is named %s: the helper tool is called %s instead", d->name,
                    names[d->id]);
            for (size_t j = 0; j < cat->operation_count; j++) {
                if (strcmp(cat->tools[j].name, names[d->id]) == 0) {
                    mb_diags_add(diags, file, 0,
                                 "operations are named both %s and %s: set api.helper_tools.enabled to false "
                                 "or exclude one with api.routes.exclude_tool_name_patterns", d->name, names[d->id]);
                    return -1;
                }
            }
            break;
        }
    }
    cat->meta_mode = meta;
    if (meta)
        for (size_t i = 0; i < cat->operation_count; i++)
            cat->tools[i].unlisted = true;
    if (!count)
        return 0;
    struct mb_tool *tools = realloc(cat->tools, (cat->tool_count + count) * sizeof *tools);
    if (!tools)
        return -ENOMEM;
    cat->tools = tools;
    for (size_t h = 0; h < HELPER_COUNT; h++) {
        const struct helper_def *d = &helper_defs[h];
        if (!helper_offered(d, o, meta))
            continue;
        struct mb_tool *t = &cat->tools[cat->tool_count];
        memset(t, 0, sizeof *t);
        cat->tool_count++; /* from here on mb_catalog_destroy frees it */
        char desc[1024];
        t->kind = MB_TOOL_LOCAL;
        t->helper = d->id;
        t->name = strdup(names[d->id]);
        t->title = strdup(d->title);
        t->description = strdup(helper_description(d->id, name_ptrs, cat->operation_count, desc, sizeof desc));
        t->input_schema = json_loads(d->schema, 0, NULL);
        if (!t->name || !t->title || !t->description || !t->input_schema)
            return -ENOMEM;
        t->definition = json_pack("{s:s,s:s,s:s,s:O,s:o}", "name", t->name, "title", t->title, "description",
                                  t->description, "inputSchema", t->input_schema, "annotations",
                                  helper_annotations(cat, d->id));
        if (!t->definition)
            return -ENOMEM;
    }
    return 0;
}

/* ---- building ---- */

/* routes_doc (may be NULL) is the config document routes came from, for diagnostic lines. */
static struct mb_catalog *build(struct mb_doc *doc, const char *base_url, const json_t *routes,
                                const char *routes_file, const struct mb_doc *routes_doc, bool all_methods,
                                size_t page_size, const struct mb_oa_options *opt, struct mb_diags *diags)
{
    struct mb_catalog *cat = NULL;
    struct mb_oa_routes r;
    struct mb_oa_spec s;
    bool routes_ok = false;
    if (!doc)
        goto fail;
    if (mb_oa_routes_init_doc(&r, routes, all_methods, routes_file, routes_doc, "/api/routes", diags) != 0)
        goto fail;
    routes_ok = true;
    if (opt && opt->tool_name_max)
        r.name_max = opt->tool_name_max;
    if (mb_oa_spec_init(&s, doc, diags) != 0)
        goto fail;
    cat = calloc(1, sizeof *cat);
    if (!cat)
        goto nomem;
    const char *title = json_string_value(json_object_get(json_object_get(s.root, "info"), "title"));
    cat->spec_title = strdup(title ? title : "");
    if (!cat->spec_title)
        goto nomem;
    cat->base_url = mb_oa_base_url(&s, base_url);
    if (!cat->base_url)
        goto fail;
    int rc = mb_oa_build_tools(cat, &s, &r);
    if (rc != 0) {
        if (s.errors == 0)
            goto nomem;
        goto fail;
    }
    cat->operation_count = cat->tool_count;
    if (annotate(cat, &s) != 0)
        goto nomem;
    rc = mb_oa_visibility_apply(cat, opt, diags);
    if (rc == -ENOMEM)
        goto nomem;
    if (rc != 0)
        goto fail;
    rc = add_helpers(cat, opt, routes_file, diags);
    if (rc == -ENOMEM)
        goto nomem;
    if (rc != 0)
        goto fail;
    rc = mb_oa_index_build(cat);
    if (rc == -EEXIST) {
        mb_diags_add(diags, s.file, 0, "internal error: duplicate tool names after renaming");
        goto fail;
    }
    if (rc != 0 || mb_oa_pages_build(cat, page_size) != 0)
        goto nomem;
    mb_oa_routes_dispose(&r);
    mb_doc_destroy(doc);
    return cat;
nomem:
    mb_diags_add(diags, doc ? mb_doc_name(doc) : NULL, 0, "out of memory while building the tool catalog");
fail:
    if (routes_ok)
        mb_oa_routes_dispose(&r);
    mb_catalog_destroy(cat);
    mb_doc_destroy(doc);
    return NULL;
}

static const json_t *config_routes(const struct mb_config *cfg)
{
    return json_object_get(json_object_get(cfg->root, "api"), "routes");
}

struct mb_catalog *mb_catalog_create(const struct mb_config *cfg, struct mb_diags *diags)
{
    if (!cfg->spec_file) {
        mb_diags_add(diags, cfg->source, 0, "api.openapi.spec_file is not set");
        return NULL;
    }
    struct mb_oa_options opt;
    if (mb_oa_options_read(&opt, cfg, diags) != 0)
        return NULL;
    struct mb_doc *doc = mb_doc_load_file(cfg->spec_file, MB_OA_MAX_SPEC_BYTES, diags);
    return build(doc, cfg->base_url, config_routes(cfg), cfg->source, cfg->doc, false, 100, &opt, diags);
}

struct mb_catalog *mb_catalog_create_from_spec(const char *spec_path, const char *base_url,
                                               const json_t *routes, bool all_methods,
                                               size_t page_size, struct mb_diags *diags)
{
    struct mb_oa_options opt;
    mb_oa_options_defaults(&opt);
    struct mb_doc *doc = mb_doc_load_file(spec_path, MB_OA_MAX_SPEC_BYTES, diags);
    return build(doc, base_url, routes, "api.routes", NULL, all_methods, page_size, &opt, diags);
}

struct mb_catalog *mb_catalog_create_from_buffer(const char *name, const char *text, size_t len,
                                                 const char *base_url, const json_t *routes,
                                                 bool all_methods, size_t page_size,
                                                 struct mb_diags *diags)
{
    struct mb_oa_options opt;
    mb_oa_options_defaults(&opt);
    struct mb_doc *doc = mb_doc_load_buffer(name, text, len, MB_DOC_AUTO, diags);
    return build(doc, base_url, routes, "api.routes", NULL, all_methods, page_size, &opt, diags);
}

void mb_catalog_destroy(struct mb_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->tool_count; i++) {
        struct mb_tool *t = &cat->tools[i];
        for (size_t j = 0; j < t->tag_count; j++)
            free(t->tags[j]);
        free(t->tags);
        free(t->operation_id);
        mb_oa_tool_dispose(t);
    }
    free(cat->tools);
    mb_oa_pages_free(cat);
    free(cat->instructions);
    free(cat->base_url);
    free(cat->spec_title);
    free(cat);
}

/* One table cell: text cut to width bytes (at a UTF-8 boundary), newlines as spaces. */
static int write_cell(FILE *out, const char *text, int width, bool last)
{
    char cell[256];
    size_t n = 0;
    size_t cap = last ? (size_t)width : sizeof cell - 1; /* only the last column is cut */
    for (const char *p = text ? text : ""; *p && n < cap && n < sizeof cell - 1; p++)
        cell[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    if (text && strlen(text) > n)
        while (n > 0 && ((unsigned char)cell[n] & 0xC0) == 0x80)
            n--;
    cell[n] = '\0';
    return last ? fprintf(out, "%s\n", cell) : fprintf(out, "%-*s  ", width, cell);
}

int mb_catalog_write_tools(const struct mb_catalog *cat, FILE *out, bool json)
{
    int rc = -EIO;
    if (json) {
        json_t *arr = json_array();
        if (!arr)
            return -ENOMEM;
        for (size_t i = 0; i < cat->tool_count; i++) {
            const struct mb_tool *t = &cat->tools[i];
            if (t->kind != MB_TOOL_HTTP)
                continue; /* helpers are not generated from the spec */
            json_t *o = json_deep_copy(t->definition);
            if (!o || json_object_set_new(o, "method", json_string(t->method)) ||
                json_object_set_new(o, "path", json_string(t->path_template)) || json_array_append_new(arr, o)) {
                json_decref(arr);
                return -ENOMEM;
            }
        }
        int w = json_dumpf(arr, out, JSON_INDENT(2));
        json_decref(arr);
        if (w == 0 && fputc('\n', out) != EOF)
            rc = 0;
        return rc;
    }
    if (write_cell(out, "NAME", 40, false) < 0 || write_cell(out, "METHOD", 7, false) < 0 ||
        write_cell(out, "PATH", 40, false) < 0 || write_cell(out, "SUMMARY", 80, true) < 0)
        return rc;
    for (size_t i = 0; i < cat->tool_count; i++) {
        const struct mb_tool *t = &cat->tools[i];
        if (t->kind != MB_TOOL_HTTP)
            continue;
        if (write_cell(out, t->name, 40, false) < 0 || write_cell(out, t->method, 7, false) < 0 ||
            write_cell(out, t->path_template, 40, false) < 0 ||
            write_cell(out, t->title ? t->title : "", 80, true) < 0)
            return rc;
    }
    return fflush(out) == 0 ? 0 : -EIO;
}
