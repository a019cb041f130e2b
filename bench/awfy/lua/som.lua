-- The small collection library the Lua benchmarks share (the AWFY rules:
-- each language brings its own Vector, Set, Dictionary and Random, built
-- on plain arrays, so that no benchmark leans on the host's hash tables).
-- Written for Lua 5.4 and LuaJIT alike: no `//`, no bitwise operators in
-- the source; the bit helpers come from LuaJIT's `bit` or from a chunk
-- compiled at load time on 5.4.

local som = {}

local has_bit, bitlib = pcall(require, "bit")
if has_bit then
  som.band, som.bxor = bitlib.band, bitlib.bxor
else
  som.band, som.bxor = load(
    "return function(a, b) return a & b end, function(a, b) return a ~ b end")()
end

-- Integer division of non-negative numbers, the same on both VMs.
function som.idiv(a, b)
  return math.floor(a / b)
end

local Vector = {}
Vector.__index = Vector
som.Vector = Vector

function Vector.new(size)
  return setmetatable({storage = {}, capacity = size or 50,
                       first = 1, last = 1}, Vector)
end

function Vector.with(elem)
  local v = Vector.new()
  v:append(elem)
  return v
end

function Vector:at(idx)
  if idx >= self.last - self.first then return nil end
  return self.storage[self.first + idx]
end

function Vector:atPut(idx, val)
  -- grows the vector to idx + 1 elements when needed (Havlak's block map)
  local n = self.last - self.first
  while idx >= n do
    self:append(false)
    n = n + 1
  end
  self.storage[self.first + idx] = val
end

function Vector:append(elem)
  self.storage[self.last] = elem
  self.last = self.last + 1
end

function Vector:isEmpty()
  return self.last == self.first
end

function Vector:size()
  return self.last - self.first
end

function Vector:removeFirst()
  if self.last == self.first then return nil end
  local v = self.storage[self.first]
  self.storage[self.first] = nil
  self.first = self.first + 1
  return v
end

function Vector:removeAll()
  self.storage = {}
  self.first = 1
  self.last = 1
end

-- Removes every element identical to obj; true if there was one.
function Vector:remove(obj)
  local new, j, found = {}, 1, false
  for i = self.first, self.last - 1 do
    local e = self.storage[i]
    if e == obj then
      found = true
    else
      new[j] = e
      j = j + 1
    end
  end
  self.storage, self.first, self.last = new, 1, j
  return found
end

function Vector:contains(obj)
  for i = self.first, self.last - 1 do
    if self.storage[i] == obj then return true end
  end
  return false
end

-- A set kept in a Vector: membership by a linear scan, as AWFY's Set.
local Set = {}
Set.__index = Set
som.Set = Set

function Set.new()
  return setmetatable({items = Vector.new()}, Set)
end

function Set:add(obj)
  if not self.items:contains(obj) then self.items:append(obj) end
end

function Set:size() return self.items:size() end
function Set:at(i) return self.items:at(i) end

-- A hash dictionary with integer keys (the caller hashes), chained
-- buckets in an array whose size is a power of two.
local Dictionary = {}
Dictionary.__index = Dictionary
som.Dictionary = Dictionary

function Dictionary.new()
  return setmetatable({buckets = {}, capacity = 16, count = 0}, Dictionary)
end

local function slot(self, key)
  return som.band(key, self.capacity - 1) + 1
end

function Dictionary:at(key)
  local e = self.buckets[slot(self, key)]
  while e do
    if e.key == key then return e.value end
    e = e.next
  end
  return nil
end

function Dictionary:atPut(key, value)
  local s = slot(self, key)
  local e = self.buckets[s]
  while e do
    if e.key == key then
      e.value = value
      return
    end
    e = e.next
  end
  self.buckets[s] = {key = key, value = value, next = self.buckets[s]}
  self.count = self.count + 1
  if self.count > self.capacity * 3 / 4 then self:resize() end
end

function Dictionary:resize()
  local old, oldCap = self.buckets, self.capacity
  self.buckets, self.capacity = {}, oldCap * 2
  for i = 1, oldCap do
    local e = old[i]
    while e do
      local nxt = e.next
      local s = slot(self, e.key)
      e.next = self.buckets[s]
      self.buckets[s] = e
      e = nxt
    end
  end
end

function Dictionary:size() return self.count end

function Dictionary:removeAll()
  self.buckets, self.capacity, self.count = {}, 16, 0
end

-- AWFY's pseudo-random generator: 16-bit linear congruence.
local Random = {}
Random.__index = Random
som.Random = Random

function Random.new()
  return setmetatable({seed = 74755}, Random)
end

function Random:next()
  self.seed = (self.seed * 1309 + 13849) % 65536
  return self.seed
end

-- Classes: som.class(Base) gives a table whose instances look methods up
-- in it, then in Base.
function som.class(base)
  local c = {}
  c.__index = c
  if base then setmetatable(c, {__index = base}) end
  return c
end

return som
