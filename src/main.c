/* mcpbridge command line: parses the arguments and dispatches to a subcommand. Nothing else
 * lives here.
 *   serve  --config FILE [--port N] [--workers N|dev|io|cpu|ha]   master + workers
 *   stdio  --config FILE                                          one client on stdin/stdout
 *   check  --config FILE                                          validate config, spec, prompts
 *   tools  --spec FILE [--json] [--all-methods] [--base-url URL]  print the generated tools
 *   capacity --url URL [--json] [--token TOKEN]                   a running server's capacity report
 *   init | client | sa-token | doctor | openapi-gen | export        management (src/cli/, docs/cli.md) */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/capacity_cmd.h"
#include "cli/commands.h"
#include "common/diag.h"
#include "common/log.h"
#include "mcp/mcp_server.h"
#include "mcp/stdio_transport.h"
#include "openapi/catalog.h"
#include "process/master.h"
#include "process/runtime.h"

static void usage(FILE *out)
{
    fprintf(out,
            "mcpbridge %s - OpenAPI REST services as MCP tools\n\n"
            "usage:\n"
            "  mcpbridge serve [--config FILE] [--port N] [--workers N|dev|io|cpu|ha]\n"
            "      Serve MCP over Streamable HTTP. Without --config: the bundled demo.\n"
            "      Workers: --workers, else $MCPBRIDGE_WORKERS, else $UVICORN_WORKERS, else 1.\n"
            "  mcpbridge stdio --config FILE\n"
            "      Serve one MCP client on stdin/stdout (logs on stderr).\n"
            "  mcpbridge check --config FILE\n"
            "      Validate the configuration, the OpenAPI spec, prompts and resources.\n"
            "  mcpbridge tools --spec FILE [--json] [--all-methods] [--base-url URL]\n"
            "      Print the tools generated from an OpenAPI spec.\n"
            "  mcpbridge capacity --url URL [--json] [--token TOKEN]\n"
            "      A running server's capacity verdict and recommended worker count (GET URL/readyz).\n"
            "      Exit status 0 ok, 3 tune workers, 4 scale out, 1 error.\n"
            "  mcpbridge init --spec FILE [--dir DIR] [--tls] [--mtls] [--port N] [--base-url URL] [--force] [--no-smoke]\n"
            "      Make a ready profile (config, keys, a token, dev certificates) and smoke-check it.\n"
            "  mcpbridge sa-token mint|list|rotate|remint-all --profile DIR [--name N] [--scopes a,b] [--lifetime 30d]\n"
            "      Service-account tokens of a profile: mint, list, rotate the key, re-mint all.\n"
            "  mcpbridge client --url URL (--list | --tool NAME [--args JSON|@FILE]) [--token T]\n"
            "                   [--header 'Name: value']... [--json] [--timeout SECONDS] [--verbose]\n"
            "      A small MCP client: list a server's tools or call one.\n"
            "      Exit status 0 ok, 1 the tool or server returned an error, 3 connection or HTTP failure.\n"
            "  mcpbridge doctor --config FILE [--json]\n"
            "      Check TLS files, the downstream, the identity provider, clock, open files, ports, Redis.\n"
            "  mcpbridge openapi-gen CATALOG.json [--out FILE] [--base-url URL] [--title T]\n"
            "      Convert an OpenEdge JSDO catalog to OpenAPI 3.0.3 (YAML when FILE ends in .yaml/.yml).\n"
            "  mcpbridge export --profile DIR --out DIR2 [--with-certs] [--with-secrets]\n"
            "      A production bundle: config with ${VAR} secrets, systemd unit, Kubernetes overlay, Dockerfile.\n"
            "  mcpbridge version | help\n",
            MB_VERSION);
}

struct cli {
    const char *config;
    const char *spec;
    const char *workers;
    const char *base_url;
    int port;
    int json;
    int all_methods;
};

/* Parses the options after the subcommand. Returns 0 or -1 after printing why. */
static int parse_options(int argc, char **argv, struct cli *cli)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"spec", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},   {"workers", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},         {"all-methods", no_argument, NULL, 'a'},
        {"base-url", required_argument, NULL, 'b'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(cli, 0, sizeof *cli);
    cli->port = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:s:p:w:jab:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': cli->config = optarg; break;
        case 's': cli->spec = optarg; break;
        case 'w': cli->workers = optarg; break;
        case 'b': cli->base_url = optarg; break;
        case 'j': cli->json = 1; break;
        case 'a': cli->all_methods = 1; break;
        case 'p': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 0 || v > 65535) {
                fprintf(stderr, "mcpbridge: --port '%s': expected a number from 0 to 65535\n", optarg);
                return -1;
            }
            cli->port = (int)v;
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: fprintf(stderr, "mcpbridge: see 'mcpbridge help'\n"); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mcpbridge: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int cmd_check(const struct cli *cli)
{
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_runtime *rt = NULL;
    int rc = 1;
    if (mb_runtime_build(cli->config, cli->port, NULL, &rt, &diags) != 0) {
        mb_diags_print(&diags, stdout);
        goto done;
    }
    printf("configuration OK\n");
    printf("  %zu tools from %s, %zu prompts, %zu resources; MCP endpoint http://%s:%d%s\n",
           rt->catalog->tool_count, rt->config->spec_file, mb_prompts_count(rt->prompts),
           mb_resources_count(rt->resources), rt->config->host, mb_runtime_port(rt), rt->config->path);
    rc = 0;
done:
    mb_runtime_destroy(rt);
    mb_diags_dispose(&diags);
    return rc;
}

static int cmd_stdio(const struct cli *cli)
{
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_runtime *rt = NULL;
    int rc = 1;
    if (mb_runtime_build(cli->config, -1, NULL, &rt, &diags) != 0) {
        mb_diags_print(&diags, stderr);
        goto done;
    }
    mb_runtime_apply_logging(rt);
    rc = mb_stdio_serve(rt);
done:
    mb_runtime_destroy(rt);
    mb_diags_dispose(&diags);
    return rc;
}

static int cmd_tools(const struct cli *cli)
{
    if (!cli->spec) {
        fprintf(stderr, "mcpbridge tools: --spec FILE is required\n");
        return 2;
    }
    struct mb_diags diags;
    mb_diags_init(&diags);
    int rc = 1;
    struct mb_catalog *cat = mb_catalog_create_from_spec(cli->spec, cli->base_url, NULL,
                                                         cli->all_methods != 0, 100, &diags);
    if (!cat) {
        mb_diags_print(&diags, stderr);
        goto done;
    }
    rc = mb_catalog_write_tools(cat, stdout, cli->json != 0) == 0 ? 0 : 1;
    mb_catalog_destroy(cat);
done:
    mb_diags_dispose(&diags);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("mcpbridge %s\n", MB_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } management[] = {
        { "capacity", mb_cli_capacity },       { "init", mb_cli_init },
        { "client", mb_cli_client },           { "sa-token", mb_cli_sa_token },
        { "doctor", mb_cli_doctor },           { "openapi-gen", mb_cli_openapi_gen },
        { "export", mb_cli_export },
    };
    for (size_t i = 0; i < sizeof management / sizeof management[0]; i++)
        if (strcmp(command, management[i].name) == 0)
            return management[i].run(argc - 1, argv + 1);
    struct cli cli;
    if (parse_options(argc - 1, argv + 1, &cli) != 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "mcpbridge: libcurl failed to initialize\n");
        return 1;
    }
    int rc;
    if (strcmp(command, "serve") == 0) {
        struct mb_serve_options opts = {cli.config, cli.port, cli.workers};
        rc = mb_master_run(&opts);
    } else if (strcmp(command, "stdio") == 0) {
        rc = cmd_stdio(&cli);
    } else if (strcmp(command, "check") == 0) {
        rc = cmd_check(&cli);
    } else if (strcmp(command, "tools") == 0) {
        rc = cmd_tools(&cli);
    } else {
        fprintf(stderr, "mcpbridge: unknown command '%s'\n\n", command);
        usage(stderr);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
