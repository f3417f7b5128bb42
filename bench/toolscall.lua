-- wrk script: MCP tools/call over Streamable HTTP with a session made beforehand.
-- The session id comes from the environment (MB_SESSION) so every connection shares it.
local session = os.getenv("MB_SESSION")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
if session then wrk.headers["Mcp-Session-Id"] = session end
-- With authentication on (MB_AUTH: a service-account token), every request carries it.
local auth = os.getenv("MB_AUTH")
if auth and auth ~= "" then wrk.headers["X-OEMCP-SERVICEACCOUNT"] = auth end
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"getItem","arguments":{"id":1}}}'
local bad = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"structuredContent"', 1, true) then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.stderr:write(string.format("checked responses: %d not a successful tool result\n", bad))
end
