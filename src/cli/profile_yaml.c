/* JSON value -> commented block YAML (contract in profile_yaml.h). A recursive walk that carries
 * the JSON pointer of the current member so comments can be found by pointer. Quoting is
 * conservative: anything the core schema could read as another type, or that YAML syntax could
 * misread, is written as a JSON string, which is also a valid YAML double-quoted scalar. */
#include "cli/profile_yaml.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLOW_MAX_WIDTH 100 /* longer scalar arrays are written one item per line */

struct emitter {
    struct mb_buf *out;
    const struct mb_yaml_comment *comments;
    size_t count;
    int rc;
};

static void put(struct emitter *e, const char *s, size_t len)
{
    if (e->rc == 0)
        e->rc = mb_buf_append(e->out, s, len);
}

static void puts_(struct emitter *e, const char *s)
{
    put(e, s, strlen(s));
}

static void indent(struct emitter *e, int n)
{
    for (int i = 0; i < n; i++)
        put(e, " ", 1);
}

/* Words the YAML 1.2 core schema (or a YAML 1.1 reader) would not read as a plain string. */
static bool reserved_word(const char *s)
{
    static const char *const words[] = {"true", "false", "null", "yes", "no", "on",
                                        "off",  "y",     "n",    "~",   NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    return false;
}

/* True when s may be written unquoted and reads back as the same string in block and flow
 * context: letters first, then letters, digits and _ . / : @ + - only, no ':' at the end. */
static bool plain_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == '/') ||
        reserved_word(s) || s[n - 1] == ':')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || strchr("_./:@+-", c)))
            return false;
    }
    return true;
}

/* A string as a double-quoted JSON string (valid YAML). */
static void quoted(struct emitter *e, const char *s, size_t len)
{
    json_t *str = json_stringn(s, len);
    char *text = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    if (!text && e->rc == 0)
        e->rc = -1;
    else
        puts_(e, text);
    free(text);
    json_decref(str);
}

static void key_text(struct emitter *e, const char *key)
{
    if (plain_ok(key))
        puts_(e, key);
    else
        quoted(e, key, strlen(key));
}

/* A string that suits a literal block: several lines, printable, no leading space on the first
 * line, ending in at most one newline. */
static bool block_ok(const char *s, size_t len)
{
    if (!memchr(s, '\n', len) || s[0] == ' ' ||
        (len >= 2 && s[len - 1] == '\n' && s[len - 2] == '\n'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\n')
            return false;
        if (c == ' ' && (i + 1 == len || s[i + 1] == '\n'))
            return false; /* trailing spaces: invisible, and editors strip them */
    }
    return true;
}

static void block_scalar(struct emitter *e, const char *s, size_t len, int depth)
{
    bool final_newline = s[len - 1] == '\n';
    puts_(e, final_newline ? "|\n" : "|-\n");
    size_t end = final_newline ? len - 1 : len;
    size_t start = 0;
    while (start <= end) {
        const char *nl = memchr(s + start, '\n', end - start);
        size_t stop = nl ? (size_t)(nl - s) : end;
        if (stop > start) {
            indent(e, depth);
            put(e, s + start, stop - start);
        }
        put(e, "\n", 1);
        start = stop + 1;
        if (!nl)
            break;
    }
}

/* A scalar (not an object or array) inline, without a line end. */
static void scalar(struct emitter *e, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (plain_ok(json_string_value(v)))
            puts_(e, json_string_value(v));
        else
            quoted(e, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL: {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        if (!text && e->rc == 0)
            e->rc = -1;
        else
            puts_(e, text);
        free(text);
        break;
    }
    case JSON_TRUE:
        puts_(e, "true");
        break;
    case JSON_FALSE:
        puts_(e, "false");
        break;
    default:
        puts_(e, "null");
        break;
    }
}

static bool is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

/* True when every item is a scalar and the flow form fits on one line. */
static bool flow_ok(const json_t *array)
{
    size_t i, width = 0;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        if (is_container(item))
            return false;
        if (json_is_string(item))
            width += json_string_length(item) + 4;
        else
            width += 8;
    }
    return width <= FLOW_MAX_WIDTH;
}

static void comment_for(struct emitter *e, const char *pointer, int depth)
{
    for (size_t i = 0; i < e->count; i++) {
        if (strcmp(e->comments[i].pointer, pointer) != 0)
            continue;
        const char *line = e->comments[i].text;
        while (line && *line) {
            const char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) : strlen(line);
            indent(e, depth);
            put(e, n ? "# " : "#", n ? 2 : 1);
            put(e, line, n);
            put(e, "\n", 1);
            line = nl ? nl + 1 : NULL;
        }
    }
}

/* RFC 6901: '~' -> "~0", '/' -> "~1". */
static void pointer_push(struct mb_buf *ptr, const char *token)
{
    mb_buf_append(ptr, "/", 1);
    for (const char *c = token; *c; c++) {
        if (*c == '~')
            mb_buf_append(ptr, "~0", 2);
        else if (*c == '/')
            mb_buf_append(ptr, "~1", 2);
        else
            mb_buf_append(ptr, c, 1);
    }
}

static void value(struct emitter *e, const json_t *v, int depth, struct mb_buf *ptr);

/* The members of an object, each on its own line at depth; first_inline: the first member
 * continues a line already started (after "- "). */
static void members(struct emitter *e, const json_t *obj, int depth, struct mb_buf *ptr,
                    bool first_inline, bool blank_between)
{
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t mark = ptr->len;
        pointer_push(ptr, key);
        if (!first && blank_between)
            put(e, "\n", 1);
        if (!(first && first_inline)) {
            comment_for(e, ptr->data, depth);
            indent(e, depth);
        }
        key_text(e, key);
        put(e, ":", 1);
        value(e, v, depth, ptr);
        mb_buf_truncate(ptr, mark);
        first = false;
    }
}

/* The value after "key:" (or after "- " for array items: depth is then the item's content
 * column): inline scalars and flow arrays, or a new line and a nested block. */
static void value(struct emitter *e, const json_t *v, int depth, struct mb_buf *ptr)
{
    if (json_is_object(v)) {
        if (json_object_size(v) == 0) {
            puts_(e, " {}\n");
            return;
        }
        put(e, "\n", 1);
        members(e, v, depth + 2, ptr, false, false);
    } else if (json_is_array(v)) {
        if (json_array_size(v) == 0) {
            puts_(e, " []\n");
        } else if (flow_ok(v)) {
            size_t i;
            json_t *item;
            puts_(e, " [");
            json_array_foreach(v, i, item)
            {
                if (i)
                    puts_(e, ", ");
                scalar(e, item);
            }
            puts_(e, "]\n");
        } else {
            put(e, "\n", 1);
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                size_t mark = ptr->len;
                char index[32];
                snprintf(index, sizeof index, "%zu", i);
                pointer_push(ptr, index);
                indent(e, depth + 2);
                puts_(e, "- ");
                if (json_is_object(item) && json_object_size(item)) {
                    members(e, item, depth + 4, ptr, true, false);
                } else if (is_container(item)) {
                    /* Nested arrays and empty objects (rare in configs): JSON text, which is
                     * valid YAML flow style. */
                    char *text = json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER);
                    if (!text && e->rc == 0)
                        e->rc = -1;
                    else
                        puts_(e, text);
                    free(text);
                    put(e, "\n", 1);
                } else {
                    scalar(e, item);
                    put(e, "\n", 1);
                }
                mb_buf_truncate(ptr, mark);
            }
        }
    } else if (json_is_string(v) && block_ok(json_string_value(v), json_string_length(v))) {
        put(e, " ", 1);
        block_scalar(e, json_string_value(v), json_string_length(v), depth + 2);
    } else {
        put(e, " ", 1);
        scalar(e, v);
        put(e, "\n", 1);
    }
}

int mb_yaml_emit(const json_t *root, const char *header, const struct mb_yaml_comment *comments,
                 size_t count, struct mb_buf *out)
{
    struct emitter e = {.out = out, .comments = comments, .count = count};
    struct mb_buf ptr;
    mb_buf_init(&ptr, 4096);
    if (header) {
        struct mb_yaml_comment top = {"", header};
        struct emitter h = {.out = out, .comments = &top, .count = 1};
        comment_for(&h, "", 0);
        e.rc = h.rc;
    }
    if (json_is_object(root))
        members(&e, root, 0, &ptr, false, true);
    mb_buf_dispose(&ptr);
    return e.rc;
}
