/* Masking of payloads before they reach a log line (runtime.middleware.logging.include_payloads).
 * Payload logging is off by default; when an operator turns it on, values under secret-looking
 * keys (password, secret, token, api_key, authorization, cookie, credential, private_key,
 * client_secret, ... any key containing one of these, case-insensitive) become "***", long
 * strings are cut, and the whole rendering is capped, so a log line never carries a credential
 * and never grows without bound. */
#ifndef MB_PAYLOAD_MASK_H
#define MB_PAYLOAD_MASK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* True when a member named key would be masked. */
bool mb_payload_key_is_secret(const char *key);

/* The JSON text of value with secrets masked, strings over 256 bytes cut ("...(+N bytes)"),
 * and at most max_bytes of output (deeper content replaced by "..." markers so the text stays
 * valid JSON). Caller frees. NULL on ENOMEM or NULL value. */
char *mb_payload_mask_json(const json_t *value, size_t max_bytes);

/* A body as a JSON value text for a log line: parsed and masked like mb_payload_mask_json
 * when it is JSON, else a JSON string of its first max_bytes bytes with "Bearer <x>" and
 * "Basic <x>" credentials masked. Caller frees. NULL on ENOMEM. */
char *mb_payload_mask_body(const char *body, size_t len, size_t max_bytes);

#endif
