-- Sieve: the primes up to 5000 by the sieve of Eratosthenes (669).
local benchmark = require("benchmark")

local function sieve(flags, size)
  local primeCount = 0
  for i = 2, size do
    if flags[i] then
      primeCount = primeCount + 1
      local k = i + i
      while k <= size do
        flags[k] = false
        k = k + i
      end
    end
  end
  return primeCount
end

local function run()
  local flags = {}
  for i = 1, 5000 do flags[i] = true end
  return sieve(flags, 5000)
end

local function verify(result) return result == 669 end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
