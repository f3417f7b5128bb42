/* The streaming response guard: a push-style, byte-level JSON scanner and rewriter that bounds
 * what a downstream body may put into an MCP result. Bytes are fed as they arrive, in chunks of
 * any size; the guard writes the guarded body into the caller's struct mb_buf and never keeps a
 * copy of its input. Nesting is followed with an explicit bit stack, never recursion.
 *
 * Modes: trim rewrites (arrays cut to max_array_items at every depth, long strings shortened
 * with a marker, containers deeper than max_depth replaced by a marker string, and at the byte
 * limit every open container closed so the output is valid JSON of at most max_output_bytes);
 * block copies verbatim and answers MB_GUARD_STOP the moment a limit is crossed; warn copies
 * verbatim and only observes. See docs/internals/guard.md. */
#ifndef MB_GUARD_H
#define MB_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* mb_guard_feed's "stop reading" answer (positive: not an error). */
#define MB_GUARD_STOP 1

#define MB_GUARD_MAX_DEPTH 256     /* highest accepted max_depth (per-level counters kept) */
#define MB_GUARD_SCAN_DEPTH 2048   /* nesting the scanner follows inside skipped parts */
#define MB_GUARD_MIN_OUTPUT 64     /* smallest accepted max_output_bytes */
#define MB_GUARD_POINTER_MAX 256   /* bytes for the JSON pointer in the report, NUL included */

enum mb_guard_mode {
    MB_GUARD_TRIM = 0,
    MB_GUARD_BLOCK,
    MB_GUARD_WARN,
};

/* What the body is: JSON (scanned and rewritten) or text (cut at a UTF-8 boundary). */
enum mb_guard_input {
    MB_GUARD_JSON = 0,
    MB_GUARD_TEXT,
};

enum mb_guard_limit {
    MB_GUARD_LIMIT_NONE = 0,
    MB_GUARD_LIMIT_BYTES,   /* max_output_bytes */
    MB_GUARD_LIMIT_ITEMS,   /* max_array_items */
    MB_GUARD_LIMIT_STRING,  /* max_string_bytes */
    MB_GUARD_LIMIT_DEPTH,   /* max_depth */
    MB_GUARD_LIMIT_SCAN,    /* max_scan_bytes or MB_GUARD_SCAN_DEPTH: the guard stopped reading */
};

struct mb_guard_limits {
    size_t max_output_bytes;  /* default 1 MiB; >= MB_GUARD_MIN_OUTPUT */
    size_t max_array_items;   /* default 50, at every depth */
    size_t max_string_bytes;  /* raw (escaped) bytes of a string value; 0 = no limit; default 64 KiB */
    unsigned max_depth;       /* default 64; 1..MB_GUARD_MAX_DEPTH */
    uint64_t max_scan_bytes;  /* trim: input read for counting; 0 = 16 x max_output_bytes */
};

struct mb_guard_report {
    uint64_t bytes_in;          /* bytes fed */
    uint64_t bytes_out;         /* bytes the guard wrote */
    bool truncated;             /* trim: the output differs from the input in content */
    bool complete;              /* the whole input was read to the end of the value */
    uint64_t arrays_trimmed;    /* arrays past max_array_items (trim: cut; block/warn: seen) */
    uint64_t strings_shortened; /* strings past max_string_bytes or cut at the byte limit */
    uint64_t depth_exceeded;    /* containers opened at depth max_depth + 1 */
    enum mb_guard_limit first_limit;
    uint64_t first_limit_max;      /* the configured value of that limit */
    uint64_t first_limit_observed; /* what was seen when it fired (block: at the stop) */
    uint64_t first_limit_offset;   /* input offset of the byte that crossed it */
    /* Items of the top-level array (0 when the body is not an array); exact unless the guard
     * stopped reading before its end, then "at least". top_items_kept: items in the output. */
    uint64_t top_items;
    bool top_items_exact;
    uint64_t top_items_kept;
    /* Largest original item count of an array that was cut (by items or bytes). */
    uint64_t largest_trimmed_items;
    bool largest_trimmed_exact;
    /* RFC 6901 pointer of the first array past max_array_items (or, when only the byte limit
     * cut, of the outermost array open at the cut); "" for the root; has_pointer false if none. */
    bool has_pointer;
    bool pointer_truncated;
    char first_trimmed_pointer[MB_GUARD_POINTER_MAX];
};

/* The guard's state. Embedded by its owner (init, no dispose: it allocates nothing itself).
 * Fields are private to guard.c. */
struct mb_guard {
    struct mb_buf *out;
    struct mb_guard_limits lim;
    enum mb_guard_mode mode;
    enum mb_guard_input input;
    int err;               /* sticky: 0, negative error, or MB_GUARD_STOP once stopped */
    const char *err_msg;
    uint64_t err_offset;
    size_t out0;           /* out->len at init */
    size_t out_limit;      /* out0 + max_output_bytes */
    uint64_t chunk_base;   /* input offset of the current chunk */
    /* scanner */
    uint8_t state, nstate, hex_left, u8_need, u8_lo, u8_hi;
    bool is_key, str_limited, str_cut, str_in_out;
    const char *lit;       /* rest of true/false/null */
    size_t str_len;        /* raw bytes of the current string so far */
    size_t str_out;        /* output offset of its opening quote (trim, when copied) */
    unsigned depth;
    uint8_t kinds[MB_GUARD_SCAN_DEPTH / 8 + 1]; /* bit set: level is an object */
    /* trim output */
    bool copying, quiet, full;
    uint8_t skip;          /* 0 none, 1 dropping array items, 2 skipping a too-deep value */
    unsigned skip_base, out_depth;
    size_t rs, be, obase, safe_out;
    struct {
        uint64_t items;
        size_t key_off;
        bool trimmed;
    } lv[MB_GUARD_MAX_DEPTH + 1];
    struct mb_guard_report rep;
};

/* Fills the documented defaults. */
void mb_guard_limits_default(struct mb_guard_limits *lim);

/* Prepares g to guard one body into out (appending after out->len; trim and block write at most
 * max_output_bytes, warn copies everything out accepts). lim NULL means defaults. out->max must
 * leave room for max_output_bytes in trim and block. Returns 0 or -EINVAL (bad limits). */
int mb_guard_init(struct mb_guard *g, enum mb_guard_mode mode, enum mb_guard_input input,
                  const struct mb_guard_limits *lim, struct mb_buf *out);

/* Feeds the next len bytes. Returns 0 (keep feeding), MB_GUARD_STOP (do not read further:
 * block crossed a limit, or trim reached max_scan_bytes; the output is final), -EBADMSG
 * (invalid JSON: see mb_guard_error), -ENOMEM, or -E2BIG (warn: out refused the copy).
 * After a non-zero answer every later call returns the same. */
int mb_guard_feed(struct mb_guard *g, const void *data, size_t len);

/* Ends the body and fills *rep (rep may be NULL). Returns 0, MB_GUARD_STOP when the guard had
 * stopped reading (the report holds "at least" counts), or the feed error; -EBADMSG when the
 * input ended inside the JSON value. The output is valid JSON in trim mode when 0 or STOP. */
int mb_guard_finish(struct mb_guard *g, struct mb_guard_report *rep);

/* Why the JSON was refused and at which input byte (NULL when there was no parse error). */
const char *mb_guard_error(const struct mb_guard *g, uint64_t *offset);

/* The largest n <= max such that s[0..n) does not end inside a UTF-8 sequence of s. */
size_t mb_guard_utf8_cut(const char *s, size_t len, size_t max);

/* Name of a limit for logs and results ("max_array_items", ...). */
const char *mb_guard_limit_name(enum mb_guard_limit l);

#endif
