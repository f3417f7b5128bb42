/* `mcpbridge capacity` (contract in capacity_cmd.h): one blocking GET of URL/readyz with libcurl's
 * easy interface (a command line tool may block; the server never does), the "capacity" object
 * picked out of the answer, then either printed as JSON or turned into a short report. Every
 * failure names what was tried and what to do next. The field names read here are the ones
 * mb_capacity_to_json writes (observability/capacity.h). */
#include "cli/capacity_cmd.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_args.h"
#include "common/buf.h"

#define TIMEOUT_MS 5000L
#define MAX_BODY   (4u * 1024u * 1024u)

void mb_cli_capacity_usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge capacity --url URL [--json] [--token TOKEN]\n"
        "  Asks a running mcpbridge (URL = its base, e.g. http://127.0.0.1:8500) for its capacity\n"
        "  report (GET URL/readyz) and prints the verdict, its reasons, the recommended worker\n"
        "  count, per-worker CPU/RSS/connections, pressure (PSI) and network figures.\n"
        "  --json          print the capacity object as JSON instead\n"
        "  --token TOKEN   sent as 'Authorization: Bearer TOKEN' (for a proxy in front that asks)\n"
        "exit status: 0 ok or warming up, 3 tune workers, 4 scale out, 1 error, 2 usage\n");
}

static const struct mb_cli_command command = {"capacity", NULL};

struct options {
    const char *url;
    const char *token;
    bool json;
};

/* Returns -1 to go on, or the exit code to return now (after printing why, or the usage). */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option options[] = {
        {"url", required_argument, NULL, 'u'},
        {"token", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":u:t:jh", options, NULL)) != -1) {
        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'h':
            mb_cli_capacity_usage(stdout);
            return MB_CAPACITY_EXIT_OK;
        default:
            return mb_cli_option_error(&command, c, argv);
        }
    }
    if (optind < argc)
        return mb_cli_unexpected_argument(&command, argv[optind]);
    if (!o->url) {
        fprintf(stderr, "mcpbridge capacity: --url URL is required (the server's base URL, e.g. "
                        "http://127.0.0.1:8500)\n");
        return MB_CAPACITY_EXIT_USAGE;
    }
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
        fprintf(stderr,
                "mcpbridge capacity: --url '%s': expected http://HOST:PORT or https://HOST:PORT\n",
                o->url);
        return MB_CAPACITY_EXIT_USAGE;
    }
    return -1;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct mb_buf *body = userdata;
    return mb_buf_append(body, data, size * n) == 0 ? size * n : 0; /* 0: curl stops, too big */
}

/* GETs url into body. Returns 0 with *status, or -1 after printing what went wrong. */
static int http_get(const char *url, const char *token, struct mb_buf *body, long *status)
{
    char error[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(stderr,
                "mcpbridge capacity: libcurl could not start a transfer (out of memory?)\n");
        return -1;
    }
    if (token) {
        struct mb_buf header;
        mb_buf_init(&header, 64 * 1024);
        if (mb_buf_printf(&header, "Authorization: Bearer %s", token) == 0)
            headers = curl_slist_append(NULL, header.data);
        mb_buf_dispose(&header); /* curl_slist_append copied it */
        if (!headers) {
            fprintf(stderr, "mcpbridge capacity: the --token value is too long (64 KiB at most)\n");
            curl_easy_cleanup(curl);
            return -1;
        }
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcpbridge-capacity");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    CURLcode res = curl_easy_perform(curl);
    const char *why = error[0] ? error : curl_easy_strerror(res);
    int rc = -1;
    if (res == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
        rc = 0;
    } else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST) {
        fprintf(
            stderr,
            "mcpbridge capacity: cannot connect to %s (%s).\n"
            "  Is `mcpbridge serve` running there? --url takes the server's base URL, as in its\n"
            "  \"listening on\" log line without the MCP path (e.g. http://127.0.0.1:8500).\n",
            url, why);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        fprintf(stderr,
                "mcpbridge capacity: %s did not answer within %ld s (%s);\n"
                "  the server may be overloaded, or a firewall drops the connection.\n",
                url, TIMEOUT_MS / 1000, why);
    } else if (res == CURLE_WRITE_ERROR) {
        fprintf(stderr,
                "mcpbridge capacity: %s answered more than %u bytes: not an mcpbridge /readyz. "
                "Check --url.\n",
                url, MAX_BODY);
    } else {
        fprintf(stderr, "mcpbridge capacity: GET %s failed: %s\n", url, why);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

/* ---- reading the report: absent or mistyped fields read as "unknown", never as a crash */

static bool number(const json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static double number_or(const json_t *obj, const char *key, double fallback)
{
    double v;
    return number(obj, key, &v) ? v : fallback;
}

static const char *string_or(const json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : fallback;
}

/* "512 B", "3.5 KiB", "46.9 MiB", "15.6 GiB". */
static const char *bytes_text(double bytes, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return out;
}

/* "10.4 Mbit/s" from bytes per second. */
static const char *bits_text(double bytes_per_s, char *out, size_t cap)
{
    double mbit = bytes_per_s * 8 / 1e6;
    snprintf(out, cap, mbit < 10 ? "%.2f Mbit/s" : "%.0f Mbit/s", mbit);
    return out;
}

static const struct {
    const char *verdict, *headline;
    int exit_code;
} verdicts[] = {
    {"warming_up", "warming up (fewer than two samples yet; ask again in a few seconds)",
     MB_CAPACITY_EXIT_OK},
    {"ok", "ok (no scale-out trigger fired)", MB_CAPACITY_EXIT_OK},
    {"tune_workers",
     "tune workers (more workers on this machine would help; see the recommendation)",
     MB_CAPACITY_EXIT_TUNE_WORKERS},
    {"scale_out", "scale out (tuning this machine cannot help: add instances)",
     MB_CAPACITY_EXIT_SCALE_OUT},
};

static const struct {
    const char *reason, *text;
} reasons[] = {
    {"cpu_sustained", "CPU above observability.capacity.cpu_threshold for sustain_seconds"},
    {"cpu_high", "CPU above cpu_threshold now (not yet for sustain_seconds)"},
    {"memory_pressure",
     "memory pressure (PSI memory some avg60 above memory_pressure_pct) slows responses"},
    {"network_saturated", "network throughput above network_ratio of the link speed"},
    {"connections_near_cap", "a worker above connections_ratio of max_connections_per_worker"},
};

static void print_reasons(const json_t *list)
{
    size_t i;
    json_t *r;
    if (json_array_size(list) == 0) {
        printf("  reasons: none\n");
        return;
    }
    json_array_foreach(list, i, r)
    {
        const char *name = json_string_value(r);
        const char *text = name;
        for (size_t k = 0; name && k < sizeof reasons / sizeof reasons[0]; k++)
            if (strcmp(name, reasons[k].reason) == 0)
                text = reasons[k].text;
        printf("  reason: %s\n", text ? text : "(unreadable)");
    }
}

static void print_cpu_and_memory(const json_t *cap)
{
    const json_t *cpu = json_object_get(cap, "cpu");
    double usable = number_or(cpu, "usable", 0);
    printf("CPU:      %.0f usable, machine %.0f%% busy, mcpbridge %.0f%%", usable,
           number_or(cpu, "instance_ratio", 0) * 100, number_or(cpu, "process_ratio", 0) * 100);
    const char *since = json_string_value(json_object_get(cpu, "high_since"));
    if (since)
        printf(" (high since %s)", since);
    printf("\n");
    const json_t *mem = json_object_get(cap, "memory");
    char a[32], b[32], c[32];
    double total = number_or(mem, "total_bytes", 0);
    if (total > 0)
        printf("memory:   %s available of %s, mcpbridge RSS %s\n",
               bytes_text(number_or(mem, "available_bytes", 0), a, sizeof a),
               bytes_text(total, b, sizeof b),
               bytes_text(number_or(mem, "rss_total_bytes", 0), c, sizeof c));
    else
        printf("memory:   unknown (no /proc/meminfo), mcpbridge RSS %s\n",
               bytes_text(number_or(mem, "rss_total_bytes", 0), c, sizeof c));
}

static void print_pressure_and_network(const json_t *cap)
{
    const json_t *psi = json_object_get(cap, "psi");
    if (json_is_object(psi))
        printf("pressure: cpu %.1f%%, memory %.1f%% (avg60 %.1f%%, full %.1f%%), io %.1f%% "
               "(PSI avg10: share of time tasks stalled)\n",
               number_or(psi, "cpu_some_avg10", 0), number_or(psi, "memory_some_avg10", 0),
               number_or(psi, "memory_some_avg60", 0), number_or(psi, "memory_full_avg10", 0),
               number_or(psi, "io_some_avg10", 0));
    else
        printf(
            "pressure: not available (no /proc/pressure: a kernel without PSI, or a container that "
            "hides it); memory pressure cannot trigger a verdict\n");
    const json_t *net = json_object_get(cap, "network");
    char rx[32], tx[32], link[32];
    bits_text(number_or(net, "rx_bytes_per_s", 0), rx, sizeof rx);
    bits_text(number_or(net, "tx_bytes_per_s", 0), tx, sizeof tx);
    double link_bytes;
    if (number(net, "link_bytes_per_s", &link_bytes) && link_bytes > 0)
        printf("network:  in %s, out %s of a %s link (%.0f%% used)\n", rx, tx,
               bits_text(link_bytes, link, sizeof link),
               number_or(net, "saturation_ratio", 0) * 100);
    else
        printf("network:  in %s, out %s; link speed unknown (set "
               "observability.capacity.link_speed_mbps to judge saturation)\n",
               rx, tx);
}

static void print_workers(const json_t *list)
{
    if (json_array_size(list) == 0) {
        printf("workers:  none running\n");
        return;
    }
    printf("workers:\n  %-4s %-8s %6s %11s  %s\n", "ID", "PID", "CPU", "RSS", "CONNECTIONS");
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        char rss[32];
        printf("  %-4.0f %-8.0f %5.0f%% %11s  %.0f / %.0f\n", number_or(w, "id", -1),
               number_or(w, "pid", 0), number_or(w, "cpu", 0) * 100,
               bytes_text(number_or(w, "rss_bytes", 0), rss, sizeof rss),
               number_or(w, "connections", 0), number_or(w, "connection_cap", 0));
    }
}

/* The exit code for the report's verdict, -1 when it is missing or unknown. */
static int verdict_exit_code(const json_t *cap, const char **headline)
{
    const char *v = json_string_value(json_object_get(cap, "verdict"));
    for (size_t i = 0; v && i < sizeof verdicts / sizeof verdicts[0]; i++) {
        if (strcmp(v, verdicts[i].verdict) == 0) {
            *headline = verdicts[i].headline;
            return verdicts[i].exit_code;
        }
    }
    return -1;
}

static void print_report(const char *base, const json_t *cap, const char *headline, bool draining)
{
    printf("mcpbridge at %s, sampled %s (%.0f samples)%s\n", base,
           string_or(cap, "sampled_at", "never"), number_or(cap, "samples", 0),
           draining ? "; this worker is draining" : "");
    printf("verdict:  %s\n", headline);
    print_reasons(json_object_get(cap, "reasons"));
    const json_t *rec = json_object_get(cap, "recommendation");
    double workers = number_or(rec, "workers", 0);
    printf("recommend: %.0f worker%s (profile %s)\n  %s\n", workers, workers == 1 ? "" : "s",
           string_or(rec, "profile", "?"), string_or(rec, "explanation", ""));
    print_cpu_and_memory(cap);
    print_pressure_and_network(cap);
    print_workers(json_object_get(cap, "workers"));
}

/* Picks the capacity object out of a /readyz answer. Returns it (borrowed from doc) or NULL after
 * printing why. */
static const json_t *capacity_of(const char *url, long status, const struct mb_buf *body,
                                 json_t **doc)
{
    if (status == 401 || status == 403) {
        fprintf(stderr,
                "mcpbridge capacity: %s refused the request (HTTP %ld): pass --token TOKEN with a "
                "token the server (or the proxy in front of it) accepts.\n",
                url, status);
        return NULL;
    }
    if (status == 404) {
        fprintf(stderr,
                "mcpbridge capacity: %s does not exist (HTTP 404): --url must be an mcpbridge "
                "server's base URL (e.g. http://127.0.0.1:8500), not its MCP endpoint.\n",
                url);
        return NULL;
    }
    json_error_t err;
    *doc = json_loadb(body->data ? body->data : "", body->len, 0, &err);
    if (!*doc || !json_is_object(*doc) || !json_is_string(json_object_get(*doc, "status"))) {
        fprintf(stderr,
                "mcpbridge capacity: %s answered HTTP %ld without an mcpbridge readiness document "
                "(%s): is --url an mcpbridge server?\n",
                url, status, *doc ? "no \"status\" field" : err.text);
        return NULL;
    }
    const json_t *cap = json_object_get(*doc, "capacity");
    if (!json_is_object(cap)) {
        fprintf(stderr,
                "mcpbridge capacity: %s has no capacity report: the server is an mcpbridge without "
                "capacity signals (upgrade it) or its sampler has not started.\n",
                url);
        return NULL;
    }
    return cap;
}

int mb_cli_capacity(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = MB_CAPACITY_EXIT_ERROR;
    size_t base_len = strlen(o.url);
    while (base_len > 0 && o.url[base_len - 1] == '/')
        base_len--;
    struct mb_buf base, url, body;
    mb_buf_init(&base, 8192);
    mb_buf_init(&url, 8192);
    mb_buf_init(&body, MAX_BODY);
    json_t *doc = NULL;
    if (mb_buf_append(&base, o.url, base_len) != 0 ||
        mb_buf_printf(&url, "%s/readyz", base.data ? base.data : "") != 0) {
        fprintf(stderr, "mcpbridge capacity: --url is too long\n");
        goto done;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "mcpbridge capacity: libcurl failed to initialize\n");
        goto done;
    }
    long status = 0;
    int fetched = http_get(url.data, o.token, &body, &status);
    curl_global_cleanup();
    if (fetched != 0)
        goto done;
    const json_t *cap = capacity_of(url.data, status, &body, &doc);
    if (!cap)
        goto done;
    const char *headline = NULL;
    int verdict_rc = verdict_exit_code(cap, &headline);
    if (verdict_rc < 0) {
        fprintf(stderr,
                "mcpbridge capacity: %s sent a capacity report without a known verdict; this "
                "mcpbridge capacity is older than the server: upgrade it.\n",
                url.data);
        goto done;
    }
    if (o.json) {
        char *text = json_dumps(cap, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (!text) {
            fprintf(stderr, "mcpbridge capacity: out of memory\n");
            goto done;
        }
        printf("%s\n", text);
        free(text);
    } else {
        const char *readiness = json_string_value(json_object_get(doc, "status"));
        print_report(base.data, cap, headline, readiness && strcmp(readiness, "draining") == 0);
    }
    rc = fflush(stdout) == 0 ? verdict_rc : MB_CAPACITY_EXIT_ERROR;
done:
    json_decref(doc);
    mb_buf_dispose(&base);
    mb_buf_dispose(&url);
    mb_buf_dispose(&body);
    return rc;
}
