/* Percent-encoding helpers shared by the URL and document parsers (%XX escapes). */
#ifndef MB_PERCENT_H
#define MB_PERCENT_H

#include <stddef.h>

/* The value of one hexadecimal digit, or -1. */
int mb_hexval(int c);
/* Copies len bytes of s into out (cap bytes including the NUL) decoding %XX. Returns 0, or -1
 * when an escape is malformed, a NUL would be decoded, or the result does not fit. */
int mb_percent_decode(const char *s, size_t len, char *out, size_t cap);

#endif
