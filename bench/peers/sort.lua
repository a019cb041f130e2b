-- Sort benchmark (bench/test_sort.py): lua5.4 sort.lua MODE N, MODE being
-- "cmp" (table.sort with a comparator), "plain" (without) or "fill"
-- (fill and check only); the same numbers as bench/peers/sort.k.
local mode, n = arg[1], tonumber(arg[2])
local a = {}
local seed = 42
for i = 1, n do
  seed = (seed * 1103515245 + 12345) % 2147483648
  a[i] = seed
end
if mode == "cmp" then
  table.sort(a, function(x, y) return x < y end)
elseif mode == "plain" then
  table.sort(a)
end
local inversions, sum = 0, 0
for i = 1, n do
  sum = sum + a[i]
  if i > 1 and a[i - 1] > a[i] then inversions = inversions + 1 end
end
print(a[1] .. " " .. a[n] .. " " .. sum .. " " .. inversions)
