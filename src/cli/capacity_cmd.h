/* `mcpbridge capacity`: asks a running server for its capacity report (the "capacity" object of
 * GET /readyz, observability/capacity.h) and prints it for a person (verdict, reasons, the
 * worker-count recommendation, per-worker figures, pressure and network) or, with --json, as
 * the object itself. The exit code carries the verdict so scripts can act on it. */
#ifndef MB_CLI_CAPACITY_CMD_H
#define MB_CLI_CAPACITY_CMD_H

#include <stdio.h>

/* Exit codes of `mcpbridge capacity` (docs/internals/capacity.md). */
#define MB_CAPACITY_EXIT_OK           0 /* verdict ok or warming_up */
#define MB_CAPACITY_EXIT_ERROR        1 /* unreachable, not mcpbridge, refused, bad answer */
#define MB_CAPACITY_EXIT_USAGE        2 /* bad command line */
#define MB_CAPACITY_EXIT_TUNE_WORKERS 3 /* verdict tune_workers */
#define MB_CAPACITY_EXIT_SCALE_OUT    4 /* verdict scale_out */

/* Prints the usage of `mcpbridge capacity` to out. */
void mb_cli_capacity_usage(FILE *out);

/* Runs the subcommand. argv[0] is "capacity", the options follow:
 *   --url URL (required; the server's base URL, a trailing slash is fine), --json,
 *   --token TOKEN (sent as "Authorization: Bearer TOKEN"), --help.
 * Initializes and cleans up libcurl itself (blocking transfer, 5 s timeouts). Prints the report
 * on stdout and errors on stderr (never the token). Returns one of MB_CAPACITY_EXIT_*. */
int mb_cli_capacity(int argc, char **argv);

#endif
