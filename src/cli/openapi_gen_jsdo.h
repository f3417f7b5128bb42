/* The converter behind `mcpbridge openapi-gen`: a Progress OpenEdge JSDO catalog (the "Data
 * Service Catalog" a JSDO reads: services, their resources, each resource's schema and
 * operations) turned into an OpenAPI 3.0.3 document that mcpbridge, or any OpenAPI tool, can
 * serve. The catalog is untrusted input (a file someone hands over): every member is checked,
 * nesting and size are bounded, and every problem is reported with the catalog's line and the
 * place in it ("services[0].resources[1] (Order).operations[3] (update): ...").
 *
 * Mapping (docs/cli.md, "openapi-gen"): one OpenAPI operation per catalog operation, at
 * service address + resource path + operation path (its "?k={v}" part becomes query
 * parameters); operationIds <type><Resource> (readCustomer, submitOrder, countItem) and
 * invoke<Resource><Name> (invokeCustomerCount), made unique; one tag per resource; request and
 * response bodies from the resource schema with ABL types mapped to JSON Schema types and
 * formats; the JSDO filter conventions in the filter parameter's description. */
#ifndef MB_CLI_OPENAPI_GEN_JSDO_H
#define MB_CLI_OPENAPI_GEN_JSDO_H

#include <jansson.h>
#include <stddef.h>

#include "common/diag.h"
#include "common/doc.h"

struct mb_jsdo_options {
    const char *base_url; /* servers[0].url of the result; NULL = no servers (the config's
                           * api.openapi.base_url must then say where the service is) */
    const char *title;    /* info.title; NULL = the service names */
};

/* What a conversion produced, for the summary line and the check against the tool catalog. */
struct mb_jsdo_stats {
    size_t services, resources, operations;
};

/* Converts the parsed catalog (a document loaded with mb_doc_load_file/_buffer, for line
 * numbers) into a new OpenAPI 3.0.3 document the caller releases with json_decref. Returns NULL
 * after adding one "file:line: place: problem" diagnostic per problem to errors (every problem,
 * not only the first) when the catalog cannot be converted. Things left out of an otherwise
 * usable catalog (a request body on a GET, a FORM or MATRIX parameter) are added to warnings
 * (may be NULL) and do not fail. stats (may be NULL) is filled on success. */
json_t *mb_jsdo_to_openapi(const struct mb_doc *catalog, const struct mb_jsdo_options *opts,
                           struct mb_diags *errors, struct mb_diags *warnings,
                           struct mb_jsdo_stats *stats);

/* The JSON Schema {type, format} of an ABL data type name ("INTEGER", "datetime-tz", any case):
 * CHARACTER/LONGCHAR/CLOB string, INTEGER integer int32, INT64 integer int64, DECIMAL number,
 * LOGICAL boolean, DATE string date, DATETIME and DATETIME-TZ string date-time, BLOB/RAW/MEMPTR
 * string byte, ROWID/RECID and handles as noted in docs/cli.md. Returns 0 and sets *type and
 * *format (NULL when none; static strings), or -1 for a name that is not an ABL data type. */
int mb_jsdo_abl_type(const char *abl_type, const char **type, const char **format);

#endif
