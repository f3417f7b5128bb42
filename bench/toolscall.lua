-- wrk script for bench/run.sh: MCP requests over Streamable HTTP with a session made beforehand,
-- or plain GETs (MB_PLAIN=1) when a downstream or nginx proxy is paced at a fixed rate.
-- Environment (read by every wrk thread):
--   MB_SESSION   Mcp-Session-Id shared by every connection
--   MB_AUTH      a service-account token sent on every request (authentication on)
--   MB_TOOL      tool name (default getItem); MB_ARGS its arguments as JSON (default {"id":1})
--   MB_BODY      the whole JSON-RPC body instead (e.g. a tools/list request)
--   MB_EXPECT    a string every good response body holds (default "structuredContent")
--   MB_CHECK=0   no per-response check (wrk then does not copy bodies into Lua: payload sweep)
--   MB_DELAY_MS  pace: each connection waits a random 0.5..1.5 x this many ms (integer ms)
--                before each request, so the offered rate is about connections*1000/MB_DELAY_MS
--                minus the time the responses take; the random spread keeps connections from
--                moving in lockstep bursts. Unset: closed loop, as fast as answers come.
-- The count of bad responses is per thread (each wrk thread has its own Lua state); done()
-- sums them through the thread handles and prints "checked responses: N not a successful
-- tool result" on stderr, which bench/run.sh reads.
local plain = os.getenv("MB_PLAIN") == "1"
if not plain then
  local session = os.getenv("MB_SESSION")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
  if session and session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
  local auth = os.getenv("MB_AUTH")
  if auth and auth ~= "" then wrk.headers["X-OEMCP-SERVICEACCOUNT"] = auth end
  local tool = os.getenv("MB_TOOL") or "getItem"
  local args = os.getenv("MB_ARGS") or '{"id":1}'
  wrk.body = os.getenv("MB_BODY") or
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. tool .. '","arguments":' .. args .. '}}')
end

local delay_ms = tonumber(os.getenv("MB_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  local lo, hi = math.max(0, math.floor(delay_ms / 2)), math.ceil(delay_ms * 3 / 2)
  delay = function() return math.random(lo, hi) end
end

bad = 0
local expect = os.getenv("MB_EXPECT") or "structuredContent"
if not plain and os.getenv("MB_CHECK") ~= "0" then
  response = function(status, headers, body)
    if status ~= 200 or not string.find(body, expect, 1, true) then bad = bad + 1 end
  end
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end
init = function(args)
  math.randomseed(os.time() * 100 + (seed or 0))
end
done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (tonumber(t:get("bad")) or 0) end
  io.stderr:write(string.format("checked responses: %d not a successful tool result\n", total))
end
