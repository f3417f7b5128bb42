/* Payload masking for logs (contract in payload_mask.h). A copy of the value is walked and
 * rewritten (secret members to "***", long strings cut), then dumped; past the output cap the
 * walk replaces the remaining members with a marker instead of cutting the text mid-token. */
#include "observability/payload_mask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK_STRING_MAX 256
#define MASK_DEPTH_MAX 32

static const char *const secret_words[] = {
    "password", "passwd", "secret", "token", "api_key", "apikey", "api-key", "authorization",
    "cookie", "credential", "private_key", "privatekey", "session", "signature", NULL,
};

bool mb_payload_key_is_secret(const char *key)
{
    if (!key)
        return false;
    for (const char *const *w = secret_words; *w; w++)
        if (strcasestr(key, *w))
            return true;
    return false;
}

/* Rewrites v in place; budget is the rough number of output bytes still allowed. */
static json_t *mask_value(json_t *v, long *budget, int depth)
{
    if (*budget <= 0 || depth > MASK_DEPTH_MAX)
        return json_string("...");
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        *budget -= (long)(n < MASK_STRING_MAX ? n : MASK_STRING_MAX) + 4;
        if (n <= MASK_STRING_MAX)
            return json_incref(v);
        char cut[MASK_STRING_MAX + 48];
        memcpy(cut, json_string_value(v), MASK_STRING_MAX);
        int k = snprintf(cut + MASK_STRING_MAX, 48, "...(+%zu bytes)", n - MASK_STRING_MAX);
        return json_stringn_nocheck(cut, MASK_STRING_MAX + (size_t)k);
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *member;
        json_object_foreach(v, k, member) {
            *budget -= (long)strlen(k) + 4;
            if (*budget <= 0) {
                json_object_set_new(o, "...", json_string("more members not logged"));
                break;
            }
            json_object_set_new(o, k, mb_payload_key_is_secret(k) ? json_string("***")
                                                                  : mask_value(member, budget, depth + 1));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (*budget <= 0) {
                char more[64];
                snprintf(more, sizeof more, "...(+%zu items)", json_array_size(v) - i);
                json_array_append_new(a, json_string(more));
                break;
            }
            json_array_append_new(a, mask_value(item, budget, depth + 1));
        }
        return a;
    }
    *budget -= 24;
    return json_incref(v);
}

char *mb_payload_mask_json(const json_t *value, size_t max_bytes)
{
    if (!value)
        return NULL;
    long budget = (long)max_bytes;
    json_t *masked = mask_value((json_t *)value, &budget, 0);
    char *text = json_dumps(masked, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(masked);
    return text;
}

/* Masks "Bearer x"/"Basic x" credentials (up to the next space or quote) in place. */
static void mask_credentials(char *s)
{
    static const char *const schemes[] = { "Bearer ", "Basic ", NULL };
    for (const char *const *sch = schemes; *sch; sch++) {
        size_t sl = strlen(*sch);
        for (char *p = strcasestr(s, *sch); p; p = strcasestr(p, *sch)) {
            p += sl;
            while (*p && *p != ' ' && *p != '"' && *p != '\'' && *p != '\n' && *p != ',')
                *p++ = '*';
        }
    }
}

char *mb_payload_mask_body(const char *body, size_t len, size_t max_bytes)
{
    json_error_t err;
    json_t *v = body && len ? json_loadb(body, len, JSON_DECODE_ANY, &err) : NULL;
    if (v) {
        char *text = mb_payload_mask_json(v, max_bytes);
        json_decref(v);
        return text;
    }
    size_t n = len < max_bytes ? len : max_bytes;
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    if (n)
        memcpy(copy, body, n);
    copy[n] = '\0';
    mask_credentials(copy);
    json_t *s = json_stringn(copy, strlen(copy));
    if (!s) /* not UTF-8: say so rather than log bytes a log pipeline may choke on */
        s = json_string("(binary body not logged)");
    free(copy);
    char *text = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(s);
    return text;
}
