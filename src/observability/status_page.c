/* The status page (contract in status_page.h): the embedded bytes of assets/status/status.html
 * with the metrics path substituted for its placeholder. */
#include "observability/status_page.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Defined in the file cmake/embed.cmake generates from assets/status/status.html. */
extern const unsigned char mb_status_page_html[];
extern const size_t mb_status_page_html_len;

/* Appends path as the body of a JavaScript string literal that cannot break out of its quotes
 * or its <script> element. */
static int append_js_string(struct mb_buf *out, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        int rc;
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
            strchr("/_.~-", c) != NULL) {
            rc = mb_buf_append(out, p, 1);
        } else {
            char esc[8];
            int n = snprintf(esc, sizeof esc, "\\u%04x", c);
            rc = mb_buf_append(out, esc, (size_t)n);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int mb_status_page_render(const char *metrics_path, struct mb_buf *out)
{
    if (!metrics_path || !*metrics_path)
        return -EINVAL;
    const char *page = (const char *)mb_status_page_html;
    const char *end = page + mb_status_page_html_len;
    const char *marker = MB_STATUS_PAGE_METRICS_PLACEHOLDER;
    size_t marker_len = strlen(marker);
    int rc = 0;
    while (!rc) {
        const char *hit = memmem(page, (size_t)(end - page), marker, marker_len);
        const char *stop = hit ? hit : end;
        rc = mb_buf_append(out, page, (size_t)(stop - page));
        if (rc || !hit)
            break;
        rc = append_js_string(out, metrics_path);
        page = hit + marker_len;
    }
    return rc;
}
