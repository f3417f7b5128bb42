/* libFuzzer target for the OpenAPI converter: the input is a spec (JSON or YAML), optionally
 * followed by a NUL byte and a JSON arguments document. A catalog is built from the spec with
 * every method kept; when it has tools, the arguments are validated against the first tool
 * and, when valid, a downstream request is built from them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "openapi/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t spec_len = nul ? (size_t)(nul - text) : size;
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_catalog *cat = mb_catalog_create_from_buffer("fuzz", text, spec_len, NULL, NULL, true, 2, &diags);
    if (cat && cat->tool_count > 0) {
        const struct mb_tool *tool = &cat->tools[0];
        json_t *args = nul ? json_loadb(nul + 1, size - spec_len - 1, JSON_DECODE_ANY, NULL) : NULL;
        char msg[256];
        if (mb_tool_validate_args(tool, args, msg, sizeof msg) == 0) {
            struct mb_built_request req;
            if (mb_tool_build_request(tool, cat->base_url, args, &req, msg, sizeof msg) == 0)
                mb_built_request_dispose(&req);
        }
        size_t len;
        (void)mb_catalog_page(cat, NULL, &len);
        (void)mb_catalog_find(cat, tool->name);
        json_decref(args);
    }
    mb_catalog_destroy(cat);
    mb_diags_dispose(&diags);
    return 0;
}
