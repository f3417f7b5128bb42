# Shared helpers for tests/integration/test_*.sh (source it). Every server a test starts is
# on 127.0.0.1, on a free port, with its own temp directory, and is stopped by the EXIT trap.
set -euo pipefail
: "${MCPBRIDGE:?MCPBRIDGE must point at the built binary}"
: "${MB_SOURCE_DIR:?}"
MB_TMP=$(mktemp -d /tmp/mbtest.XXXXXX)
MB_PIDS=()
mb_cleanup() {
  for p in "${MB_PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${MB_PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$MB_TMP"
}
trap mb_cleanup EXIT

# free_port: prints a TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# wait_http URL [seconds]: waits until URL answers with any HTTP status.
wait_http() {
  local url=$1 t=${2:-10} i=0
  while [ $i -lt $((t * 20)) ]; do
    curl -s -o /dev/null "$url" && return 0
    sleep 0.05; i=$((i + 1))
  done
  echo "timed out waiting for $url" >&2; return 1
}
# fail MESSAGE: prints and exits 1.
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_eq ACTUAL EXPECTED WHAT
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
