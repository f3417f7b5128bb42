/* libFuzzer target for `mcpbridge openapi-gen`'s JSDO catalog converter (src/cli/
 * openapi_gen_jsdo.h), whose input is a file someone hands over. The input is a catalog (JSON).
 * Besides memory safety it checks the converter's promises: every catalog it accepts gives an
 * OpenAPI document that mcpbridge's own converter turns into exactly one tool per operation,
 * and the YAML writer's text reads back (common/doc.h) as the same document. A broken promise
 * aborts, so the fuzzer keeps the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/openapi_gen_jsdo.h"
#include "cli/openapi_gen_yaml.h"
#include "common/buf.h"
#include "common/doc.h"
#include "openapi/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_converts(const json_t *openapi, const struct mb_jsdo_stats *stats)
{
    char *text = json_dumps(openapi, JSON_COMPACT);
    if (!text)
        return; /* out of memory */
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_catalog *cat = mb_catalog_create_from_buffer(
        "generated", text, strlen(text), "http://127.0.0.1", NULL, true, 100, &diags);
    if (!cat || cat->operation_count != stats->operations) {
        char *why = mb_diags_join(&diags);
        fprintf(stderr, "accepted catalog does not convert: %zu operations, %zu tools: %s\n",
                stats->operations, cat ? cat->operation_count : 0, why ? why : "");
        abort();
    }
    mb_catalog_destroy(cat);
    mb_diags_dispose(&diags);
    free(text);
}

static void check_yaml_round_trip(const json_t *openapi)
{
    struct mb_buf yaml;
    mb_buf_init(&yaml, 64u * 1024u * 1024u);
    if (mb_yaml_write(openapi, &yaml) == 0) {
        struct mb_diags diags;
        mb_diags_init(&diags);
        struct mb_doc *back = mb_doc_load_buffer("yaml", yaml.data, yaml.len, MB_DOC_YAML, &diags);
        if (!back || !json_equal(mb_doc_root(back), (json_t *)openapi)) {
            fprintf(stderr, "YAML does not read back as the document:\n%s\n", yaml.data);
            abort();
        }
        mb_doc_destroy(back);
        mb_diags_dispose(&diags);
    }
    mb_buf_dispose(&yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mb_diags errors, warnings;
    mb_diags_init(&errors);
    mb_diags_init(&warnings);
    struct mb_doc *doc =
        mb_doc_load_buffer("catalog.json", (const char *)data, size, MB_DOC_JSON, &errors);
    if (doc) {
        struct mb_jsdo_stats stats;
        struct mb_jsdo_options opts = {.base_url = NULL, .title = NULL};
        json_t *openapi = mb_jsdo_to_openapi(doc, &opts, &errors, &warnings, &stats);
        if (openapi) {
            check_converts(openapi, &stats);
            check_yaml_round_trip(openapi);
        }
        json_decref(openapi);
        mb_doc_destroy(doc);
    }
    mb_diags_dispose(&errors);
    mb_diags_dispose(&warnings);
    return 0;
}
