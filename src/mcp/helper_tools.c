/* The local (helper) tools, answered in-process from the immutable catalog and prompt set:
 * list_all_tags, get_tool_schema, get_filter_fields, select_prompts and, in meta mode,
 * search_tools (keyword ranking over names, titles, descriptions, tags, paths and argument
 * names) and call_tool (hands the named operation back to the tools/call pipeline). Results
 * carry the answer twice, as text (compact JSON) and as structuredContent; mistakes (an
 * unknown tool name) are isError results naming close matches, so the model can correct
 * itself. */
#include "mcp/helper_tools.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/tool_result.h"

#define MAX_TOKENS 16
#define TOKEN_MAX 64
#define SUMMARY_MAX 200          /* bytes of a description in search results */
#define MAX_EXAMPLES 5

/* ---- small text helpers ---- */

/* Case-insensitive substring test; needle is lower case. */
static bool ci_contains(const char *hay, const char *needle)
{
    if (!hay || !*needle)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static bool stopword(const char *w)
{
    static const char *const words[] = { "an", "the", "of", "to", "for", "in", "on", "by", "with", "and", "or",
                                         "is", "are", "my", "me", "all", "from", "at", "as", "be", "it", "this",
                                         "that", "some", "any", "which", "what", "how" };
    if (!w[1])
        return true; /* one letter */
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(w, words[i]) == 0)
            return true;
    return false;
}

/* Splits text into lower-case alphanumeric tokens, without one-letter words and common
 * English stop words (a trailing plural "s" dropped from tokens longer than 3 so "products"
 * finds "get_product"). Returns the count. */
static size_t tokenize(const char *text, char tokens[][TOKEN_MAX], size_t max)
{
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && n < max;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        size_t len = 0;
        while (*p && isalnum((unsigned char)*p)) {
            if (len + 1 < TOKEN_MAX)
                tokens[n][len++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (!len)
            continue;
        if (len > 3 && tokens[n][len - 1] == 's')
            len--;
        tokens[n][len] = '\0';
        if (!stopword(tokens[n]))
            n++;
    }
    return n;
}

/* True when one of the words of a tool name (split at _ - . and lower-to-upper case changes)
 * is the token, ignoring a trailing plural "s". */
static bool name_has_word(const char *name, const char *token)
{
    const char *p = name;
    while (*p) {
        char word[TOKEN_MAX];
        size_t len = 0;
        while (*p == '_' || *p == '-' || *p == '.')
            p++;
        while (*p && *p != '_' && *p != '-' && *p != '.') {
            if (len + 1 < sizeof word)
                word[len++] = (char)tolower((unsigned char)*p);
            bool boundary = islower((unsigned char)p[0]) && isupper((unsigned char)p[1]);
            p++;
            if (boundary)
                break;
        }
        if (len > 3 && word[len - 1] == 's')
            len--;
        word[len] = '\0';
        if (len && strcmp(word, token) == 0)
            return true;
    }
    return false;
}

static bool tool_has_tag(const struct mb_tool *t, const char *tag)
{
    for (size_t i = 0; i < t->tag_count; i++)
        if (strcmp(t->tags[i], tag) == 0)
            return true;
    return false;
}

/* Levenshtein distance of two strings, case-insensitive, each cut to 128 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 128), lb = strnlen(b, 128);
    size_t row[129];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* ---- results ---- */

/* {"content":[{"type":"text","text":<compact JSON>}],"structuredContent":obj}; takes obj. */
static json_t *ok_result(json_t *obj)
{
    if (!obj)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *result = text ? json_pack("{s:[{s:s,s:s}],s:o}", "content", "type", "text", "text", text,
                                      "structuredContent", obj)
                          : NULL;
    if (!text)
        json_decref(obj);
    free(text);
    return result;
}

size_t mb_helper_suggest(const struct mb_catalog *cat, const char *name, const struct mb_tool **out, size_t max)
{
    size_t dist[16];
    size_t n = 0;
    if (max > 16)
        max = 16;
    size_t len = strlen(name);
    size_t allowed = len / 3 > 2 ? len / 3 : 2;
    char lower[TOKEN_MAX * 2];
    size_t k = 0;
    for (; name[k] && k + 1 < sizeof lower; k++)
        lower[k] = (char)tolower((unsigned char)name[k]);
    lower[k] = '\0';
    for (size_t i = 0; cat && i < cat->tool_count; i++) {
        const struct mb_tool *t = &cat->tools[i];
        size_t d = edit_distance(name, t->name);
        if (d > allowed) {
            if (len >= 3 && (ci_contains(t->name, lower) || strncasecmp(t->name, name, 3) == 0))
                d = allowed + 1; /* a substring or prefix match ranks after the close spellings */
            else
                continue;
        }
        size_t pos = n < max ? n : max;
        while (pos > 0 && dist[pos - 1] > d)
            pos--;
        if (pos >= max)
            continue;
        size_t last = n < max ? n : max - 1;
        for (size_t j = last; j > pos; j--) {
            out[j] = out[j - 1];
            dist[j] = dist[j - 1];
        }
        out[pos] = t;
        dist[pos] = d;
        if (n < max)
            n++;
    }
    return n;
}

static bool visible(const struct mb_helper_env *env, const struct mb_tool *t);

/* An unknown (or hidden) name: suggests close names among the tools the caller may see. */
static json_t *unknown_tool(const struct mb_helper_env *env, const char *name)
{
    const struct mb_tool *close[16];
    size_t n = mb_helper_suggest(env->catalog, name, close, 16);
    char list[400] = "";
    size_t used = 0, shown = 0;
    for (size_t i = 0; i < n && used < sizeof list && shown < MB_HELPER_SUGGESTIONS; i++) {
        if (!visible(env, close[i]))
            continue;
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", shown ? ", " : "", close[i]->name);
        shown++;
    }
    n = shown;
    if (n)
        return mb_tool_error_result("Unknown tool '%.128s'. Did you mean: %s?", name, list);
    return mb_tool_error_result("Unknown tool '%.128s'. Search the available tools by keyword first.", name);
}

static const struct mb_tool *find_helper(const struct mb_catalog *cat, enum mb_helper_id id)
{
    for (size_t i = cat->operation_count; i < cat->tool_count; i++)
        if (cat->tools[i].helper == id)
            return &cat->tools[i];
    return NULL;
}

/* ---- list_all_tags ---- */

/* Whether the caller may see t (see mb_helper_env.visible). */
static bool visible(const struct mb_helper_env *env, const struct mb_tool *t)
{
    return !env->visible || env->visible(env->visible_data, t);
}

/* The tool named name, when the caller may see it (a hidden tool looks unknown). */
static const struct mb_tool *find_visible(const struct mb_helper_env *env, const char *name)
{
    const struct mb_tool *t = mb_catalog_find(env->catalog, name);
    return t && visible(env, t) ? t : NULL;
}

static json_t *list_all_tags(const struct mb_helper_env *env)
{
    const struct mb_catalog *cat = env->catalog;
    size_t listed = 0;
    json_t *tags = json_array(), *untagged = json_array();
    json_t *index = json_object(); /* tag -> its entry in tags */
    json_t *obj = json_pack("{s:o,s:o}", "tags", tags, "untagged", untagged);
    if (!tags || !untagged || !index || !obj) {
        json_decref(index);
        json_decref(obj);
        return NULL;
    }
    for (size_t i = 0; i < cat->operation_count; i++) {
        const struct mb_tool *t = &cat->tools[i];
        if (!visible(env, t))
            continue;
        listed++;
        if (!t->tag_count)
            json_array_append_new(untagged, json_string(t->name));
        for (size_t j = 0; j < t->tag_count; j++) {
            json_t *entry = json_object_get(index, t->tags[j]);
            if (!entry) {
                entry = json_pack("{s:s,s:i,s:[]}", "tag", t->tags[j], "count", 0, "tools");
                if (!entry)
                    continue;
                json_array_append_new(tags, entry);
                json_object_set(index, t->tags[j], entry);
            }
            json_array_append_new(json_object_get(entry, "tools"), json_string(t->name));
            json_object_set_new(entry, "count", json_integer((json_int_t)json_array_size(json_object_get(entry, "tools"))));
        }
    }
    json_decref(index);
    json_object_set_new(obj, "tool_count", json_integer((json_int_t)listed));
    return ok_result(obj);
}

/* ---- get_tool_schema ---- */

static json_t *get_tool_schema(const struct mb_helper_env *env, const json_t *args)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const struct mb_tool *t = find_visible(env, name);
    if (!t)
        return unknown_tool(env, name ? name : "");
    json_t *obj = json_deep_copy(t->definition);
    if (!obj)
        return NULL;
    json_object_set_new(obj, "kind", json_string(t->kind == MB_TOOL_HTTP ? "operation" : "helper"));
    if (t->kind == MB_TOOL_HTTP) {
        json_object_set_new(obj, "method", json_string(t->method));
        json_object_set_new(obj, "path", json_string(t->path_template));
        json_t *tags = json_array();
        for (size_t i = 0; tags && i < t->tag_count; i++)
            json_array_append_new(tags, json_string(t->tags[i]));
        if (tags)
            json_object_set_new(obj, "tags", tags);
    }
    return ok_result(obj);
}

/* ---- get_filter_fields ---- */

static json_t *filter_field(const struct mb_tool_param *p)
{
    const json_t *s = p->schema;
    json_t *f = json_pack("{s:s,s:s,s:b}", "name", p->arg_name, "parameter", p->name, "required", p->required);
    if (!f)
        return NULL;
    static const char *const copied[] = { "type", "format", "enum", "default", "description", "minimum",
                                          "maximum", "minLength", "maxLength", "pattern" };
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        json_t *v = json_object_get(s, copied[i]);
        if (v)
            json_object_set(f, copied[i], v);
    }
    if (json_is_object(json_object_get(s, "items")))
        json_object_set(f, "items", json_object_get(s, "items"));
    json_t *examples = json_array();
    const json_t *ex = json_object_get(s, "example");
    if (examples && ex)
        json_array_append(examples, (json_t *)ex);
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(s, "examples"), i, v) {
        if (examples && json_array_size(examples) < MAX_EXAMPLES)
            json_array_append(examples, (json_t *)v);
    }
    if (json_array_size(examples))
        json_object_set_new(f, "examples", examples);
    else
        json_decref(examples);
    return f;
}

static json_t *get_filter_fields(const struct mb_helper_env *env, const json_t *args)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const struct mb_tool *t = find_visible(env, name);
    if (!t)
        return unknown_tool(env, name ? name : "");
    if (t->kind != MB_TOOL_HTTP)
        return mb_tool_error_result("%s is a helper tool, not an API operation: it has no filter parameters.",
                                    t->name);
    json_t *filters = json_array();
    json_t *obj = json_pack("{s:s,s:s,s:s,s:o}", "name", t->name, "method", t->method, "path", t->path_template,
                            "filters", filters);
    if (!obj)
        return NULL;
    for (size_t i = 0; i < t->param_count; i++)
        if (t->params[i].location == MB_PARAM_QUERY)
            json_array_append_new(filters, filter_field(&t->params[i]));
    if (!json_array_size(filters))
        json_object_set_new(obj, "note", json_string("This operation takes no query parameters; see get_tool_schema "
                                                     "for its other arguments."));
    return ok_result(obj);
}

/* ---- search_tools ---- */

struct hit {
    size_t tool;
    unsigned matched;  /* query tokens found */
    unsigned score;
};

static int by_rank(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->matched != y->matched)
        return x->matched > y->matched ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->tool < y->tool ? -1 : x->tool > y->tool;
}

static void score_tool(const struct mb_tool *t, const char *query, char tokens[][TOKEN_MAX], size_t n, struct hit *h)
{
    h->matched = 0;
    h->score = strcasecmp(t->name, query) == 0 ? 100 : 0;
    for (size_t k = 0; k < n; k++) {
        unsigned s = 0;
        const char *tok = tokens[k];
        if (name_has_word(t->name, tok))
            s += 10;
        else if (ci_contains(t->name, tok))
            s += 6;
        for (size_t j = 0; j < t->tag_count; j++)
            if (ci_contains(t->tags[j], tok)) {
                s += 4;
                break;
            }
        if (ci_contains(t->title, tok))
            s += 3;
        if (ci_contains(t->path_template, tok))
            s += 2;
        if (ci_contains(t->description, tok))
            s += 1;
        for (size_t j = 0; j < t->param_count; j++)
            if (ci_contains(t->params[j].arg_name, tok)) {
                s += 1;
                break;
            }
        if (s)
            h->matched++;
        h->score += s;
    }
}

/* The first line of a description, cut to SUMMARY_MAX bytes at a UTF-8 boundary. */
static json_t *summary(const char *desc)
{
    size_t n = strcspn(desc ? desc : "", "\n");
    bool cut = n > SUMMARY_MAX;
    if (cut)
        n = mb_utf8_prefix(desc, n, SUMMARY_MAX - 3);
    char buf[SUMMARY_MAX + 1];
    memcpy(buf, desc ? desc : "", n);
    if (cut)
        memcpy(buf + n, "\xE2\x80\xA6", 3), n += 3;
    return json_stringn(buf, n);
}

static json_t *search_tools(const struct mb_helper_env *env, const json_t *args)
{
    const struct mb_catalog *cat = env->catalog;
    const char *query = json_string_value(json_object_get(args, "query"));
    const json_t *limit_v = json_object_get(args, "limit");
    size_t limit = json_is_integer(limit_v) ? (size_t)json_integer_value(limit_v) : 10;
    const char *tag_arg = json_string_value(json_object_get(args, "tag"));
    char *tag = tag_arg && *tag_arg ? mb_catalog_tag_normalize(tag_arg) : NULL;
    char tokens[MAX_TOKENS][TOKEN_MAX];
    size_t n = tokenize(query, tokens, MAX_TOKENS);
    struct hit *hits = calloc(cat->operation_count ? cat->operation_count : 1, sizeof *hits);
    if (!hits || (tag_arg && *tag_arg && !tag)) {
        free(hits);
        free(tag);
        return NULL;
    }
    size_t count = 0;
    for (size_t i = 0; i < cat->operation_count; i++) {
        const struct mb_tool *t = &cat->tools[i];
        if ((tag && !tool_has_tag(t, tag)) || !visible(env, t))
            continue;
        score_tool(t, query ? query : "", tokens, n, &hits[count]);
        hits[count].tool = i;
        if (hits[count].matched)
            count++;
    }
    qsort(hits, count, sizeof *hits, by_rank);
    json_t *list = json_array();
    json_t *obj = json_pack("{s:s,s:I,s:o}", "query", query ? query : "", "total", (json_int_t)count, "tools", list);
    for (size_t i = 0; obj && i < count && i < limit; i++) {
        const struct mb_tool *t = &cat->tools[hits[i].tool];
        json_t *e = json_pack("{s:s,s:o,s:s,s:s,s:[]}", "name", t->name, "description", summary(t->description),
                              "method", t->method, "path", t->path_template, "tags");
        if (!e)
            continue;
        if (t->title)
            json_object_set_new(e, "title", json_string(t->title));
        for (size_t j = 0; j < t->tag_count; j++)
            json_array_append_new(json_object_get(e, "tags"), json_string(t->tags[j]));
        json_array_append_new(list, e);
    }
    if (obj && !count) {
        char hint[200];
        const struct mb_tool *lat = find_helper(cat, MB_HELPER_LIST_ALL_TAGS);
        snprintf(hint, sizeof hint, "No tool matches; try fewer or broader keywords%s%s.",
                 lat ? ", or see the tags with " : "", lat ? lat->name : "");
        json_object_set_new(obj, "note", json_string(hint));
    }
    free(hits);
    free(tag);
    return ok_result(obj);
}

/* ---- select_prompts ---- */

/* The words a tag stands for ("group:apsv-transport" -> "apsv transport") in out. */
/* The words of a tag without its kind prefix ("group:", "entity:", "team:"...). */
static void tag_words(const char *tag, char *out, size_t size)
{
    const char *colon = strchr(tag, ':');
    const char *p = colon ? colon + 1 : tag;
    snprintf(out, size, "%s", p);
    for (char *q = out; *q; q++)
        if (*q == '-')
            *q = ' ';
}

static bool prompt_mentions(const json_t *prompt, const char *token)
{
    if (ci_contains(json_string_value(json_object_get(prompt, "name")), token) ||
        ci_contains(json_string_value(json_object_get(prompt, "title")), token) ||
        ci_contains(json_string_value(json_object_get(prompt, "description")), token))
        return true;
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(prompt, "arguments"), i, a) {
        if (ci_contains(json_string_value(json_object_get(a, "name")), token))
            return true;
    }
    return false;
}

/* A prompt relates to a tag when it mentions every word of the tag, or the name of a tool
 * carrying it. */
static bool prompt_about_tag(const struct mb_catalog *cat, const json_t *prompt, const char *tag)
{
    char words[256];
    char tokens[MAX_TOKENS][TOKEN_MAX];
    tag_words(tag, words, sizeof words);
    size_t n = tokenize(words, tokens, MAX_TOKENS);
    size_t found = 0;
    for (size_t k = 0; k < n; k++)
        found += prompt_mentions(prompt, tokens[k]);
    if (n && found == n)
        return true;
    for (size_t i = 0; i < cat->operation_count; i++) {
        const struct mb_tool *t = &cat->tools[i];
        if (!tool_has_tag(t, tag))
            continue;
        char lower[160];
        size_t j = 0;
        for (; t->name[j] && j + 1 < sizeof lower; j++)
            lower[j] = (char)tolower((unsigned char)t->name[j]);
        lower[j] = '\0';
        if (prompt_mentions(prompt, lower))
            return true;
    }
    return false;
}

static json_t *select_prompts(const struct mb_helper_env *env, const json_t *args)
{
    const char *query = json_string_value(json_object_get(args, "query"));
    const char *tag_arg = json_string_value(json_object_get(args, "tag"));
    char *tag = tag_arg && *tag_arg ? mb_catalog_tag_normalize(tag_arg) : NULL;
    if (tag_arg && *tag_arg && !tag)
        return NULL;
    char tokens[MAX_TOKENS][TOKEN_MAX];
    size_t n = tokenize(query, tokens, MAX_TOKENS);
    json_t *all = env->prompts && mb_prompts_count(env->prompts) ? mb_prompts_list(env->prompts) : NULL;
    json_t *scored = json_array();
    json_t *out = json_array();
    json_t *obj = json_pack("{s:o}", "prompts", out);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(all, "prompts"), i, p) {
        if (!obj || !scored)
            break;
        size_t found = 0;
        for (size_t k = 0; k < n; k++)
            found += prompt_mentions(p, tokens[k]);
        if ((n && !found) || (tag && !prompt_about_tag(env->catalog, p, tag)))
            continue;
        json_array_append_new(scored, json_pack("{s:I,s:O}", "found", (json_int_t)found, "prompt", p));
    }
    /* Most query words found first; stable for equal counts (prompt order is by name). */
    for (size_t want = n; obj && scored; want--) {
        json_array_foreach(scored, i, p) {
            if ((size_t)json_integer_value(json_object_get(p, "found")) == want)
                json_array_append(out, json_object_get(p, "prompt"));
        }
        if (want == 0)
            break;
    }
    if (obj) {
        json_object_set_new(obj, "total", json_integer((json_int_t)json_array_size(out)));
        if (!json_array_size(out))
            json_object_set_new(obj, "note", json_string(all ? "No prompt matches; try other keywords or no query."
                                                              : "This server has no prompts."));
    }
    json_decref(scored);
    json_decref(all);
    free(tag);
    return ok_result(obj);
}

/* ---- dispatch ---- */

json_t *mb_helper_tool_call(const struct mb_helper_env *env, const struct mb_tool *tool, const json_t *args,
                            const struct mb_tool **call, const json_t **call_args)
{
    *call = NULL;
    *call_args = NULL;
    switch (tool->helper) {
    case MB_HELPER_LIST_ALL_TAGS:
        return list_all_tags(env);
    case MB_HELPER_GET_TOOL_SCHEMA:
        return get_tool_schema(env, args);
    case MB_HELPER_GET_FILTER_FIELDS:
        return get_filter_fields(env, args);
    case MB_HELPER_SELECT_PROMPTS:
        return select_prompts(env, args);
    case MB_HELPER_SEARCH_TOOLS:
        return search_tools(env, args);
    case MB_HELPER_CALL_TOOL: {
        const char *name = json_string_value(json_object_get(args, "name"));
        const struct mb_tool *target = find_visible(env, name);
        const json_t *target_args = json_object_get(args, "arguments");
        if (!target)
            return unknown_tool(env, name ? name : "");
        if (target->kind == MB_TOOL_HTTP) {
            *call = target;
            *call_args = target_args;
            return NULL;
        }
        if (target->helper == MB_HELPER_CALL_TOOL)
            return mb_tool_error_result("%s cannot call itself; give the name of an API tool.", target->name);
        char msg[1024];
        if (mb_tool_validate_args(target, target_args, msg, sizeof msg) != 0)
            return mb_tool_error_result("Invalid arguments for tool %s: %s", target->name, msg);
        return mb_helper_tool_call(env, target, target_args, call, call_args);
    }
    default:
        return mb_tool_error_result("Tool %s has no local implementation.", tool->name);
    }
}
