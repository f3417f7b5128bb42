#!/usr/bin/env bash
# `mcpbridge openapi-gen`: the Sports2000-like JSDO catalog fixture (tests/fixtures/jsdo/) becomes
# an OpenAPI 3.0.3 document, in JSON and in YAML, that `mcpbridge tools` turns into the expected
# tools (names, methods, paths, ABL types as JSON Schema types and formats, the filter
# description, request and response bodies) and `mcpbridge check` accepts in a configuration.
# End to end: `mcpbridge serve` on the generated spec in front of a recording downstream, called
# with `mcpbridge client`, sends the requests the catalog describes. Malformed catalogs (not
# JSON, no services, an operation without verb, ...) exit 1 naming the file, line and place.
source "$(dirname "$0")/lib.sh"
catalog="$MB_SOURCE_DIR/tests/fixtures/jsdo/sports2000.json"

# gen ARGS...: runs `mcpbridge openapi-gen`; stdout in $out, stderr in $err, exit code in $rc.
gen() {
  set +e
  out=$("$MCPBRIDGE" openapi-gen "$@" 2>"$MB_TMP/err"); rc=$?
  set -e
  err=$(cat "$MB_TMP/err")
}

# --- usage ---------------------------------------------------------------------------------
gen --help
expect_eq "$rc" 0 "openapi-gen --help"
grep -q "usage: mcpbridge openapi-gen CATALOG.json" <<<"$out" || fail "--help prints the usage: $out"
gen
expect_eq "$rc" 2 "openapi-gen without a catalog"
grep -q "give the catalog file" <<<"$err" || fail "missing catalog message: $err"
gen "$catalog" --base-url ftp://host
expect_eq "$rc" 2 "a non-HTTP --base-url"
gen "$catalog" "$catalog"
expect_eq "$rc" 2 "two catalogs"

# --- conversion: JSON on stdout, YAML to a file ----------------------------------------------
gen "$catalog" --base-url http://127.0.0.1:8810/Sports2000/ --title "Sports 2000"
expect_eq "$rc" 0 "openapi-gen of the fixture: $err"
printf '%s\n' "$out" > "$MB_TMP/sports.json"
grep -q "21 operations (4 resources, 1 service) written to stdout" <<<"$err" || fail "summary line: $err"
grep -q "Without api.routes only the GET operations (8) become tools" <<<"$err" || fail "routes advice: $err"
gen "$catalog" --out "$MB_TMP/sports.yaml" --base-url http://127.0.0.1:8810/Sports2000 --title "Sports 2000"
expect_eq "$rc" 0 "openapi-gen --out FILE.yaml: $err"
[ -z "$out" ] || fail "nothing on stdout with --out: $out"
head -1 "$MB_TMP/sports.yaml" | grep -q "^openapi: '3.0.3'" || fail "the .yaml output is YAML: $(head -3 "$MB_TMP/sports.yaml")"
# The YAML and the JSON are the same document.
python3 - "$MB_TMP/sports.json" "$MB_TMP/sports.yaml" <<'PY' || fail "the YAML differs from the JSON"
import json, sys, yaml
a = json.load(open(sys.argv[1]))
b = yaml.safe_load(open(sys.argv[2]))
assert a == b, "documents differ"
PY

python3 - "$MB_TMP/sports.json" <<'PY' || fail "the OpenAPI document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["openapi"] == "3.0.3", d["openapi"]
assert d["info"]["title"] == "Sports 2000" and d["info"]["version"] == "1.5", d["info"]
assert d["servers"] == [{"url": "http://127.0.0.1:8810/Sports2000"}], d["servers"]
assert [t["name"] for t in d["tags"]] == ["Customer", "Order", "Item", "Salesrep"], d["tags"]
assert "ttOrderLine rows belong to a ttOrder row (Ordernum = Ordernum)" in d["tags"][1]["description"], d["tags"][1]
p = d["paths"]
base = "/rest/Sports2000Service"
read = p[base + "/Customer"]["get"]
assert read["operationId"] == "readCustomer" and read["tags"] == ["Customer"], read
f = read["parameters"][0]
assert f["name"] == "filter" and f["in"] == "query" and not f["required"], f
assert "ABL WHERE" in f["description"] and "ablFilter" in f["description"], f["description"]
row = read["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["dsCustomer"]["properties"]["ttCustomer"]["items"]["properties"]
def tf(s): return (s.get("type"), s.get("format"))
assert tf(row["CustNum"]) == ("integer", "int32") and row["CustNum"]["nullable"] is True, row["CustNum"]
assert tf(row["Name"]) == ("string", None), row["Name"]
assert tf(row["Balance"]) == ("number", None), row["Balance"]
assert tf(row["Active"]) == ("boolean", None) and row["Active"]["default"] is True, row["Active"]
assert tf(row["LastContact"]) == ("string", "date-time"), row["LastContact"]
assert tf(row["Comments"]) == ("string", None), row["Comments"]
assert row["Country"]["default"] == "USA" and row["CustNum"]["title"] == "Cust Num", row["Country"]
assert "ablType" not in row["CustNum"] and "semanticType" not in row["id"], row["id"]
item = p[base + "/Item"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["dsItem"]["properties"]["ttItem"]["items"]["properties"]
assert tf(item["StockValue"]) == ("integer", "int64"), item["StockValue"]
assert tf(item["ItemImage"]) == ("string", "byte"), item["ItemImage"]
assert tf(item["LastUpdated"]) == ("string", "date-time"), item["LastUpdated"]
order = p[base + "/Order"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["dsOrder"]["properties"]
assert tf(order["ttOrder"]["items"]["properties"]["OrderDate"]) == ("string", "date"), order["ttOrder"]
assert "ttOrderLine" in order, order.keys()
rep = p[base + "/Salesrep"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["dsSalesrep"]["properties"]["ttSalesrep"]["items"]["properties"]
assert rep["MonthQuota"]["type"] == "array" and rep["MonthQuota"]["maxItems"] == 12 and rep["MonthQuota"]["items"]["type"] == "integer", rep["MonthQuota"]
assert tf(rep["RecordId"]) == ("string", None), rep["RecordId"]
create = p[base + "/Customer"]["post"]
body = create["requestBody"]["content"]["application/json"]["schema"]
assert create["requestBody"]["required"] and body["additionalProperties"] is False and "dsCustomer" in body["properties"], body
submit = p[base + "/Customer/SubmitCustomer"]["put"]
assert submit["operationId"] == "submitCustomer" and "before-image" in submit["description"], submit
assert "additionalProperties" not in submit["requestBody"]["content"]["application/json"]["schema"], "submit bodies are open (prods: properties)"
count = p[base + "/Customer/count"]["get"]
assert count["operationId"] == "invokeCustomerCount" and count["parameters"][0]["name"] == "filter", count
assert count["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["response"]["properties"]["numRecs"]["type"] == "integer"
credit = p[base + "/Customer/GetCreditInfo"]["put"]
req = credit["requestBody"]["content"]["application/json"]["schema"]
assert req["required"] == ["request"] and req["properties"]["request"]["properties"]["piCustNum"]["type"] == "integer", req
res = credit["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["response"]["properties"]
assert res["plOnHold"]["type"] == "boolean" and res["pdCreditLimit"]["type"] == "number", res
image = p[base + "/Item/{Itemnum}/image"]["get"]
assert image["parameters"] == [{"name": "Itemnum", "in": "path", "required": True, "schema": {"type": "integer", "format": "int32"}}], image["parameters"]
assert p[base + "/Order/count"]["get"]["operationId"] == "countOrder"
PY

# --- what mcpbridge makes of it --------------------------------------------------------------
expected="createCustomer createItem createOrder deleteCustomer deleteItem deleteOrder countItem countOrder invokeCustomerCount invokeCustomerGetCreditInfo invokeItemGetItemImage readCustomer readItem readOrder readSalesrep submitCustomer submitOrder updateCustomer updateItem updateOrder updateSalesrep"
for spec in "$MB_TMP/sports.json" "$MB_TMP/sports.yaml"; do
  tools=$("$MCPBRIDGE" tools --spec "$spec" --all-methods --json) || fail "tools --spec $spec"
  names=$(python3 -c 'import json,sys; print(" ".join(sorted(t["name"] for t in json.load(sys.stdin))))' <<<"$tools")
  want=$(tr ' ' '\n' <<<"$expected" | sort | tr '\n' ' ' | sed 's/ $//')
  expect_eq "$names" "$want" "the tools of $spec"
done
printf '%s\n' "$tools" > "$MB_TMP/tools.json"
python3 - "$MB_TMP/tools.json" <<'PY' || fail "tool definitions"
import json, sys
tools = {t["name"]: t for t in json.load(open(sys.argv[1]))}
t = tools["readCustomer"]
assert t["method"] == "GET" and t["path"] == "/rest/Sports2000Service/Customer", t
assert "ABL WHERE" in t["inputSchema"]["properties"]["filter"]["description"]
assert tools["createCustomer"]["method"] == "POST" and "body" in tools["createCustomer"]["inputSchema"]["required"]
assert tools["deleteOrder"]["method"] == "DELETE"
assert tools["invokeItemGetItemImage"]["inputSchema"]["required"] == ["Itemnum"]
assert tools["readCustomer"]["annotations"]["readOnlyHint"] is True
PY
gets=$("$MCPBRIDGE" tools --spec "$MB_TMP/sports.json" --json | python3 -c 'import json,sys; print(" ".join(sorted(t["name"] for t in json.load(sys.stdin))))')
expect_eq "$gets" "countItem countOrder invokeCustomerCount invokeItemGetItemImage readCustomer readItem readOrder readSalesrep" "GET tools without routes"

# --- served end to end -----------------------------------------------------------------------
cat > "$MB_TMP/downstream.py" <<'PY'
# Records each request (method, path, body) as a JSON line and answers like an OpenEdge service.
import http.server, json, sys
log = sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        with open(log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "body": body}) + "\n")
        if "GetCreditInfo" in self.path:
            out = {"response": {"pdCreditLimit": 1500.5, "pdBalance": 42.0, "plOnHold": False}}
        else:
            out = {"dsCustomer": {"ttCustomer": [{"CustNum": 3, "Name": "Hoops", "Balance": 42.0}]}}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_PUT = do_POST = do_DELETE = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
dport=$(free_port)
python3 "$MB_TMP/downstream.py" "$dport" "$MB_TMP/requests.log" &
MB_PIDS+=("$!")
wait_http "http://127.0.0.1:$dport/" 10
port=$(free_port)
cat > "$MB_TMP/serve.yaml" <<YAML
api:
  openapi:
    spec_file: $MB_TMP/sports.yaml
    base_url: http://127.0.0.1:$dport/Sports2000
  routes:
    maps:
      - {comment: "every operation of the catalog is a tool", mcp_type: TOOL}
runtime:
  server:
    transport:
      port: $port
  middleware:
    request_timeout:
      timeout_ms: 5000
YAML
out=$("$MCPBRIDGE" check --config "$MB_TMP/serve.yaml") || fail "check of a config on the generated spec: $out"
grep -q "21 tools from $MB_TMP/sports.yaml" <<<"$out" || fail "check counts the tools: $out"
"$MCPBRIDGE" serve --config "$MB_TMP/serve.yaml" >"$MB_TMP/serve.log" 2>&1 &
MB_PIDS+=("$!")
wait_http "http://127.0.0.1:$port/healthz" 15 || fail "serve did not start: $(cat "$MB_TMP/serve.log")"
url="http://127.0.0.1:$port/mcp"

out=$("$MCPBRIDGE" client --url "$url" --tool readCustomer --args '{"filter": "CustNum = 3"}') \
  || fail "readCustomer through mcpbridge"
grep -q '"Hoops"' <<<"$out" || fail "readCustomer's answer: $out"
out=$("$MCPBRIDGE" client --url "$url" --tool invokeCustomerGetCreditInfo --args '{"body": {"request": {"piCustNum": 3}}}') \
  || fail "invokeCustomerGetCreditInfo through mcpbridge"
grep -q '"pdCreditLimit": 1500.5' <<<"$out" || fail "the invoke's answer: $out"
set +e
out=$("$MCPBRIDGE" client --url "$url" --tool createCustomer \
  --args '{"body": {"dsCustomer": {"ttCustomer": [{"CustNum": "three"}]}}}' 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "createCustomer with a CHARACTER where the catalog says INTEGER"
grep -q "CustNum" <<<"$out" || fail "the validation error names the field: $out"
python3 - "$MB_TMP/requests.log" <<'PY' || fail "the downstream requests: $(cat "$MB_TMP/requests.log")"
import json, sys
reqs = [r for r in (json.loads(l) for l in open(sys.argv[1])) if r["path"] != "/"]  # "/" is wait_http
assert len(reqs) == 2, reqs  # the invalid create never went downstream
assert reqs[0]["method"] == "GET" and reqs[0]["path"] == "/Sports2000/rest/Sports2000Service/Customer?filter=CustNum%20%3D%203", reqs[0]
assert reqs[1]["method"] == "PUT" and reqs[1]["path"] == "/Sports2000/rest/Sports2000Service/Customer/GetCreditInfo", reqs[1]
assert json.loads(reqs[1]["body"]) == {"request": {"piCustNum": 3}}, reqs[1]
PY

# --- malformed catalogs ----------------------------------------------------------------------
printf '{"services": [ {"name": "S",\n  "address": oops } ]}\n' > "$MB_TMP/notjson.json"
gen "$MB_TMP/notjson.json"
expect_eq "$rc" 1 "a catalog that is not JSON"
grep -q "^mcpbridge openapi-gen: $MB_TMP/notjson.json:2: " <<<"$err" || fail "the JSON error names file and line: $err"
[ -z "$out" ] || fail "nothing on stdout on errors: $out"

echo '{"version": "1.5", "services": []}' > "$MB_TMP/noservices.json"
gen "$MB_TMP/noservices.json"
expect_eq "$rc" 1 "a catalog without services"
grep -q "no services: a JSDO catalog lists its Data Object services" <<<"$err" || fail "no-services message: $err"
echo '[1, 2]' > "$MB_TMP/array.json"
gen "$MB_TMP/array.json"
expect_eq "$rc" 1 "a catalog that is an array"
grep -q "the catalog is not a JSON object" <<<"$err" || fail "not-an-object message: $err"

python3 - "$catalog" "$MB_TMP/noverb.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
del d["services"][0]["resources"][1]["operations"][2]["verb"]          # Order update
d["services"][0]["resources"][2]["operations"][0]["params"][0]["type"] = "BOGUS"  # Item read
d["services"][0]["resources"][3]["operations"][1]["path"] = "?filter={filter}"   # Salesrep update
d["services"][0]["resources"][3]["operations"][1]["verb"] = "get"                # = its read
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY
gen "$MB_TMP/noverb.json" --out "$MB_TMP/never.json"
expect_eq "$rc" 1 "a catalog with broken operations"
grep -q "noverb.json:[0-9]*: services\[0\] (Sports2000Service).resources\[1\] (Order).operations\[2\] (update): no \"verb\": add the HTTP method the service uses, e.g. \"verb\": \"put\"" <<<"$err" \
  || fail "the missing verb is named with its place: $err"
grep -q "resources\[2\] (Item).operations\[0\] (read).params\[0\]: unknown parameter type \"BOGUS\"" <<<"$err" || fail "bad parameter type: $err"
grep -q "resources\[3\] (Salesrep).operations\[1\] (update): GET /rest/Sports2000Service/Salesrep is already services\[0\] (Sports2000Service).resources\[3\] (Salesrep).operations\[0\] (read)" <<<"$err" \
  || fail "two operations on one method and path: $err"
grep -q "3 problems in the catalog; nothing was written" <<<"$err" || fail "problem count: $err"
[ ! -e "$MB_TMP/never.json" ] || fail "a failed conversion writes no file"

gen "$MB_TMP/missing.json"
expect_eq "$rc" 1 "a missing catalog"
grep -q "cannot open the catalog: No such file or directory" <<<"$err" || fail "missing file message: $err"
gen "$catalog" --out "$MB_TMP/no/such/dir/out.json"
expect_eq "$rc" 1 "an --out in a missing directory"
grep -q "cannot create a file next to '$MB_TMP/no/such/dir/out.json'" <<<"$err" || fail "write error: $err"

echo "test_openapi_gen: all checks passed"
