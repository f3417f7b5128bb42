/* libFuzzer target: the DOM-free JSON validator must terminate on any input and accept every
 * document jansson accepts (within the depth bound; jansson is stricter on \u surrogates and
 * huge numbers, so only that direction is asserted). jansson stops reading at a NUL byte and
 * accepts what came before ("1\0"), which is not JSON, so inputs with NUL bytes are not compared. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned depth_of(const json_t *j)
{
    unsigned best = 0;
    size_t i;
    const char *k;
    json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            unsigned d = depth_of(v);
            best = d > best ? d : best;
        }
        return best + 1;
    }
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v) {
            unsigned d = depth_of(v);
            best = d > best ? d : best;
        }
        return best + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum mb_json_top ours = mb_json_validate((const char *)data, size, MB_JSON_MAX_DEPTH);
    if (memchr(data, 0, size))
        return 0;
    json_error_t err;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (j && depth_of(j) <= MB_JSON_MAX_DEPTH && ours == MB_JSON_TOP_INVALID)
        __builtin_trap();
    json_decref(j);
    return 0;
}
