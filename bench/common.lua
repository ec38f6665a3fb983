-- Shared by the wrk scripts: gives each wrk thread an id and its own random seed.
-- INSTANCES / GENERATIONS (environment) must match what seed.py created.
INSTANCES = tonumber(os.getenv("INSTANCES") or "1000")
GENERATIONS = tonumber(os.getenv("GENERATIONS") or "20")
FUNCTION_PATH = "/v4/openapi/app-groups/bench/functions/pop/instances"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end
