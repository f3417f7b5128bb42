/* Command-line error reporting shared by the subcommands (contract in cli_args.h). */
#include "cli/cli_args.h"

#include <getopt.h>
#include <stdarg.h>

int mb_cli_usage_error(const struct mb_cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mcpbridge %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd->usage) {
        fputc('\n', stderr);
        cmd->usage(stderr);
    } else {
        fprintf(stderr, " (see 'mcpbridge %s --help')\n", cmd->name);
    }
    return MB_CLI_EXIT_USAGE;
}

int mb_cli_option_error(const struct mb_cli_command *cmd, int getopt_result, char **argv)
{
    if (getopt_result == ':')
        return mb_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
    return mb_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int mb_cli_unexpected_argument(const struct mb_cli_command *cmd, const char *arg)
{
    return mb_cli_usage_error(cmd, "unexpected argument '%s'", arg);
}
