-- GetFunctionTask: random instance i0001..i1000, random generation 1..20.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "") .. "common.lua")

function request()
  return wrk.format("GET", string.format("%s/i%04d/tasks/%d",
    FUNCTION_PATH, math.random(INSTANCES), math.random(GENERATIONS)))
end
