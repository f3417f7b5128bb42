/* The command-line errors every management subcommand reports the same way: a missing option
 * value, an unknown option, an unexpected argument and the command's own usage errors. Each is
 * one line on stderr, "mcpbridge NAME: what is wrong", followed either by the command's usage
 * or by a pointer to its --help, and exit status 2 (see commands.h). */
#ifndef MB_CLI_CLI_ARGS_H
#define MB_CLI_CLI_ARGS_H

#include <stdio.h>

/* The exit status of a bad command line, for every subcommand. */
#define MB_CLI_EXIT_USAGE 2

/* How a subcommand explains a bad command line. */
struct mb_cli_command {
    const char *name;         /* as typed after "mcpbridge": "init", "sa-token" */
    void (*usage)(FILE *out); /* printed on stderr after the error line; NULL: the line ends
                               * with " (see 'mcpbridge NAME --help')" instead */
};

/* Prints "mcpbridge NAME: " and the formatted message on stderr, then the usage or the --help
 * pointer. Returns MB_CLI_EXIT_USAGE, for `return mb_cli_usage_error(...)`. */
int mb_cli_usage_error(const struct mb_cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports what getopt_long (with an optstring starting with ':', opterr = 0) returned for an
 * option it could not take: ':' is "OPTION needs a value", anything else "unknown option
 * 'OPTION'", OPTION being argv[optind - 1]. Returns MB_CLI_EXIT_USAGE. */
int mb_cli_option_error(const struct mb_cli_command *cmd, int getopt_result, char **argv);

/* Reports "unexpected argument 'ARG'" for an argument left after the options (argv[optind]
 * when optind < argc). Returns MB_CLI_EXIT_USAGE. */
int mb_cli_unexpected_argument(const struct mb_cli_command *cmd, const char *arg);

#endif
