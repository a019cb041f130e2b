-- Runs one benchmark: lua harness.lua NAME ITERATIONS INNER_ITERATIONS.
-- Each iteration runs the benchmark's inner loop, which checks every
-- result with verifyResult; a failed check ends the run with an error.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local name = arg[1]
local iterations = tonumber(arg[2]) or 1
local inner = tonumber(arg[3]) or 1
local bench = require(name)
local clock = os.clock

local total = 0
for _ = 1, iterations do
  local start = clock()
  if not bench.innerBenchmarkLoop(inner) then
    error(name .. ": verifyResult failed")
  end
  local us = math.floor((clock() - start) * 1e6)
  total = total + us
  print(name .. ": iterations=1 runtime: " .. us .. "us")
end
print(name .. ": iterations=" .. iterations .. " average: "
      .. math.floor(total / iterations) .. "us total: " .. total .. "us")
print(name .. ": verifyResult ok")
