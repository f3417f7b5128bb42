/* JSDO catalog -> OpenAPI 3.0.3 (contract in openapi_gen_jsdo.h). One pass over the catalog:
 * services, resources, operations; each operation becomes a path item entry built from its
 * path template, its params (QUERY, PATH, HEADER, COOKIE, REQUEST_BODY, RESPONSE_BODY, ...) and
 * the resource schema. Errors are collected, not returned at the first one, so an operator
 * fixes a catalog in one round. */
#include "cli/openapi_gen_jsdo.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

#define MAX_SCHEMA_DEPTH 64
#define MAX_SCHEMA_NODES                                                                           \
    1000000                   /* over the whole catalog (each resource schema is converted         \
                               * at most twice, whatever its number of operations) */
#define MAX_PARAMS        512 /* per operation */
#define MAX_PATH_BYTES    2048
#define MAX_NAME_BYTES    256  /* service, resource, operation and parameter names */
#define MAX_VAR_BYTES     128  /* a {variable} of a path template */
#define DESCRIPTION_BYTES 1000 /* mcpbridge caps tool descriptions at 1024 */

enum op_type { OP_READ, OP_CREATE, OP_UPDATE, OP_DELETE, OP_SUBMIT, OP_INVOKE, OP_COUNT };
static const char *const op_type_names[] = {"read",   "create", "update", "delete",
                                            "submit", "invoke", "count"};
/* The verb a JSDO uses for each type, suggested when a catalog leaves "verb" out. */
static const char *const op_default_verbs[] = {"get", "post", "put", "delete", "put", "put", "get"};

/* Where a parameter goes. A REQUEST_RESPONSE_BODY parameter is both BODY_IN and BODY_OUT. */
enum {
    LOC_PATH = 1,
    LOC_QUERY = 2,
    LOC_HEADER = 4,
    LOC_COOKIE = 8,
    LOC_BODY_IN = 16,
    LOC_BODY_OUT = 32,
    LOC_IGNORED = 64
};

struct conv {
    const struct mb_doc *doc;
    const char *file;
    struct mb_diags *errors, *warnings;
    size_t error_count;
    size_t schema_nodes;
    bool schema_bound_reported;
    json_t *out;           /* the OpenAPI document */
    json_t *paths;         /* out.paths (borrowed) */
    json_t *tags;          /* out.tags (borrowed) */
    json_t *operation_ids; /* set of ids used, {id: true} */
    json_t *owners;        /* "METHOD path" -> place of the operation that has it */
    struct mb_jsdo_stats stats;
};

/* The place of a member for messages and its JSON pointer for the line number. */
struct place {
    char text[512];
    char pointer[256];
};

static void diag(struct conv *cv, bool error, const struct place *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void diag(struct conv *cv, bool error, const struct place *at, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct mb_diags *d = error ? cv->errors : cv->warnings;
    if (error)
        cv->error_count++;
    if (d)
        mb_diags_add(d, cv->file, at ? mb_doc_line(cv->doc, at->pointer) : 0, "%s%s%s",
                     at ? at->text : "", at && at->text[0] ? ": " : "", msg);
}

/* vsnprintf into out; returns false (out then holds a cut text) when it did not fit. */
static bool format_into(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool format_into(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

/* The place of member (index >= 0: its element index, label: a name to show) under parent. A
 * place too long to hold (a schema nested very deep) stays the parent's, so messages and line
 * numbers point at the nearest place that fits. */
static void place_child(struct place *child, const struct place *parent, const char *member,
                        long index, const char *label)
{
    bool fits;
    if (index >= 0)
        fits = format_into(child->text, sizeof child->text, "%s%s%s[%ld]%s%s%s", parent->text,
                           parent->text[0] ? "." : "", member, index, label ? " (" : "",
                           label ? label : "", label ? ")" : "") &&
               format_into(child->pointer, sizeof child->pointer, "%s/%s/%ld", parent->pointer,
                           member, index);
    else
        fits = format_into(child->text, sizeof child->text, "%s%s%s", parent->text,
                           parent->text[0] ? "." : "", member) &&
               format_into(child->pointer, sizeof child->pointer, "%s/%s", parent->pointer, member);
    if (!fits)
        *child = *parent;
}

/* ---- ABL types */

static const struct {
    const char *abl, *type, *format;
} abl_types[] = {
    {"CHARACTER", "string", NULL},
    {"LONGCHAR", "string", NULL},
    {"CLOB", "string", NULL},
    {"INTEGER", "integer", "int32"},
    {"INT64", "integer", "int64"},
    {"DECIMAL", "number", NULL},
    {"LOGICAL", "boolean", NULL},
    {"DATE", "string", "date"},
    {"DATETIME", "string", "date-time"},
    {"DATETIME-TZ", "string", "date-time"},
    {"BLOB", "string", "byte"},
    {"RAW", "string", "byte"},
    {"MEMPTR", "string", "byte"},
    {"ROWID", "string", NULL},
    {"RECID", "integer", "int64"},
    {"HANDLE", "integer", "int64"},
    {"COM-HANDLE", "integer", "int64"},
    {"WIDGET-HANDLE", "integer", "int64"},
};

int mb_jsdo_abl_type(const char *abl_type, const char **type, const char **format)
{
    for (size_t i = 0; abl_type && i < sizeof abl_types / sizeof abl_types[0]; i++)
        if (strcasecmp(abl_type, abl_types[i].abl) == 0) {
            *type = abl_types[i].type;
            *format = abl_types[i].format;
            return 0;
        }
    return -1;
}

static bool is_json_schema_type(const char *t)
{
    static const char *const types[] = {"string",  "integer", "number",
                                        "boolean", "object",  "array"};
    for (size_t i = 0; t && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

/* True when a default value fits the schema built so far (a date default "" or "?" would make
 * the schema contradict itself). */
static bool default_fits(const json_t *schema, const json_t *value)
{
    const char *type = json_string_value(json_object_get(schema, "type"));
    const char *format = json_string_value(json_object_get(schema, "format"));
    if (json_is_null(value))
        return json_is_true(json_object_get(schema, "nullable"));
    if (!type)
        return true;
    if (strcmp(type, "string") == 0)
        return json_is_string(value) && !format;
    if (strcmp(type, "integer") == 0)
        return json_is_integer(value);
    if (strcmp(type, "number") == 0)
        return json_is_number(value);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(value);
    return false;
}

/* ---- schemas */

enum schema_mode {
    SCHEMA_AS_WRITTEN, /* request bodies: additionalProperties as the catalog says */
    SCHEMA_OPEN,       /* responses and before-image submits: never additionalProperties false */
};

static json_t *convert_schema(struct conv *cv, const json_t *in, const struct place *at, int depth,
                              enum schema_mode mode);

static void convert_members(struct conv *cv, json_t *out, const json_t *in, const struct place *at,
                            int depth, enum schema_mode mode)
{
    const json_t *props = json_object_get(in, "properties");
    if (json_is_object(props)) {
        json_t *converted = json_object();
        const char *key;
        json_t *value;
        struct place pp;
        place_child(&pp, at, "properties", -1, NULL);
        json_object_foreach((json_t *)props, key, value)
        {
            struct place child;
            place_child(&child, &pp, key, -1, NULL);
            json_t *s = convert_schema(cv, value, &child, depth + 1, mode);
            if (s)
                json_object_set_new(converted, key, s);
        }
        json_object_set_new(out, "properties", converted);
    }
    const json_t *items = json_object_get(in, "items");
    if (json_is_object(items)) {
        struct place ip;
        place_child(&ip, at, "items", -1, NULL);
        json_t *s = convert_schema(cv, items, &ip, depth + 1, mode);
        if (s)
            json_object_set_new(out, "items", s);
    }
    const json_t *extra = json_object_get(in, "additionalProperties");
    if (json_is_boolean(extra) && (mode == SCHEMA_AS_WRITTEN || json_is_true(extra))) {
        json_object_set(out, "additionalProperties", (json_t *)extra);
    } else if (json_is_object(extra)) {
        struct place ap;
        place_child(&ap, at, "additionalProperties", -1, NULL);
        json_t *s = convert_schema(cv, extra, &ap, depth + 1, mode);
        if (s)
            json_object_set_new(out, "additionalProperties", s);
    }
    const json_t *required = json_object_get(in, "required");
    if (json_is_array(required) && json_array_size(required) > 0) {
        json_t *names = json_array();
        size_t i;
        json_t *n;
        json_array_foreach(required, i, n)
        {
            if (json_is_string(n))
                json_array_append(names, n);
        }
        if (json_array_size(names) > 0)
            json_object_set_new(out, "required", names);
        else
            json_decref(names);
    }
}

/* A catalog schema (JSON Schema with ABL annotations: ablType, origName, semanticType, ...) as an
 * OpenAPI 3.0 schema: ablType decides type and format, ABL fields may be null (the Unknown
 * value), keywords OpenAPI does not know are dropped. NULL once the size bound is crossed. */
static json_t *convert_schema(struct conv *cv, const json_t *in, const struct place *at, int depth,
                              enum schema_mode mode)
{
    if (depth > MAX_SCHEMA_DEPTH || ++cv->schema_nodes > MAX_SCHEMA_NODES) {
        if (!cv->schema_bound_reported) {
            cv->schema_bound_reported = true;
            diag(cv, true, at,
                 "the schema is nested deeper than %d levels or has more than %d nodes in all",
                 MAX_SCHEMA_DEPTH, MAX_SCHEMA_NODES);
        }
        return NULL;
    }
    json_t *out = json_object();
    if (!json_is_object(in))
        return out; /* true, or a malformed member: accept anything */
    const char *abl = json_string_value(json_object_get(in, "ablType"));
    const char *type = json_string_value(json_object_get(in, "type"));
    const char *abl_json_type = NULL, *abl_format = NULL;
    bool known_abl = abl && mb_jsdo_abl_type(abl, &abl_json_type, &abl_format) == 0;
    bool array = type && strcmp(type, "array") == 0;
    if (known_abl && !array) {
        json_object_set_new(out, "type", json_string(abl_json_type));
        if (abl_format)
            json_object_set_new(out, "format", json_string(abl_format));
    } else if (is_json_schema_type(type)) {
        json_object_set_new(out, "type", json_string(type));
        const char *format = json_string_value(json_object_get(in, "format"));
        if (format && !array)
            json_object_set_new(out, "format", json_string(format));
    }
    if (abl && !array)
        json_object_set_new(out, "nullable", json_true()); /* the ABL Unknown value (?) is null */
    static const char *const text_keys[] = {"title", "description", "pattern"};
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++) {
        const json_t *v = json_object_get(in, text_keys[i]);
        if (json_is_string(v))
            json_object_set(out, text_keys[i], (json_t *)v);
    }
    static const char *const count_keys[] = {"maxLength", "minLength", "maxItems", "minItems"};
    for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++) {
        const json_t *v = json_object_get(in, count_keys[i]);
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            json_object_set(out, count_keys[i], (json_t *)v);
    }
    static const char *const bound_keys[] = {"maximum", "minimum"};
    for (size_t i = 0; i < sizeof bound_keys / sizeof bound_keys[0]; i++) {
        const json_t *v = json_object_get(in, bound_keys[i]);
        if (json_is_number(v))
            json_object_set(out, bound_keys[i], (json_t *)v);
    }
    const json_t *e = json_object_get(in, "enum");
    if (json_is_array(e) && json_array_size(e) > 0)
        json_object_set_new(out, "enum", json_deep_copy(e));
    const json_t *ro = json_object_get(in, "readOnly");
    if (json_is_boolean(ro) && mode == SCHEMA_OPEN)
        json_object_set(out, "readOnly", (json_t *)ro);
    convert_members(cv, out, in, at, depth, mode);
    if (array && known_abl) {
        /* An EXTENT field: the ABL type is the elements'. */
        json_t *items = json_object_get(out, "items");
        if (!items) {
            items = json_object();
            json_object_set_new(out, "items", items);
        }
        if (!json_object_get(items, "type")) {
            json_object_set_new(items, "type", json_string(abl_json_type));
            if (abl_format)
                json_object_set_new(items, "format", json_string(abl_format));
            json_object_set_new(items, "nullable", json_true());
        }
    }
    const json_t *dflt = json_object_get(in, "default");
    if (dflt && default_fits(out, dflt))
        json_object_set_new(out, "default", json_deep_copy(dflt));
    return out;
}

/* ---- names */

/* Appends the letters and digits of s to out, each run after another character starting with
 * an upper-case letter when capitalize (so "Sports 2000 svc" gives "Sports2000Svc"). */
static void append_identifier(struct mb_buf *out, const char *s, bool capitalize)
{
    bool upper_next = capitalize;
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!isalnum(ch)) {
            upper_next = true;
            continue;
        }
        char c = upper_next ? (char)toupper(ch) : (char)ch;
        mb_buf_append(out, &c, 1);
        upper_next = false;
    }
}

/* Cuts an identifier to at most max bytes (it is ASCII: letters and digits). */
static void cap_identifier(struct mb_buf *id, size_t max)
{
    if (id->len > max)
        mb_buf_truncate(id, max);
}

/* A unique, readable operationId of at most 64 characters (mcpbridge's tool name limit):
 * readCustomer, invokeCustomerGetCredit; on a clash with the service name added, then numbered.
 * Returns a heap string or NULL. */
static char *operation_id(struct conv *cv, enum op_type type, const char *resource,
                          const char *name, const char *service)
{
    struct mb_buf id;
    mb_buf_init(&id, 2 * MAX_NAME_BYTES + 32);
    mb_buf_append_str(&id, op_type_names[type]);
    append_identifier(&id, resource, true);
    if (type == OP_INVOKE || (type == OP_COUNT && name && *name && strcasecmp(name, "count") != 0))
        append_identifier(&id, name, true);
    cap_identifier(&id, 56);
    if (json_object_get(cv->operation_ids, id.data)) {
        append_identifier(&id, service, true);
        cap_identifier(&id, 56);
        size_t base = id.len;
        for (unsigned n = 2; json_object_get(cv->operation_ids, id.data); n++) {
            mb_buf_truncate(&id, base);
            mb_buf_printf(&id, "%u", n); /* fits: the id is at most 56 bytes before it */
        }
    }
    json_object_set_new(cv->operation_ids, id.data, json_true());
    return mb_buf_steal(&id);
}

/* ---- paths */

/* Appends a path piece, making sure pieces are joined by exactly one '/'. Returns 0, or -1 when
 * the path would be longer than the buffer's maximum. */
static int append_path(struct mb_buf *out, const char *piece, size_t len)
{
    while (len > 0 && *piece == '/') {
        piece++;
        len--;
    }
    while (len > 0 && piece[len - 1] == '/')
        len--;
    if (len == 0)
        return 0;
    return mb_buf_append(out, "/", 1) == 0 && mb_buf_append(out, piece, len) == 0 ? 0 : -1;
}

/* Checks a path template: balanced {name} with name of letters, digits, '_', '-', '.', and no
 * space, '#', '?' or control character outside them. Returns NULL or what is wrong. */
static const char *path_problem(const char *path)
{
    bool in_var = false;
    size_t var_len = 0;
    for (const char *p = path; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x21 || ch == 0x7f)
            return "it contains a space or a control character";
        if (ch == '#')
            return "it contains '#'";
        if (ch == '?')
            return "it contains '?' (only an operation path may have a query part)";
        if (ch == '{') {
            if (in_var)
                return "a '{' inside a {parameter}";
            in_var = true;
            var_len = 0;
        } else if (ch == '}') {
            if (!in_var)
                return "a '}' without its '{'";
            if (var_len == 0)
                return "an empty {} parameter";
            in_var = false;
        } else if (in_var) {
            if (!isalnum(ch) && ch != '_' && ch != '-' && ch != '.')
                return "a {parameter} name may hold letters, digits, '_', '-' and '.' only";
            if (++var_len > MAX_VAR_BYTES)
                return "a {parameter} name is longer than 128 bytes";
        }
    }
    return in_var ? "a '{' without its '}'" : NULL;
}

/* ---- parameters */

struct jsdo_param {
    const char *name;
    int where;         /* LOC_* bits */
    const json_t *def; /* the catalog entry */
    bool used;         /* placed in the path or query template */
};

/* The LOC_* bits of a catalog parameter type ("QUERY", "REQUEST_BODY,RESPONSE_BODY",
 * "RequestBody", any case), or 0 when unknown. */
static int param_location(const char *type)
{
    static const struct {
        const char *name;
        int where;
    } names[] = {
        {"PATH", LOC_PATH},
        {"QUERY", LOC_QUERY},
        {"HEADER", LOC_HEADER},
        {"COOKIE", LOC_COOKIE},
        {"REQUESTBODY", LOC_BODY_IN},
        {"RESPONSEBODY", LOC_BODY_OUT},
        {"REQUESTRESPONSEBODY", LOC_BODY_IN | LOC_BODY_OUT},
        {"MATRIX", LOC_IGNORED},
        {"FORM", LOC_IGNORED},
    };
    int where = 0;
    while (type && *type) {
        char word[32];
        size_t n = 0;
        for (; *type && *type != ','; type++)
            if (*type != '_' && *type != ' ' && n + 1 < sizeof word)
                word[n++] = (char)toupper((unsigned char)*type);
        word[n] = '\0';
        if (*type == ',')
            type++;
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(word, names[i].name) == 0)
                found = names[i].where;
        if (!found)
            return 0;
        where |= found;
    }
    return where;
}

/* The schema of a scalar or structured parameter from its xType/ablType (and dataDefinitions
 * for TABLE/DATASET parameters). */
static json_t *param_schema(struct conv *cv, const struct jsdo_param *p, const json_t *resource,
                            const struct place *at, bool as_query)
{
    const char *x = json_string_value(json_object_get(p->def, "xType"));
    if (!x)
        x = json_string_value(json_object_get(p->def, "ablType"));
    if (!x)
        x = json_string_value(json_object_get(p->def, "dataType"));
    const char *type = NULL, *format = NULL;
    json_t *s = NULL;
    if (x && mb_jsdo_abl_type(x, &type, &format) == 0) {
        s = json_pack("{s:s}", "type", type);
        if (format)
            json_object_set_new(s, "format", json_string(format));
    } else if (x && is_json_schema_type(x) && strcmp(x, "object") != 0 && strcmp(x, "array") != 0) {
        s = json_pack("{s:s}", "type", x);
    } else if (x && (strcasecmp(x, "DATASET") == 0 || strcasecmp(x, "TABLE") == 0 ||
                     strcasecmp(x, "ARRAY") == 0 || strcasecmp(x, "object") == 0 ||
                     strcasecmp(x, "array") == 0)) {
        const json_t *defs = json_object_get(resource, "dataDefinitions");
        const json_t *def = json_object_get(defs, p->name);
        if (json_is_object(def)) {
            struct place dp;
            place_child(&dp, at, "dataDefinitions", -1, NULL);
            s = convert_schema(cv, def, &dp, 1, SCHEMA_OPEN);
        } else {
            bool list = strcasecmp(x, "ARRAY") == 0 || strcasecmp(x, "array") == 0;
            s = json_pack("{s:s}", "type", list ? "array" : "object");
        }
    } else {
        s = as_query ? json_pack("{s:s}", "type", "string") : json_object();
    }
    if (s && json_is_true(json_object_get(p->def, "isArray")))
        s = json_pack("{s:s,s:o}", "type", "array", "items", s);
    return s;
}

static const char filter_text[] =
    "Selects the records: an ABL WHERE expression without the WHERE keyword (e.g. Country = 'USA' "
    "AND "
    "Balance > 1000), or a JSON Filter Pattern object as text: {\"ablFilter\": \"Country = "
    "'USA'\", "
    "\"orderBy\": \"Name desc\", \"skip\": 0, \"top\": 20}. Empty or absent: every record.";

/* The description of a filter parameter, with the operation's capabilities when it lists them. */
static json_t *filter_description(const json_t *op)
{
    const char *caps = json_string_value(json_object_get(op, "capabilities"));
    const char *mapping = json_string_value(json_object_get(op, "mappingType"));
    struct mb_buf d;
    mb_buf_init(&d, 2048);
    mb_buf_append_str(&d, filter_text);
    if (mapping && strcasecmp(mapping, "JFP") == 0)
        mb_buf_append_str(&d, " This operation reads the JSON Filter Pattern.");
    if (caps && strlen(caps) < 200)
        mb_buf_printf(&d, " Supported: %s.", caps);
    json_t *s = json_string(d.data);
    mb_buf_dispose(&d);
    return s;
}

static void add_parameter(json_t *list, const char *name, const char *in, bool required,
                          json_t *schema, json_t *description)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0 &&
            strcmp(json_string_value(json_object_get(p, "in")), in) == 0) {
            json_decref(schema);
            json_decref(description);
            return; /* declared twice: the first wins */
        }
    }
    json_t *param = json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", in, "required", required,
                              "schema", schema ? schema : json_object());
    if (description)
        json_object_set_new(param, "description", description);
    json_array_append_new(list, param);
}

static struct jsdo_param *find_param(struct jsdo_param *params, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (params[i].name && strcmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

/* ---- the resource's dataset */

/* The dataset (or table) the resource schema holds, for descriptions: "dsOrder with the tables
 * ttOrder, ttOrderLine" (or "the table ttItem" for a single-table resource). */
static void dataset_summary(const json_t *schema, struct mb_buf *out)
{
    const json_t *props = json_object_get(schema, "properties");
    const char *top;
    json_t *value;
    json_object_foreach((json_t *)props, top, value)
    {
        const json_t *inner = json_object_get(value, "properties");
        const char *type = json_string_value(json_object_get(value, "type"));
        if (out->len)
            mb_buf_append_str(out, "; ");
        if (type && strcmp(type, "array") == 0) {
            mb_buf_printf(out, "the table %s", top);
            continue;
        }
        mb_buf_append_str(out, top);
        size_t tables = json_object_size(inner);
        if (json_is_object(inner) && tables > 0) {
            const char *table;
            json_t *t;
            size_t k = 0;
            mb_buf_printf(out, " with the table%s ", tables == 1 ? "" : "s");
            json_object_foreach((json_t *)inner, table, t)
            {
                mb_buf_printf(out, "%s%s", k++ ? ", " : "", table);
            }
        }
    }
}

/* "ttOrderLine rows belong to a ttOrder row (Ordernum = Ordernum)" for each relation. */
static void relations_summary(const json_t *relations, struct mb_buf *out)
{
    size_t i;
    json_t *r;
    json_array_foreach(relations, i, r)
    {
        const char *parent = json_string_value(json_object_get(r, "parentName"));
        const char *child = json_string_value(json_object_get(r, "childName"));
        if (!parent || !child)
            continue;
        mb_buf_printf(out, " %s rows belong to a %s row", child, parent);
        const json_t *fields = json_object_get(r, "relationFields");
        size_t k;
        json_t *f;
        size_t shown = 0;
        json_array_foreach(fields, k, f)
        {
            const char *pf = json_string_value(json_object_get(f, "parentFieldName"));
            const char *cf = json_string_value(json_object_get(f, "childFieldName"));
            if (!pf || !cf) { /* the {"ParentField": "ChildField"} form */
                const char *key;
                json_t *v;
                json_object_foreach(f, key, v)
                {
                    if (json_is_string(v)) {
                        pf = key;
                        cf = json_string_value(v);
                        break;
                    }
                }
            }
            if (pf && cf)
                mb_buf_printf(out, "%s%s = %s", shown++ ? ", " : " (", pf, cf);
        }
        mb_buf_append_str(out, shown ? ")." : ".");
    }
}

/* ---- operations */

struct resource_ctx {
    const json_t *resource;
    const char *service_name, *resource_name, *display_name, *address, *resource_path, *id_property;
    bool use_request;
    const struct place *at;
    char dataset[512]; /* dataset_summary */
    char relations[512];
    json_t *schemas[2]; /* the resource schema converted, per enum schema_mode; NULL until needed */
    bool schema_failed[2];
};

/* The resource schema converted in this mode (a new reference), converted once per resource and
 * shared by its operations. NULL when the resource has none or it cannot be converted. */
static json_t *resource_schema(struct conv *cv, struct resource_ctx *r, enum schema_mode mode)
{
    const json_t *schema = json_object_get(r->resource, "schema");
    if (!json_is_object(schema) || r->schema_failed[mode])
        return NULL;
    if (!r->schemas[mode]) {
        struct place sp;
        place_child(&sp, r->at, "schema", -1, NULL);
        r->schemas[mode] = convert_schema(cv, schema, &sp, 0, mode);
        r->schema_failed[mode] = r->schemas[mode] == NULL;
    }
    return json_incref(r->schemas[mode]);
}

static void cut_description(struct mb_buf *d)
{
    if (d->len <= DESCRIPTION_BYTES)
        return;
    size_t n = DESCRIPTION_BYTES - 3;
    while (n > 0 && ((unsigned char)d->data[n] & 0xC0) == 0x80)
        n--;
    mb_buf_truncate(d, n);
    mb_buf_append_str(d, "...");
}

static json_t *operation_description(const struct resource_ctx *r, enum op_type type,
                                     const char *name, bool before_image, bool body_in,
                                     bool body_out)
{
    struct mb_buf d;
    mb_buf_init(&d, 8192);
    const char *what = r->display_name;
    switch (type) {
    case OP_READ:
        mb_buf_printf(&d, "Reads %s records", what);
        break;
    case OP_CREATE:
        mb_buf_printf(&d, "Creates %s records: send the new rows", what);
        break;
    case OP_UPDATE:
        mb_buf_printf(&d, "Updates %s records: send the changed rows", what);
        break;
    case OP_DELETE:
        mb_buf_printf(&d, "Deletes %s records: send the rows to delete", what);
        break;
    case OP_SUBMIT:
        mb_buf_printf(
            &d, "Saves new, changed and deleted %s rows in one request (JSDO submit)%s", what,
            before_image
                ? ", with before-image data (prods:hasChanges, prods:before) as a JSDO sends it"
                : "");
        break;
    case OP_COUNT:
        mb_buf_printf(&d, "Counts the %s records that match the filter", what);
        break;
    case OP_INVOKE:
        if (name && strcasecmp(name, "count") ==
                        0) { /* a count declared as an invoke, as older catalogs do */
            mb_buf_printf(&d, "Counts the %s records that match the filter", what);
            break;
        }
        mb_buf_printf(&d, "Runs the ABL routine %s of %s (JSDO invoke)",
                      name && *name ? name : "(unnamed)", what);
        if (body_in)
            mb_buf_printf(&d, "; its input parameters go in the body%s",
                          r->use_request ? " under \"request\"" : "");
        if (body_out)
            mb_buf_append_str(&d, "; its output parameters come back under \"response\"");
        break;
    }
    if (r->dataset[0] && type != OP_INVOKE && type != OP_COUNT)
        mb_buf_printf(&d, "; the data is %s", r->dataset);
    if (r->id_property && (type == OP_UPDATE || type == OP_DELETE || type == OP_SUBMIT))
        mb_buf_printf(&d, "; rows are identified by %s", r->id_property);
    mb_buf_printf(&d, ". Service %s, resource %s.", r->service_name, r->resource_name);
    if (r->relations[0] && type != OP_INVOKE && type != OP_COUNT)
        mb_buf_append_str(&d, r->relations);
    cut_description(&d);
    json_t *s = json_string(d.data ? d.data : "");
    mb_buf_dispose(&d);
    return s;
}

/* The body of an invoke/count request or response: one property per parameter, wrapped in
 * "request"/"response" as an OpenEdge service sends them. */
static json_t *parameter_object(struct conv *cv, const struct resource_ctx *r,
                                struct jsdo_param *params, size_t n, int which, const char *wrapper,
                                const struct place *at)
{
    json_t *props = json_object();
    for (size_t i = 0; i < n; i++)
        if (params[i].where & which)
            json_object_set_new(props, params[i].name,
                                param_schema(cv, &params[i], r->resource, at, false));
    if (json_object_size(props) == 0) {
        json_decref(props);
        return NULL;
    }
    json_t *inner = json_pack("{s:s,s:o}", "type", "object", "properties", props);
    if (!wrapper)
        return inner;
    json_t *outer = json_pack("{s:s,s:{s:o}}", "type", "object", "properties", wrapper, inner);
    if (which == LOC_BODY_IN) /* a response is read leniently: nothing required */
        json_object_set_new(outer, "required", json_pack("[s]", wrapper));
    return outer;
}

static json_t *json_content(json_t *schema)
{
    return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

/* Converts one operation into paths[path][verb]. Errors are reported, not returned. */
static void convert_operation(struct conv *cv, struct resource_ctx *r, const json_t *op,
                              size_t index)
{
    struct place at;
    const char *op_name = json_string_value(json_object_get(op, "name"));
    const char *type_text = json_string_value(json_object_get(op, "type"));
    if ((op_name && strlen(op_name) > MAX_NAME_BYTES) || (type_text && strlen(type_text) > 32)) {
        place_child(&at, r->at, "operations", (long)index, NULL);
        diag(cv, true, &at, "the \"name\" or \"type\" is too long (%d and 32 bytes at most)",
             MAX_NAME_BYTES);
        return;
    }
    char label[160];
    snprintf(label, sizeof label, "%s%s%s", type_text ? type_text : "",
             op_name && *op_name && type_text ? " " : "", op_name && *op_name ? op_name : "");
    place_child(&at, r->at, "operations", (long)index, label[0] ? label : NULL);
    if (!json_is_object(op)) {
        diag(cv, true, &at, "an operation must be an object with \"type\", \"verb\" and \"path\"");
        return;
    }
    /* type */
    enum op_type type = OP_INVOKE;
    if (type_text) {
        size_t t = 0;
        for (; t < sizeof op_type_names / sizeof op_type_names[0]; t++)
            if (strcasecmp(type_text, op_type_names[t]) == 0)
                break;
        if (t == sizeof op_type_names / sizeof op_type_names[0]) {
            diag(
                cv, true, &at,
                "unknown \"type\" \"%s\": expected read, create, update, delete, submit, invoke or "
                "count",
                type_text);
            return;
        }
        type = (enum op_type)t;
    } else if (json_object_get(op, "type")) {
        diag(cv, true, &at,
             "\"type\" must be a string (read, create, update, delete, submit, invoke, count)");
        return;
    } else if (!op_name || !*op_name) {
        diag(cv, true, &at, "an operation without \"type\" is an invoke and needs a \"name\"");
        return;
    }
    /* verb */
    const char *verb_text = json_string_value(json_object_get(op, "verb"));
    if (!verb_text) {
        diag(cv, true, &at,
             "no \"verb\": add the HTTP method the service uses, e.g. \"verb\": \"%s\" (get, post, "
             "put, delete or patch)",
             op_default_verbs[type]);
        return;
    }
    static const char *const verbs[] = {"get", "post", "put", "delete", "patch"};
    const char *verb = NULL;
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++)
        if (strcasecmp(verb_text, verbs[v]) == 0)
            verb = verbs[v];
    if (!verb) {
        diag(cv, true, &at, "unknown \"verb\" \"%s\": expected get, post, put, delete or patch",
             verb_text);
        return;
    }
    /* path: service address + resource path + operation path, its query part apart */
    const json_t *path_value = json_object_get(op, "path");
    if (path_value && !json_is_string(path_value)) {
        diag(cv, true, &at, "\"path\" must be a string (e.g. \"?filter={filter}\" or \"/count\")");
        return;
    }
    const char *op_path = path_value ? json_string_value(path_value) : "";
    size_t path_len = strcspn(op_path, "?");
    const char *query = op_path[path_len] == '?' ? op_path + path_len + 1 : "";
    struct mb_buf full;
    mb_buf_init(&full, MAX_PATH_BYTES);
    bool too_long = append_path(&full, r->address, strlen(r->address)) != 0 ||
                    append_path(&full, r->resource_path, strlen(r->resource_path)) != 0 ||
                    append_path(&full, op_path, path_len) != 0;
    if (!too_long && full.len == 0)
        too_long = mb_buf_append_str(&full, "/") != 0;
    const char *problem = too_long ? "it is longer than 2048 bytes" : path_problem(full.data);
    if (problem) {
        diag(cv, true, &at, "the path '%.200s%s' cannot be an OpenAPI path: %s",
             full.data ? full.data : "", too_long ? "..." : "", problem);
        mb_buf_dispose(&full);
        return;
    }
    /* params */
    const json_t *plist = json_object_get(op, "params");
    if (plist && !json_is_array(plist)) {
        diag(cv, true, &at, "\"params\" must be an array of {\"name\", \"type\"} objects");
        mb_buf_dispose(&full);
        return;
    }
    size_t nparams = json_array_size(plist);
    if (nparams > MAX_PARAMS) {
        diag(cv, true, &at, "more than %d params", MAX_PARAMS);
        mb_buf_dispose(&full);
        return;
    }
    struct jsdo_param *params = calloc(nparams ? nparams : 1, sizeof *params);
    json_t *parameters = json_array();
    if (!params || !parameters) {
        diag(cv, true, &at, "out of memory");
        free(params);
        json_decref(parameters);
        mb_buf_dispose(&full);
        return;
    }
    bool failed = false;
    for (size_t i = 0; i < nparams; i++) {
        const json_t *p = json_array_get(plist, i);
        struct place pp;
        place_child(&pp, &at, "params", (long)i, NULL);
        const char *pname = json_string_value(json_object_get(p, "name"));
        const char *ptype = json_string_value(json_object_get(p, "type"));
        if (!ptype)
            ptype = json_string_value(json_object_get(p, "paramType"));
        if (pname && strlen(pname) > MAX_NAME_BYTES) {
            diag(cv, true, &pp, "the parameter name is longer than %d bytes", MAX_NAME_BYTES);
            failed = true;
            continue;
        }
        if (!pname || !*pname || !ptype) {
            diag(cv, true, &pp,
                 "a parameter needs a \"name\" and a \"type\" (QUERY, PATH, REQUEST_BODY, "
                 "RESPONSE_BODY, ...)");
            failed = true;
            continue;
        }
        int where = param_location(ptype);
        if (!where) {
            diag(cv, true, &pp,
                 "unknown parameter type \"%s\": expected PATH, QUERY, HEADER, COOKIE, "
                 "REQUEST_BODY, "
                 "RESPONSE_BODY or REQUEST_RESPONSE_BODY",
                 ptype);
            failed = true;
            continue;
        }
        if (where & LOC_IGNORED)
            diag(
                cv, false, &pp,
                "parameter \"%s\" of type %s is left out (OpenAPI has no such parameter for a JSON "
                "service); send it by hand if the service needs it",
                pname, ptype);
        params[i] = (struct jsdo_param){.name = pname, .where = where, .def = p};
    }
    /* {variables} of the path: path parameters */
    for (const char *p = strchr(full.data, '{'); p && !failed; p = strchr(p + 1, '{')) {
        size_t n = strcspn(p + 1, "}");
        char var[MAX_NAME_BYTES];
        snprintf(var, sizeof var, "%.*s", (int)(n < sizeof var ? n : sizeof var - 1), p + 1);
        struct jsdo_param *jp = find_param(params, nparams, var);
        if (jp)
            jp->used = true;
        json_t *schema = jp ? param_schema(cv, jp, r->resource, &at, true)
                            : json_pack("{s:s}", "type", "string");
        add_parameter(parameters, var, "path", true, schema, NULL);
    }
    /* k={v} pairs of the query part: query parameters */
    for (const char *q = query; *q && !failed;) {
        size_t pair_len = strcspn(q, "&");
        const char *eq = memchr(q, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - q) : pair_len;
        char key[MAX_NAME_BYTES], value[MAX_NAME_BYTES];
        snprintf(key, sizeof key, "%.*s", (int)(key_len < sizeof key ? key_len : sizeof key - 1),
                 q);
        size_t value_len = eq ? pair_len - key_len - 1 : 0;
        snprintf(value, sizeof value, "%.*s",
                 (int)(value_len < sizeof value ? value_len : sizeof value - 1), eq ? eq + 1 : "");
        q += pair_len + (q[pair_len] == '&');
        if (!key[0])
            continue;
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '{' && value[vlen - 1] == '}') {
            value[vlen - 1] = '\0';
            struct jsdo_param *jp = find_param(params, nparams, value + 1);
            if (jp)
                jp->used = true;
            bool is_filter = strcasecmp(key, "filter") == 0 || strcasecmp(value + 1, "filter") == 0;
            json_t *schema = jp ? param_schema(cv, jp, r->resource, &at, true)
                                : json_pack("{s:s}", "type", "string");
            add_parameter(parameters, key, "query", false, schema,
                          is_filter ? filter_description(op) : NULL);
        } else {
            /* a fixed value in the template: the only value the service accepts */
            json_t *schema =
                json_pack("{s:s,s:[s],s:s}", "type", "string", "enum", value, "default", value);
            add_parameter(parameters, key, "query", true, schema, NULL);
        }
    }
    /* declared parameters not in the templates */
    for (size_t i = 0; i < nparams && !failed; i++) {
        struct jsdo_param *jp = &params[i];
        if (jp->used || !jp->name)
            continue;
        if (jp->where & LOC_PATH) {
            diag(cv, false, &at,
                 "parameter \"%s\" is of type PATH but the path '%s' has no {%s}: left out",
                 jp->name, full.data, jp->name);
        } else if (jp->where & LOC_QUERY) {
            bool is_filter = strcasecmp(jp->name, "filter") == 0;
            add_parameter(parameters, jp->name, "query", false,
                          param_schema(cv, jp, r->resource, &at, true),
                          is_filter ? filter_description(op) : NULL);
        } else if (jp->where & (LOC_HEADER | LOC_COOKIE)) {
            add_parameter(parameters, jp->name, jp->where & LOC_HEADER ? "header" : "cookie", false,
                          param_schema(cv, jp, r->resource, &at, true), NULL);
        }
    }
    if (failed) {
        json_decref(parameters);
        free(params);
        mb_buf_dispose(&full);
        return;
    }
    /* the operation */
    /* "/a/{x}" and "/a/{y}" are the same OpenAPI path: compare with the variable names left out. */
    char owner_key[MAX_PATH_BYTES + 16];
    size_t k = (size_t)snprintf(owner_key, sizeof owner_key, "%s ", verb);
    for (const char *c = full.data; *c && k + 1 < sizeof owner_key; c++) {
        owner_key[k++] = *c;
        if (*c == '{')
            c += strcspn(c, "}") - 1;
    }
    owner_key[k] = '\0';
    const char *owner = json_string_value(json_object_get(cv->owners, owner_key));
    if (owner) {
        char upper[8];
        size_t u = 0;
        for (; verb[u] && u + 1 < sizeof upper; u++)
            upper[u] = (char)toupper((unsigned char)verb[u]);
        upper[u] = '\0';
        diag(cv, true, &at, "%s %s is already %s: two operations cannot share a method and a path",
             upper, full.data, owner);
        json_decref(parameters);
        free(params);
        mb_buf_dispose(&full);
        return;
    }
    json_object_set_new(cv->owners, owner_key, json_string(at.text));
    bool before_image = json_is_true(json_object_get(op, "useBeforeImage"));
    char *id = operation_id(cv, type, r->resource_name, op_name, r->service_name);
    json_t *operation = json_object();
    json_object_set_new(operation, "operationId", json_string(id ? id : "operation"));
    free(id);
    char summary[MAX_NAME_BYTES * 2];
    if (type == OP_INVOKE)
        snprintf(summary, sizeof summary, "Invoke %s.%s", r->resource_name, op_name ? op_name : "");
    else
        snprintf(summary, sizeof summary, "%c%s %s", toupper((unsigned char)op_type_names[type][0]),
                 op_type_names[type] + 1, r->display_name);
    json_object_set_new(operation, "summary", json_string(summary));
    json_object_set_new(operation, "description",
                        json_string("")); /* written below, kept in this place */
    json_object_set_new(operation, "tags", json_pack("[s]", r->resource_name));
    if (json_array_size(parameters) > 0)
        json_object_set(operation, "parameters", parameters);
    bool has_schema = json_is_object(json_object_get(r->resource, "schema"));
    bool dataset_op =
        type == OP_CREATE || type == OP_UPDATE || type == OP_DELETE || type == OP_SUBMIT;
    bool any_body_in = false;
    for (size_t i = 0; i < nparams; i++)
        any_body_in |= (params[i].where & LOC_BODY_IN) != 0;
    json_t *request = NULL;
    if (dataset_op) {
        request =
            has_schema
                ? resource_schema(
                      cv, r, before_image || type == OP_SUBMIT ? SCHEMA_OPEN : SCHEMA_AS_WRITTEN)
                : json_pack("{s:s}", "type", "object");
    } else if (any_body_in) {
        request = parameter_object(cv, r, params, nparams, LOC_BODY_IN,
                                   r->use_request ? "request" : NULL, &at);
    }
    if (request && strcmp(verb, "get") == 0) {
        diag(cv, false, &at,
             "a GET request carries no body: its REQUEST_BODY parameters are left out");
        json_decref(request);
        request = NULL;
    }
    if (request)
        json_object_set_new(
            operation, "requestBody",
            json_pack("{s:b,s:o}", "required", 1, "content", json_content(request)));
    json_t *response = NULL;
    if (type == OP_INVOKE || type == OP_COUNT) {
        response = parameter_object(cv, r, params, nparams, LOC_BODY_OUT, "response", &at);
        if (!response && type == OP_COUNT)
            response =
                json_pack("{s:s,s:{s:{s:s,s:{s:{s:s}}}}}", "type", "object", "properties",
                          "response", "type", "object", "properties", "numRecs", "type", "integer");
    } else {
        response = resource_schema(cv, r, SCHEMA_OPEN);
    }
    json_object_set_new(
        operation, "description",
        operation_description(r, type, op_name, before_image, request != NULL, response != NULL));
    json_t *ok = json_pack("{s:s}", "description",
                           type == OP_DELETE ? "The deleted rows, as the service returns them"
                           : type == OP_READ ? "The matching records"
                                             : "The service's answer");
    if (response)
        json_object_set_new(ok, "content", json_content(response));
    json_object_set_new(operation, "responses", json_pack("{s:o}", "200", ok));
    json_object_set_new(operation, "x-jsdo",
                        json_pack("{s:s,s:s,s:s,s:s*}", "service", r->service_name, "resource",
                                  r->resource_name, "type", op_type_names[type], "name",
                                  op_name && *op_name ? op_name : NULL));
    json_t *item = json_object_get(cv->paths, full.data);
    if (!item) {
        item = json_object();
        json_object_set_new(cv->paths, full.data, item);
    }
    json_object_set_new(item, verb, operation);
    cv->stats.operations++;
    json_decref(parameters);
    free(params);
    mb_buf_dispose(&full);
}

/* ---- services and resources */

static void convert_resource(struct conv *cv, const char *service_name, const char *address,
                             bool use_request, const json_t *res, const struct place *service_at,
                             size_t index)
{
    struct place at;
    const char *name = json_string_value(json_object_get(res, "name"));
    place_child(&at, service_at, "resources", (long)index, name);
    if (!json_is_object(res)) {
        diag(cv, true, &at,
             "a resource must be an object with \"name\", \"path\" and \"operations\"");
        return;
    }
    if (!name || !*name || strlen(name) > MAX_NAME_BYTES) {
        diag(cv, true, &at, "no \"name\" (a resource needs one, of at most %d bytes)",
             MAX_NAME_BYTES);
        return;
    }
    const char *path = json_string_value(json_object_get(res, "path"));
    if (!path) {
        diag(cv, true, &at,
             "no \"path\": the resource's URI under the service address, e.g. \"/%s\"", name);
        return;
    }
    const json_t *ops = json_object_get(res, "operations");
    if (!json_is_array(ops)) {
        diag(cv, true, &at,
             "no \"operations\" array: a resource lists what it can do (read, create, ...)");
        return;
    }
    if (json_array_size(ops) == 0)
        diag(cv, false, &at, "no operations: the resource gives no OpenAPI operation");
    const json_t *schema = json_object_get(res, "schema");
    if (schema && !json_is_object(schema)) {
        diag(cv, true, &at,
             "\"schema\" must be an object (the JSON Schema of the resource's dataset)");
        return;
    }
    const char *display = json_string_value(json_object_get(res, "displayName"));
    struct resource_ctx r = {
        .resource = res,
        .service_name = service_name,
        .resource_name = name,
        .display_name = display && *display && strlen(display) <= MAX_NAME_BYTES ? display : name,
        .address = address,
        .resource_path = path,
        .id_property = json_string_value(json_object_get(res, "idProperty")),
        .use_request = use_request,
        .at = &at,
    };
    struct mb_buf text;
    mb_buf_init(&text, sizeof r.dataset - 1);
    dataset_summary(schema, &text);
    snprintf(r.dataset, sizeof r.dataset, "%s", text.data ? text.data : "");
    mb_buf_dispose(&text);
    mb_buf_init(&text, sizeof r.relations - 1);
    relations_summary(json_object_get(res, "relations"), &text);
    snprintf(r.relations, sizeof r.relations, "%s", text.data ? text.data : "");
    mb_buf_dispose(&text);
    if (r.id_property && strlen(r.id_property) > MAX_NAME_BYTES)
        r.id_property = NULL;

    struct mb_buf tag;
    mb_buf_init(&tag, 4096);
    mb_buf_printf(&tag, "%s, resource of the %s service", r.display_name, service_name);
    if (r.dataset[0])
        mb_buf_printf(&tag, ": %s", r.dataset);
    if (r.id_property)
        mb_buf_printf(&tag, "; records are identified by %s", r.id_property);
    mb_buf_append_str(&tag, ".");
    if (r.relations[0])
        mb_buf_append_str(&tag, r.relations);
    bool tagged = false; /* a resource name met again (in another service) keeps its first tag */
    size_t t;
    json_t *existing;
    json_array_foreach(cv->tags, t, existing)
    {
        tagged |= strcmp(json_string_value(json_object_get(existing, "name")), name) == 0;
    }
    if (!tagged)
        json_array_append_new(cv->tags, json_pack("{s:s,s:s}", "name", name, "description",
                                                  tag.data ? tag.data : name));
    mb_buf_dispose(&tag);
    cv->stats.resources++;

    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        convert_operation(cv, &r, op, i);
    }
    json_decref(r.schemas[SCHEMA_AS_WRITTEN]);
    json_decref(r.schemas[SCHEMA_OPEN]);
}

static void convert_service(struct conv *cv, const json_t *svc, size_t index,
                            const struct place *root)
{
    struct place at;
    const char *name = json_string_value(json_object_get(svc, "name"));
    place_child(&at, root, "services", (long)index, name);
    if (!json_is_object(svc)) {
        diag(cv, true, &at,
             "a service must be an object with \"name\", \"address\" and \"resources\"");
        return;
    }
    if (!name || !*name || strlen(name) > MAX_NAME_BYTES) {
        diag(cv, true, &at, "no \"name\" (a service needs one, of at most %d bytes)",
             MAX_NAME_BYTES);
        return;
    }
    const char *address = json_string_value(json_object_get(svc, "address"));
    if (!address) {
        diag(cv, true, &at,
             "no \"address\": the service's URI under the web application, e.g. \"/rest/%s\"",
             name);
        return;
    }
    const json_t *resources = json_object_get(svc, "resources");
    if (!json_is_array(resources)) {
        diag(cv, true, &at, "no \"resources\" array: a service lists its Data Object resources");
        return;
    }
    if (json_array_size(resources) == 0)
        diag(cv, false, &at, "no resources: the service gives no OpenAPI operation");
    const json_t *use_request = json_object_get(svc, "useRequest");
    cv->stats.services++;
    size_t i;
    json_t *res;
    json_array_foreach(resources, i, res)
        convert_resource(cv, name, address, json_is_true(use_request), res, &at, i);
}

/* info.title from the service names, "A, B" (or the catalog's file name). */
static json_t *default_title(const json_t *services)
{
    struct mb_buf t;
    mb_buf_init(&t, 512);
    size_t i;
    json_t *s;
    json_array_foreach(services, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (name && mb_buf_printf(&t, "%s%s", t.len ? ", " : "", name) != 0)
            break;
    }
    json_t *title = json_string(t.len ? t.data : "JSDO catalog");
    mb_buf_dispose(&t);
    return title;
}

json_t *mb_jsdo_to_openapi(const struct mb_doc *catalog, const struct mb_jsdo_options *opts,
                           struct mb_diags *errors, struct mb_diags *warnings,
                           struct mb_jsdo_stats *stats)
{
    struct conv cv = {
        .doc = catalog,
        .file = mb_doc_name(catalog),
        .errors = errors,
        .warnings = warnings,
    };
    struct place root = {.text = "", .pointer = ""};
    const json_t *doc = mb_doc_root(catalog);
    if (!json_is_object(doc)) {
        diag(&cv, true, NULL,
             "the catalog is not a JSON object: a JSDO catalog is {\"version\": ..., \"services\": "
             "[...]}");
        return NULL;
    }
    const json_t *services = json_object_get(doc, "services");
    if (!json_is_array(services) || json_array_size(services) == 0) {
        struct place sp = {.text = "services", .pointer = "/services"};
        diag(&cv, true, json_is_array(services) ? &sp : NULL,
             "no services: a JSDO catalog lists its Data Object services in \"services\": "
             "[{\"name\", \"address\", "
             "\"resources\"}]");
        return NULL;
    }
    cv.out = json_object();
    cv.paths = json_object();
    cv.tags = json_array();
    cv.operation_ids = json_object();
    cv.owners = json_object();
    json_t *version = json_object_get(doc, "version");
    json_t *modified = json_object_get(doc, "lastModified");
    json_t *info =
        json_pack("{s:o,s:s}", "title",
                  opts && opts->title ? json_string(opts->title) : default_title(services),
                  "version", json_is_string(version) ? json_string_value(version) : "1.0");
    struct mb_buf d;
    mb_buf_init(&d, 2048);
    mb_buf_printf(&d, "Generated by mcpbridge openapi-gen from the JSDO catalog %s",
                  cv.file ? cv.file : "");
    if (json_is_string(version))
        mb_buf_printf(&d, " (catalog version %s", json_string_value(version));
    if (json_is_string(modified) && strlen(json_string_value(modified)) < 64)
        mb_buf_printf(&d, "%s last modified %s", json_is_string(version) ? "," : " (",
                      json_string_value(modified));
    if (json_is_string(version) || json_is_string(modified))
        mb_buf_append_str(&d, ")");
    mb_buf_append_str(&d,
                      ". Paths are the service address, the resource path and the operation path.");
    json_object_set_new(info, "description", json_string(d.data ? d.data : ""));
    mb_buf_dispose(&d);
    json_object_set_new(cv.out, "openapi", json_string("3.0.3"));
    json_object_set_new(cv.out, "info", info);
    if (opts && opts->base_url)
        json_object_set_new(cv.out, "servers", json_pack("[{s:s}]", "url", opts->base_url));
    json_object_set_new(cv.out, "tags", cv.tags);
    json_object_set_new(cv.out, "paths", cv.paths);

    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc)
    {
        convert_service(&cv, svc, i, &root);
    }

    if (cv.error_count == 0 && cv.stats.operations == 0)
        diag(&cv, true, NULL, "the catalog has no operation: nothing to convert");
    json_decref(cv.operation_ids);
    json_decref(cv.owners);
    if (cv.error_count > 0) {
        json_decref(cv.out);
        return NULL;
    }
    if (stats)
        *stats = cv.stats;
    return cv.out;
}
