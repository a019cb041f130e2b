-- Storage: a tree of arrays, fan-out 4 and depth 7, whose leaves are arrays
-- of random length; the result is the number of arrays made (5461).
local som = require("som")
local benchmark = require("benchmark")

local count

local function buildTreeDepth(depth, random)
  count = count + 1
  if depth == 1 then
    local n = random:next() % 10 + 1
    local leaf = {}
    for i = 1, n do leaf[i] = false end
    return leaf
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
