/* Base64 (RFC 4648, standard alphabet, padded, no line breaks) for MCP binary content:
 * images, audio, resource blobs. */
#ifndef MB_BASE64_H
#define MB_BASE64_H

#include <stddef.h>

/* Encodes len bytes of any size; returns a NUL-terminated heap string the caller frees, or NULL
 * when out of memory. */
char *mb_base64_encode(const void *data, size_t len);

#endif
