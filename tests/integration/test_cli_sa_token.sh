#!/usr/bin/env bash
# `mcpbridge sa-token` against a served profile (the demo API behind nginx): a minted token calls
# a tool; its claims match what the gateway checks; list shows names, scopes, expiry, key id and
# validity; a token without the tools' scope sees no tools and may not call one; a wrong issuer
# is refused; rotate -> every old token gets 401 once the server reloads, list says so;
# remint-all -> the same names and scopes work again; an expired token gets 401 (leeway 0);
# bad arguments exit 2 with the usage; a directory that is not a profile exits 1.
source "$(dirname "$0")/lib.sh"
source "$MB_SOURCE_DIR/scripts/nginx.sh"
spec="$MB_SOURCE_DIR/demo/openapi.yaml"

api_port=$(free_port)
mb_nginx_start "$MB_SOURCE_DIR/demo/nginx.conf.template" "$MB_SOURCE_DIR/demo/api" "$api_port" "$MB_TMP/nginx" >/dev/null
MB_PIDS+=("$MB_NGINX_PID")

p=$MB_TMP/profile
"$MCPBRIDGE" init --spec "$spec" --dir "$p" --base-url "http://127.0.0.1:$api_port" --no-smoke >/dev/null
# No clock-skew allowance, so a token one second past its exp is refused at once.
sed -i 's/^      leeway_seconds: 60$/      leeway_seconds: 0/' "$p/config.yaml"
grep -q "leeway_seconds: 0" "$p/config.yaml" || fail "could not set the leeway in the generated config"

port=$(free_port)
"$MCPBRIDGE" serve --config "$p/config.yaml" --port "$port" --workers 1 2>"$MB_TMP/server.log" &
server=$!
MB_PIDS+=("$server")
url="http://127.0.0.1:$port/mcp"
wait_http "http://127.0.0.1:$port/readyz" 15

# rpc TOKEN BODY [SESSION]: POSTs a JSON-RPC body; sets RPC_STATUS, RPC_SESSION and RPC_BODY.
rpc() {
  local auth=() session=()
  if [ -n "$1" ]; then auth=(-H "Authorization: Bearer $1"); fi
  if [ -n "${3:-}" ]; then session=(-H "Mcp-Session-Id: $3" -H "MCP-Protocol-Version: 2025-11-25"); fi
  RPC_STATUS=$(curl -s -D "$MB_TMP/headers" -o "$MB_TMP/body" --max-time 10 "$url" "${auth[@]}" "${session[@]}" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$2" \
    -w '%{http_code}' || true)
  RPC_SESSION=$(awk 'tolower($1)=="mcp-session-id:" {print $2}' "$MB_TMP/headers" | tr -d '\r')
  RPC_BODY=$(cat "$MB_TMP/body")
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
# init_status TOKEN: the HTTP status of initialize.
init_status() { rpc "$1" "$INIT"; echo "$RPC_STATUS"; }
# call_tool TOKEN: initialize, then tools/call list_products; sets RPC_STATUS and RPC_BODY of the call.
call_tool() {
  rpc "$1" "$INIT"
  [ "$RPC_STATUS" = 200 ] || return 0
  local session=$RPC_SESSION
  rpc "$1" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$session"
  rpc "$1" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_products","arguments":{}}}' "$session"
}
# expect_call_ok TOKEN WHAT: the tool call answers 200 with a result that is not an error.
expect_call_ok() {
  call_tool "$1"
  [ "$RPC_STATUS" = 200 ] || fail "$2: tools/call status $RPC_STATUS: $RPC_BODY"
  "$NODE" -e 'const r = JSON.parse(process.argv[1]).result; process.exit(!r.isError && r.content.length ? 0 : 1)' \
    "$RPC_BODY" || fail "$2: tools/call result: $RPC_BODY"
}
# reload_until STATUS TOKEN: SIGHUP, then waits until initialize with TOKEN answers STATUS.
reload_until() {
  kill -HUP "$server"
  for _ in $(seq 100); do
    [ "$(init_status "$2")" = "$1" ] && return 0
    sleep 0.1
  done
  fail "after a reload, initialize with the token still does not answer $1 ($(tail -3 "$MB_TMP/server.log"))"
}

# --- mint, list, call --------------------------------------------------------------------------
out=$("$MCPBRIDGE" sa-token mint --profile "$p" --name ci --scopes mcp:tools,orders:read --lifetime 2h) \
  || fail "mint: $out"
grep -q 'minted a token for "ci": scopes mcp:tools,orders:read' <<<"$out" || fail "mint output: $out"
expect_eq "$(stat -c %a "$p/sa-tokens/ci.jwt")" 600 "token file mode"
ci=$(cat "$p/sa-tokens/ci.jwt")
grep -qF "$ci" <<<"$out" && fail "mint printed the token"
"$NODE" -e '
const fs = require("fs"), p = process.argv[1];
const assert = (ok, what) => { if (!ok) { console.error("ci token: " + what); process.exit(1); } };
const tok = fs.readFileSync(p + "/sa-tokens/ci.jwt", "utf8").trim();
const [h, c] = tok.split(".").slice(0, 2).map((s) => JSON.parse(Buffer.from(s, "base64url")));
assert(h.alg === "EdDSA", JSON.stringify(h));
assert(c.sub === "ci" && c.scope === "mcp:tools orders:read" && c.exp - c.iat === 7200, JSON.stringify(c));
assert(c.iss === "mcpbridge:profile:profile" && c.aud === "mcpbridge:profile", JSON.stringify(c));
const idx = Object.fromEntries(JSON.parse(fs.readFileSync(p + "/sa-tokens/index.json", "utf8")).tokens.map((e) => [e.name, e]));
assert(Object.keys(idx).sort().join() === "ci,default" && idx.ci.lifetime_seconds === 7200 && idx.ci.jti === c.jti,
       JSON.stringify(idx));
assert(!JSON.stringify(idx).includes(tok), "a token in the index");
' "$p" || fail "the ci token's claims"
expect_call_ok "$ci" "the minted ci token"
expect_call_ok "$(cat "$p/sa-tokens/default.jwt")" "init's default token"
expect_eq "$(init_status "")" 401 "initialize without a token"
expect_eq "$(init_status "${ci%?}x")" 401 "initialize with a tampered token"

out=$("$MCPBRIDGE" sa-token list --profile "$p") || fail "list: $out"
grep -qE "^ci +mcp:tools,orders:read +(1h 59m|2h) +[A-Za-z0-9_-]{12} +valid$" <<<"$out" || fail "list row of ci: $out"
grep -qE "^default +mcp:tools +(29d 23h|30d) +[A-Za-z0-9_-]{12} +valid$" <<<"$out" || fail "list row of default: $out"

# A token without the tools' scope: authenticated, but sees no tool and may not call one.
"$MCPBRIDGE" sa-token mint --profile "$p" --name reader --scopes other:scope >/dev/null
reader=$(cat "$p/sa-tokens/reader.jwt")
rpc "$reader" "$INIT"
expect_eq "$RPC_STATUS" 200 "initialize with a token lacking mcp:tools"
session=$RPC_SESSION
rpc "$reader" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$session"
rpc "$reader" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "$session"
"$NODE" -e 'process.exit(JSON.parse(process.argv[1]).result.tools.length === 0 ? 0 : 1)' "$RPC_BODY" \
  || fail "a token without mcp:tools sees tools: $RPC_BODY"
call_tool "$reader"
expect_eq "$RPC_STATUS" 403 "tools/call with a token lacking mcp:tools"

# A token whose issuer is not the configured one is refused (and mint warns).
out=$("$MCPBRIDGE" sa-token mint --profile "$p" --name stranger --issuer https://elsewhere.example 2>&1) \
  || fail "mint --issuer: $out"
grep -q 'warning: the server checks issuer "mcpbridge:profile:profile"' <<<"$out" || fail "issuer warning: $out"
expect_eq "$(init_status "$(cat "$p/sa-tokens/stranger.jwt")")" 401 "a token with another issuer"
"$MCPBRIDGE" sa-token mint --profile "$p" --name stranger >/dev/null  # back to the configured issuer

# --- rotate: every old token stops working -----------------------------------------------------
pub_before=$(cat "$p/keys/service-account.pub.pem")
out=$("$MCPBRIDGE" sa-token rotate --profile "$p") || fail "rotate: $out"
grep -q "every token minted before is invalid now (4 in the index)" <<<"$out" || fail "rotate says what broke: $out"
grep -q "mcpbridge sa-token remint-all --profile" <<<"$out" || fail "rotate says how to repair: $out"
[ "$(cat "$p/keys/service-account.pub.pem")" != "$pub_before" ] || fail "rotate kept the public key"
retired=$(ls "$p/keys/retired")
[ "$(wc -l <<<"$retired")" = 1 ] && [ "$(cat "$p/keys/retired/$retired")" = "$pub_before" ] \
  || fail "the old public key is kept under keys/retired: $retired"
grep -q "public_key: keys/service-account.pub.pem" "$p/config.yaml" || fail "config.yaml names the rotated key"
reload_until 401 "$ci"
expect_eq "$(init_status "$(cat "$p/sa-tokens/default.jwt")")" 401 "the default token after rotate"
out=$("$MCPBRIDGE" sa-token list --profile "$p")
grep -qE "^ci .*signed by another key" <<<"$out" || fail "list flags the old tokens: $out"
grep -q "4 tokens will be refused" <<<"$out" || fail "list counts them: $out"

# --- remint-all: the same names and scopes, working again --------------------------------------
out=$("$MCPBRIDGE" sa-token remint-all --profile "$p") || fail "remint-all: $out"
grep -q "4 tokens re-minted under the current key" <<<"$out" || fail "remint-all summary: $out"
ci2=$(cat "$p/sa-tokens/ci.jwt")
[ "$ci2" != "$ci" ] || fail "remint-all did not replace the ci token"
expect_call_ok "$ci2" "the re-minted ci token"
expect_call_ok "$(cat "$p/sa-tokens/default.jwt")" "the re-minted default token"
"$NODE" -e '
const fs = require("fs"), p = process.argv[1];
const claims = (name) => JSON.parse(Buffer.from(fs.readFileSync(p + "/sa-tokens/" + name + ".jwt", "utf8").trim()
  .split(".")[1], "base64url"));
const c = claims("ci"), r = claims("reader");
if (c.scope !== "mcp:tools orders:read" || c.exp - c.iat !== 7200 || r.scope !== "other:scope") {
  console.error(JSON.stringify([c, r])); process.exit(1); }
' "$p" || fail "re-minted claims"
out=$("$MCPBRIDGE" sa-token list --profile "$p")
grep -q "will be refused" <<<"$out" && fail "list after remint-all: $out"

# --- an expired token --------------------------------------------------------------------------
"$MCPBRIDGE" sa-token mint --profile "$p" --name short --lifetime 1s >/dev/null
short=$(cat "$p/sa-tokens/short.jwt")
sleep 2.1
expect_eq "$(init_status "$short")" 401 "an expired token"
grep -q 'WWW-Authenticate: Bearer.*invalid_token' "$MB_TMP/headers" || fail "the 401 names invalid_token: $(cat "$MB_TMP/headers")"
out=$("$MCPBRIDGE" sa-token list --profile "$p")
grep -qE "^short +mcp:tools +expired .* ago +[A-Za-z0-9_-]{12} +expired$" <<<"$out" || fail "list shows the expiry: $out"

# --- bad arguments -----------------------------------------------------------------------------
for args in "" "frobnicate --profile $p" "mint" "mint --profile" "mint --profile $p --lifetime 0" \
            "mint --profile $p --lifetime 5x" "mint --profile $p --lifetime 4000d" "mint --profile $p --scopes a,,b" \
            "mint --profile $p --scopes a,a" "mint --profile $p --name ../x" "mint --profile $p --name .hidden" \
            "list --profile $p --name ci" "rotate --profile $p --scopes x" "mint --profile $p --bogus" \
            "list --profile $p extra"; do
  set +e
  # shellcheck disable=SC2086
  out=$("$MCPBRIDGE" sa-token $args 2>&1); rc=$?
  set -e
  expect_eq "$rc" 2 "sa-token $args: exit status"
  grep -q "usage: mcpbridge sa-token mint" <<<"$out" || fail "sa-token $args prints the usage: $out"
done
set +e
out=$("$MCPBRIDGE" sa-token mint --profile "$MB_TMP/nginx" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "sa-token on a directory that is not a profile"
grep -q "is not an mcpbridge profile" <<<"$out" || fail "not-a-profile message: $out"
out=$("$MCPBRIDGE" sa-token --help) || fail "sa-token --help"
grep -q "remint-all" <<<"$out" || fail "sa-token --help: $out"
kill -TERM "$server" && wait "$server" || fail "the server did not stop cleanly ($(tail -3 "$MB_TMP/server.log"))"
echo "ok"
