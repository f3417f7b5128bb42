#!/usr/bin/env bash
# `mcpbridge doctor`: a good configuration (inbound TLS with a fresh certificate, a reachable
# downstream, a JWKS and a token endpoint, Redis when redis-server is installed) passes with
# exit 0 and lists every check; a broken one (the downstream closed, an expired certificate
# made with `openssl ca`, a key of another certificate, a JWKS URI that is no key set, Redis
# down, `ulimit -n 256`) exits 1 with the right findings and fixes; a downstream whose Date is
# 10 minutes ahead gives a clock-skew warning; ports in use by a running mcpbridge (warning)
# and by another program (error). Human checklist and --json.
source "$(dirname "$0")/lib.sh"
spec="$MB_SOURCE_DIR/demo/openapi.yaml"

# doctor ARGS...: runs `mcpbridge doctor`; stdout in $out, stderr in $err, exit code in $rc.
doctor() {
  set +e
  out=$("$MCPBRIDGE" doctor "$@" 2>"$MB_TMP/err"); rc=$?
  set -e
  err=$(cat "$MB_TMP/err")
}
# findings JSON: the findings as "check<TAB>status<TAB>detail<TAB>fix" lines in $MB_TMP/findings
# (one python3 start per report: they are slow under pyenv).
findings() {
  python3 -c '
import json, sys
for f in json.loads(sys.argv[1]):
    print("\t".join([f["check"], f["status"], f["detail"], f["fix"] or ""]))' "$1" > "$MB_TMP/findings"
}
# expect_finding CHECK STATUS [PATTERN]: the finding CHECK of the last findings() has STATUS and
# its line matches the extended regular expression PATTERN.
expect_finding() {
  local f
  f=$(awk -F '\t' -v c="$1" '$1 == c' "$MB_TMP/findings")
  [ -n "$f" ] || fail "no finding $1 in: $(cat "$MB_TMP/findings")"
  [ "$(cut -f2 <<<"$f")" = "$2" ] || fail "finding $1: expected $2, got: $f"
  [ -z "${3:-}" ] || grep -qE -- "$3" <<<"$f" || fail "finding $1 does not match '$3': $f"
}

# --- usage -------------------------------------------------------------------------------
doctor --help
expect_eq "$rc" 0 "doctor --help"
grep -q "usage: mcpbridge doctor --config FILE" <<<"$out" || fail "--help prints the usage: $out"
doctor
expect_eq "$rc" 2 "doctor without --config"
grep -q -- "--config FILE is required" <<<"$err" || fail "missing --config message: $err"

# --- certificates: fresh, expiring soon, expired, and a key of another certificate -----------
cd "$MB_TMP"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout good.key -out good.crt -days 365 -subj /CN=doctor.test 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout other.key -out other.crt -days 365 -subj /CN=other.test 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout soon.key -out soon.crt -days 10 -subj /CN=soon.test 2>/dev/null
mkdir ca && touch ca/index.txt && echo 01 > ca/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test_ca
[test_ca]
dir = $MB_TMP/ca
database = $MB_TMP/ca/index.txt
serial = $MB_TMP/ca/serial
new_certs_dir = $MB_TMP/ca
default_md = sha256
policy = any_name
[any_name]
commonName = supplied
CNF
openssl req -new "${ec[@]}" -keyout old.key -out old.csr -subj /CN=expired.test 2>/dev/null
openssl ca -batch -config ca.cnf -selfsign -keyfile old.key -in old.csr -out old.crt \
  -startdate 20200101000000Z -enddate 20200201000000Z >/dev/null 2>&1 || fail "openssl ca could not make the expired certificate"
cd - >/dev/null

# --- a downstream (with a JWKS, a token endpoint), and one whose clock is 10 minutes ahead ------
mkdir -p "$MB_TMP/www"
"$NODE" -e '
const { generateKeyPairSync } = require("node:crypto");
const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
console.log(JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "ES256" }] }));
' > "$MB_TMP/www/jwks.json"
echo '{"not": "a key set"}' > "$MB_TMP/www/notjwks.json"
cat > "$MB_TMP/server.py" <<'PY'
# A static file server on 127.0.0.1:PORT (argv[1]) serving argv[2]; argv[3] seconds added to its
# Date header (a server whose clock is off).
import functools, http.server, sys, time
class Handler(http.server.SimpleHTTPRequestHandler):
    def date_time_string(self, timestamp=None):
        return super().date_time_string(time.time() + float(sys.argv[3]))
    def log_message(self, *args):
        pass
handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
PY
ds=$(free_port)
python3 "$MB_TMP/server.py" "$ds" "$MB_TMP/www" 0 &
MB_PIDS+=("$!")
skewed=$(free_port)
python3 "$MB_TMP/server.py" "$skewed" "$MB_TMP/www" 600 &
MB_PIDS+=("$!")
wait_http "http://127.0.0.1:$ds/" 10
wait_http "http://127.0.0.1:$skewed/" 10

redis_yaml=""
redis_port=""
if command -v redis-server >/dev/null; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$MB_TMP/redis.log" 2>&1 &
  MB_PIDS+=("$!")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.05; done
  redis_yaml="  redis:
    url: redis://127.0.0.1:$redis_port"
fi

# write_config FILE PORT BASE_URL CERT KEY JWKS_PATH [REDIS_YAML]
write_config() {
  cat > "$1" <<YAML
api:
  openapi:
    spec_file: $spec
    base_url: $3
runtime:
  server:
    max_connections_per_worker: 200
    transport:
      port: $2
      tls:
        certfile: $4
        keyfile: $5
  http:
    tls:
      cafile: $MB_TMP/good.crt
${7:-}
security:
  authentication:
    enabled: true
    service_account:
      enabled: true
      sso_mode: true
      jwks_uri: http://127.0.0.1:$ds/$6
      issuer: https://idp.doctor.test
      audience: mcpbridge
  downstream:
    client_credentials:
      token_url: http://127.0.0.1:$ds/token
      client_id: doctor
      client_secret: not-a-real-secret
YAML
}

# --- a good configuration ------------------------------------------------------------------
port=$(free_port)
write_config "$MB_TMP/good.yaml" "$port" "http://127.0.0.1:$ds" "$MB_TMP/good.crt" "$MB_TMP/good.key" jwks.json "$redis_yaml"
doctor --config "$MB_TMP/good.yaml"
expect_eq "$rc" 0 "doctor on a good configuration: $out $err"
[ "${out%%$'\n'*}" = "mcpbridge doctor: $MB_TMP/good.yaml" ] || fail "the checklist names the config: $out"
for check in config spec inbound_tls.certificate inbound_tls.key inbound_tls.expiry downstream_tls.ca downstream \
             jwks.service_account token_endpoint.client_credentials clock_skew fd_limit listen_port; do
  grep -qE "^\[ok\] +$check " <<<"$out" || fail "the checklist has $check ok: $out"
done
grep -qE "^[0-9]+ ok, 0 warnings, 0 errors$" <<<"$out" || fail "the summary line: $out"
doctor --config "$MB_TMP/good.yaml" --json
expect_eq "$rc" 0 "doctor --json on a good configuration"
json=$out
findings "$json"
expect_finding config ok "good.yaml is valid"
expect_finding spec ok "gives 7 tools"
expect_finding inbound_tls.certificate ok "CN=doctor.test.*self-signed"
expect_finding inbound_tls.key ok "matches the certificate"
expect_finding inbound_tls.expiry ok "valid until"
expect_finding downstream ok "GET answered HTTP [0-9]+"
expect_finding jwks.service_account ok "1 usable signing key"
expect_finding token_endpoint.client_credentials ok "answers \(HTTP 404"
expect_finding clock_skew ok "within [0-9]+ s"
expect_finding fd_limit ok "covers the 364 each worker needs"
expect_finding listen_port ok "127.0.0.1:$port is free"
if [ -n "$redis_port" ]; then
  expect_finding redis ok "127.0.0.1:$redis_port answered PING"
fi
python3 -c '
import json, sys
for f in json.loads(sys.argv[1]):
    assert set(f) == {"check", "status", "detail", "fix"}, f
    assert (f["fix"] is None) == (f["status"] == "ok"), f
    assert "not-a-real-secret" not in json.dumps(f), f
' "$json" || fail "the JSON findings' shape"

# --- the soon-expiring certificate is a warning, not an error -------------------------------
write_config "$MB_TMP/soon.yaml" "$port" "http://127.0.0.1:$ds" "$MB_TMP/soon.crt" "$MB_TMP/soon.key" jwks.json
doctor --config "$MB_TMP/soon.yaml" --json
expect_eq "$rc" 0 "a certificate expiring in 10 days is a warning"
findings "$out"
expect_finding inbound_tls.expiry warning "expires in (9|10) days.*renew"

# --- a broken configuration ------------------------------------------------------------------
closed=$(free_port)
dead_redis=""
[ -n "$redis_port" ] && dead_redis="  redis:
    url: redis://:secret-pw@127.0.0.1:$(free_port)"
write_config "$MB_TMP/bad.yaml" "$port" "http://127.0.0.1:$closed" "$MB_TMP/old.crt" "$MB_TMP/other.key" notjwks.json "$dead_redis"
set +e
out=$(ulimit -n 256; "$MCPBRIDGE" doctor --config "$MB_TMP/bad.yaml" --json 2>"$MB_TMP/err"); rc=$?
set -e
expect_eq "$rc" 1 "doctor on a broken configuration"
json=$out
findings "$json"
expect_finding downstream error "127.0.0.1:$closed: TCP: the connection was refused.*start the service at http://127.0.0.1:$closed, or correct api.openapi.base_url"
expect_finding inbound_tls.expiry error "old.crt expired on 2020-02-01.*renew $MB_TMP/old.crt"
expect_finding inbound_tls.key error "other.key does not belong to the certificate.*use the key the certificate was issued for"
expect_finding jwks.service_account error "not a usable key set.*JWKS document"
expect_finding fd_limit error "open-file limit 256 \(hard\) is below the 364 each worker needs.*ulimit -n 364"
if [ -n "$redis_port" ]; then
  expect_finding redis error "cannot connect to Redis at \(password set\) 127.0.0.1:[0-9]+.*start Redis"
  grep -q "secret-pw" <<<"$json" && fail "the Redis password is printed: $json"
fi
expect_finding config ok
set +e
out=$(ulimit -n 256; "$MCPBRIDGE" doctor --config "$MB_TMP/bad.yaml" 2>/dev/null); rc=$?
set -e
expect_eq "$rc" 1 "doctor (checklist) on a broken configuration"
grep -qE "^\[ERROR\] +downstream " <<<"$out" || fail "the checklist marks errors: $out"
grep -qE "^ +fix: start the service at" <<<"$out" || fail "the checklist prints fixes under errors: $out"
grep -qE "^[0-9]+ ok, [0-9]+ warnings?, [0-9]+ errors$" <<<"$out" || fail "the summary line: $out"

# --- an invalid configuration stops at the first finding -------------------------------------
printf 'api:\n  openapi:\n    spec_file: /nonexistent/spec.yaml\n' > "$MB_TMP/invalid.yaml"
doctor --config "$MB_TMP/invalid.yaml" --json
expect_eq "$rc" 1 "doctor on an invalid configuration"
findings "$out"
expect_finding config error "invalid.yaml:3: .*spec_file.*mcpbridge check --config"
expect_eq "$(wc -l < "$MB_TMP/findings")" 1 "findings after an invalid config"

# --- a bad worker count, named by its source ------------------------------------------------
set +e
out=$(MCPBRIDGE_WORKERS=lots "$MCPBRIDGE" doctor --config "$MB_TMP/good.yaml" --json 2>/dev/null); rc=$?
set -e
expect_eq "$rc" 1 "doctor with a bad MCPBRIDGE_WORKERS"
findings "$out"
expect_finding workers error "MCPBRIDGE_WORKERS='lots'"

# --- clock skew ------------------------------------------------------------------------------
write_config "$MB_TMP/skew.yaml" "$port" "http://127.0.0.1:$skewed" "$MB_TMP/good.crt" "$MB_TMP/good.key" jwks.json
doctor --config "$MB_TMP/skew.yaml" --json
expect_eq "$rc" 0 "clock skew is a warning"
findings "$out"
expect_finding clock_skew warning "local clock is (59[0-9]|60[0-9]) s behind the servers'.*downstream \+(59[0-9]|60[0-9]) s.*synchronize this machine's clock"

# --- ports in use ----------------------------------------------------------------------------
"$MCPBRIDGE" serve --config "$MB_TMP/good.yaml" >"$MB_TMP/serve.log" 2>&1 &
MB_PIDS+=("$!")
for _ in $(seq 200); do grep -q "listening on" "$MB_TMP/serve.log" && break; sleep 0.05; done
grep -q "listening on" "$MB_TMP/serve.log" || fail "serve did not start: $(cat "$MB_TMP/serve.log")"
doctor --config "$MB_TMP/good.yaml" --json
expect_eq "$rc" 0 "a port held by a running mcpbridge is a warning"
findings "$out"
expect_finding listen_port warning "127.0.0.1:$port is in use by a running server that answers /healthz.*stop the running server"
write_config "$MB_TMP/taken.yaml" "$ds" "http://127.0.0.1:$ds" "$MB_TMP/good.crt" "$MB_TMP/good.key" jwks.json
doctor --config "$MB_TMP/taken.yaml" --json
expect_eq "$rc" 1 "a port held by another program is an error"
findings "$out"
expect_finding listen_port error "127.0.0.1:$ds is in use by another program.*ss -ltnp 'sport = :$ds'"

echo "test_cli_doctor: all checks passed"
