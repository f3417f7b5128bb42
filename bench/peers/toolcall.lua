-- wrk script for bench/peers.sh: MCP tools/call over Streamable HTTP with a session made beforehand,
-- every response checked to be a successful tool result. The same request as bench/toolscall.lua;
-- the check is stricter and also reads SSE framing, so any Streamable HTTP server can be measured:
--   PEER_SESSION      Mcp-Session-Id made by the caller (initialize + notifications/initialized)
--   PEER_TOOL         tool name (default getItem)
--   PEER_STRUCTURED   "1": the result must also carry structuredContent (default "1")
--   PEER_EXPECT       optional string the response must contain (e.g. a field of the downstream JSON)
-- A response counts as successful when the status is 200 and its JSON-RPC message (the body, or
-- the data: lines of a text/event-stream body) has a "result" with "content" and no
-- "isError":true (and PEER_EXPECT when set). done() writes "checked responses: N not a successful tool result" to stderr.
local session = os.getenv("PEER_SESSION")
local tool = os.getenv("PEER_TOOL") or "getItem"
local structured = (os.getenv("PEER_STRUCTURED") or "1") == "1"
local expect = os.getenv("PEER_EXPECT") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
if session then wrk.headers["Mcp-Session-Id"] = session end
-- Every request has its own JSON-RPC id (MCP: an id must not be reused within a session; the
-- SDK's transport routes a response to its HTTP request by id, so 50 in-flight calls all with
-- id 1 collide there). Ids are unique per wrk thread (bench/peers.sh runs one thread).
local prefix = '{"jsonrpc":"2.0","id":'
local suffix = ',"method":"tools/call","params":{"name":"' .. tool .. '","arguments":{"id":1}}}'
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. counter .. suffix)
end

local bad = 0
local first_bad = nil

local function message_of(headers, body)
  local ctype = headers["Content-Type"] or headers["content-type"] or ""
  if string.find(ctype, "text/event-stream", 1, true) then
    local parts = {}
    for line in string.gmatch(body, "[^\n]+") do
      local data = string.match(line, "^data:%s?(.-)\r?$")
      if data then parts[#parts + 1] = data end
    end
    return table.concat(parts, "\n")
  end
  return body
end

response = function(status, headers, body)
  local msg = message_of(headers, body or "")
  local ok = status == 200
    and string.find(msg, '"result"', 1, true) ~= nil
    and string.find(msg, '"content"', 1, true) ~= nil
    and string.find(msg, '"isError":true', 1, true) == nil
    and (not structured or string.find(msg, '"structuredContent"', 1, true) ~= nil)
    and (expect == "" or string.find(msg, expect, 1, true) ~= nil)
  if not ok then
    bad = bad + 1
    if not first_bad then first_bad = status .. " " .. string.sub(msg, 1, 200) end
  end
end

done = function(summary, latency, requests)
  io.stderr:write(string.format("checked responses: %d not a successful tool result\n", bad))
  if first_bad then io.stderr:write("first bad response: " .. first_bad .. "\n") end
end
