/* Growable byte buffers with a mandatory hard maximum (curl dynbuf's "toobig" habit).
 * Every append either fits under max or fails with -E2BIG and leaves the buffer unchanged.
 * The data is always NUL-terminated (the terminator is not counted in len). */
#ifndef MB_BUF_H
#define MB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct mb_buf {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes used, excluding the terminator */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard limit on len */
};

/* Prepares an empty buffer that may grow to max bytes. Allocates nothing. */
void mb_buf_init(struct mb_buf *b, size_t max);
/* Makes room for extra more bytes in one allocation, so a writer that knows its size avoids the
 * doubling steps. Returns 0, -E2BIG past max, or -ENOMEM. */
int mb_buf_reserve(struct mb_buf *b, size_t extra);
/* Appends len bytes. Returns 0, -E2BIG past max, or -ENOMEM. */
int mb_buf_append(struct mb_buf *b, const void *data, size_t len);
/* Appends a NUL-terminated string. Same returns as mb_buf_append. */
int mb_buf_append_str(struct mb_buf *b, const char *s);
/* Appends formatted text. Same returns as mb_buf_append. */
int mb_buf_printf(struct mb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mb_buf_vprintf(struct mb_buf *b, const char *fmt, va_list ap);
/* Appends s as the body of a JSON string (no surrounding quotes), escaping per RFC 8259. */
int mb_buf_append_json_escaped(struct mb_buf *b, const char *s, size_t len);
/* Drops the first n bytes (n <= len), keeping the allocation. */
void mb_buf_consume(struct mb_buf *b, size_t n);
/* Cuts the buffer back to len bytes (len <= b->len), keeping the allocation: the rollback of a
 * partly written record. */
void mb_buf_truncate(struct mb_buf *b, size_t len);
/* Empties the buffer, keeping the allocation. */
void mb_buf_reset(struct mb_buf *b);
/* Frees the memory; the buffer is then empty and may be reused. */
void mb_buf_dispose(struct mb_buf *b);
/* Returns the data (caller frees with free(); never NULL on success, "" when empty) and
 * empties the buffer. Returns NULL only when out of memory. */
char *mb_buf_steal(struct mb_buf *b);

#endif
