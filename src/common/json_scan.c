/* Implementation of json_scan.h: a single pass with a container stack of one byte per level. */
#include "common/json_scan.h"

#include <stdbool.h>
#include <stdint.h>

struct scanner {
    const unsigned char *p;
    const unsigned char *end;
};

static void skip_ws(struct scanner *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

static bool hex4(const unsigned char *p)
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* Consumes one UTF-8 encoded character of 2-4 bytes starting at sc->p (a lead byte >= 0x80). */
static bool utf8_char(struct scanner *sc)
{
    const unsigned char *p = sc->p;
    unsigned char c = *p;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return false;
    }
    if ((size_t)(sc->end - p) < n)
        return false;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return false;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    sc->p += n;
    return true;
}

static bool string_body(struct scanner *sc)
{
    sc->p++; /* opening quote */
    while (sc->p < sc->end) {
        unsigned char c = *sc->p;
        if (c == '"') {
            sc->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (sc->end - sc->p < 2)
                return false;
            unsigned char e = sc->p[1];
            if (e == 'u') {
                if (sc->end - sc->p < 6 || !hex4(sc->p + 2))
                    return false;
                sc->p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                sc->p += 2;
            } else {
                return false;
            }
        } else if (c < 0x80) {
            sc->p++;
        } else if (!utf8_char(sc)) {
            return false;
        }
    }
    return false;
}

static bool digits(struct scanner *sc)
{
    const unsigned char *start = sc->p;
    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
        sc->p++;
    return sc->p > start;
}

static bool number(struct scanner *sc)
{
    if (*sc->p == '-')
        sc->p++;
    if (sc->p >= sc->end)
        return false;
    if (*sc->p == '0')
        sc->p++;
    else if (!digits(sc))
        return false;
    if (sc->p < sc->end && *sc->p == '.') {
        sc->p++;
        if (!digits(sc))
            return false;
    }
    if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
        sc->p++;
        if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
            sc->p++;
        if (!digits(sc))
            return false;
    }
    return true;
}

static bool literal(struct scanner *sc, const char *word, size_t n)
{
    if ((size_t)(sc->end - sc->p) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (sc->p[i] != (unsigned char)word[i])
            return false;
    sc->p += n;
    return true;
}

/* Scans one scalar at sc->p. */
static bool scalar(struct scanner *sc)
{
    switch (*sc->p) {
    case '"': return string_body(sc);
    case 't': return literal(sc, "true", 4);
    case 'f': return literal(sc, "false", 5);
    case 'n': return literal(sc, "null", 4);
    default: return (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9')) && number(sc);
    }
}

enum mb_json_top mb_json_validate(const char *s, size_t len, unsigned max_depth)
{
    unsigned char stack[MB_JSON_MAX_DEPTH]; /* '{' or '[' per open container */
    unsigned depth = 0;
    if (max_depth > MB_JSON_MAX_DEPTH)
        max_depth = MB_JSON_MAX_DEPTH;
    struct scanner sc = {(const unsigned char *)s, (const unsigned char *)s + len};
    enum mb_json_top top = MB_JSON_TOP_INVALID;

    skip_ws(&sc);
    if (sc.p >= sc.end)
        return MB_JSON_TOP_INVALID;
    /* State: expecting a value (possibly the first one in a container, where a close is fine). */
    for (;;) {
        skip_ws(&sc);
        if (sc.p >= sc.end)
            return MB_JSON_TOP_INVALID;
        unsigned char c = *sc.p;
        if (c == '{' || c == '[') {
            if (depth == max_depth)
                return MB_JSON_TOP_INVALID;
            if (top == MB_JSON_TOP_INVALID)
                top = c == '{' ? MB_JSON_TOP_OBJECT : MB_JSON_TOP_ARRAY;
            stack[depth++] = c;
            sc.p++;
            skip_ws(&sc);
            if (sc.p >= sc.end)
                return MB_JSON_TOP_INVALID;
            if ((c == '{' && *sc.p == '}') || (c == '[' && *sc.p == ']')) {
                sc.p++;
                depth--;
                goto after_value;
            }
            if (c == '{')
                goto object_key;
            continue; /* first array element */
        }
        if (!scalar(&sc))
            return MB_JSON_TOP_INVALID;
        if (top == MB_JSON_TOP_INVALID)
            top = MB_JSON_TOP_SCALAR;
    after_value:
        for (;;) {
            skip_ws(&sc);
            if (depth == 0) {
                return sc.p == sc.end ? top : MB_JSON_TOP_INVALID;
            }
            if (sc.p >= sc.end)
                return MB_JSON_TOP_INVALID;
            unsigned char open = stack[depth - 1];
            if (*sc.p == ',') {
                sc.p++;
                if (open == '{')
                    goto object_key;
                break; /* next array element */
            }
            if ((open == '{' && *sc.p == '}') || (open == '[' && *sc.p == ']')) {
                sc.p++;
                depth--;
                continue;
            }
            return MB_JSON_TOP_INVALID;
        }
        continue;
    object_key:
        skip_ws(&sc);
        if (sc.p >= sc.end || *sc.p != '"' || !string_body(&sc))
            return MB_JSON_TOP_INVALID;
        skip_ws(&sc);
        if (sc.p >= sc.end || *sc.p != ':')
            return MB_JSON_TOP_INVALID;
        sc.p++;
    }
}
