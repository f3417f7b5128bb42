#!/usr/bin/env bash
# `mcpbridge init` end to end on the demo spec (the demo API behind nginx on a free port):
# plain, --tls and --mtls profiles whose smoke check passes (exit 0, every step ok); the files,
# with mode 0600 where secret; the generated config passes `mcpbridge check` and says what the
# profile promises (loopback, read-only routes, guard trimming, token auth with a required scope,
# rate limiting, a session secret); the minted token's claims; the certificates (SANs, chain,
# and with --mtls a server that refuses a client without a certificate); refusing to overwrite
# a profile without --force and a foreign directory even with it; a smoke check that fails
# (API unreachable) exits 1 with a fix hint; usage errors exit 2.
source "$(dirname "$0")/lib.sh"
source "$MB_SOURCE_DIR/scripts/nginx.sh"
spec="$MB_SOURCE_DIR/demo/openapi.yaml"
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed: apt-get install $2"; }
need openssl openssl

api_port=$(free_port)
mb_nginx_start "$MB_SOURCE_DIR/demo/nginx.conf.template" "$MB_SOURCE_DIR/demo/api" "$api_port" "$MB_TMP/nginx" >/dev/null
MB_PIDS+=("$MB_NGINX_PID")
api="http://127.0.0.1:$api_port"

# mode FILE: its permission bits in octal.
mode() { stat -c %a "$1"; }
# expect_smoke_passed OUTPUT: the report has every step ok (or the call skipped) and passed.
expect_smoke_passed() {
  grep -q "^smoke check passed" <<<"$1" || fail "smoke check did not pass: $1"
  for step in "start the server" "ready (GET /readyz)" "a call without the token is refused" initialize \
              tools/list "tools/call list_products" "stop the server"; do
    grep -qE "^  ok +$(sed 's/[()/]/\\&/g' <<<"$step")" <<<"$1" || fail "step '$step' is not ok: $1"
  done
}

# --- a plain profile ---------------------------------------------------------------------------
p=$MB_TMP/plain
set +e
out=$(timeout 60 "$MCPBRIDGE" init --spec "$spec" --dir "$p" --base-url "$api" --port 8765 2>&1); rc=$?
set -e
expect_eq "$rc" 0 "init exit status (output: $out)"
expect_smoke_passed "$out"
grep -q "7 read-only tools" <<<"$out" || fail "init reports the tool count: $out"

for f in config.yaml profile.json README.txt openapi.yaml keys/service-account.key.pem keys/service-account.pub.pem \
         sa-tokens/default.jwt sa-tokens/index.json smoke.log; do
  [ -f "$p/$f" ] || fail "init did not write $f"
done
[ -d "$p/keys/retired" ] || fail "keys/retired/ is missing"
expect_eq "$(mode "$p/config.yaml")" 600 "config.yaml holds the session secret: mode"
expect_eq "$(mode "$p/keys/service-account.key.pem")" 600 "private key mode"
expect_eq "$(mode "$p/sa-tokens/default.jwt")" 600 "token mode"
expect_eq "$(mode "$p/keys/service-account.pub.pem")" 644 "public key mode"
expect_eq "$(mode "$p")" 700 "profile directory mode"
cmp -s "$spec" "$p/openapi.yaml" || fail "the spec is not copied verbatim"
! grep -q "BEGIN PRIVATE KEY" "$p/README.txt" "$p/config.yaml" "$p/sa-tokens/index.json" \
  || fail "a private key leaked into a non-secret file"
! grep -qF "$(cat "$p/sa-tokens/default.jwt")" "$p/sa-tokens/index.json" "$p/smoke.log" "$p/README.txt" \
  || fail "the token is written outside its own file"
grep -q "mcpbridge serve --config $p/config.yaml" "$p/README.txt" || fail "README says how to start it"
grep -q "Authorization: Bearer" "$p/README.txt" || fail "README says how to call it"

out=$("$MCPBRIDGE" check --config "$p/config.yaml" 2>&1) || fail "mcpbridge check of the profile: $out"
expect_eq "${out%%$'\n'*}" "configuration OK" "check's first line"
grep -q "WARNING" <<<"$out" && fail "the generated config draws warnings: $out"
grep -q "http://127.0.0.1:8765/mcp" <<<"$out" || fail "--port and the loopback host are in the config: $out"

# What the config promises, read back through a YAML parser (node's yaml package).
"$NODE" -e '
const fs = require("fs"); const YAML = require("yaml");
const c = YAML.parse(fs.readFileSync(process.argv[1], "utf8"));
const assert = (ok, what) => { if (!ok) { console.error("config: " + what); process.exit(1); } };
const t = c.runtime.server.transport;
assert(t.host === "127.0.0.1" && t.port === 8765, "loopback, --port");
const maps = c.api.routes.maps;
assert(maps.length === 2 && maps[0].mcp_type === "TOOL" && maps[0].methods.join() === "GET,HEAD" &&
       maps[1].mcp_type === "EXCLUDE" && !maps[1].pattern && !maps[1].methods, "read-only routes");
assert(c.api.openapi.base_url === process.argv[2], "base_url");
const g = c.runtime.http.response_guard;
assert(g.enabled === true && g.mode === "trim", "guard on, trim");
const a = c.security.authentication;
assert(a.enabled === true && a.service_account.enabled === true && a.service_account.mode === "token" &&
       a.service_account.public_key === "keys/service-account.pub.pem", "token-mode service account");
assert(JSON.stringify(c.security.authorization.tools) === JSON.stringify({default: ["mcp:tools"]}), "default scope");
const rl = c.runtime.middleware.rate_limiting;
assert(rl.enabled === true && rl.max_rps > 0 && rl.burst > 0, "rate limiting");
assert(/^[0-9a-f]{64}$/.test(c.runtime.server.session.secret), "a 64-hex session secret");
' "$p/config.yaml" "$api" || fail "generated config content"

# The token: EdDSA, the claims the config checks, 30 days, the default scope.
"$NODE" -e '
const fs = require("fs"), p = process.argv[1];
const assert = (ok, what) => { if (!ok) { console.error("token: " + what); process.exit(1); } };
const tok = fs.readFileSync(p + "/sa-tokens/default.jwt", "utf8").trim();
const [h, c] = tok.split(".").slice(0, 2).map((s) => JSON.parse(Buffer.from(s, "base64url")));
assert(h.alg === "EdDSA" && h.typ === "JWT" && h.kid.length === 43, JSON.stringify(h));
const cfg = fs.readFileSync(p + "/config.yaml", "utf8");
assert(cfg.includes("issuer: " + c.iss) && cfg.includes("audience: " + c.aud), "iss/aud as configured");
assert(c.sub === "default" && c.scope === "mcp:tools", JSON.stringify(c));
assert(c.exp - c.iat === 30 * 86400 && c.nbf === c.iat && c.jti.length === 32, JSON.stringify(c));
const e = JSON.parse(fs.readFileSync(p + "/sa-tokens/index.json", "utf8")).tokens[0];
assert(e.name === "default" && e.jti === c.jti && e.key_id === h.kid && e.scopes.join() === "mcp:tools", JSON.stringify(e));
' "$p" || fail "minted token claims"

# --- refusing to overwrite ---------------------------------------------------------------------
key_before=$(sha256sum < "$p/keys/service-account.key.pem")
set +e
out=$("$MCPBRIDGE" init --spec "$spec" --dir "$p" --no-smoke 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "init over an existing profile without --force"
grep -q "already holds a profile; refusing to overwrite it. Use --force" <<<"$out" || fail "refusal message: $out"
expect_eq "$(sha256sum < "$p/keys/service-account.key.pem")" "$key_before" "the refused init left the key alone"
echo "keep me" > "$p/notes.txt"
out=$("$MCPBRIDGE" init --spec "$spec" --dir "$p" --base-url "$api" --force --no-smoke 2>&1) \
  || fail "init --force over a profile: $out"
grep -q "smoke check skipped (--no-smoke)" <<<"$out" || fail "--no-smoke says so: $out"
[ "$(sha256sum < "$p/keys/service-account.key.pem")" != "$key_before" ] || fail "--force makes a new key pair"
[ -f "$p/notes.txt" ] || fail "--force removed a file that is not part of the profile"
mkdir -p "$MB_TMP/foreign" && echo x > "$MB_TMP/foreign/data"
set +e
out=$("$MCPBRIDGE" init --spec "$spec" --dir "$MB_TMP/foreign" --force --no-smoke 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "init into a non-empty directory that is not a profile, even with --force"
grep -q "is not empty and is not an mcpbridge profile" <<<"$out" || fail "foreign directory message: $out"
expect_eq "$(ls "$MB_TMP/foreign")" "data" "the foreign directory is untouched"

# --- --tls -------------------------------------------------------------------------------------
t=$MB_TMP/tls
set +e
out=$(timeout 60 "$MCPBRIDGE" init --spec "$spec" --dir "$t" --base-url "$api" --tls 2>&1); rc=$?
set -e
expect_eq "$rc" 0 "init --tls exit status (output: $out)"
expect_smoke_passed "$out"
grep -q "https://127.0.0.1:" <<<"$out" || fail "the --tls smoke check speaks HTTPS: $out"
for f in ca.crt ca.key server.crt server.key; do [ -f "$t/tls/$f" ] || fail "--tls did not write tls/$f"; done
[ -f "$t/tls/client.crt" ] && fail "--tls alone made a client certificate"
expect_eq "$(mode "$t/tls/ca.key")" 600 "CA key mode"
expect_eq "$(mode "$t/tls/server.key")" 600 "server key mode"
openssl verify -CAfile "$t/tls/ca.crt" "$t/tls/server.crt" >/dev/null || fail "server.crt is not signed by ca.crt"
san=$(openssl x509 -in "$t/tls/server.crt" -noout -ext subjectAltName)
grep -q "DNS:localhost" <<<"$san" && grep -q "IP Address:127.0.0.1" <<<"$san" || fail "server SANs: $san"
openssl x509 -in "$t/tls/server.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Server Authentication" \
  || fail "server certificate EKU"
openssl x509 -in "$t/tls/ca.crt" -noout -ext basicConstraints | grep -q "CA:TRUE" || fail "ca.crt is a CA"
out=$("$MCPBRIDGE" check --config "$t/config.yaml" 2>&1) || fail "check of the --tls profile: $out"
grep -q "certfile: tls/server.crt" "$t/config.yaml" || fail "inbound TLS configured"

# --- --mtls ------------------------------------------------------------------------------------
m=$MB_TMP/mtls
set +e
out=$(timeout 60 "$MCPBRIDGE" init --spec "$spec" --dir "$m" --base-url "$api" --mtls 2>&1); rc=$?
set -e
expect_eq "$rc" 0 "init --mtls exit status (output: $out)"
expect_smoke_passed "$out"
expect_eq "$(mode "$m/tls/client.key")" 600 "client key mode"
openssl verify -CAfile "$m/tls/ca.crt" "$m/tls/client.crt" >/dev/null || fail "client.crt is not signed by ca.crt"
openssl x509 -in "$m/tls/client.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" \
  || fail "client certificate EKU"
grep -q "require_client_cert: true" "$m/config.yaml" || fail "--mtls requires client certificates"
# The served profile refuses a client without a certificate and serves one with it.
port=$(free_port)
"$MCPBRIDGE" serve --config "$m/config.yaml" --port "$port" --workers 1 2>"$MB_TMP/mtls.log" &
MB_PIDS+=("$!")
url="https://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -s -o /dev/null --cacert "$m/tls/ca.crt" --cert "$m/tls/client.crt" --key "$m/tls/client.key" "$url/readyz" && break
  sleep 0.1
done
set +e
curl -s -o /dev/null --max-time 5 --cacert "$m/tls/ca.crt" "$url/readyz"; rc=$?
set -e
[ "$rc" != 0 ] || fail "the --mtls server answered a client without a certificate"
token=$(cat "$m/sa-tokens/default.jwt")
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$m/tls/ca.crt" --cert "$m/tls/client.crt" \
  --key "$m/tls/client.key" "$url/mcp" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}')
expect_eq "$status" 200 "initialize over mTLS with the minted token"
kill -TERM "${MB_PIDS[-1]}"; wait "${MB_PIDS[-1]}" || true

# --- a failing smoke check ---------------------------------------------------------------------
dead=$(free_port)
set +e
out=$(timeout 60 "$MCPBRIDGE" init --spec "$spec" --dir "$MB_TMP/down" --base-url "http://127.0.0.1:$dead" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "init whose smoke check fails"
grep -qE "^  FAILED +tools/call list_products" <<<"$out" || fail "the failed step is named: $out"
grep -q "fix: .*base_url" <<<"$out" || fail "the failure has a fix hint: $out"
grep -q "^smoke check FAILED" <<<"$out" || fail "the verdict: $out"
grep -qE "^  ok +stop the server" <<<"$out" || fail "the server is stopped after a failure: $out"
[ -f "$MB_TMP/down/profile.json" ] || fail "the profile stays when only the smoke check failed"

# --- nothing written for a bad spec; usage errors ----------------------------------------------
printf 'openapi: 3.0.0\ninfo: {title: x}\npaths: [1, 2]\n' > "$MB_TMP/bad.yaml"
set +e
out=$("$MCPBRIDGE" init --spec "$MB_TMP/bad.yaml" --dir "$MB_TMP/badprofile" --no-smoke 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "init with a spec that cannot be served"
[ -e "$MB_TMP/badprofile" ] && fail "init wrote a profile for a bad spec"
for args in "" "--dir $MB_TMP/x" "--spec $spec --bogus" "--spec $spec --port 0" "--spec $spec --base-url ftp://x" \
            "--spec $spec extra"; do
  set +e
  # shellcheck disable=SC2086
  out=$("$MCPBRIDGE" init $args 2>&1); rc=$?
  set -e
  expect_eq "$rc" 2 "init $args: exit status"
  grep -q "usage: mcpbridge init\|expected" <<<"$out" || fail "init $args explains itself: $out"
done
out=$("$MCPBRIDGE" init --help) || fail "init --help exit status"
grep -q -- "--mtls" <<<"$out" || fail "init --help lists the options"
echo "ok"
