-- Queens: the eight queens problem solved by backtracking, ten times.
local benchmark = require("benchmark")

local freeRows, freeMaxs, freeMins, queenRows

local function getRowColumn(r, c)
  return freeRows[r] and freeMaxs[c + r] and freeMins[c - r + 7]
end

local function setRowColumn(r, c, v)
  freeRows[r] = v
  freeMaxs[c + r] = v
  freeMins[c - r + 7] = v
end

local function placeQueen(c)
  for r = 0, 7 do
    if getRowColumn(r, c) then
      queenRows[r] = c
      setRowColumn(r, c, false)
      if c == 7 then return true end
      if placeQueen(c + 1) then return true end
      setRowColumn(r, c, true)
    end
  end
  return false
end

local function queens()
  freeRows, freeMaxs, freeMins, queenRows = {}, {}, {}, {}
  for i = 0, 7 do freeRows[i] = true end
  for i = 0, 15 do freeMaxs[i] = true end
  for i = 0, 15 do freeMins[i] = true end
  for i = 0, 7 do queenRows[i] = -1 end
  return placeQueen(0)
end

local function run()
  local result = true
  for _ = 1, 10 do result = result and queens() end
  return result
end

local function verify(result) return result == true end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
