# Shell helpers to run a throw-away nginx on 127.0.0.1 (source this file).
# The config is a template with @PORT@, @ROOT@ and @TMP@ placeholders (see
# demo/nginx.conf.template, tests/conformance/fixture/nginx.conf.template). nginx runs in the
# foreground as one process (daemon off, master_process off) with every path it writes in
# the temp dir, so it needs no privileges and dies with a plain kill of its pid.

# mb_free_port: prints a TCP port nobody listens on right now on 127.0.0.1.
mb_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# mb_port_free PORT: succeeds when nothing listens on 127.0.0.1:PORT.
mb_port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

# mb_wait_http URL [seconds]: waits until URL answers with any HTTP status.
mb_wait_http() {
  local url=$1 t=${2:-10} i=0
  while [ $i -lt $((t * 20)) ]; do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.05; i=$((i + 1))
  done
  echo "timed out waiting for $url" >&2; return 1
}

# mb_nginx_start TEMPLATE ROOT PORT TMPDIR: starts nginx in the background, waits until it
# answers, and sets MB_NGINX_PID. Its error log is TMPDIR/nginx-error.log.
mb_nginx_start() {
  local template=$1 root=$2 port=$3 tmp=$4
  mkdir -p "$tmp"
  sed -e "s|@PORT@|$port|g" -e "s|@ROOT@|$root|g" -e "s|@TMP@|$tmp|g" "$template" > "$tmp/nginx.conf"
  nginx -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" -t -q || { cat "$tmp/nginx-error.log" >&2; return 1; }
  nginx -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" &
  MB_NGINX_PID=$!
  if ! mb_wait_http "http://127.0.0.1:$port/" 10; then
    cat "$tmp/nginx-error.log" >&2
    return 1
  fi
}
