/* libFuzzer target: arbitrary bytes as a JSON-RPC message (or batch) through decoding,
 * classification and the response writers, and as a session id through the verifier. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcp/jsonrpc.h"
#include "mcp/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {7};
    struct mb_session_info info;
    mb_session_check(key, NULL, (const char *)data, size, 3600, &info);

    json_error_t err;
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        return 0;
    size_t count = json_is_array(doc) ? json_array_size(doc) : 1;
    struct mb_buf out;
    mb_buf_init(&out, 1u << 20);
    for (size_t i = 0; i < count && i < 64; i++) {
        const json_t *msg = json_is_array(doc) ? json_array_get(doc, i) : doc;
        char why[200];
        enum mb_jsonrpc_kind kind = mb_jsonrpc_classify(msg, why, sizeof why);
        const json_t *id = kind == MB_JSONRPC_INVALID ? NULL : json_object_get(msg, "id");
        if (kind == MB_JSONRPC_INVALID)
            mb_jsonrpc_write_error(&out, NULL, MB_JSONRPC_INVALID_REQUEST, why, NULL);
        else
            mb_jsonrpc_write_result(&out, id, json_object_get(msg, "params") ? json_object_get(msg, "params") : msg);
        if (out.len) {
            json_t *back = json_loadb(out.data, out.len, 0, &err);
            if (!back)
                __builtin_trap(); /* we must always write valid JSON */
            json_decref(back);
        }
        mb_buf_reset(&out);
    }
    mb_buf_dispose(&out);
    json_decref(doc);
    return 0;
}
