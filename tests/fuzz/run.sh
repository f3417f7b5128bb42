#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR for SECONDS each (a smoke run inside
# `make test`; run longer by hand: tests/fuzz/run.sh build-fuzz 600). Fails on any crash,
# leak or sanitizer report. Corpora start from tests/fuzz/corpus/<target>/ when present.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [SECONDS]}
seconds=${2:-15}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/mbfuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
count=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  mkdir -p "$work/$name"
  seeds=()
  [ -d "$here/corpus/$name" ] && seeds+=("$here/corpus/$name")
  echo "fuzz: $name for ${seconds}s"
  mkdir -p "$build/fuzz-artifacts"
  if ! "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$build/fuzz-artifacts/$name-" \
       -print_final_stats=0 "$work/$name" "${seeds[@]}" >"$work/$name.log" 2>&1; then
    echo "fuzz: $name FAILED (reproducer in $build/fuzz-artifacts/)"; tail -40 "$work/$name.log"; status=1
  else
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work/$name.log" | tail -1 || true
  fi
  count=$((count + 1))
done
[ $count -gt 0 ] || { echo "fuzz: no fuzz targets in $build"; exit 1; }
echo "fuzz: $count targets, $([ $status -eq 0 ] && echo "0 failed" || echo "failures above")"
exit $status
