/* Unit tests for config/: defaults, validation errors with their lines (JSON and YAML files),
 * warnings, relative path resolution, ${VAR} substitution, worker count precedence and
 * profiles, and the embedded demo config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/hmac.h"
#include "config/config.h"
#include "config/default_config.h"

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mb_cfg_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *write_file(const char *rel, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", tmpdir, rel) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Finds the diagnostic whose message contains needle; fails when absent or on another line. */
static void expect_diag(const struct mb_diags *d, const char *needle, int line)
{
    for (size_t i = 0; i < d->count; i++) {
        if (strstr(d->items[i].message, needle)) {
            if (d->items[i].line != line)
                fail_msg("'%s' reported at line %d, expected %d", d->items[i].message,
                         d->items[i].line, line);
            return;
        }
    }
    char *all = mb_diags_join(d);
    fail_msg("no diagnostic contains '%s'; got: %s", needle, all);
}

/* Runs fn with stderr captured; returns what was written (caller frees). */
static char *capture_stderr(int (*fn)(const char *, struct mb_config **, struct mb_diags *),
                            const char *path, struct mb_config **cfg, struct mb_diags *d, int *rc)
{
    char *log = NULL;
    assert_true(asprintf(&log, "%s/stderr.txt", tmpdir) > 0);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    *rc = fn(path, cfg, d);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    unlink(log);
    free(log);
    return buf;
}

static void test_defaults(void **state)
{
    char *spec = write_file("spec.yaml", "openapi: 3.0.0\n");
    char *path = write_file("min.json", "{\"api\": {\"openapi\": {\"spec_file\": \"spec.yaml\"}}}\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    int rc = mb_config_load(path, &c, &d);
    if (rc != 0)
        fail_msg("%s", mb_diags_join(&d));
    assert_int_equal(d.count, 0);
    char *real_spec = realpath(spec, NULL);
    assert_string_equal(c->spec_file, real_spec);
    free(real_spec);
    assert_string_equal(c->source, path);
    assert_null(c->base_url);
    assert_null(c->spec_name);
    assert_string_equal(c->transport_type, "streamable-http");
    assert_string_equal(c->host, "127.0.0.1");
    assert_int_equal(c->port, 8500);
    assert_string_equal(c->path, "/mcp");
    assert_int_equal(c->allowed_origin_count, 0);
    assert_int_equal(c->allowed_host_count, 0);
    assert_int_equal(c->max_connections_per_worker, 10000);
    assert_int_equal(c->max_header_bytes, 16384);
    assert_int_equal(c->header_timeout_ms, 10000);
    assert_int_equal(c->body_timeout_ms, 10000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_int_equal(c->shutdown_grace_ms, 10000);
    assert_int_equal(c->workers, 0);
    assert_null(c->session_secret);
    assert_int_equal(c->session_ttl_seconds, 86400);
    assert_true(c->sessions_enabled);
    assert_int_equal(c->max_request_bytes, 10240);
    assert_null(c->default_headers);
    assert_false(c->accept_encoding);
    assert_int_equal(c->http_max_connections, 100);
    assert_int_equal(c->http_max_keepalive, 20);
    assert_int_equal(c->http_connect_timeout_ms, 5000);
    assert_int_equal(c->max_response_bytes, 1048576);
    assert_true(c->guard_enabled);
    assert_string_equal(c->guard_mode, "trim");
    assert_int_equal(c->guard_max_array_items, 50);
    assert_true(c->request_timeout_enabled);
    assert_int_equal(c->request_timeout_ms, 500);
    assert_true(c->method_validation);
    assert_false(c->include_traceback);
    assert_null(c->prompts_dir);
    assert_int_equal(c->prompts_max_total_bytes, 262144);
    assert_null(c->resources_dir);
    assert_int_equal(c->resources_max_file_bytes, 1048576);
    assert_string_equal(c->log_level, "INFO");
    assert_false(c->log_json);
    assert_null(c->log_loggers);
    assert_false(c->include_payloads);
    assert_string_equal(c->server_name, "mcpbridge");
    assert_null(c->instructions);
    assert_non_null(c->root);
    assert_non_null(c->doc);
    assert_int_equal(mb_doc_line(c->doc, "/api/openapi/spec_file"), 1);
    mb_config_destroy(c);
    mb_diags_dispose(&d);
    unlink(path);
    free(path);
    free(spec);
}

static void test_full_values(void **state)
{
    free(write_file("spec.json", "{}"));
    char pdir[96];
    snprintf(pdir, sizeof pdir, "%s/prompts", tmpdir);
    mkdir(pdir, 0700);
    free(write_file("cert.pem", "x"));
    free(write_file("key.pem", "x"));
    char *path = write_file("full.yaml",
        "api:\n"
        "  openapi: {spec_file: spec.json, spec_name: demo}\n"
        "runtime:\n"
        "  http:\n"
        "    base_url: https://api.example.com/v1\n"
        "    default_headers: {X-Tenant: acme}\n"
        "    accept_encoding: true\n"
        "    limits: {max_connections: 7, max_keepalive_connections: 3, connect_timeout_ms: 250}\n"
        "    response_guard: {enabled: false, mode: BLOCK, max_array_items: 5, max_response_bytes: 2048}\n"
        "  server:\n"
        "    transport:\n"
        "      host: localhost\n"
        "      port: 9000\n"
        "      path: /v1/mcp\n"
        "      allowed_origins: [https://a.example, https://b.example]\n"
        "      allowed_hosts: [mcp.example]\n"
        "      tls: {certfile: cert.pem, keyfile: key.pem}\n"
        "    workers: io\n"
        "    shutdown_grace_seconds: 3\n"
        "    timeouts: {header_ms: 1000, body_ms: 2000, idle_ms: 3000}\n"
        "    session: {secret: 0123456789abcdef0123, ttl_seconds: 60, enabled: false}\n"
        "  middleware:\n"
        "    request_timeout: {enabled: false, timeout_ms: 1500}\n"
        "    method_validation: {enabled: false}\n"
        "    error_handling: {include_traceback: true}\n"
        "assistant:\n"
        "  prompts: {dir: prompts, max_total_bytes: 1000}\n"
        "observability:\n"
        "  logging: {level: debug, format: json, loggers: {audit: WARNING}}\n"
        "server: {name: shop, instructions: Use the tools.}\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    if (mb_config_load(path, &c, &d) != 0)
        fail_msg("%s", mb_diags_join(&d));
    assert_string_equal(c->base_url, "https://api.example.com/v1");
    assert_string_equal(c->spec_name, "demo");
    assert_string_equal(json_string_value(json_object_get(c->default_headers, "X-Tenant")), "acme");
    assert_true(c->accept_encoding);
    assert_int_equal(c->http_max_connections, 7);
    assert_int_equal(c->http_max_keepalive, 3);
    assert_int_equal(c->http_connect_timeout_ms, 250);
    assert_false(c->guard_enabled);
    assert_string_equal(c->guard_mode, "block");
    assert_int_equal(c->guard_max_array_items, 5);
    assert_int_equal(c->max_response_bytes, 2048);
    assert_string_equal(c->host, "localhost");
    assert_int_equal(c->port, 9000);
    assert_string_equal(c->path, "/v1/mcp");
    assert_int_equal(c->allowed_origin_count, 2);
    assert_string_equal(c->allowed_origins[1], "https://b.example");
    assert_int_equal(c->allowed_host_count, 1);
    assert_int_equal(c->workers, 2);
    assert_int_equal(c->shutdown_grace_ms, 3000);
    assert_int_equal(c->header_timeout_ms, 1000);
    assert_int_equal(c->body_timeout_ms, 2000);
    assert_int_equal(c->idle_timeout_ms, 3000);
    assert_string_equal(c->session_secret, "0123456789abcdef0123");
    assert_int_equal(c->session_ttl_seconds, 60);
    assert_false(c->sessions_enabled);
    assert_false(c->request_timeout_enabled);
    assert_int_equal(c->request_timeout_ms, 1500);
    assert_false(c->method_validation);
    assert_true(c->include_traceback);
    assert_int_equal(c->prompts_max_total_bytes, 1000);
    assert_string_equal(c->log_level, "DEBUG");
    assert_true(c->log_json);
    assert_string_equal(json_string_value(json_object_get(c->log_loggers, "audit")), "WARNING");
    assert_string_equal(c->server_name, "shop");
    assert_string_equal(c->instructions, "Use the tools.");
    /* relative paths: resolved against the file's directory, also inside root */
    char *dir = realpath(tmpdir, NULL);
    char *expect = NULL;
    assert_true(asprintf(&expect, "%s/prompts", dir) > 0);
    assert_string_equal(c->prompts_dir, expect);
    free(expect);
    assert_true(asprintf(&expect, "%s/cert.pem", dir) > 0);
    json_t *tls = json_object_get(json_object_get(json_object_get(json_object_get(c->root, "runtime"),
                                                                   "server"), "transport"), "tls");
    assert_string_equal(json_string_value(json_object_get(tls, "certfile")), expect);
    free(expect);
    assert_string_equal(c->base_dir, dir);
    free(dir);
    mb_config_destroy(c);
    mb_diags_dispose(&d);
    free(path);
}

static void test_errors_json(void **state)
{
    char *path = write_file("bad.json",
        "{\n"                                                  /* 1 */
        "  \"api\": {\"openapi\": {\"base_url\": \"ftp://x\"}},\n" /* 2 */
        "  \"runtime\": {\n"                                   /* 3 */
        "    \"server\": {\n"                                  /* 4 */
        "      \"transport\": {\n"                             /* 5 */
        "        \"type\": \"udp\",\n"                         /* 6 */
        "        \"port\": \"abc\",\n"                         /* 7 */
        "        \"path\": \"mcp\"\n"                          /* 8 */
        "      },\n"                                           /* 9 */
        "      \"workers\": 0\n"                               /* 10 */
        "    },\n"                                             /* 11 */
        "    \"max_request_bytes\": 10,\n"                     /* 12 */
        "    \"http\": {\"response_guard\": {\"mode\": \"shrink\"},\n" /* 13 */
        "             \"accept_encoding\": \"yes\"}\n"         /* 14 */
        "  },\n"                                               /* 15 */
        "  \"observability\": {\"logging\": {\"level\": \"LOUD\"}},\n" /* 16 */
        "  \"server\": []\n"                                   /* 17 */
        "}\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = (struct mb_config *)0x1;
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    assert_null(c);
    expect_diag(&d, "api.openapi.spec_file: required", 2);
    expect_diag(&d, "api.openapi.base_url: expected an http", 2);
    expect_diag(&d, "runtime.server.transport.type: unknown value \"udp\"", 6);
    expect_diag(&d, "runtime.server.transport.port: expected an integer from 0 to 65535", 7);
    expect_diag(&d, "runtime.server.transport.path: expected an absolute URL path", 8);
    expect_diag(&d, "runtime.server.workers: 0 is out of range", 10);
    expect_diag(&d, "runtime.max_request_bytes: 10 is out of range (256 to 104857600)", 12);
    expect_diag(&d, "runtime.http.response_guard.mode: unknown value \"shrink\"", 13);
    expect_diag(&d, "runtime.http.accept_encoding: expected true or false", 14);
    expect_diag(&d, "observability.logging.level: unknown level \"LOUD\"", 16);
    expect_diag(&d, "server: expected an object, got an array", 17);
    assert_int_equal(d.count, 11);
    for (size_t i = 0; i < d.count; i++)
        assert_string_equal(d.items[i].file, path);
    mb_diags_dispose(&d);
    free(path);
}

/* response_guard.tools: exact names win over patterns, patterns in file order, unset keys
 * inherit the group; bad entries are reported with their lines. */
static void test_guard_overrides(void **state)
{
    char *spec = write_file("g.yaml", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n");
    char *path = write_file("guard.yaml",
        "api:\n"                                              /* 1 */
        "  openapi:\n"                                        /* 2 */
        "    spec_file: g.yaml\n"                             /* 3 */
        "runtime:\n"                                          /* 4 */
        "  http:\n"                                           /* 5 */
        "    response_guard:\n"                               /* 6 */
        "      mode: block\n"                                 /* 7 */
        "      max_array_items: 20\n"                         /* 8 */
        "      max_depth: 32\n"                               /* 9 */
        "      pagination_signal: {window: 10, ratio: 0.3}\n" /* 10 */
        "      tools:\n"                                      /* 11 */
        "        'list_*': {max_array_items: 5}\n"            /* 12 */
        "        list_orders: {mode: trim}\n"                 /* 13 */
        "        '*': {max_response_bytes: 4096}\n");         /* 14 */
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    assert_int_equal(mb_config_load(path, &c, &d), 0);
    const struct mb_guard_policy *p = mb_config_guard_policy(c, "list_orders");
    assert_int_equal(p->mode, 0);                 /* its own entry: trim */
    assert_int_equal(p->max_array_items, 20);     /* inherited from the group, not from list_* */
    assert_int_equal(p->max_depth, 32);
    p = mb_config_guard_policy(c, "list_products");
    assert_int_equal(p->mode, 1);                 /* block, inherited */
    assert_int_equal(p->max_array_items, 5);      /* list_* comes before '*' */
    assert_int_equal(p->max_response_bytes, 1048576);
    p = mb_config_guard_policy(c, "get_order");
    assert_int_equal(p->max_response_bytes, 4096);
    assert_int_equal(c->guard_signal_window, 10);
    assert_true(c->guard_signal_ratio > 0.29 && c->guard_signal_ratio < 0.31);
    mb_config_destroy(c);
    free(path);

    path = write_file("guard_bad.yaml",
        "api:\n"                                              /* 1 */
        "  openapi:\n"                                        /* 2 */
        "    spec_file: g.yaml\n"                             /* 3 */
        "runtime:\n"                                          /* 4 */
        "  http:\n"                                           /* 5 */
        "    response_guard:\n"                               /* 6 */
        "      near_limit_ratio: 2\n"                         /* 7 */
        "      tools:\n"                                      /* 8 */
        "        a: {mode: shrink}\n"                         /* 9 */
        "        b: {max_items: 3}\n"                         /* 10 */
        "        c: 7\n"                                      /* 11 */
        "        d: {max_depth: 1000}\n");                    /* 12 */
    mb_diags_dispose(&d);
    mb_diags_init(&d);
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    expect_diag(&d, "near_limit_ratio: 2 is out of range", 7);
    expect_diag(&d, "tools.a.mode: unknown value \"shrink\"", 9);
    expect_diag(&d, "unknown key \"max_items\"", 10);
    expect_diag(&d, "tools.c: expected an object of guard settings", 11);
    expect_diag(&d, "tools.d.max_depth: 1000 is out of range", 12);
    mb_diags_dispose(&d);
    free(path);
    free(spec);
}

static void test_errors_yaml(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    char *path = write_file("bad.yaml",
        "api:\n"                                  /* 1 */
        "  openapi:\n"                            /* 2 */
        "    spec_file: missing.yaml\n"           /* 3 */
        "runtime:\n"                              /* 4 */
        "  server:\n"                             /* 5 */
        "    transport:\n"                        /* 6 */
        "      type: sse\n"                       /* 7 */
        "      port: 70000\n"                     /* 8 */
        "      allowed_origins: https://x\n"      /* 9 */
        "    session:\n"                          /* 10 */
        "      secret: short\n"                   /* 11 */
        "  http:\n"                               /* 12 */
        "    default_headers:\n"                  /* 13 */
        "      X-Bad: \"a\\r\\nInjected: 1\"\n"   /* 14 */
        "      X-Num: 5\n"                        /* 15 */
        "    limits:\n"                           /* 16 */
        "      max_connections: 1.5\n"            /* 17 */
        "observability:\n"                        /* 18 */
        "  logging:\n"                            /* 19 */
        "    loggers:\n"                          /* 20 */
        "      audit: LOUD\n");                   /* 21 */
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    assert_null(c);
    expect_diag(&d, "api.openapi.spec_file: cannot access", 3);
    expect_diag(&d, "runtime.server.transport.type: the sse transport is not implemented", 7);
    expect_diag(&d, "runtime.server.transport.port: 70000 is out of range", 8);
    expect_diag(&d, "runtime.server.transport.allowed_origins: expected an array of strings", 9);
    expect_diag(&d, "runtime.server.session.secret: too short", 11);
    expect_diag(&d, "runtime.http.default_headers.X-Bad: header values may not contain line breaks", 14);
    expect_diag(&d, "runtime.http.default_headers.X-Num: expected a string", 15);
    expect_diag(&d, "runtime.http.limits.max_connections: expected an integer", 17);
    expect_diag(&d, "observability.logging.loggers.audit: expected a level name", 21);
    assert_int_equal(d.count, 9);
    mb_diags_dispose(&d);
    free(path);
    /* a broken document: the parser's diagnostic, with its line */
    path = write_file("broken.yaml", "api:\n  openapi: {spec_file: spec.yaml\nruntime: 1\n");
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    assert_int_equal(d.count, 1);
    assert_true(d.items[0].line >= 2);
    mb_diags_dispose(&d);
    free(path);
    /* a root that is not a mapping */
    path = write_file("list.yaml", "- a\n- b\n");
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].message, "must be an object"));
    mb_diags_dispose(&d);
    free(path);
}

static void test_warnings(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    char *path = write_file("warn.yaml",
        "api:\n"
        "  openapi: {spec_file: spec.yaml}\n"
        "runtime:\n"
        "  max_request_bytes: 200000\n"
        "  server:\n"
        "    transport: {host: 0.0.0.0, prot: 1}\n"
        "_comment: ignored\n"
        "runtme: {}\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    int rc;
    char *err = capture_stderr(mb_config_load, path, &c, &d, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(d.count, 0);
    assert_non_null(c);
    char *expect = NULL;
    assert_true(asprintf(&expect, "%s:6: runtime.server.transport.prot: unknown key \"prot\"", path) > 0);
    if (!strstr(err, expect))
        fail_msg("stderr lacks '%s':\n%s", expect, err);
    free(expect);
    assert_non_null(strstr(err, ":8: runtme: unknown key \"runtme\" in the top level"));
    assert_non_null(strstr(err, ":4: runtime.max_request_bytes: 200000 bytes is above the 100 KB"));
    assert_non_null(strstr(err, ":6: runtime.server.transport.host: binding to \"0.0.0.0\""));
    assert_non_null(strstr(err, "http.config"));
    assert_null(strstr(err, "_comment"));
    assert_string_equal(c->host, "0.0.0.0");
    assert_int_equal(c->max_request_bytes, 200000);
    free(err);
    mb_config_destroy(c);
    mb_diags_dispose(&d);
    free(path);
}

static void test_env_substitution(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    setenv("MB_TEST_SECRET", "s3cr3t-s3cr3t-s3cr3t", 1);
    setenv("MB_TEST_PORT", "9100", 1);
    setenv("MB_TEST_EMPTY", "", 1);
    unsetenv("MB_TEST_UNSET");
    char *path = write_file("env.json",
        "{\"api\": {\"openapi\": {\"spec_file\": \"spec.yaml\",\n"
        "   \"base_url\": \"${MB_TEST_UNSET:-http://127.0.0.1:1}/api\"}},\n"
        " \"runtime\": {\"server\": {\"transport\": {\"port\": \"${MB_TEST_PORT}\"},\n"
        "   \"session\": {\"secret\": \"${MB_TEST_SECRET}\", \"enabled\": \"${MB_TEST_UNSET:-false}\"}},\n"
        "   \"http\": {\"default_headers\": {\"X-Lit\": \"a$${b}c$d\", \"X-E\": \"${MB_TEST_EMPTY:-dflt}\"}}}}\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    if (mb_config_load(path, &c, &d) != 0)
        fail_msg("%s", mb_diags_join(&d));
    assert_string_equal(c->base_url, "http://127.0.0.1:1/api");
    assert_int_equal(c->port, 9100);
    assert_string_equal(c->session_secret, "s3cr3t-s3cr3t-s3cr3t");
    assert_false(c->sessions_enabled);
    assert_string_equal(json_string_value(json_object_get(c->default_headers, "X-Lit")), "a${b}c$d");
    assert_string_equal(json_string_value(json_object_get(c->default_headers, "X-E")), "dflt");
    /* root holds substituted values; the doc keeps the text as written */
    json_t *orig = json_object_get(json_object_get(json_object_get(
        json_object_get(mb_doc_root(c->doc), "runtime"), "server"), "session"), "secret");
    assert_string_equal(json_string_value(orig), "${MB_TEST_SECRET}");
    mb_config_destroy(c);
    free(path);
    /* an unset variable without default, a malformed reference, and a literal number string */
    path = write_file("env_bad.json",
        "{\"api\": {\"openapi\": {\"spec_file\": \"spec.yaml\"}},\n"
        " \"runtime\": {\"server\": {\"session\": {\"secret\": \"${MB_TEST_UNSET}\"},\n"
        "   \"transport\": {\"host\": \"${not valid}\",\n"
        "     \"port\": \"9100\"}}}}\n");
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    expect_diag(&d, "runtime.server.session.secret: environment variable MB_TEST_UNSET is not set", 2);
    expect_diag(&d, "runtime.server.transport.host: malformed reference", 3);
    expect_diag(&d, "runtime.server.transport.port: expected an integer", 4);
    assert_int_equal(d.count, 3);
    mb_diags_dispose(&d);
    free(path);
    unsetenv("MB_TEST_SECRET");
    unsetenv("MB_TEST_PORT");
    unsetenv("MB_TEST_EMPTY");
}

static void test_workers(void **state)
{
    char err[256];
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    struct mb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    unsetenv("MCPBRIDGE_WORKERS");
    unsetenv("UVICORN_WORKERS");
    assert_int_equal(mb_config_resolve_workers(&cfg, NULL, err, sizeof err), 1);
    assert_int_equal(mb_config_resolve_workers(NULL, NULL, err, sizeof err), 1);
    cfg.workers = 3;
    assert_int_equal(mb_config_resolve_workers(&cfg, NULL, err, sizeof err), 3);
    setenv("UVICORN_WORKERS", "5", 1);
    assert_int_equal(mb_config_resolve_workers(&cfg, NULL, err, sizeof err), 5);
    setenv("MCPBRIDGE_WORKERS", "io", 1);
    assert_int_equal(mb_config_resolve_workers(&cfg, NULL, err, sizeof err), 2);
    assert_int_equal(mb_config_resolve_workers(&cfg, "7", err, sizeof err), 7);
    assert_int_equal(mb_config_resolve_workers(&cfg, "dev", err, sizeof err), 1);
    assert_int_equal(mb_config_resolve_workers(&cfg, "CPU", err, sizeof err), (int)nproc);
    assert_int_equal(mb_config_resolve_workers(&cfg, "ha", err, sizeof err),
                     (int)(2 * nproc > 1024 ? 1024 : 2 * nproc));
    /* errors name their source */
    assert_int_equal(mb_config_resolve_workers(&cfg, "0", err, sizeof err), -1);
    assert_non_null(strstr(err, "--workers='0': expected a positive integer or dev|io|cpu|ha"));
    assert_int_equal(mb_config_resolve_workers(&cfg, "2000", err, sizeof err), -1);
    assert_int_equal(mb_config_resolve_workers(&cfg, "3x", err, sizeof err), -1);
    setenv("MCPBRIDGE_WORKERS", "", 1); /* empty = unset */
    setenv("UVICORN_WORKERS", "abc", 1);
    assert_int_equal(mb_config_resolve_workers(&cfg, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "UVICORN_WORKERS='abc': expected a positive integer or dev|io|cpu|ha"));
    setenv("MCPBRIDGE_WORKERS", "-2", 1);
    assert_int_equal(mb_config_resolve_workers(&cfg, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "MCPBRIDGE_WORKERS='-2'"));
    unsetenv("MCPBRIDGE_WORKERS");
    unsetenv("UVICORN_WORKERS");
}

/* Loads path expecting success; fails with the diagnostics otherwise. */
static struct mb_config *load_ok(const char *path)
{
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    if (mb_config_load(path, &c, &d) != 0)
        fail_msg("%s", mb_diags_join(&d));
    mb_diags_dispose(&d);
    return c;
}

static void test_observability_defaults(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    char *path = write_file("obs_min.yaml", "api: {openapi: {spec_file: spec.yaml}}\n");
    struct mb_config *c = load_ok(path);
    const struct mb_observability_config *o = &c->observability;
    assert_true(o->metrics_enabled);
    assert_string_equal(o->metrics_path, "/metrics");
    assert_string_equal(o->admin_host, "127.0.0.1");
    assert_int_equal(o->admin_port, 0);
    assert_true(o->status_enabled);
    assert_string_equal(o->status_path, "/status");
    assert_null(o->admin_token_env);
    assert_false(o->admin_token_set);
    assert_string_equal(o->admin_scope, "mcpbridge:admin");
    assert_true(o->admin_allow_loopback);
    assert_true(o->cpu_threshold == 0.70);
    assert_int_equal(o->sustain_seconds, 300);
    assert_true(o->memory_pressure_pct == 10.0);
    assert_true(o->network_ratio == 0.8);
    assert_int_equal(o->link_speed_mbps, 0);
    assert_true(o->connections_ratio == 0.8);
    assert_int_equal(o->sample_interval_ms, 1000);
    mb_config_destroy(c);
    free(path);
}

static void test_observability_values(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    static const char token[] = "an-admin-token-of-some-length-0123456789";
    setenv("MB_TEST_ADMIN_TOKEN", token, 1);
    char *path = write_file("obs_full.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"
        "runtime: {server: {transport: {port: 8600, path: /rpc}}}\n"
        "observability:\n"
        "  metrics: {enabled: false, path: /ops/metrics, host: 0.0.0.0, port: 9464}\n"
        "  status_page: {enabled: true, path: /ops/status}\n"
        "  admin: {token_env: MB_TEST_ADMIN_TOKEN, scope: ops:read, allow_loopback: false}\n"
        "  capacity: {cpu_threshold: 0.5, sustain_seconds: 60, memory_pressure_pct: 25, network_ratio: 1,\n"
        "             link_speed_mbps: 10000, connections_ratio: 0.25, sample_interval_ms: 250}\n");
    struct mb_config *c = load_ok(path);
    unsetenv("MB_TEST_ADMIN_TOKEN");
    const struct mb_observability_config *o = &c->observability;
    assert_false(o->metrics_enabled);
    assert_string_equal(o->metrics_path, "/ops/metrics");
    assert_string_equal(o->admin_host, "0.0.0.0");
    assert_int_equal(o->admin_port, 9464);
    assert_true(o->status_enabled);
    assert_string_equal(o->status_path, "/ops/status");
    assert_string_equal(o->admin_token_env, "MB_TEST_ADMIN_TOKEN");
    assert_true(o->admin_token_set);
    uint8_t digest[MB_HMAC_SHA256_LEN];
    assert_int_equal(mb_sha256(token, strlen(token), digest), 0);
    assert_memory_equal(o->admin_token_sha256, digest, sizeof digest);
    assert_string_equal(o->admin_scope, "ops:read");
    assert_false(o->admin_allow_loopback);
    assert_true(o->cpu_threshold == 0.5);
    assert_int_equal(o->sustain_seconds, 60);
    assert_true(o->memory_pressure_pct == 25.0);
    assert_true(o->network_ratio == 1.0);
    assert_int_equal(o->link_speed_mbps, 10000);
    assert_true(o->connections_ratio == 0.25);
    assert_int_equal(o->sample_interval_ms, 250);
    /* the token is nowhere in the loaded tree: only the variable's name */
    char *dump = json_dumps(c->root, 0);
    assert_null(strstr(dump, token));
    assert_non_null(strstr(dump, "MB_TEST_ADMIN_TOKEN"));
    free(dump);
    mb_config_destroy(c);
    free(path);
}

static void test_observability_errors(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    unsetenv("MB_TEST_UNSET_TOKEN");
    setenv("MB_TEST_EMPTY_TOKEN", "", 1);
    char *path = write_file("obs_bad.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"          /* 1 */
        "runtime:\n"                                        /* 2 */
        "  server: {transport: {port: 8600, path: /mcp}}\n" /* 3 */
        "observability:\n"                                  /* 4 */
        "  metrics:\n"                                      /* 5 */
        "    path: metrics\n"                               /* 6 */
        "    host: \"\"\n"                                  /* 7 */
        "    port: 8600\n"                                  /* 8 */
        "    prot: 9\n"                                     /* 9 */
        "  status_page:\n"                                  /* 10 */
        "    path: /healthz\n"                              /* 11 */
        "    enabled: yes\n"                                /* 12 */
        "  admin:\n"                                        /* 13 */
        "    token_env: MB_TEST_UNSET_TOKEN\n"              /* 14 */
        "    scope: \"two words\"\n"                        /* 15 */
        "    allow_loopback: 1\n"                           /* 16 */
        "  capacity:\n"                                     /* 17 */
        "    cpu_threshold: 0\n"                            /* 18 */
        "    sustain_seconds: 0\n"                          /* 19 */
        "    memory_pressure_pct: 101\n"                    /* 20 */
        "    network_ratio: 1.5\n"                          /* 21 */
        "    link_speed_mbps: -1\n"                         /* 22 */
        "    connections_ratio: \"0.5\"\n"                  /* 23 */
        "    sample_interval_ms: 50\n");                    /* 24 */
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    assert_null(c);
    expect_diag(&d, "observability.metrics.path: expected an absolute URL path", 6);
    expect_diag(&d, "observability.metrics.host: the host is empty", 7);
    expect_diag(&d, "observability.metrics.port: 8600 is the MCP listener's port", 8);
    expect_diag(&d, "observability.metrics: unknown key \"prot\"", 5);
    expect_diag(&d, "observability.status_page.path: \"/healthz\" is a health endpoint's path", 11);
    expect_diag(&d, "observability.status_page.enabled: expected true or false", 12);
    expect_diag(&d, "observability.admin.token_env: the environment variable MB_TEST_UNSET_TOKEN is not set", 14);
    expect_diag(&d, "observability.admin.scope: \"two words\" is not a valid scope", 15);
    expect_diag(&d, "observability.admin.allow_loopback: expected true or false", 16);
    expect_diag(&d, "observability.capacity.cpu_threshold: 0 is out of range (above 0, at most 1)", 18);
    expect_diag(&d, "observability.capacity.sustain_seconds: 0 is out of range", 19);
    expect_diag(&d, "observability.capacity.memory_pressure_pct: 101 is out of range (above 0, at most 100)", 20);
    expect_diag(&d, "observability.capacity.network_ratio: 1.5 is out of range", 21);
    expect_diag(&d, "observability.capacity.link_speed_mbps: -1 is out of range", 22);
    expect_diag(&d, "observability.capacity.connections_ratio: expected a number above 0", 23);
    expect_diag(&d, "observability.capacity.sample_interval_ms: 50 is out of range", 24);
    assert_int_equal(d.count, 16);
    mb_diags_dispose(&d);
    free(path);

    /* collisions with the MCP path, each other and the metadata; a bad or empty token_env */
    path = write_file("obs_bad2.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"                          /* 1 */
        "runtime: {server: {transport: {path: /rpc}}}\n"                    /* 2 */
        "observability:\n"                                                  /* 3 */
        "  metrics: {path: /rpc, port: 70000}\n"                            /* 4 */
        "  status_page: {path: /.well-known/status}\n"                      /* 5 */
        "  admin: {token_env: \"${MB_TEST_EMPTY_TOKEN:-not a name}\"}\n"    /* 6 */
        "  capacity: []\n"                                                  /* 7 */
        "  tracing: {}\n");                                                 /* 8 */
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    expect_diag(&d, "observability.metrics.path: \"/rpc\" is the MCP endpoint's path", 4);
    expect_diag(&d, "observability.metrics.port: 70000 is out of range (0 to 65535)", 4);
    expect_diag(&d, "observability.status_page.path: paths under /.well-known/ are reserved", 5);
    expect_diag(&d, "observability.admin.token_env: \"not a name\" is not an environment variable name", 6);
    expect_diag(&d, "observability.capacity: expected an object, got an array", 7);
    assert_int_equal(d.count, 5);
    mb_diags_dispose(&d);
    free(path);

    path = write_file("obs_bad3.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"
        "observability:\n"
        "  metrics: {path: /ops}\n"
        "  status_page: {path: /ops}\n"
        "  admin: {token_env: MB_TEST_EMPTY_TOKEN}\n");
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    expect_diag(&d, "observability.status_page.path: \"/ops\" is also observability.metrics.path", 4);
    expect_diag(&d, "observability.admin.token_env: the environment variable MB_TEST_EMPTY_TOKEN is empty", 5);
    assert_int_equal(d.count, 2);
    mb_diags_dispose(&d);
    free(path);
    unsetenv("MB_TEST_EMPTY_TOKEN");

    /* a disabled route's path may equal the other's */
    path = write_file("obs_ok.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"
        "observability: {metrics: {path: /ops, enabled: false}, status_page: {path: /ops}}\n");
    c = load_ok(path);
    assert_false(c->observability.metrics_enabled);
    mb_config_destroy(c);
    free(path);
}

static void test_observability_warnings(void **state)
{
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    setenv("MB_TEST_SHORT_TOKEN", "short", 1);
    char *path = write_file("obs_warn.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"
        "observability:\n"
        "  metric: {}\n"
        "  admin: {allow_loopback: false}\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    int rc;
    char *err = capture_stderr(mb_config_load, path, &c, &d, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(err, ":3: observability.metric: unknown key \"metric\" in observability"));
    assert_non_null(strstr(err, ":4: observability.admin.allow_loopback: false, and neither "
                                "observability.admin.token_env nor security.authentication is configured"));
    free(err);
    mb_config_destroy(c);
    free(path);
    /* a short token works, with a warning that never shows the token */
    path = write_file("obs_warn2.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"
        "observability:\n"
        "  admin: {token_env: MB_TEST_SHORT_TOKEN}\n");
    err = capture_stderr(mb_config_load, path, &c, &d, &rc);
    assert_int_equal(rc, 0);
    assert_true(c->observability.admin_token_set);
    assert_non_null(strstr(err, ":3: observability.admin.token_env: the token in MB_TEST_SHORT_TOKEN has 5 "
                                "characters"));
    assert_null(strstr(err, "short\n"));
    assert_null(strstr(err, "\"short\""));
    free(err);
    mb_config_destroy(c);
    mb_diags_dispose(&d);
    free(path);
    unsetenv("MB_TEST_SHORT_TOKEN");
}

/* runtime.server.drain_delay_ms must end before the grace period (both count from the signal). */
static void test_drain_delay_within_grace(void **state)
{
    (void)state;
    free(write_file("spec.yaml", "openapi: 3.0.0\n"));
    char *path = write_file("drain_bad.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"                                   /* 1 */
        "runtime:\n"                                                                  /* 2 */
        "  server: {shutdown_grace_seconds: 10, drain_delay_ms: 10000}\n");          /* 3 */
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    assert_int_equal(mb_config_load(path, &c, &d), -1);
    expect_diag(&d, "runtime.server.drain_delay_ms: 10000 ms is not shorter than shutdown_grace_seconds (10 s)", 3);
    mb_diags_dispose(&d);
    free(path);
    path = write_file("drain_ok.yaml",
        "api: {openapi: {spec_file: spec.yaml}}\n"
        "runtime:\n"
        "  server: {shutdown_grace_seconds: 10, drain_delay_ms: 9000}\n");
    mb_diags_init(&d);
    assert_int_equal(mb_config_load(path, &c, &d), 0);
    assert_int_equal(c->drain_delay_ms, 9000);
    assert_int_equal(c->shutdown_grace_ms, 10000);
    mb_config_destroy(c);
    mb_diags_dispose(&d);
    free(path);
}

static void test_embedded_default(void **state)
{
    char root[4096];
    const char *src = getenv("MB_SOURCE_DIR");
    if (src) {
        snprintf(root, sizeof root, "%s", src);
    } else { /* .../tests/unit/config/test_config.c */
        snprintf(root, sizeof root, "%s", __FILE__);
        for (int i = 0; i < 4; i++) {
            char *slash = strrchr(root, '/');
            assert_non_null(slash);
            *slash = '\0';
        }
    }
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_config *c = NULL;
    if (mb_config_load_text("<embedded default>", mb_default_config_text, root, &c, &d) != 0)
        fail_msg("%s", mb_diags_join(&d));
    char *real = realpath(root, NULL);
    char *expect = NULL;
    assert_true(asprintf(&expect, "%s/demo/openapi.yaml", real) > 0);
    assert_string_equal(c->spec_file, expect);
    free(expect);
    free(real);
    assert_string_equal(c->source, "<embedded default>");
    assert_string_equal(c->base_url, "http://127.0.0.1:8501");
    assert_int_equal(c->port, 8500);
    assert_string_equal(c->host, "127.0.0.1");
    assert_string_equal(c->path, "/mcp");
    assert_string_equal(c->guard_mode, "trim");
    assert_non_null(strstr(c->prompts_dir, "/demo/prompts"));
    assert_non_null(strstr(c->resources_dir, "/demo/resources"));
    mb_config_destroy(c);
    /* the same text with a base directory lacking demo/ fails on spec_file, with a line */
    assert_int_equal(mb_config_load_text(NULL, mb_default_config_text, tmpdir, &c, &d), -1);
    expect_diag(&d, "api.openapi.spec_file: cannot access", 4);
    assert_string_equal(d.items[0].file, "<embedded default>");
    mb_diags_dispose(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_values),
        cmocka_unit_test(test_errors_json),
        cmocka_unit_test(test_guard_overrides),
        cmocka_unit_test(test_errors_yaml),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_embedded_default),
        cmocka_unit_test(test_observability_defaults),
        cmocka_unit_test(test_observability_values),
        cmocka_unit_test(test_observability_errors),
        cmocka_unit_test(test_observability_warnings),
        cmocka_unit_test(test_drain_delay_within_grace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
