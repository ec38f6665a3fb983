-- CreateFunctionInstance: every request a new instance name, unique per run, wrk thread and request.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "") .. "common.lua")

local run = os.time() % 1000000
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local body = string.format('{"instanceName":"c%d_%d_%d","modelType":"pop"}', run, id, counter)
  return wrk.format("POST", FUNCTION_PATH, headers, body)
end
