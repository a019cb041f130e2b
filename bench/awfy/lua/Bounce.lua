-- Bounce: 100 balls moving in a 500x500 box for 50 steps; the result is
-- how many times a ball hit a wall (1331).
local som = require("som")
local benchmark = require("benchmark")

local Ball = som.class()

function Ball.new(random)
  local b = setmetatable({}, Ball)
  b.x = random:next() % 500
  b.y = random:next() % 500
  b.xVel = (random:next() % 300) - 150
  b.yVel = (random:next() % 300) - 150
  return b
end

function Ball:bounce()
  local xLimit, yLimit = 500, 500
  local bounced = false
  self.x = self.x + self.xVel
  self.y = self.y + self.yVel
  if self.x > xLimit then
    self.x = xLimit
    self.xVel = 0 - math.abs(self.xVel)
    bounced = true
  end
  if self.x < 0 then
    self.x = 0
    self.xVel = math.abs(self.xVel)
    bounced = true
  end
  if self.y > yLimit then
    self.y = yLimit
    self.yVel = 0 - math.abs(self.yVel)
    bounced = true
  end
  if self.y < 0 then
    self.y = 0
    self.yVel = math.abs(self.yVel)
    bounced = true
  end
  return bounced
end

local function run()
  local random = som.Random.new()
  local ballCount = 100
  local bounces = 0
  local balls = {}
  for i = 1, ballCount do balls[i] = Ball.new(random) end
  for _ = 1, 50 do
    for i = 1, ballCount do
      if balls[i]:bounce() then bounces = bounces + 1 end
    end
  end
  return bounces
end

local function verify(result) return result == 1331 end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
