/* Implementation of diag.h. */
#include "common/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

void mb_diags_init(struct mb_diags *d)
{
    d->items = NULL;
    d->count = d->cap = 0;
}

void mb_diags_add(struct mb_diags *d, const char *file, int line, const char *fmt, ...)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct mb_diag *items = realloc(d->items, cap * sizeof *items);
        if (!items)
            return;
        d->items = items;
        d->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct mb_diag *it = &d->items[d->count];
    it->file = file ? strdup(file) : NULL;
    it->line = line;
    it->message = strdup(msg);
    if (!it->message) {
        free(it->file);
        return;
    }
    d->count++;
}

void mb_diags_print(const struct mb_diags *d, void *stdio_file)
{
    FILE *f = stdio_file;
    for (size_t i = 0; i < d->count; i++) {
        const struct mb_diag *it = &d->items[i];
        if (it->line > 0)
            fprintf(f, "%s:%d: %s\n", it->file ? it->file : "-", it->line, it->message);
        else
            fprintf(f, "%s: %s\n", it->file ? it->file : "-", it->message);
    }
}

char *mb_diags_join(const struct mb_diags *d)
{
    struct mb_buf b;
    mb_buf_init(&b, 64 * 1024);
    for (size_t i = 0; i < d->count; i++) {
        const struct mb_diag *it = &d->items[i];
        if (i)
            mb_buf_append_str(&b, "; ");
        if (it->line > 0)
            mb_buf_printf(&b, "%s:%d: %s", it->file ? it->file : "-", it->line, it->message);
        else
            mb_buf_printf(&b, "%s: %s", it->file ? it->file : "-", it->message);
    }
    return mb_buf_steal(&b);
}

void mb_diags_dispose(struct mb_diags *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    mb_diags_init(d);
}
