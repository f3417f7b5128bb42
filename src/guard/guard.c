/* Implementation of guard.h. One pass over each chunk with a byte-level state machine. In trim
 * mode the output is produced as "runs": a run is a stretch of the current chunk copied
 * unchanged, appended with one memcpy when something interrupts it (a cut, a marker, the end of
 * the chunk). `be` is the chunk index at which the run would push the output past
 * max_output_bytes minus one byte per open container (room for the closers), so the hot loops
 * check the byte limit with the same comparison that bounds them to the chunk. */
#include "guard/guard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum {
    S_VALUE, S_ARR_FIRST, S_OBJ_FIRST, S_OBJ_KEY, S_COLON, S_AFTER, S_DONE,
    S_STR, S_ESC, S_HEX, S_UTF8, S_NUM, S_LIT,
};
enum { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
enum { SKIP_NONE, SKIP_ITEMS, SKIP_DEPTH };

#define MARK_CUT "\xe2\x80\xa6[truncated]"
#define MARK_CUT_LEN (sizeof(MARK_CUT) - 1)
#define MARK_DEPTH "\"\xe2\x80\xa6[depth limit]\""
#define MARK_DEPTH_LEN (sizeof(MARK_DEPTH) - 1)
#define MARK_STR_MAX 48

/* Bytes that end the fast string loop: quote, backslash, controls, non-ASCII. */
static const uint8_t str_stop[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

void mb_guard_limits_default(struct mb_guard_limits *lim)
{
    lim->max_output_bytes = 1024 * 1024;
    lim->max_array_items = 50;
    lim->max_string_bytes = 64 * 1024;
    lim->max_depth = 64;
    lim->max_scan_bytes = 0;
}

const char *mb_guard_limit_name(enum mb_guard_limit l)
{
    switch (l) {
    case MB_GUARD_LIMIT_BYTES: return "max_response_bytes";
    case MB_GUARD_LIMIT_ITEMS: return "max_array_items";
    case MB_GUARD_LIMIT_STRING: return "max_string_bytes";
    case MB_GUARD_LIMIT_DEPTH: return "max_depth";
    case MB_GUARD_LIMIT_SCAN: return "max_scan_bytes";
    default: return "none";
    }
}

size_t mb_guard_utf8_cut(const char *s, size_t len, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    if (max >= len)
        return len;
    size_t n = max;
    /* u[n] is the first byte left out: back up while it continues a sequence. */
    for (int k = 0; k < 3 && n > 0 && (u[n] & 0xC0) == 0x80; k++)
        n--;
    return n;
}

int mb_guard_init(struct mb_guard *g, enum mb_guard_mode mode, enum mb_guard_input input,
                  const struct mb_guard_limits *lim, struct mb_buf *out)
{
    struct mb_guard_limits d;
    if (!lim) {
        mb_guard_limits_default(&d);
        lim = &d;
    }
    if (!out || mode > MB_GUARD_WARN || input > MB_GUARD_TEXT ||
        lim->max_output_bytes < MB_GUARD_MIN_OUTPUT || lim->max_depth < 1 ||
        lim->max_depth > MB_GUARD_MAX_DEPTH || out->len > out->max ||
        (mode != MB_GUARD_WARN && out->max - out->len < lim->max_output_bytes))
        return -EINVAL;
    memset(g, 0, offsetof(struct mb_guard, lv));
    memset(&g->rep, 0, sizeof(g->rep));
    g->out = out;
    g->lim = *lim;
    if (!g->lim.max_string_bytes)
        g->lim.max_string_bytes = SIZE_MAX;
    if (!g->lim.max_scan_bytes)
        g->lim.max_scan_bytes = 16 * (uint64_t)g->lim.max_output_bytes;
    if (g->lim.max_scan_bytes < g->lim.max_output_bytes)
        g->lim.max_scan_bytes = g->lim.max_output_bytes;
    g->mode = mode;
    g->input = input;
    g->out0 = out->len;
    g->out_limit = out->len + lim->max_output_bytes;
    g->state = S_VALUE;
    g->be = SIZE_MAX;
    g->safe_out = out->len;
    g->lv[0].items = 0;
    return 0;
}

const char *mb_guard_error(const struct mb_guard *g, uint64_t *offset)
{
    if (offset)
        *offset = g->err_offset;
    return g->err_msg;
}

/* ---- helpers for the trim output ---- */

static int kind_obj(const struct mb_guard *g, unsigned level)
{
    return (g->kinds[level >> 3] >> (level & 7)) & 1;
}

static void first_limit(struct mb_guard *g, enum mb_guard_limit l, uint64_t max, uint64_t seen,
                        size_t i)
{
    if (g->rep.first_limit != MB_GUARD_LIMIT_NONE)
        return;
    g->rep.first_limit = l;
    g->rep.first_limit_max = max;
    g->rep.first_limit_observed = seen;
    g->rep.first_limit_offset = g->chunk_base + i;
}

/* Starts a run at chunk index i (trim). */
static void run_start(struct mb_guard *g, size_t i)
{
    g->copying = true;
    g->rs = i;
    g->obase = g->out->len - i;
    g->be = i + (g->out_limit - g->out_depth - g->out->len);
}

/* Appends the current run up to chunk index i and restarts it at i. */
static int run_flush(struct mb_guard *g, const unsigned char *s, size_t i)
{
    if (!g->copying || i == g->rs)
        return 0;
    int rc = mb_buf_append(g->out, s + g->rs, i - g->rs);
    if (rc)
        return rc;
    g->rs = i;
    return 0;
}

static int run_stop(struct mb_guard *g, const unsigned char *s, size_t i)
{
    int rc = run_flush(g, s, i);
    g->copying = false;
    g->be = SIZE_MAX;
    return rc;
}

/* Largest cut <= target in the string content out[start..end) that splits no escape and no
 * UTF-8 sequence (the content is raw JSON string text that the scanner validated). */
static size_t content_cut(const char *d, size_t start, size_t end, size_t target)
{
    size_t k = start, lim = start + target < end ? start + target : end;
    for (;;) {
        unsigned char c = (unsigned char)d[k];
        size_t unit = 1;
        if (c == '\\') {
            unit = k + 1 < end && d[k + 1] == 'u' ? 6 : 2;
            /* A surrogate pair is one unit: half of it would not be JSON text jansson reads. */
            if (unit == 6 && k + 12 <= end && (d[k + 2] | 0x20) == 'd' && d[k + 3] >= '8' &&
                d[k + 3] <= 'b' && d[k + 6] == '\\' && d[k + 7] == 'u')
                unit = 12;
        } else if (c >= 0xF0)
            unit = 4;
        else if (c >= 0xE0)
            unit = 3;
        else if (c >= 0xC0)
            unit = 2;
        if (k + unit > lim)
            return k - start;
        k += unit;
    }
}

/* Appends pointer text, escaping ~ and / (RFC 6901). */
static void ptr_add(struct mb_guard_report *r, size_t *n, const char *s, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        char e[2] = {s[k], 0};
        size_t w = 1;
        if (s[k] == '~' || s[k] == '/') {
            e[0] = '~';
            e[1] = s[k] == '~' ? '0' : '1';
            w = 2;
        }
        if (*n + w >= MB_GUARD_POINTER_MAX) {
            r->pointer_truncated = true;
            return;
        }
        memcpy(r->first_trimmed_pointer + *n, e, w);
        *n += w;
    }
}

static unsigned hexval(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Decodes the JSON string at out[off] (its opening quote) into the pointer. */
static void ptr_add_key(struct mb_guard *g, size_t *n, size_t off)
{
    const char *d = g->out->data;
    size_t end = g->out->len, k = off + 1;
    while (k < end && d[k] != '"' && !g->rep.pointer_truncated) {
        if (d[k] != '\\') {
            ptr_add(&g->rep, n, d + k, 1);
            k++;
            continue;
        }
        if (k + 1 >= end)
            return;
        char e = d[k + 1], c = e;
        if (e != 'u') {
            c = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
            ptr_add(&g->rep, n, &c, 1);
            k += 2;
            continue;
        }
        if (k + 6 > end)
            return;
        uint32_t cp = 0;
        for (int h = 0; h < 4; h++)
            cp = cp << 4 | hexval(d[k + 2 + h]);
        k += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && k + 6 <= end && d[k] == '\\' && d[k + 1] == 'u') {
            uint32_t lo = 0;
            for (int h = 0; h < 4; h++)
                lo = lo << 4 | hexval(d[k + 2 + h]);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                k += 6;
            }
        }
        char u[4];
        size_t w;
        if (cp < 0x80) {
            u[0] = (char)cp;
            w = 1;
        } else if (cp < 0x800) {
            u[0] = (char)(0xC0 | cp >> 6);
            u[1] = (char)(0x80 | (cp & 0x3F));
            w = 2;
        } else if (cp < 0x10000) {
            u[0] = (char)(0xE0 | cp >> 12);
            u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (char)(0x80 | (cp & 0x3F));
            w = 3;
        } else {
            u[0] = (char)(0xF0 | cp >> 18);
            u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[3] = (char)(0x80 | (cp & 0x3F));
            w = 4;
        }
        ptr_add(&g->rep, n, u, w);
    }
}

/* Records the pointer of the array at level (1-based) if none is recorded yet. The keys of the
 * enclosing members are read back from the output, where they were copied. */
static void set_pointer(struct mb_guard *g, unsigned level)
{
    if (g->rep.has_pointer)
        return;
    g->rep.has_pointer = true;
    size_t n = 0;
    for (unsigned j = 1; j < level && !g->rep.pointer_truncated; j++) {
        if (n + 1 >= MB_GUARD_POINTER_MAX) {
            g->rep.pointer_truncated = true;
            break;
        }
        g->rep.first_trimmed_pointer[n++] = '/';
        if (kind_obj(g, j)) {
            ptr_add_key(g, &n, g->lv[j].key_off);
        } else {
            char num[24];
            int w = snprintf(num, sizeof num, "%llu",
                             (unsigned long long)(g->lv[j].items ? g->lv[j].items - 1 : 0));
            ptr_add(&g->rep, &n, num, (size_t)w);
        }
    }
    if (g->rep.pointer_truncated) {
        /* Keep a whole pointer: cut back to the last complete reference token. */
        while (n > 0 && g->rep.first_trimmed_pointer[n - 1] != '/')
            n--;
        if (n > 0)
            n--;
    }
    g->rep.first_trimmed_pointer[n] = '\0';
}

static bool in_string(const struct mb_guard *g)
{
    return g->state >= S_STR && g->state <= S_UTF8;
}

/* Trim: makes the output final at chunk index i: the value in progress is cut (a string value
 * keeps what fits, with a marker) or rolled back to the last complete value, every open
 * container is closed, and nothing more is written. Scanning goes on for the counts. */
static int finalize(struct mb_guard *g, const unsigned char *s, size_t i, enum mb_guard_limit why,
                    uint64_t seen)
{
    if (g->full)
        return 0;
    int rc = run_stop(g, s, i);
    if (rc)
        return rc;
    struct mb_buf *o = g->out;
    first_limit(g, why, why == MB_GUARD_LIMIT_BYTES ? g->lim.max_output_bytes : g->lim.max_scan_bytes,
                seen, i);
    size_t limit = g->out_limit - g->out_depth;
    bool done = false;
    if (in_string(g) && !g->is_key && g->str_in_out) {
        size_t cstart = g->str_out + 1;
        if (limit >= cstart + MARK_CUT_LEN + 1) {
            size_t target = limit - cstart - MARK_CUT_LEN - 1;
            size_t cut = content_cut(o->data, cstart, o->len, target);
            mb_buf_truncate(o, cstart + cut);
            if ((rc = mb_buf_append(o, MARK_CUT "\"", MARK_CUT_LEN + 1)))
                return rc;
            if (!g->str_cut)
                g->rep.strings_shortened++;
            done = true;
        }
    }
    if (!done)
        mb_buf_truncate(o, g->safe_out);
    if (o->len == g->out0 && (rc = mb_buf_append(o, "null", 4)))
        return rc;
    unsigned first_arr = 0;
    for (unsigned j = g->out_depth; j >= 1; j--) {
        char c = kind_obj(g, j) ? '}' : ']';
        if ((rc = mb_buf_append(o, &c, 1)))
            return rc;
        if (c == ']') {
            first_arr = j;
            if (j <= MB_GUARD_MAX_DEPTH)
                g->lv[j].trimmed = true;
        }
    }
    if (first_arr)
        set_pointer(g, first_arr);
    g->full = true;
    g->quiet = true;
    g->str_limited = false;
    g->str_cut = false;
    g->rep.truncated = true;
    return 0;
}

/* A value ended just before chunk index i. At the top level the run ends: whitespace around
 * the document is not copied. */
static int value_end(struct mb_guard *g, const unsigned char *s, size_t i)
{
    if (g->depth == 0) {
        g->state = S_DONE;
        return run_stop(g, s, i);
    }
    g->state = S_AFTER;
    if (g->copying)
        g->safe_out = g->obase + i;
    return 0;
}

/* ---- limit events; each returns 0 to go on, MB_GUARD_STOP, or a negative error ---- */

static int on_items(struct mb_guard *g, const unsigned char *s, size_t i)
{
    unsigned d = g->depth;
    g->rep.arrays_trimmed++;
    g->lv[d].trimmed = true;
    first_limit(g, MB_GUARD_LIMIT_ITEMS, g->lim.max_array_items, g->lv[d].items, i);
    if (g->mode == MB_GUARD_TRIM) {
        int rc = run_stop(g, s, i);
        if (rc)
            return rc;
        set_pointer(g, d);
        mb_buf_truncate(g->out, g->safe_out);
        g->quiet = true;
        g->skip = SKIP_ITEMS;
        g->skip_base = d;
        g->rep.truncated = true;
        return 0;
    }
    set_pointer(g, d);
    return g->mode == MB_GUARD_BLOCK ? MB_GUARD_STOP : 0;
}

static int on_string(struct mb_guard *g, const unsigned char *s, size_t i)
{
    g->rep.strings_shortened++;
    g->str_limited = false;
    first_limit(g, MB_GUARD_LIMIT_STRING, g->lim.max_string_bytes, g->str_len + 1, i);
    if (g->mode == MB_GUARD_TRIM) {
        int rc = run_stop(g, s, i);
        if (rc)
            return rc;
        size_t cstart = g->str_out + 1;
        size_t cut = content_cut(g->out->data, cstart, g->out->len, g->lim.max_string_bytes);
        mb_buf_truncate(g->out, cstart + cut);
        g->str_cut = true;
        g->rep.truncated = true;
        return 0;
    }
    return g->mode == MB_GUARD_BLOCK ? MB_GUARD_STOP : 0;
}

/* Closing quote of a value string whose tail was dropped, at chunk index i (just past it). */
static int string_cut_end(struct mb_guard *g, const unsigned char *s, size_t i)
{
    char m[MARK_STR_MAX];
    size_t kept = g->out->len - (g->str_out + 1);
    int w = snprintf(m, sizeof m, "\xe2\x80\xa6[truncated %llu bytes]\"",
                     (unsigned long long)(g->str_len - kept));
    if (g->out->len + (size_t)w > g->out_limit - g->out_depth)
        return finalize(g, s, i, MB_GUARD_LIMIT_BYTES, g->chunk_base + i);
    int rc = mb_buf_append(g->out, m, (size_t)w);
    if (rc)
        return rc;
    g->str_cut = false;
    run_start(g, i);
    return 0;
}

/* ---- the scanner ---- */

static int fail(struct mb_guard *g, size_t i, const char *msg)
{
    g->err = -EBADMSG;
    g->err_msg = msg;
    g->err_offset = g->chunk_base + i;
    return g->err;
}

/* Opens '[' or '{' at chunk index i. */
static int push(struct mb_guard *g, const unsigned char *s, size_t i, unsigned char c)
{
    unsigned d = g->depth + 1;
    int rc;
    if (d > MB_GUARD_SCAN_DEPTH) {
        first_limit(g, MB_GUARD_LIMIT_SCAN, MB_GUARD_SCAN_DEPTH, d, i);
        if (g->mode == MB_GUARD_TRIM && (rc = finalize(g, s, i, MB_GUARD_LIMIT_SCAN, d)))
            return rc;
        return MB_GUARD_STOP;
    }
    if (d == g->lim.max_depth + 1 && !g->quiet) {
        g->rep.depth_exceeded++;
        first_limit(g, MB_GUARD_LIMIT_DEPTH, g->lim.max_depth, d, i);
        if (g->mode == MB_GUARD_BLOCK)
            return MB_GUARD_STOP;
        if (g->mode == MB_GUARD_TRIM) {
            if ((rc = run_stop(g, s, i)))
                return rc;
            if (g->out->len + MARK_DEPTH_LEN > g->out_limit - g->out_depth) {
                if ((rc = finalize(g, s, i, MB_GUARD_LIMIT_BYTES, g->chunk_base + i)))
                    return rc;
            } else {
                if ((rc = mb_buf_append(g->out, MARK_DEPTH, MARK_DEPTH_LEN)))
                    return rc;
                g->safe_out = g->out->len;
                g->quiet = true;
                g->skip = SKIP_DEPTH;
                g->skip_base = g->depth;
                g->rep.truncated = true;
            }
        }
    }
    if (g->copying) {
        if (i + 2 > g->be) {
            if ((rc = finalize(g, s, i, MB_GUARD_LIMIT_BYTES, g->chunk_base + i)))
                return rc;
        } else {
            g->out_depth = d;
            g->be--;
            g->safe_out = g->obase + i + 1;
        }
    }
    if (c == '{')
        g->kinds[d >> 3] |= (uint8_t)(1u << (d & 7));
    else
        g->kinds[d >> 3] &= (uint8_t) ~(1u << (d & 7));
    if (d <= MB_GUARD_MAX_DEPTH) {
        g->lv[d].items = 0;
        g->lv[d].trimmed = false;
    }
    g->depth = d;
    g->state = c == '{' ? S_OBJ_FIRST : S_ARR_FIRST;
    return 0;
}

/* Closes the container at chunk index i with c. */
static int pop(struct mb_guard *g, const unsigned char *s, size_t i, unsigned char c)
{
    unsigned d = g->depth;
    if ((c == '}') != kind_obj(g, d))
        return fail(g, i, "mismatched bracket");
    if (c == ']' && d <= MB_GUARD_MAX_DEPTH) {
        if (g->lv[d].trimmed && g->lv[d].items >= g->rep.largest_trimmed_items) {
            g->rep.largest_trimmed_items = g->lv[d].items;
            g->rep.largest_trimmed_exact = true;
        }
        if (d == 1) {
            g->rep.top_items = g->lv[1].items;
            g->rep.top_items_exact = true;
        }
    }
    g->depth = d - 1;
    if (g->mode == MB_GUARD_TRIM && !g->full) {
        if (g->skip == SKIP_ITEMS && d == g->skip_base) {
            g->skip = SKIP_NONE;
            g->quiet = false;
            run_start(g, i);
        } else if (g->skip == SKIP_DEPTH && d == g->skip_base + 1) {
            g->skip = SKIP_NONE;
            g->quiet = false;
            run_start(g, i + 1);
            return value_end(g, s, i + 1);
        }
        if (g->copying) {
            g->out_depth = d - 1;
            g->be++;
        }
    }
    return value_end(g, s, i + 1);
}

/* Starts a value at chunk index i in state S_VALUE / S_ARR_FIRST. */
static int value_start(struct mb_guard *g, const unsigned char *s, size_t i, unsigned char c)
{
    if (g->depth == 0 && g->mode == MB_GUARD_TRIM && !g->full)
        run_start(g, i);
    switch (c) {
    case '"':
        g->state = S_STR;
        g->is_key = false;
        g->str_len = 0;
        g->str_cut = false;
        g->str_limited = !g->quiet;
        g->str_in_out = g->copying;
        g->str_out = g->obase + i;
        return 0;
    case '[':
    case '{':
        return push(g, s, i, c);
    case 't': g->lit = "rue"; g->state = S_LIT; return 0;
    case 'f': g->lit = "alse"; g->state = S_LIT; return 0;
    case 'n': g->lit = "ull"; g->state = S_LIT; return 0;
    case '-': g->nstate = N_MINUS; g->state = S_NUM; return 0;
    case '0': g->nstate = N_ZERO; g->state = S_NUM; return 0;
    default:
        if (c >= '1' && c <= '9') {
            g->nstate = N_INT;
            g->state = S_NUM;
            return 0;
        }
        return fail(g, i, "expected a value");
    }
}

static int scan(struct mb_guard *g, const unsigned char *s, size_t n)
{
    size_t i = 0;
    int rc;
    while (i < n) {
        if (i >= g->be) {
            if ((rc = finalize(g, s, i, MB_GUARD_LIMIT_BYTES, g->chunk_base + i + 1)))
                return rc;
        }
        unsigned char c = s[i];
        switch (g->state) {
        case S_STR: {
            size_t lim = n < g->be ? n : g->be, flim = lim;
            if (g->str_limited && g->lim.max_string_bytes - g->str_len < lim - i)
                flim = i + (g->lim.max_string_bytes - g->str_len);
            size_t j = i;
            while (j < flim && !str_stop[s[j]])
                j++;
            g->str_len += j - i;
            i = j;
            if (i >= lim)
                continue;
            c = s[i];
            if (c == '"') {
                i++;
                if (g->is_key) {
                    g->state = S_COLON;
                    continue;
                }
                if (g->str_cut && !g->full && (rc = string_cut_end(g, s, i)))
                    return rc;
                if ((rc = value_end(g, s, i)))
                    return rc;
                continue;
            }
            if (g->str_limited && g->str_len == g->lim.max_string_bytes) {
                if ((rc = on_string(g, s, i)))
                    return rc;
            }
            g->str_len++;
            if (!str_stop[c]) {
                i++;
                continue;
            }
            if (c == '\\') {
                g->state = S_ESC;
            } else if (c < 0x20) {
                return fail(g, i, "control character in string");
            } else if (c >= 0xC2 && c <= 0xDF) {
                g->u8_need = 1, g->u8_lo = 0x80, g->u8_hi = 0xBF, g->state = S_UTF8;
            } else if (c >= 0xE0 && c <= 0xEF) {
                g->u8_need = 2, g->u8_lo = c == 0xE0 ? 0xA0 : 0x80, g->u8_hi = c == 0xED ? 0x9F : 0xBF;
                g->state = S_UTF8;
            } else if (c >= 0xF0 && c <= 0xF4) {
                g->u8_need = 3, g->u8_lo = c == 0xF0 ? 0x90 : 0x80, g->u8_hi = c == 0xF4 ? 0x8F : 0xBF;
                g->state = S_UTF8;
            } else {
                return fail(g, i, "invalid UTF-8 in string");
            }
            i++;
            continue;
        }
        case S_ESC:
        case S_HEX:
        case S_UTF8:
            if (g->str_limited && g->str_len == g->lim.max_string_bytes) {
                if ((rc = on_string(g, s, i)))
                    return rc;
            }
            g->str_len++;
            if (g->state == S_ESC) {
                if (c == 'u') {
                    g->hex_left = 4;
                    g->state = S_HEX;
                } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                           c == 'r' || c == 't') {
                    g->state = S_STR;
                } else {
                    return fail(g, i, "invalid escape in string");
                }
            } else if (g->state == S_HEX) {
                if (!is_hex(c))
                    return fail(g, i, "invalid \\u escape in string");
                if (--g->hex_left == 0)
                    g->state = S_STR;
            } else {
                if (c < g->u8_lo || c > g->u8_hi)
                    return fail(g, i, "invalid UTF-8 in string");
                g->u8_lo = 0x80;
                g->u8_hi = 0xBF;
                if (--g->u8_need == 0)
                    g->state = S_STR;
            }
            i++;
            continue;
        case S_NUM: {
            size_t lim = n < g->be ? n : g->be;
            switch (g->nstate) {
            case N_MINUS:
                if (c < '0' || c > '9')
                    return fail(g, i, "invalid number");
                g->nstate = c == '0' ? N_ZERO : N_INT;
                i++;
                continue;
            case N_DOT:
            case N_ESIGN:
                if (c < '0' || c > '9')
                    return fail(g, i, "invalid number");
                g->nstate = g->nstate == N_DOT ? N_FRAC : N_EXP;
                i++;
                continue;
            case N_E:
                if (c == '+' || c == '-')
                    g->nstate = N_ESIGN;
                else if (c >= '0' && c <= '9')
                    g->nstate = N_EXP;
                else
                    return fail(g, i, "invalid number");
                i++;
                continue;
            case N_INT:
            case N_FRAC:
            case N_EXP:
                while (i < lim && s[i] >= '0' && s[i] <= '9')
                    i++;
                if (i >= lim)
                    continue;
                c = s[i];
                /* fall through */
            default: /* N_ZERO and the end of digit runs */
                if (c == '.' && (g->nstate == N_ZERO || g->nstate == N_INT)) {
                    g->nstate = N_DOT;
                    i++;
                } else if ((c == 'e' || c == 'E') && g->nstate != N_EXP) {
                    g->nstate = N_E;
                    i++;
                } else if (c >= '0' && c <= '9') {
                    return fail(g, i, "invalid number"); /* leading zero */
                } else if ((rc = value_end(g, s, i))) {
                    return rc;
                }
                continue;
            }
        }
        case S_LIT:
            if (c != (unsigned char)*g->lit)
                return fail(g, i, "invalid literal");
            i++;
            if (!*++g->lit && (rc = value_end(g, s, i)))
                return rc;
            continue;
        default:
            break;
        }
        if (is_ws(c)) {
            i++;
            continue;
        }
        switch (g->state) {
        case S_AFTER:
            if (c == ',') {
                if (kind_obj(g, g->depth)) {
                    g->state = S_OBJ_KEY;
                } else {
                    g->state = S_VALUE;
                    if (g->depth <= MB_GUARD_MAX_DEPTH &&
                        ++g->lv[g->depth].items == g->lim.max_array_items + 1 && !g->quiet &&
                        (rc = on_items(g, s, i)))
                        return rc;
                }
                i++;
                continue;
            }
            if (c == ']' || c == '}') {
                if ((rc = pop(g, s, i, c)))
                    return rc;
                i++;
                continue;
            }
            return fail(g, i, "expected ',' or a closing bracket");
        case S_ARR_FIRST:
            if (c == ']') {
                if ((rc = pop(g, s, i, c)))
                    return rc;
                i++;
                continue;
            }
            if (g->depth <= MB_GUARD_MAX_DEPTH &&
                ++g->lv[g->depth].items == g->lim.max_array_items + 1 && !g->quiet &&
                (rc = on_items(g, s, i)))
                return rc;
            /* fall through */
        case S_VALUE:
            if ((rc = value_start(g, s, i, c)))
                return rc;
            i++;
            continue;
        case S_OBJ_FIRST:
            if (c == '}') {
                if ((rc = pop(g, s, i, c)))
                    return rc;
                i++;
                continue;
            }
            /* fall through */
        case S_OBJ_KEY:
            if (c != '"')
                return fail(g, i, "expected a member name");
            if (g->depth <= MB_GUARD_MAX_DEPTH)
                g->lv[g->depth].key_off = g->obase + i;
            g->state = S_STR;
            g->is_key = true;
            g->str_len = 0;
            g->str_limited = false;
            g->str_in_out = false;
            i++;
            continue;
        case S_COLON:
            if (c != ':')
                return fail(g, i, "expected ':'");
            g->state = S_VALUE;
            i++;
            continue;
        default: /* S_DONE */
            return fail(g, i, "data after the JSON value");
        }
    }
    return 0;
}

static int feed_text(struct mb_guard *g, const unsigned char *s, size_t n)
{
    struct mb_buf *o = g->out;
    int rc;
    if (g->mode == MB_GUARD_WARN)
        return mb_buf_append(o, s, n);
    if (g->full)
        return 0;
    size_t room = g->out_limit - o->len;
    if (n <= room)
        return mb_buf_append(o, s, n);
    first_limit(g, MB_GUARD_LIMIT_BYTES, g->lim.max_output_bytes, g->rep.bytes_in + n, room);
    if (g->mode == MB_GUARD_BLOCK)
        return MB_GUARD_STOP;
    if ((rc = mb_buf_append(o, s, room)))
        return rc;
    size_t keep = mb_guard_utf8_cut(o->data + g->out0, o->len - g->out0,
                                    g->lim.max_output_bytes - MARK_CUT_LEN);
    mb_buf_truncate(o, g->out0 + keep);
    if ((rc = mb_buf_append(o, MARK_CUT, MARK_CUT_LEN)))
        return rc;
    g->full = true;
    g->rep.truncated = true;
    return 0;
}

int mb_guard_feed(struct mb_guard *g, const void *data, size_t len)
{
    const unsigned char *s = data;
    int rc = 0;
    if (g->err)
        return g->err;
    size_t n = len;
    bool capped = false;
    if (g->mode == MB_GUARD_TRIM && g->rep.bytes_in + n > g->lim.max_scan_bytes) {
        n = (size_t)(g->lim.max_scan_bytes - g->rep.bytes_in);
        capped = true;
    }
    g->chunk_base = g->rep.bytes_in;
    if (g->input == MB_GUARD_TEXT) {
        rc = feed_text(g, s, n);
    } else if (g->mode == MB_GUARD_TRIM) {
        if (g->copying)
            run_start(g, 0);
        rc = scan(g, s, n);
        if (rc == 0 && capped)
            rc = finalize(g, s, n, MB_GUARD_LIMIT_SCAN, g->lim.max_scan_bytes);
        else if (rc == 0 && g->copying)
            rc = run_flush(g, s, n);
    } else {
        /* Block and warn copy verbatim; block only up to max_output_bytes. */
        size_t m = n;
        if (g->mode == MB_GUARD_BLOCK && g->rep.bytes_in + m > g->lim.max_output_bytes)
            m = (size_t)(g->lim.max_output_bytes - g->rep.bytes_in);
        g->obase = g->out->len;
        rc = mb_buf_append(g->out, s, m);
        if (rc == 0)
            rc = scan(g, s, m);
        if (rc == 0 && m < n) {
            first_limit(g, MB_GUARD_LIMIT_BYTES, g->lim.max_output_bytes, g->chunk_base + n, m);
            rc = MB_GUARD_STOP;
        }
    }
    if (rc == 0 && capped) {
        first_limit(g, MB_GUARD_LIMIT_SCAN, g->lim.max_scan_bytes, g->chunk_base + len, n);
        rc = MB_GUARD_STOP;
    }
    g->rep.bytes_in = g->chunk_base + len;
    if (rc == MB_GUARD_STOP && g->mode == MB_GUARD_BLOCK &&
        g->out->len > g->out0 + g->rep.first_limit_offset)
        mb_buf_truncate(g->out, g->out0 + (size_t)g->rep.first_limit_offset); /* the body before the crossing byte */
    if (rc != 0)
        g->err = rc;
    return rc;
}

/* Items at the top level of the JSON array in d[0..len) (our own valid output). */
static uint64_t count_top_items(const char *d, size_t len)
{
    uint64_t items = 0;
    unsigned depth = 0;
    bool any = false;
    for (size_t k = 0; k < len; k++) {
        char c = d[k];
        if (c == '"') {
            for (k++; k < len && d[k] != '"'; k++)
                if (d[k] == '\\')
                    k++;
            if (depth == 1)
                any = true;
        } else if (c == '[' || c == '{') {
            if (depth == 1)
                any = true;
            depth++;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',' && depth == 1) {
            items++;
        } else if (depth == 1 && !is_ws((unsigned char)c)) {
            any = true;
        }
    }
    return any ? items + 1 : 0;
}

int mb_guard_finish(struct mb_guard *g, struct mb_guard_report *rep)
{
    int rc = g->err;
    bool stopped = rc == MB_GUARD_STOP;
    if (rc == 0 && g->input == MB_GUARD_JSON) {
        bool top_num = g->state == S_NUM && g->depth == 0 &&
                       (g->nstate == N_ZERO || g->nstate == N_INT || g->nstate == N_FRAC ||
                        g->nstate == N_EXP);
        if (top_num)
            g->state = S_DONE;
        if (g->state != S_DONE) {
            rc = fail(g, 0, g->rep.bytes_in ? "unexpected end of the JSON value"
                                             : "empty body");
            g->err_offset = g->rep.bytes_in;
        }
    }
    if (rc == 0)
        g->rep.complete = true;
    if (!g->rep.complete && g->input == MB_GUARD_JSON) {
        for (unsigned j = 1; j <= g->depth && j <= MB_GUARD_MAX_DEPTH; j++) {
            if (kind_obj(g, j))
                continue;
            if (j == 1) {
                g->rep.top_items = g->lv[1].items;
                g->rep.top_items_exact = false;
            }
            if (g->lv[j].trimmed && g->lv[j].items > g->rep.largest_trimmed_items) {
                g->rep.largest_trimmed_items = g->lv[j].items;
                g->rep.largest_trimmed_exact = false;
            }
        }
    }
    g->rep.bytes_out = g->out->len - g->out0;
    if (g->input == MB_GUARD_JSON && g->rep.bytes_out && (rc == 0 || stopped)) {
        if (g->mode != MB_GUARD_TRIM || !g->rep.truncated)
            g->rep.top_items_kept = g->rep.top_items;
        else if (g->out->data[g->out0] == '[')
            g->rep.top_items_kept = count_top_items(g->out->data + g->out0, g->rep.bytes_out);
    }
    if (rep)
        *rep = g->rep;
    return rc;
}
