/* The name index (open addressing over FNV-1a hashes, linear probing, at most half full)
 * and the prepared tools/list pages: each page's result object is serialized once, at build
 * time, from the listed tools only (meta mode unlists the operations). Cursors are
 * "c<page>.<8 hex>" where the hex is a fingerprint of the catalog, so a cursor issued by an
 * older catalog (before a reload) is refused instead of paging wrongly. */
#include <errno.h>
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

int mb_oa_pages_build(struct mb_catalog *cat, size_t page_size)
{
    int rc = -ENOMEM;
    cat->page_size = page_size ? page_size : 100;
    /* Pages hold the listed tools only: in meta mode the operations are unlisted. */
    size_t listed = 0;
    for (size_t i = 0; i < cat->tool_count; i++)
        listed += !cat->tools[i].unlisted;
    size_t count = listed ? (listed + cat->page_size - 1) / cat->page_size : 1;
    cat->pages = calloc(count, sizeof *cat->pages);
    cat->page_lens = calloc(count, sizeof *cat->page_lens);
    if (!cat->pages || !cat->page_lens)
        goto done;
    size_t next = 0; /* the next tool to consider */
    for (size_t p = 0; p < count; p++) {
        json_t *result = json_object(), *tools = json_array();
        if (!result || !tools || json_object_set_new(result, "tools", tools)) {
            json_decref(result);
            goto done;
        }
        for (size_t n = 0; n < cat->page_size && next < cat->tool_count; next++) {
            if (cat->tools[next].unlisted)
                continue;
            json_array_append(tools, cat->tools[next].definition);
            n++;
        }
        if (p + 1 < count) {
            char cur[32];
            cursor_text(cat, p + 1, cur, sizeof cur);
            json_object_set_new(result, "nextCursor", json_string(cur));
        }
        cat->pages[p] = json_dumps(result, JSON_COMPACT);
        json_decref(result);
        if (!cat->pages[p])
            goto done;
        cat->page_lens[p] = strlen(cat->pages[p]);
        cat->page_count = p + 1;
    }
    rc = 0;
done:
    return rc;
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
    size_t page = 0;
    if (!cat || cat->page_count == 0)
        return NULL;
    if (cursor && *cursor) {
        if (cursor[0] != 'c' || strlen(cursor) > 31)
            return NULL;
        char *end;
        unsigned long long n = strtoull(cursor + 1, &end, 10);
        if (end == cursor + 1 || *end != '.' || n == 0 || n >= cat->page_count)
            return NULL;
        char expect[32];
        cursor_text(cat, (size_t)n, expect, sizeof expect);
        if (strcmp(expect, cursor) != 0)
            return NULL;
        page = (size_t)n;
    }
    if (len)
        *len = cat->page_lens[page];
    return cat->pages[page];
}
