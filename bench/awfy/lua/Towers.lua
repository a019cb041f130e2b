-- Towers: the towers of Hanoi with 13 discs kept as linked stacks; the
-- result is the number of moves (8191).
local som = require("som")
local benchmark = require("benchmark")

local Disk = som.class()

function Disk.new(size)
  return setmetatable({size = size, next = nil}, Disk)
end

local piles, movesDone

local function pushDisk(disk, pile)
  local top = piles[pile]
  if top and disk.size >= top.size then
    error("Cannot put a big disk on a smaller one")
  end
  disk.next = top
  piles[pile] = disk
end

local function popDiskFrom(pile)
  local top = piles[pile]
  if not top then error("Attempting to remove a disk from an empty pile") end
  piles[pile] = top.next
  top.next = nil
  return top
end

local function moveTopDisk(fromPile, toPile)
  pushDisk(popDiskFrom(fromPile), toPile)
  movesDone = movesDone + 1
end

local function buildTowerAt(pile, disks)
  for i = disks, 0, -1 do pushDisk(Disk.new(i), pile) end
end

local function moveDisks(disks, fromPile, toPile)
  if disks == 1 then
    moveTopDisk(fromPile, toPile)
  else
    local otherPile = 3 - fromPile - toPile
    moveDisks(disks - 1, fromPile, otherPile)
    moveTopDisk(fromPile, toPile)
    moveDisks(disks - 1, otherPile, toPile)
  end
end

local function run()
  piles = {[0] = false, false, false}
  buildTowerAt(0, 13)
  movesDone = 0
  moveDisks(13, 0, 1)
  return movesDone
end

local function verify(result) return result == 8191 end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
