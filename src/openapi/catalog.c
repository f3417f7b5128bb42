/* The catalog's life cycle: load the spec, compile the routes, build the tools, index them
 * by name and serialize the tools/list pages, all before the workers fork; afterwards the
 * catalog is only read. Also the `mcpbridge tools` listing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi/catalog_internal.h"

static struct mb_catalog *build(struct mb_doc *doc, const char *base_url, const json_t *routes,
                                const char *routes_file, bool all_methods, size_t page_size,
                                struct mb_diags *diags)
{
    struct mb_catalog *cat = NULL;
    struct mb_oa_routes r;
    struct mb_oa_spec s;
    bool routes_ok = false;
    if (!doc)
        goto fail;
    if (mb_oa_routes_init(&r, routes, all_methods, routes_file, diags) != 0)
        goto fail;
    routes_ok = true;
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
    struct mb_doc *doc = mb_doc_load_file(cfg->spec_file, MB_OA_MAX_SPEC_BYTES, diags);
    return build(doc, cfg->base_url, config_routes(cfg), cfg->source, false, 100, diags);
}

struct mb_catalog *mb_catalog_create_from_spec(const char *spec_path, const char *base_url,
                                               const json_t *routes, bool all_methods,
                                               size_t page_size, struct mb_diags *diags)
{
    struct mb_doc *doc = mb_doc_load_file(spec_path, MB_OA_MAX_SPEC_BYTES, diags);
    return build(doc, base_url, routes, "api.routes", all_methods, page_size, diags);
}

struct mb_catalog *mb_catalog_create_from_buffer(const char *name, const char *text, size_t len,
                                                 const char *base_url, const json_t *routes,
                                                 bool all_methods, size_t page_size,
                                                 struct mb_diags *diags)
{
    struct mb_doc *doc = mb_doc_load_buffer(name, text, len, MB_DOC_AUTO, diags);
    return build(doc, base_url, routes, "api.routes", all_methods, page_size, diags);
}

void mb_catalog_destroy(struct mb_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->tool_count; i++)
        mb_oa_tool_dispose(&cat->tools[i]);
    free(cat->tools);
    mb_oa_pages_free(cat);
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
        if (write_cell(out, t->name, 40, false) < 0 || write_cell(out, t->method, 7, false) < 0 ||
            write_cell(out, t->path_template, 40, false) < 0 ||
            write_cell(out, t->title ? t->title : "", 80, true) < 0)
            return rc;
    }
    return fflush(out) == 0 ? 0 : -EIO;
}
