/* `mcpbridge doctor`: environment diagnostics for one configuration. It loads the configuration
 * and the spec with the same code as `mcpbridge check` (a finding each), then runs the checks of
 * cli/doctor.h (TLS files, the downstream API, the identity provider, the clock, the open-file
 * limit, the listening ports, Redis) and prints a checklist, or with --json an array of
 * {check, status, detail, fix}. Exit status: 0 without errors (warnings allowed), 1 with at
 * least one error, 2 bad command line. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/doctor.h"
#include "common/diag.h"
#include "mcp/prompts.h"
#include "mcp/resources.h"
#include "openapi/catalog.h"

#define EXIT_OK   0
#define EXIT_FAIL 1

#define DIAG_LINES_SHOWN 8

/* ---- the report */

void mb_doctor_add(struct mb_doctor_report *r, const char *check, enum mb_doctor_status status,
                   const char *fix, const char *detail_fmt, ...)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct mb_doctor_finding *items = realloc(r->items, cap * sizeof *items);
        if (!items)
            return;
        r->items = items;
        r->cap = cap;
    }
    struct mb_doctor_finding *f = &r->items[r->count];
    va_list ap;
    va_start(ap, detail_fmt);
    int n = vasprintf(&f->detail, detail_fmt, ap);
    va_end(ap);
    f->check = strdup(check);
    f->fix = fix && status != MB_DOCTOR_OK ? strdup(fix) : NULL;
    f->status = status;
    if (n < 0 || !f->check || (fix && status != MB_DOCTOR_OK && !f->fix)) {
        if (n >= 0)
            free(f->detail);
        free(f->check);
        free(f->fix);
        return;
    }
    r->count++;
}

size_t mb_doctor_count(const struct mb_doctor_report *r, enum mb_doctor_status status)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->items[i].status == status;
    return n;
}

void mb_doctor_report_dispose(struct mb_doctor_report *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->items[i].check);
        free(r->items[i].detail);
        free(r->items[i].fix);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* ---- command line */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge doctor --config FILE [--json] [--workers N|dev|io|cpu|ha]\n"
        "  Checks what a deployment of this configuration depends on, beyond `mcpbridge check`:\n"
        "  the configuration and the spec, TLS certificates and keys (match, expiry, CA files), "
        "the\n"
        "  downstream API (DNS, TCP, HTTP), the identity provider (JWKS, token endpoints), the "
        "clock\n"
        "  (Date headers), the open-file limit, the listening ports, and Redis. Each check prints\n"
        "  ok, warning or error, with what to do for the last two.\n"
        "  --json      an array of {\"check\", \"status\", \"detail\", \"fix\"} instead of the "
        "checklist\n"
        "  --workers   the worker count `serve` will use (default: as `serve` resolves it)\n"
        "exit status: 0 no errors (warnings allowed), 1 at least one error, 2 bad command line\n");
}

struct options {
    const char *config;
    const char *workers;
    bool json;
};

static const struct mb_cli_command command = {"doctor", NULL};

/* Returns -1 to go on, or the exit code to return now. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:jw:h", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'w':
            o->workers = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return mb_cli_option_error(&command, c, argv);
        }
    }
    if (optind < argc)
        return mb_cli_unexpected_argument(&command, argv[optind]);
    if (!o->config)
        return mb_cli_usage_error(
            &command, "--config FILE is required (the file `mcpbridge serve --config` would use)");
    return -1;
}

/* ---- the checks that reuse `mcpbridge check`'s loaders */

/* The first lines of a diagnostics list, "; "-joined, for one finding. */
static void diag_text(const struct mb_diags *d, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->count && i < DIAG_LINES_SHOWN; i++) {
        const struct mb_diag *x = &d->items[i];
        int n = x->line > 0 ? snprintf(out + used, cap - used, "%s%s:%d: %s", i ? "; " : "",
                                       x->file ? x->file : "", x->line, x->message)
                            : snprintf(out + used, cap - used, "%s%s%s%s", i ? "; " : "",
                                       x->file ? x->file : "", x->file ? ": " : "", x->message);
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
    if (d->count > DIAG_LINES_SHOWN)
        snprintf(out + used, cap - used, "; and %zu more", d->count - DIAG_LINES_SHOWN);
}

static struct mb_config *check_config(struct mb_doctor_report *r, const char *path)
{
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_config *cfg = NULL;
    if (mb_config_load(path, &cfg, &diags) != 0) {
        char text[4096];
        diag_text(&diags, text, sizeof text);
        char fix[512];
        snprintf(fix, sizeof fix,
                 "correct the configuration (`mcpbridge check --config %s` lists every problem "
                 "with its line); the other checks need a valid one",
                 path);
        mb_doctor_add(r, "config", MB_DOCTOR_ERROR, fix, "%s is not valid: %s", path, text);
        cfg = NULL;
    } else {
        mb_doctor_add(r, "config", MB_DOCTOR_OK, NULL, "%s is valid", path);
    }
    mb_diags_dispose(&diags);
    return cfg;
}

/* Builds the catalog as `check` does. Returns it (caller destroys) or NULL. */
static struct mb_catalog *check_spec(struct mb_doctor_report *r, const struct mb_config *cfg)
{
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_catalog *cat = mb_catalog_create(cfg, &diags);
    if (!cat) {
        char text[4096];
        diag_text(&diags, text, sizeof text);
        mb_doctor_add(r, "spec", MB_DOCTOR_ERROR,
                      "correct the spec or api.openapi.spec_file (`mcpbridge tools --spec FILE` "
                      "shows the conversion)",
                      "%s does not load: %s", cfg->spec_file, text);
    } else if (cat->operation_count == 0) {
        mb_doctor_add(r, "spec", MB_DOCTOR_WARNING,
                      "without api.routes only GET and HEAD operations become tools: map the "
                      "others with a routes "
                      "rule (docs/configuration.md, api.routes)",
                      "%s loads but gives no tool", cfg->spec_file);
    } else {
        mb_doctor_add(r, "spec", MB_DOCTOR_OK, NULL, "%s gives %zu tool%s (base URL %s)",
                      cfg->spec_file, cat->operation_count, cat->operation_count == 1 ? "" : "s",
                      cat->base_url ? cat->base_url : "none");
    }
    mb_diags_dispose(&diags);
    return cat;
}

static void check_assistant(struct mb_doctor_report *r, const struct mb_config *cfg)
{
    if (!cfg->prompts_dir && !cfg->resources_dir)
        return;
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_prompt_set *prompts =
        mb_prompts_load(cfg->prompts_dir, cfg->prompts_max_total_bytes, &diags);
    struct mb_resource_set *resources =
        mb_resources_load(cfg->resources_dir, cfg->resources_max_file_bytes, &diags);
    if (!prompts || !resources) {
        char text[4096];
        diag_text(&diags, text, sizeof text);
        mb_doctor_add(
            r, "assistant", MB_DOCTOR_ERROR,
            "correct the files named above, or assistant.prompts.dir / assistant.resources.dir",
            "prompts or resources do not load: %s", text);
    } else {
        mb_doctor_add(r, "assistant", MB_DOCTOR_OK, NULL, "%zu prompt%s, %zu resource%s",
                      mb_prompts_count(prompts), mb_prompts_count(prompts) == 1 ? "" : "s",
                      mb_resources_count(resources), mb_resources_count(resources) == 1 ? "" : "s");
    }
    if (prompts)
        mb_prompts_destroy(prompts);
    if (resources)
        mb_resources_destroy(resources);
    mb_diags_dispose(&diags);
}

static int check_workers(struct mb_doctor_report *r, const struct mb_config *cfg, const char *arg)
{
    char err[256] = "";
    int workers = mb_config_resolve_workers(cfg, arg, err, sizeof err);
    if (workers < 0) {
        mb_doctor_add(r, "workers", MB_DOCTOR_ERROR,
                      "give a positive number or dev, io, cpu, ha (the source named above)", "%s",
                      err);
        return 1;
    }
    return workers;
}

static void run_checks(struct mb_doctor_report *r, const struct options *o)
{
    struct mb_config *cfg = check_config(r, o->config);
    if (!cfg)
        return;
    struct mb_catalog *cat = check_spec(r, cfg);
    check_assistant(r, cfg);
    struct mb_doctor_tls_files inbound = {
        .name = "inbound_tls",
        .config_key = "runtime.server.transport.tls",
        .certfile = cfg->tls_certfile,
        .keyfile = cfg->tls_keyfile,
        .cafile = cfg->tls_client_cafile,
        .cafile_role = "client CA",
    };
    mb_doctor_check_tls(r, &inbound);
    struct mb_doctor_tls_files downstream = {
        .name = "downstream_tls",
        .config_key = "runtime.http.tls",
        .certfile = cfg->http_tls_certfile,
        .keyfile = cfg->http_tls_keyfile,
        .key_password = cfg->http_tls_key_password,
        .cafile = cfg->http_tls_cafile,
        .cafile_role = "CA",
    };
    mb_doctor_check_tls(r, &downstream);
    struct mb_doctor_clocks clocks = {0};
    mb_doctor_check_downstream(r, cfg, cat && cat->base_url ? cat->base_url : cfg->base_url,
                               &clocks);
    mb_doctor_check_identity(r, cfg, &clocks);
    mb_doctor_check_clock(r, cfg, &clocks);
    mb_doctor_check_fd_limit(r, cfg, check_workers(r, cfg, o->workers));
    mb_doctor_check_ports(r, cfg);
    mb_doctor_check_redis(r, cfg);
    mb_catalog_destroy(cat);
    mb_config_destroy(cfg);
}

/* ---- output */

static const char *const status_names[] = {"ok", "warning", "error"};

static int print_json(const struct mb_doctor_report *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < r->count; i++) {
        const struct mb_doctor_finding *f = &r->items[i];
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s?}", "check", f->check, "status",
                                              status_names[f->status], "detail", f->detail, "fix",
                                              f->fix));
    }
    char *text = json_dumps(list, JSON_INDENT(2));
    json_decref(list);
    if (!text)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_checklist(const struct mb_doctor_report *r, const char *config)
{
    static const char *const marks[] = {"[ok]   ", "[warn] ", "[ERROR]"};
    printf("mcpbridge doctor: %s\n\n", config);
    size_t width = 10;
    for (size_t i = 0; i < r->count; i++)
        if (strlen(r->items[i].check) > width)
            width = strlen(r->items[i].check);
    for (size_t i = 0; i < r->count; i++) {
        const struct mb_doctor_finding *f = &r->items[i];
        printf("%s %-*s  %s\n", marks[f->status], (int)width, f->check, f->detail);
        if (f->fix)
            printf("%-7s %-*s  fix: %s\n", "", (int)width, "", f->fix);
    }
    size_t errors = mb_doctor_count(r, MB_DOCTOR_ERROR),
           warnings = mb_doctor_count(r, MB_DOCTOR_WARNING);
    printf("\n%zu ok, %zu warning%s, %zu error%s\n", mb_doctor_count(r, MB_DOCTOR_OK), warnings,
           warnings == 1 ? "" : "s", errors, errors == 1 ? "" : "s");
}

int mb_cli_doctor(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "mcpbridge doctor: libcurl failed to initialize\n");
        return EXIT_FAIL;
    }
    struct mb_doctor_report report = {0};
    run_checks(&report, &o);
    curl_global_cleanup();
    if (o.json) {
        if (print_json(&report) != 0)
            fprintf(stderr, "mcpbridge doctor: out of memory\n");
    } else {
        print_checklist(&report, o.config);
    }
    rc = mb_doctor_count(&report, MB_DOCTOR_ERROR) > 0 ? EXIT_FAIL : EXIT_OK;
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mcpbridge doctor: cannot write the report: %s\n", strerror(errno));
        rc = EXIT_FAIL;
    }
    mb_doctor_report_dispose(&report);
    return rc;
}
