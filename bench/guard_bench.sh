#!/usr/bin/env bash
# Builds bench/guard_bench.c at -O2 (RelWithDebInfo flags) against src/guard and src/common and
# runs it: trim-mode throughput on a generated 1 MiB JSON array vs jansson load+dump of the same
# document, medians of 21 repetitions. Usage: bench/guard_bench.sh [SIZE_BYTES] [REPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d /tmp/mbguardbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -std=gnu17 -O2 -g -DNDEBUG -D_GNU_SOURCE -Wall -Wextra -I"$root/src" \
  "$here/guard_bench.c" "$root"/src/guard/*.c "$root"/src/common/buf.c \
  $(pkg-config --cflags --libs jansson) -o "$work/guard_bench"
result=$("$work/guard_bench" "${1:-1048576}" "${2:-21}")
echo "$result"
mkdir -p "$here/results"
echo "$result" >"$here/results/latest-guard.json"
