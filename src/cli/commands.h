/* The management subcommands of mcpbridge (issue "Management CLI"), one file each under
 * src/cli/. Each takes argv with argv[0] = the subcommand name, prints its own --help, writes
 * results on stdout and errors (saying what to do next) on stderr, and returns the process exit
 * code: 0 success, 1 failure, 2 bad command line, unless its header says more. */
#ifndef MB_CLI_COMMANDS_H
#define MB_CLI_COMMANDS_H

int mb_cli_init(int argc, char **argv);        /* init_cmd.c: a ready profile + smoke check */
int mb_cli_client(int argc, char **argv);      /* client_cmd.c: a small MCP client */
int mb_cli_sa_token(int argc, char **argv);    /* sa_token_cmd.c: service-account tokens */
int mb_cli_doctor(int argc, char **argv);      /* doctor_cmd.c: environment diagnostics */
int mb_cli_openapi_gen(int argc, char **argv); /* openapi_gen_cmd.c: JSDO catalog -> OpenAPI 3.0 */
int mb_cli_export(int argc, char **argv);      /* export_cmd.c: production bundle */

#endif
