-- Map benchmark (bench/test_map.py): lua5.4 map.lua MODE N
local mode, n = arg[1], tonumber(arg[2])

local function intKey(i)
  if mode == "int-collide" then return i << 20 end
  return (i * 2654435761) & 1099511627775
end

local function strKey(i)
  if mode == "str" then return "k" .. (i * 7919) end
  local a, b = "xq", "zk"
  if mode == "str-collide" then a, b = "Aa", "BB" end
  local s = ""
  for k = 0, 16 do
    if (i >> k) & 1 == 1 then s = s .. b else s = s .. a end
  end
  return s
end

local key = mode:sub(1, 3) == "int" and intKey or strKey
local m, size = {}, 0
for i = 0, n - 1 do
  local k = key(i)
  if m[k] == nil then size = size + 1 end
  m[k] = i
end
local sum = 0
for i = 0, n - 1 do
  local v = m[key(i)]
  if v == nil then error("key not found") end
  sum = sum + v
end
for i = 0, n - 1, 2 do
  local k = key(i)
  if m[k] ~= nil then m[k] = nil; size = size - 1 end
end
print(sum .. " " .. size)
