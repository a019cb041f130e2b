-- Storage: a tree of arrays, fan-out 4 and depth 7, whose leaves are arrays
-- of random length; the result is the number of arrays made (5461).
local som = require("som")
local benchmark = require("benchmark")

local count

-- Lua cannot allocate an array of n elements in one step: these
-- constructors make the leaves of 1 to 10 elements as K's `new Any[n]`
-- does, without an interpreted loop over the elements.
local leaves = {}
for n = 1, 10 do
  leaves[n] = load("return function() return {"
                   .. string.rep("false, ", n) .. "} end")()
end

local function buildTreeDepth(depth, random)
  count = count + 1
  if depth == 1 then
    return leaves[random:next() % 10 + 1]()
  end
  local arr = {false, false, false, false}
  for i = 1, 4 do arr[i] = buildTreeDepth(depth - 1, random) end
  return arr
end

local function run()
  local random = som.Random.new()
  count = 0
  buildTreeDepth(7, random)
  return count
end

local function verify(result) return result == 5461 end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
