/* Diagnostics for validators (config, OpenAPI, prompts): a list of "file:line: message"
 * findings for the operator. Clients never see these; they get a terse, safe message. */
#ifndef MB_DIAG_H
#define MB_DIAG_H

#include <stddef.h>

struct mb_diag {
    char *file;    /* source file, owned; may be NULL */
    int line;      /* 1-based, 0 when unknown */
    char *message; /* owned */
};

struct mb_diags {
    struct mb_diag *items;
    size_t count;
    size_t cap;
};

void mb_diags_init(struct mb_diags *d);
/* Adds one finding; on allocation failure the finding is dropped silently. */
void mb_diags_add(struct mb_diags *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes each finding as "file:line: message\n" (or "file: message" when line is 0). */
void mb_diags_print(const struct mb_diags *d, void *stdio_file);
/* Joins all findings into one heap string, "; "-separated (caller frees). */
char *mb_diags_join(const struct mb_diags *d);
void mb_diags_dispose(struct mb_diags *d);

#endif
