-- The inner loop every benchmark with a fixed amount of work per call
-- shares: run it `inner` times, checking each result.
local benchmark = {}

function benchmark.loop(run, verify)
  return function(inner)
    for _ = 1, inner do
      if not verify(run(), inner) then return false end
    end
    return true
  end
end

return benchmark
