/* PLACEHOLDER: replaced by the implementation of this subcommand (src/cli/commands.h). */
#include <stdio.h>

#include "cli/commands.h"

int mb_cli_client(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "mcpbridge %s: not built yet\n", argv[0]);
    return 2;
}
