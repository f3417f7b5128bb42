/* libFuzzer target for the streaming response guard. The first 8 bytes choose the mode, the
 * limits and the chunk size; the rest is the body, fed in chunks. Any input: no crash, output
 * within max_output_bytes in trim and block. Trim mode on a body jansson accepts (no NUL byte,
 * within jansson's depth): the guard must not refuse it and its output must be valid JSON. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "guard/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    struct mb_guard_limits lim;
    mb_guard_limits_default(&lim);
    enum mb_guard_mode mode = (enum mb_guard_mode)(data[0] % 3);
    enum mb_guard_input input = data[0] & 0x80 ? MB_GUARD_TEXT : MB_GUARD_JSON;
    lim.max_output_bytes = MB_GUARD_MIN_OUTPUT + ((size_t)data[1] << 4 | data[2] >> 4);
    lim.max_array_items = data[3] % 12;
    lim.max_string_bytes = data[4] % 64;
    lim.max_depth = 1 + data[5] % 16;
    lim.max_scan_bytes = data[6] & 1 ? lim.max_output_bytes + (size_t)data[6] * 8 : 0;
    size_t chunk = 1 + data[7] % 97;
    const char *body = (const char *)data + 8;
    size_t len = size - 8;

    struct mb_buf out;
    struct mb_guard g;
    mb_buf_init(&out, 1 << 24);
    if (mb_guard_init(&g, mode, input, &lim, &out) != 0)
        __builtin_trap();
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += chunk)
        rc = mb_guard_feed(&g, body + off, len - off < chunk ? len - off : chunk);
    struct mb_guard_report rep;
    int frc = mb_guard_finish(&g, &rep);
    if (rc == 0)
        rc = frc;
    if (mode != MB_GUARD_WARN && out.len > lim.max_output_bytes)
        __builtin_trap();
    if (rep.bytes_out != out.len)
        __builtin_trap();
    if (mode == MB_GUARD_TRIM && input == MB_GUARD_JSON && !memchr(body, 0, len)) {
        json_error_t err;
        json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &err);
        if (j) {
            if (rc < 0)
                __builtin_trap();
            json_t *o = json_loadb(out.data, out.len, JSON_DECODE_ANY, &err);
            if (!o)
                __builtin_trap();
            json_decref(o);
            json_decref(j);
        }
    }
    mb_buf_dispose(&out);
    return 0;
}
