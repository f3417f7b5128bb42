#!/usr/bin/env bash
# OpenAPI load benchmark (issue "OpenAPI converter"): how long the converter takes on GitHub's
# public REST description (npm @octokit/openapi, generated/api.github.com.json: about 13 MB,
# about 1000 operations) with every method enabled:
#   mcpbridge tools --spec api.github.com.json --json --all-methods > /dev/null
# run RUNS times (default 5); reports the median wall time and the peak RSS, and writes
# bench/results/latest-openapi-load.json. The spec package is installed on demand (npm, pinned
# version) into .deps/octokit-openapi/, so `make test` never downloads it.
#   bench/openapi_load.sh [--runs N]     env: MCPBRIDGE (binary), OCTOKIT_OPENAPI_VERSION
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${MCPBRIDGE:-$root/build/mcpbridge}
runs=${RUNS:-5}
[ "${1:-}" = "--runs" ] && runs=$2
version=${OCTOKIT_OPENAPI_VERSION:-23.0.2}
[ -x "$bin" ] || { echo "openapi_load: $bin not built (make)"; exit 1; }

dir="$root/.deps/octokit-openapi"
pkg="$dir/node_modules/@octokit/openapi"
spec="$pkg/generated/api.github.com.json"
have=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg/package.json" 2>/dev/null || true)
if [ ! -s "$spec" ] || [ "$have" != "$version" ]; then
  echo "openapi_load: installing @octokit/openapi@$version into $dir"
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"mcpbridge-bench-octokit-openapi","private":true}' > "$dir/package.json"
  (cd "$dir" && PATH="$root/.deps/bin:$PATH" npm install --no-audit --no-fund --silent --no-save \
     "@octokit/openapi@$version" >/dev/null 2> >(grep -v 'Unknown user config "nodedir"' >&2))
fi
[ -s "$spec" ] || { echo "openapi_load: $spec missing after install"; exit 1; }
mkdir -p "$root/bench/results"
python3 "$here/openapi_load.py" "$bin" "$spec" "$runs" "$version" "$root/bench/results/latest-openapi-load.json"
