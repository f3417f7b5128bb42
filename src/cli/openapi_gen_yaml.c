/* JSON -> YAML through libyaml's event emitter (contract in openapi_gen_yaml.h). The emitter
 * picks the scalar style; we only forbid the plain style where a reader would resolve the text
 * to another type, and ask for literal blocks for multi-line strings. */
#include "cli/openapi_gen_yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_DEPTH 512

struct writer {
    struct mb_buf *out;
    int error; /* first mb_buf error */
};

static int on_output(void *data, unsigned char *buffer, size_t size)
{
    struct writer *w = data;
    int rc = mb_buf_append(w->out, buffer, size);
    if (rc != 0 && !w->error)
        w->error = rc;
    return rc == 0; /* libyaml: 1 = written */
}

/* True when a plain scalar with this text would not read back as this string: the null, bool
 * and number spellings of YAML 1.2's core schema and of YAML 1.1 (yes/no/on/off), numbers of
 * any base, .inf/.nan, the merge key, and the empty string. */
static bool needs_quotes(const char *s, size_t len)
{
    static const char *const words[] = {"null", "~",   "true", "false", "yes", "no",
                                        "on",   "off", "y",    "n",     "<<",  "="};
    if (len == 0)
        return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == len && strncasecmp(s, words[i], len) == 0)
            return true;
    return strchr("0123456789+-.", s[0]) != NULL;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(e, ev) ? 0 : -1; /* the emitter frees the event either way */
}

static int emit_scalar(yaml_emitter_t *e, const char *text, size_t len, bool plain_ok,
                       yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, plain_ok, 1,
                                      style))
        return -1;
    return emit(e, &ev);
}

static int emit_string(yaml_emitter_t *e, const char *s, size_t len)
{
    bool multi_line = memchr(s, '\n', len) != NULL;
    return emit_scalar(e, s, len, !needs_quotes(s, len),
                       multi_line ? YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static int emit_value(yaml_emitter_t *e, const json_t *v, int depth)
{
    char number[64];
    yaml_event_t ev;
    if (depth > MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        bool empty = json_object_size(v) == 0;
        if (!yaml_mapping_start_event_initialize(
                &ev, NULL, NULL, 1, empty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE) ||
            emit(e, &ev) != 0)
            return -1;
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)v, key, value)
        {
            if (emit_string(e, key, strlen(key)) != 0 || emit_value(e, value, depth + 1) != 0)
                return -1;
        }
        if (!yaml_mapping_end_event_initialize(&ev))
            return -1;
        return emit(e, &ev);
    }
    case JSON_ARRAY: {
        bool empty = json_array_size(v) == 0;
        if (!yaml_sequence_start_event_initialize(
                &ev, NULL, NULL, 1, empty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE) ||
            emit(e, &ev) != 0)
            return -1;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (emit_value(e, item, depth + 1) != 0)
                return -1;
        }
        if (!yaml_sequence_end_event_initialize(&ev))
            return -1;
        return emit(e, &ev);
    }
    case JSON_STRING:
        return emit_string(e, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(e, number, strlen(number), true, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL: {
        /* Shortest text that reads back as the same double, with a '.' or an exponent so a
         * reader does not take it for an integer. */
        double d = json_real_value(v);
        for (int precision = 1; precision <= 17; precision++) {
            snprintf(number, sizeof number, "%.*g", precision, d);
            if (strtod(number, NULL) == d)
                break;
        }
        if (!strpbrk(number, ".eE"))
            strncat(number, ".0", sizeof number - strlen(number) - 1);
        return emit_scalar(e, number, strlen(number), true, YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_TRUE:
        return emit_scalar(e, "true", 4, true, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(e, "false", 5, true, YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        return emit_scalar(e, "null", 4, true, YAML_PLAIN_SCALAR_STYLE);
    }
    return -1;
}

int mb_yaml_write(const json_t *value, struct mb_buf *out)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    struct writer w = {.out = out};
    size_t start = out->len;
    if (!yaml_emitter_initialize(&e))
        return -ENOMEM;
    yaml_emitter_set_output(&e, on_output, &w);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    yaml_emitter_set_indent(&e, 2);
    int rc = -1;
    if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && emit(&e, &ev) == 0 &&
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && emit(&e, &ev) == 0 &&
        emit_value(&e, value, 0) == 0 && yaml_document_end_event_initialize(&ev, 1) &&
        emit(&e, &ev) == 0 && yaml_stream_end_event_initialize(&ev) && emit(&e, &ev) == 0 &&
        yaml_emitter_flush(&e))
        rc = 0;
    yaml_emitter_delete(&e);
    if (rc != 0) {
        mb_buf_truncate(out, start);
        return w.error ? w.error : -EINVAL;
    }
    return 0;
}
