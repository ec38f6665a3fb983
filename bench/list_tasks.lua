-- ListFunctionTasks: random instance, first page of 10 (newest first).
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "") .. "common.lua")

function request()
  return wrk.format("GET", string.format("%s/i%04d/tasks?pageSize=10&pageNumber=1",
    FUNCTION_PATH, math.random(INSTANCES)))
end
