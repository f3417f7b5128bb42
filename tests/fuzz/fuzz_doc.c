/* libFuzzer target for common/doc.c: the first byte picks the format (even: JSON, odd: YAML),
 * the rest is the document text, loaded with mb_doc_load_buffer. Every line lookup on a few
 * pointers must also be safe. Nothing may crash, leak or trip a sanitizer. */
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum mb_doc_format fmt = (data[0] & 1) ? MB_DOC_YAML : MB_DOC_JSON;
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_doc *doc = mb_doc_load_buffer("fuzz", (const char *)data + 1, size - 1, fmt, &diags);
    if (doc) {
        static const char *const ptrs[] = { "", "/a", "/0", "/a/0/b", "/~0~1", "/paths/x/get" };
        for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
            (void)mb_doc_line(doc, ptrs[i]);
        mb_doc_destroy(doc);
    }
    mb_diags_dispose(&diags);
    return 0;
}
