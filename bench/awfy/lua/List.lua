-- List: Takeuchi's tail function over linked lists of lengths 15, 10 and
-- 6, compared by walking them; the result is the length of the answer (10).
local som = require("som")
local benchmark = require("benchmark")

local Element = som.class()

function Element.new(v)
  return setmetatable({val = v, next = nil}, Element)
end

function Element:length()
  if self.next == nil then return 1 end
  return 1 + self.next:length()
end

local function makeList(length)
  if length == 0 then return nil end
  local e = Element.new(length)
  e.next = makeList(length - 1)
  return e
end

local function isShorterThan(x, y)
  local xTail, yTail = x, y
  while yTail ~= nil do
    if xTail == nil then return true end
    xTail = xTail.next
    yTail = yTail.next
  end
  return false
end

local function tail(x, y, z)
  if isShorterThan(y, x) then
    return tail(tail(x.next, y, z), tail(y.next, z, x), tail(z.next, x, y))
  end
  return z
end

local function run()
  return tail(makeList(15), makeList(10), makeList(6)):length()
end

local function verify(result) return result == 10 end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
