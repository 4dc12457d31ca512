-- The soak's mix (bench/soak.py): each request takes the next body of $SOAK_BODIES (one JSON
-- body per line), so streamed and whole answers and the fake upstream's faults (chosen by
-- "mode=..." in the body) come in a fixed ratio. Headers as post.lua's ($BENCH_HEADERS).
local bodies = {}
for line in io.lines(os.getenv("SOAK_BODIES")) do bodies[#bodies + 1] = line end
local headers = {["Content-Type"] = "application/json"}
for pair in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.*)$")
  if name then headers[name] = value end
end
local n = 0

function setup(thread)
  thread:set("offset", math.random(#bodies))
end

function request()
  n = n + 1
  return wrk.format("POST", nil, headers, bodies[(n + (offset or 0)) % #bodies + 1])
end
