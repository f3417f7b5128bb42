/* `mcpbridge openapi-gen`: converts an OpenEdge JSDO catalog into an OpenAPI 3.0.3 document
 * (cli/openapi_gen_jsdo.h does the mapping), checks that mcpbridge's own converter
 * (openapi/catalog.h) turns the result into one tool per operation, and only then writes it:
 * JSON, or YAML when --out ends in .yaml/.yml, to stdout or --out (through a temporary file
 * renamed into place, so a failed run never leaves half a file). Exit status: 0 written, 1 the
 * catalog cannot be converted (every problem printed as file:line: place: problem), 2 bad
 * command line. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/openapi_gen_jsdo.h"
#include "cli/openapi_gen_yaml.h"
#include "common/buf.h"
#include "common/diag.h"
#include "common/doc.h"
#include "openapi/catalog.h"

#define EXIT_OK   0
#define EXIT_FAIL 1

#define MAX_CATALOG_BYTES (32u * 1024u * 1024u)
#define MAX_OUTPUT_BYTES  (256u * 1024u * 1024u)
/* The base URL the check uses when --base-url is not given (nothing is contacted). */
#define CHECK_BASE_URL "http://127.0.0.1"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge openapi-gen CATALOG.json [--out FILE] [--base-url URL] [--title TITLE]\n"
        "  Converts an OpenEdge JSDO catalog (Data Service Catalog) into an OpenAPI 3.0.3 "
        "document:\n"
        "  one operation per catalog operation, at service address + resource path + operation "
        "path.\n"
        "  The result is checked with mcpbridge's own OpenAPI converter before it is written.\n"
        "  --out FILE        write there instead of stdout; YAML when FILE ends in .yaml or .yml\n"
        "  --base-url URL    servers[0].url: where the web application runs, e.g.\n"
        "                    http://oehost:8810/Sports2000 (else set api.openapi.base_url)\n"
        "  --title TITLE     info.title (default: the service names)\n"
        "exit status: 0 written, 1 the catalog cannot be converted, 2 bad command line\n");
}

struct options {
    const char *catalog;
    const char *out;
    const char *base_url;
    const char *title;
};

static const struct mb_cli_command command = {"openapi-gen", NULL};

/* Returns -1 to go on, or the exit code to return now. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"base-url", required_argument, NULL, 'b'},
        {"title", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:b:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->out = optarg;
            break;
        case 'b':
            o->base_url = optarg;
            break;
        case 't':
            o->title = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return mb_cli_option_error(&command, c, argv);
        }
    }
    if (optind >= argc)
        return mb_cli_usage_error(&command,
                                  "give the catalog file: mcpbridge openapi-gen CATALOG.json");
    o->catalog = argv[optind++];
    if (optind < argc)
        return mb_cli_usage_error(&command, "unexpected argument '%s' (one catalog per run)",
                                  argv[optind]);
    if (o->base_url && strncmp(o->base_url, "http://", 7) != 0 &&
        strncmp(o->base_url, "https://", 8) != 0)
        return mb_cli_usage_error(
            &command, "--base-url '%s': expected http://HOST[:PORT][/PATH] or https://...",
            o->base_url);
    if (o->title && !*o->title)
        return mb_cli_usage_error(&command, "--title must not be empty");
    return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Reads the catalog and parses it as JSON (JSDO catalogs are JSON, whatever the file is
 * called). Returns the document or NULL after adding the reason to diags. */
static struct mb_doc *load_catalog(const char *path, struct mb_diags *diags)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        mb_diags_add(diags, path, 0, "cannot open the catalog: %s", strerror(errno));
        return NULL;
    }
    struct mb_buf text;
    mb_buf_init(&text, MAX_CATALOG_BYTES);
    char chunk[65536];
    size_t n;
    int too_big = 0;
    while (!too_big && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        too_big = mb_buf_append(&text, chunk, n) != 0;
    bool read_error = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    struct mb_doc *doc = NULL;
    if (too_big)
        mb_diags_add(diags, path, 0, "the catalog is larger than %u MiB", MAX_CATALOG_BYTES >> 20);
    else if (read_error)
        mb_diags_add(diags, path, 0, "cannot read the catalog");
    else if (text.len == 0)
        mb_diags_add(diags, path, 0,
                     "the catalog is empty: expected a JSDO catalog, {\"services\": [...]}");
    else
        doc = mb_doc_load_buffer(strcmp(path, "-") == 0 ? "<stdin>" : path, text.data, text.len,
                                 MB_DOC_JSON, diags);
    mb_buf_dispose(&text);
    return doc;
}

static void print_diags(const struct mb_diags *d, const char *prefix)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct mb_diag *x = &d->items[i];
        if (x->file && x->line > 0)
            fprintf(stderr, "mcpbridge openapi-gen: %s%s:%d: %s\n", prefix, x->file, x->line,
                    x->message);
        else if (x->file)
            fprintf(stderr, "mcpbridge openapi-gen: %s%s: %s\n", prefix, x->file, x->message);
        else
            fprintf(stderr, "mcpbridge openapi-gen: %s%s\n", prefix, x->message);
    }
}

/* Loads text through mcpbridge's OpenAPI converter and checks that every operation became the
 * tool named by its operationId. Returns 0, or -1 after printing why (a converter refusal is a
 * bug in this command or an unusual catalog: both are worth a report). */
static int check_with_converter(const char *name, const char *text, size_t len,
                                const char *base_url, const json_t *openapi,
                                const struct mb_jsdo_stats *stats)
{
    struct mb_diags diags;
    mb_diags_init(&diags);
    int rc = -1;
    struct mb_catalog *cat = mb_catalog_create_from_buffer(
        name, text, len, base_url ? base_url : CHECK_BASE_URL, NULL, true, 100, &diags);
    if (!cat) {
        fprintf(stderr, "mcpbridge openapi-gen: the generated OpenAPI does not convert into tools, "
                        "so nothing was "
                        "written:\n");
        print_diags(&diags, "  ");
        fprintf(stderr, "  This is a bug in openapi-gen or a catalog it does not understand; "
                        "please report it with "
                        "the catalog.\n");
        goto done;
    }
    if (cat->operation_count != stats->operations) {
        fprintf(stderr,
                "mcpbridge openapi-gen: the generated OpenAPI has %zu operations but converts into "
                "%zu tools; "
                "nothing was written (please report it with the catalog)\n",
                stats->operations, cat->operation_count);
        goto done;
    }
    const json_t *paths = json_object_get(openapi, "paths");
    const char *path;
    json_t *item;
    json_object_foreach((json_t *)paths, path, item)
    {
        const char *verb;
        json_t *op;
        json_object_foreach(item, verb, op)
        {
            const char *id = json_string_value(json_object_get(op, "operationId"));
            if (id && !mb_catalog_find(cat, id))
                fprintf(stderr,
                        "mcpbridge openapi-gen: warning: operation %s gives a tool of another name "
                        "(longer "
                        "than the tool name limit, or clashing)\n",
                        id);
        }
    }
    rc = 0;
done:
    mb_catalog_destroy(cat);
    mb_diags_dispose(&diags);
    return rc;
}

/* Writes text to path through a temporary file in the same directory, renamed into place. */
static int write_file(const char *path, const char *text, size_t len)
{
    struct mb_buf tmp;
    mb_buf_init(&tmp, 8192);
    if (mb_buf_printf(&tmp, "%s.tmp.XXXXXX", path) != 0) {
        fprintf(stderr, "mcpbridge openapi-gen: --out path too long\n");
        mb_buf_dispose(&tmp);
        return -1;
    }
    int fd = mkstemp(tmp.data);
    if (fd < 0) {
        fprintf(stderr, "mcpbridge openapi-gen: cannot create a file next to '%s': %s\n", path,
                strerror(errno));
        mb_buf_dispose(&tmp);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp made it 0600; a spec is not a secret */
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(text, 1, len, f) == len;
    if (f) {
        ok = fflush(f) == 0 && ok;
        ok = fclose(f) == 0 && ok;
    } else {
        close(fd);
    }
    if (ok && rename(tmp.data, path) == 0) {
        mb_buf_dispose(&tmp);
        return 0;
    }
    fprintf(stderr, "mcpbridge openapi-gen: cannot write '%s': %s\n", path, strerror(errno));
    unlink(tmp.data);
    mb_buf_dispose(&tmp);
    return -1;
}

static size_t count_method(const json_t *openapi, const char *method)
{
    size_t n = 0;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(openapi, "paths"), path, item)
    {
        if (json_object_get(item, method))
            n++;
    }
    return n;
}

int mb_cli_openapi_gen(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = EXIT_FAIL;
    struct mb_diags errors, warnings;
    mb_diags_init(&errors);
    mb_diags_init(&warnings);
    json_t *openapi = NULL;
    struct mb_buf text;
    mb_buf_init(&text, MAX_OUTPUT_BYTES);
    char *base_url = o.base_url ? strdup(o.base_url) : NULL;
    for (size_t n = base_url ? strlen(base_url) : 0; n > 0 && base_url[n - 1] == '/'; n--)
        base_url[n - 1] = '\0';

    struct mb_doc *doc = load_catalog(o.catalog, &errors);
    if (!doc) {
        print_diags(&errors, "");
        goto done;
    }
    struct mb_jsdo_options jo = {.base_url = base_url, .title = o.title};
    struct mb_jsdo_stats stats;
    openapi = mb_jsdo_to_openapi(doc, &jo, &errors, &warnings, &stats);
    print_diags(&warnings, "warning: ");
    if (!openapi) {
        print_diags(&errors, "");
        fprintf(stderr,
                "mcpbridge openapi-gen: %zu problem%s in the catalog; nothing was written\n",
                errors.count, errors.count == 1 ? "" : "s");
        goto done;
    }
    bool yaml = o.out && (ends_with(o.out, ".yaml") || ends_with(o.out, ".yml"));
    if (yaml) {
        if (mb_yaml_write(openapi, &text) != 0) {
            fprintf(stderr,
                    "mcpbridge openapi-gen: cannot write the document as YAML (too large?)\n");
            goto done;
        }
    } else {
        char *json = json_dumps(openapi, JSON_INDENT(2));
        if (!json || mb_buf_append_str(&text, json) != 0 || mb_buf_append_str(&text, "\n") != 0) {
            free(json);
            fprintf(stderr, "mcpbridge openapi-gen: out of memory\n");
            goto done;
        }
        free(json);
    }
    if (check_with_converter(o.out ? o.out : "<generated OpenAPI>", text.data, text.len, base_url,
                             openapi, &stats) != 0)
        goto done;
    if (o.out) {
        if (write_file(o.out, text.data, text.len) != 0)
            goto done;
    } else if (fwrite(text.data, 1, text.len, stdout) != text.len || fflush(stdout) != 0) {
        fprintf(stderr, "mcpbridge openapi-gen: cannot write to stdout: %s\n", strerror(errno));
        goto done;
    }
    size_t gets = count_method(openapi, "get");
    fprintf(stderr,
            "mcpbridge openapi-gen: %zu operation%s (%zu resource%s, %zu service%s) written to "
            "%s%s; mcpbridge makes "
            "one tool of each.\n",
            stats.operations, stats.operations == 1 ? "" : "s", stats.resources,
            stats.resources == 1 ? "" : "s", stats.services, stats.services == 1 ? "" : "s",
            o.out ? o.out : "stdout", yaml ? " (YAML)" : "");
    if (gets == 0)
        fprintf(stderr, "  Without api.routes none of them becomes a tool (only GET operations do "
                        "by default); map "
                        "them with a routes rule (docs/cli.md, openapi-gen).\n");
    else if (gets < stats.operations)
        fprintf(stderr,
                "  Without api.routes only the GET operations (%zu) become tools; map the others "
                "with a "
                "routes rule (docs/cli.md, openapi-gen).\n",
                gets);
    if (!base_url)
        fprintf(stderr,
                "  No --base-url: set api.openapi.base_url to the web application's URL (e.g. "
                "http://oehost:8810/Sports2000).\n");
    rc = EXIT_OK;
done:
    json_decref(openapi);
    if (doc)
        mb_doc_destroy(doc);
    mb_buf_dispose(&text);
    mb_diags_dispose(&errors);
    mb_diags_dispose(&warnings);
    free(base_url);
    return rc;
}
