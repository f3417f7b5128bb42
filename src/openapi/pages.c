/* The name index (open addressing over FNV-1a hashes, linear probing, at most half full)
 * and the prepared tools/list pages: each page's result object is serialized once, at build
 * time, from the listed tools only (meta mode unlists the operations). Cursors are
 * "c<page>.<8 hex>" where the hex is a fingerprint of the catalog, so a cursor issued by an
 * older catalog (before a reload) is refused instead of paging wrongly. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi/catalog_internal.h"

struct name_index {
    size_t cap;          /* power of two */
    size_t *slots;       /* tool index + 1; 0 = empty */
    uint32_t fingerprint;
};

int mb_oa_index_build(struct mb_catalog *cat)
{
    struct name_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return -ENOMEM;
    ix->cap = 16;
    while (ix->cap < cat->tool_count * 2 + 2)
        ix->cap *= 2;
    ix->slots = calloc(ix->cap, sizeof *ix->slots);
    if (!ix->slots) {
        free(ix);
        return -ENOMEM;
    }
    uint32_t fp = 2166136261u;
    for (size_t i = 0; i < cat->tool_count; i++) {
        const char *name = cat->tools[i].name;
        size_t len = strlen(name);
        size_t h = mb_oa_hash(name, len) & (ix->cap - 1);
        while (ix->slots[h]) {
            if (strcmp(cat->tools[ix->slots[h] - 1].name, name) == 0) {
                free(ix->slots);
                free(ix);
                return -EEXIST;
            }
            h = (h + 1) & (ix->cap - 1);
        }
        ix->slots[h] = i + 1;
        fp = (fp ^ mb_oa_hash(name, len)) * 16777619u;
    }
    ix->fingerprint = fp;
    cat->index = ix;
    return 0;
}

const struct mb_tool *mb_catalog_find(const struct mb_catalog *cat, const char *name)
{
    const struct name_index *ix = cat ? cat->index : NULL;
    if (!ix || !name)
        return NULL;
    size_t h = mb_oa_hash(name, strlen(name)) & (ix->cap - 1);
    while (ix->slots[h]) {
        const struct mb_tool *t = &cat->tools[ix->slots[h] - 1];
        if (strcmp(t->name, name) == 0)
            return t;
        h = (h + 1) & (ix->cap - 1);
    }
    return NULL;
}

static void cursor_text(const struct mb_catalog *cat, size_t page, char *out, size_t outlen)
{
    const struct name_index *ix = cat->index;
    uint32_t fp = (ix ? ix->fingerprint : 0) ^ (uint32_t)cat->page_size;
    snprintf(out, outlen, "c%zu.%08x", page, fp);
}

/* Serializes the listed tools for which visible() is true (NULL: all) into pages of
 * cat->page_size; salt goes into the cursors (views of one catalog do not share cursors).
 * Returns 0 or -ENOMEM; on failure what was built is left for the caller to free. */
static int build_pages(const struct mb_catalog *cat, bool (*visible)(void *data, const struct mb_tool *t),
                       void *data, uint32_t salt, char ***pages_out, size_t **lens_out, size_t *count_out)
{
    size_t listed = 0;
    for (size_t i = 0; i < cat->tool_count; i++)
        listed += !cat->tools[i].unlisted && (!visible || visible(data, &cat->tools[i]));
    size_t count = listed ? (listed + cat->page_size - 1) / cat->page_size : 1;
    char **pages = calloc(count, sizeof *pages);
    size_t *lens = calloc(count, sizeof *lens);
    *pages_out = pages;
    *lens_out = lens;
    *count_out = 0;
    if (!pages || !lens)
        return -ENOMEM;
    size_t next = 0; /* the next tool to consider */
    for (size_t p = 0; p < count; p++) {
        json_t *result = json_object(), *tools = json_array();
        if (!result || !tools || json_object_set_new(result, "tools", tools)) {
            json_decref(result);
            return -ENOMEM;
        }
        for (size_t n = 0; n < cat->page_size && next < cat->tool_count; next++) {
            if (cat->tools[next].unlisted || (visible && !visible(data, &cat->tools[next])))
                continue;
            json_array_append(tools, cat->tools[next].definition);
            n++;
        }
        if (p + 1 < count) {
            char cur[32];
            cursor_text(cat, p + 1, cur, sizeof cur);
            if (salt) {
                char *dot = strchr(cur, '.');
                unsigned fp = (unsigned)strtoul(dot + 1, NULL, 16) ^ salt;
                snprintf(dot + 1, sizeof cur - (size_t)(dot + 1 - cur), "%08x", fp);
            }
            json_object_set_new(result, "nextCursor", json_string(cur));
        }
        pages[p] = json_dumps(result, JSON_COMPACT);
        json_decref(result);
        if (!pages[p])
            return -ENOMEM;
        lens[p] = strlen(pages[p]);
        *count_out = p + 1;
    }
    return 0;
}

int mb_oa_pages_build(struct mb_catalog *cat, size_t page_size)
{
    cat->page_size = page_size ? page_size : 100;
    /* Pages hold the listed tools only: in meta mode the operations are unlisted. */
    return build_pages(cat, NULL, NULL, 0, &cat->pages, &cat->page_lens, &cat->page_count);
}

/* Page number of a cursor (NULL or "" = 0) for a catalog and salt, or -1 when it is not one. */
static long cursor_page(const struct mb_catalog *cat, uint32_t salt, size_t page_count, const char *cursor)
{
    if (!cursor || !*cursor)
        return 0;
    if (cursor[0] != 'c' || strlen(cursor) > 31)
        return -1;
    char *end;
    unsigned long long n = strtoull(cursor + 1, &end, 10);
    if (end == cursor + 1 || *end != '.' || n == 0 || n >= page_count)
        return -1;
    char expect[32];
    cursor_text(cat, (size_t)n, expect, sizeof expect);
    if (salt) {
        char *dot = strchr(expect, '.');
        unsigned fp = (unsigned)strtoul(dot + 1, NULL, 16) ^ salt;
        snprintf(dot + 1, sizeof expect - (size_t)(dot + 1 - expect), "%08x", fp);
    }
    return strcmp(expect, cursor) == 0 ? (long)n : -1;
}

struct mb_catalog_view {
    const struct mb_catalog *cat;
    uint32_t salt;
    char **pages;
    size_t *page_lens;
    size_t page_count;
};

struct mb_catalog_view *mb_catalog_view_create(const struct mb_catalog *cat,
                                               bool (*visible)(void *data, const struct mb_tool *t),
                                               void *data, uint32_t salt)
{
    struct mb_catalog_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->cat = cat;
    v->salt = salt ? salt : 1;
    if (build_pages(cat, visible, data, v->salt, &v->pages, &v->page_lens, &v->page_count) != 0) {
        mb_catalog_view_destroy(v);
        return NULL;
    }
    return v;
}

const char *mb_catalog_view_page(const struct mb_catalog_view *v, const char *cursor, size_t *len)
{
    long page = v && v->page_count ? cursor_page(v->cat, v->salt, v->page_count, cursor) : -1;
    if (page < 0)
        return NULL;
    if (len)
        *len = v->page_lens[page];
    return v->pages[page];
}

void mb_catalog_view_destroy(struct mb_catalog_view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->page_count; i++)
        free(v->pages[i]);
    free(v->pages);
    free(v->page_lens);
    free(v);
}

void mb_oa_pages_free(struct mb_catalog *cat)
{
    for (size_t i = 0; i < cat->page_count; i++)
        free(cat->pages[i]);
    free(cat->pages);
    free(cat->page_lens);
    cat->pages = NULL;
    cat->page_lens = NULL;
    cat->page_count = 0;
    struct name_index *ix = cat->index;
    if (ix) {
        free(ix->slots);
        free(ix);
        cat->index = NULL;
    }
}

const char *mb_catalog_page(const struct mb_catalog *cat, const char *cursor, size_t *len)
{
    long page = cat && cat->page_count ? cursor_page(cat, 0, cat->page_count, cursor) : -1;
    if (page < 0)
        return NULL;
    if (len)
        *len = cat->page_lens[page];
    return cat->pages[page];
}
