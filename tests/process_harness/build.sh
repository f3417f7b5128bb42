#!/bin/sh
# Builds the stub harness (master.c + stub runtime/worker) into $1 (default /tmp/mbstub).
set -e
out=${1:-/tmp/mbstub}
src=$(cd "$(dirname "$0")/../.." && pwd)
cc -std=gnu17 -g -O1 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
   -Wno-unused-parameter -D_GNU_SOURCE -I"$src/src" \
   "$src/tests/process_harness/main.c" "$src/tests/process_harness/stub.c" \
   "$src/src/process/master.c" "$src/src/common/log.c" "$src/src/common/diag.c" \
   "$src/src/common/buf.c" \
   $(pkg-config --cflags --libs libuv jansson) -o "$out"
