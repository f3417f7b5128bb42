/* A tiny `serve` for the stub harness: stub <config> <port> [workers]. */
#include <stdlib.h>

#include "process/master.h"

int main(int argc, char **argv)
{
    struct mb_serve_options o = { argc > 1 ? argv[1] : NULL, argc > 2 ? atoi(argv[2]) : -1,
                                  argc > 3 ? argv[3] : NULL };
    return mb_master_run(&o);
}
