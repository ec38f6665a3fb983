-- Sends the requests listed in the file REQUESTS (environment), one per line, in random order:
--   GET <path>            or            POST <path> <json body>
-- PACE_MS (environment, optional) waits that long between a connection's answer and its next request, to hold
-- a fixed rate below saturation: rate ≈ connections / (latency + PACE_MS).
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "") .. "common.lua")

local lines = {}
for line in io.lines(os.getenv("REQUESTS")) do
  lines[#lines + 1] = line
end
local pace = tonumber(os.getenv("PACE_MS") or "0")

function request()
  local line = lines[math.random(#lines)]
  local method, rest = line:match("^(%u+) (.*)$")
  if method == "POST" then
    local path, body = rest:match("^(%S+) (.*)$")
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", rest)
end

if pace > 0 then
  function delay()
    return pace
  end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end
