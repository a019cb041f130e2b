-- Permute: every permutation of a 6-element array by recursive swapping;
-- the result is the number of calls (8660).
local benchmark = require("benchmark")

local count, v

local function swap(i, j)
  local tmp = v[i]
  v[i] = v[j]
  v[j] = tmp
end

local function permute(n)
  count = count + 1
  if n ~= 0 then
    local n1 = n - 1
    permute(n1)
    for i = n1, 0, -1 do
      swap(n1, i)
      permute(n1)
      swap(n1, i)
    end
  end
end

local function run()
  count = 0
  v = {[0] = 0, 0, 0, 0, 0, 0}
  permute(6)
  return count
end

local function verify(result) return result == 8660 end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
