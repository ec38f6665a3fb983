-- Sends the requests listed in the file REQUESTS (environment), one per line, in random order:
--   GET <path>            or            POST <path> <json body>
-- PACE_RATE (environment, optional) holds that many requests/s in all, below saturation: each of the PACE_THREADS
-- wrk threads (pass the same number as -t) hands its connections send times on a fixed schedule of
-- PACE_RATE / PACE_THREADS a second, so the rate does not depend on the latency as long as the connections cover
-- it (connections >= rate x the slowest answers' time); a thread that fell behind catches up to 100 ms of its
-- schedule at once, and restarts it after a longer stall.
-- PACE_MS (environment, optional) instead waits that long between a connection's answer and its next request:
-- rate ≈ connections / (latency + PACE_MS), which undershoots when answers slow down.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "") .. "common.lua")

local lines = {}
for line in io.lines(os.getenv("REQUESTS")) do
  lines[#lines + 1] = line
end
local pace = tonumber(os.getenv("PACE_MS") or "0")
local pace_rate = tonumber(os.getenv("PACE_RATE") or "0")

function request()
  local line = lines[math.random(#lines)]
  local method, rest = line:match("^(%u+) (.*)$")
  if method == "POST" then
    local path, body = rest:match("^(%S+) (.*)$")
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", rest)
end

if pace_rate > 0 then
  local ffi = require("ffi")
  ffi.cdef [[
    struct pace_timespec { long tv_sec; long tv_nsec; };
    int clock_gettime(int clock, struct pace_timespec *now);
  ]]
  local clock = ffi.new("struct pace_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
  end
  local interval = 1000 * tonumber(os.getenv("PACE_THREADS") or "1") / pace_rate
  local next_at = nil
  -- wrk asks before each request how many ms to wait (whole ms: it truncates), so a slot is at most 1 ms early.
  function delay()
    local now = now_ms()
    if next_at == nil or now - next_at > 100 then
      next_at = now
    end
    local wait = next_at - now
    next_at = next_at + interval
    return wait > 0 and wait or 0
  end
elseif pace > 0 then
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
