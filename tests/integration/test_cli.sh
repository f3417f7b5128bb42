#!/usr/bin/env bash
# The command line: `check` (OK, file:line errors, fail-closed refusal of incomplete security
# features), `tools` (table and JSON), version/help, and usage errors with exit code 2.
source "$(dirname "$0")/lib.sh"

spec="$MB_SOURCE_DIR/demo/openapi.yaml"
out=$("$MCPBRIDGE" check --config /dev/null 2>&1) && fail "check of an empty file must fail"

cat > "$MB_TMP/ok.yaml" <<YAML
api:
  openapi:
    spec_file: $spec
    base_url: http://127.0.0.1:8501
runtime:
  server:
    transport:
      port: 8600
YAML
out=$("$MCPBRIDGE" check --config "$MB_TMP/ok.yaml") || fail "check of a valid config failed: $out"
[ "${out%%$'\n'*}" = "configuration OK" ] || fail "check prints 'configuration OK' first: $out"
grep -q "7 tools" <<<"$out" || fail "check reports the tool count: $out"

cat > "$MB_TMP/bad.yaml" <<YAML
api:
  openapi:
    spec_file: $spec
runtime:
  server:
    transport:
      port: "not a port"
  max_request_bytes: 12
YAML
set +e
out=$("$MCPBRIDGE" check --config "$MB_TMP/bad.yaml" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "check exit code on errors"
grep -q "^$MB_TMP/bad.yaml:7: " <<<"$out" || fail "the port error names line 7: $out"
grep -q "^$MB_TMP/bad.yaml:8: " <<<"$out" || fail "the max_request_bytes error names line 8: $out"

cat > "$MB_TMP/auth.json" <<JSON
{
  "api": { "openapi": { "spec_file": "$spec", "base_url": "http://127.0.0.1:8501" } },
  "security": {
    "authentication": { "enabled": true, "service_acount": { "enabled": true } }
  }
}
JSON
set +e
out=$("$MCPBRIDGE" check --config "$MB_TMP/auth.json" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "check refuses authentication without a credential source"
grep -q "auth.json:4: security.authentication: authentication is enabled but neither service_account nor user_auth" <<<"$out" || fail "fail-closed message: $out"
# A misspelt security key is an error, not a warning.
grep -q "auth.json:4: security.authentication: unknown key \"service_acount\"" <<<"$out" || fail "strict security keys: $out"
set +e
timeout 5 "$MCPBRIDGE" serve --config "$MB_TMP/auth.json" --port "$(free_port)" >/dev/null 2>&1; rc=$?
set -e
expect_eq "$rc" 1 "serve refuses authentication without a credential source"

json=$("$MCPBRIDGE" tools --spec "$spec" --json)
echo "$json" | python3 -c '
import json, sys
tools = json.load(sys.stdin)
names = sorted(t["name"] for t in tools)
assert names == ["get_customer", "get_order", "get_product", "list_customers", "list_orders", "list_products", "search_products"], names
for t in tools:
    assert t["method"] == "GET" and t["path"].startswith("/"), t
    assert t["inputSchema"]["type"] == "object", t
' || fail "tools --json output"
all=$("$MCPBRIDGE" tools --spec "$spec" --json --all-methods | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$all" -gt 7 ] || fail "--all-methods includes write operations (got $all tools)"
# Outputs are captured before matching: `cmd | grep -q` under pipefail fails at random when grep
# exits first and the writer gets SIGPIPE.
out=$("$MCPBRIDGE" tools --spec "$spec")
grep -q "NAME" <<<"${out%%$'\n'*}" || fail "tools prints a table: $out"
out=$("$MCPBRIDGE" version)
grep -q "^mcpbridge [0-9]" <<<"$out" || fail "version: $out"
out=$("$MCPBRIDGE" help)
grep -q "mcpbridge serve" <<<"$out" || fail "help: $out"
for args in "frobnicate" "serve --port 99999" "serve --bogus" "tools"; do
  set +e
  # shellcheck disable=SC2086
  "$MCPBRIDGE" $args >/dev/null 2>&1; rc=$?
  set -e
  expect_eq "$rc" 2 "exit code of 'mcpbridge $args'"
done
set +e
MCPBRIDGE_WORKERS=lots timeout 5 "$MCPBRIDGE" serve --config "$MB_TMP/ok.yaml" --port "$(free_port)" 2>"$MB_TMP/w.err"; rc=$?
set -e
expect_eq "$rc" 2 "a bad MCPBRIDGE_WORKERS"
grep -q "MCPBRIDGE_WORKERS" "$MB_TMP/w.err" || fail "the worker error names its source: $(cat "$MB_TMP/w.err")"
echo "test_cli: all checks passed"
