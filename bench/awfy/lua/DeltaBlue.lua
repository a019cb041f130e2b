-- DeltaBlue: the incremental constraint solver of Freeman-Benson, Maloney
-- and Borning, on a chain of n equality constraints and on n scale
-- constraints sharing a scale and an offset (n = the inner iteration
-- count). Each test checks the values the plans compute.
local som = require("som")
local Vector = som.Vector

-- Strengths: a smaller value is stronger.
local REQUIRED, STRONG_PREFERRED, PREFERRED, STRONG_DEFAULT = 0, 1, 2, 3
local NORMAL, WEAK_DEFAULT, WEAKEST = 4, 5, 6

local function stronger(s1, s2) return s1 < s2 end
local function weaker(s1, s2) return s1 > s2 end
local function weakest(s1, s2) if s1 > s2 then return s1 end return s2 end
local function nextWeaker(s) return s + 1 end

local NONE, FORWARD, BACKWARD = 0, 1, 2

local Variable = som.class()

function Variable.new(value)
  return setmetatable({value = value or 0, constraints = Vector.new(2),
                       determinedBy = nil, mark = 0, walkStrength = WEAKEST,
                       stay = true}, Variable)
end

function Variable:addConstraint(c) self.constraints:append(c) end

function Variable:removeConstraint(c)
  self.constraints:remove(c)
  if self.determinedBy == c then self.determinedBy = nil end
end

local Planner = som.class()

-- Constraint: the shared part of every constraint.
local Constraint = som.class()

function Constraint:addConstraint(planner)
  self:addToGraph()
  planner:incrementalAdd(self)
end

-- Satisfies this constraint by choosing a method; the constraint it
-- overrode, if any.
function Constraint:satisfy(mark, planner)
  self:chooseMethod(mark)
  if not self:isSatisfied() then
    if self.strength == REQUIRED then
      error("Could not satisfy a required constraint!")
    end
    return nil
  end
  self:markInputs(mark)
  local out = self:output()
  local overridden = out.determinedBy
  if overridden ~= nil then overridden:markUnsatisfied() end
  out.determinedBy = self
  if not planner:addPropagate(self, mark) then error("Cycle encountered") end
  out.mark = mark
  return overridden
end

function Constraint:destroyConstraint(planner)
  if self:isSatisfied() then planner:incrementalRemove(self) end
  self:removeFromGraph()
end

function Constraint:isInput() return false end

local UnaryConstraint = som.class(Constraint)

local function initUnary(c, v, strength, planner)
  c.strength = strength
  c.myOutput = v
  c.satisfied = false
  c:addConstraint(planner)
  return c
end

function UnaryConstraint:addToGraph()
  self.myOutput:addConstraint(self)
  self.satisfied = false
end

function UnaryConstraint:chooseMethod(mark)
  self.satisfied = self.myOutput.mark ~= mark
    and stronger(self.strength, self.myOutput.walkStrength)
end

function UnaryConstraint:isSatisfied() return self.satisfied end
function UnaryConstraint:markInputs(_) end
function UnaryConstraint:output() return self.myOutput end

function UnaryConstraint:recalculate()
  self.myOutput.walkStrength = self.strength
  self.myOutput.stay = not self:isInput()
  if self.myOutput.stay then self:execute() end
end

function UnaryConstraint:markUnsatisfied() self.satisfied = false end
function UnaryConstraint:inputsKnown(_) return true end

function UnaryConstraint:removeFromGraph()
  if self.myOutput ~= nil then self.myOutput:removeConstraint(self) end
  self.satisfied = false
end

local StayConstraint = som.class(UnaryConstraint)
function StayConstraint.new(v, strength, planner)
  return initUnary(setmetatable({}, StayConstraint), v, strength, planner)
end
function StayConstraint:execute() end

local EditConstraint = som.class(UnaryConstraint)
function EditConstraint.new(v, strength, planner)
  return initUnary(setmetatable({}, EditConstraint), v, strength, planner)
end
function EditConstraint:isInput() return true end
function EditConstraint:execute() end

local BinaryConstraint = som.class(Constraint)

function BinaryConstraint:chooseMethod(mark)
  local v1, v2 = self.v1, self.v2
  if v1.mark == mark then
    if v2.mark ~= mark and stronger(self.strength, v2.walkStrength) then
      self.direction = FORWARD
    else
      self.direction = NONE
    end
    return
  end
  if v2.mark == mark then
    if v1.mark ~= mark and stronger(self.strength, v1.walkStrength) then
      self.direction = BACKWARD
    else
      self.direction = NONE
    end
    return
  end
  if weaker(v1.walkStrength, v2.walkStrength) then
    if stronger(self.strength, v1.walkStrength) then
      self.direction = BACKWARD
    else
      self.direction = NONE
    end
  else
    if stronger(self.strength, v2.walkStrength) then
      self.direction = FORWARD
    else
      self.direction = NONE
    end
  end
end

function BinaryConstraint:addToGraph()
  self.v1:addConstraint(self)
  self.v2:addConstraint(self)
  self.direction = NONE
end

function BinaryConstraint:isSatisfied() return self.direction ~= NONE end
function BinaryConstraint:markInputs(mark) self:input().mark = mark end

function BinaryConstraint:input()
  if self.direction == FORWARD then return self.v1 end
  return self.v2
end

function BinaryConstraint:output()
  if self.direction == FORWARD then return self.v2 end
  return self.v1
end

function BinaryConstraint:recalculate()
  local ihn, out = self:input(), self:output()
  out.walkStrength = weakest(self.strength, ihn.walkStrength)
  out.stay = ihn.stay
  if out.stay then self:execute() end
end

function BinaryConstraint:markUnsatisfied() self.direction = NONE end

function BinaryConstraint:inputsKnown(mark)
  local i = self:input()
  return i.mark == mark or i.stay or i.determinedBy == nil
end

function BinaryConstraint:removeFromGraph()
  if self.v1 ~= nil then self.v1:removeConstraint(self) end
  if self.v2 ~= nil then self.v2:removeConstraint(self) end
  self.direction = NONE
end

local EqualityConstraint = som.class(BinaryConstraint)

function EqualityConstraint.new(var1, var2, strength, planner)
  local c = setmetatable({strength = strength, v1 = var1, v2 = var2,
                          direction = NONE}, EqualityConstraint)
  c:addConstraint(planner)
  return c
end

function EqualityConstraint:execute()
  self:output().value = self:input().value
end

-- v2 = v1 * scale + offset, or backwards.
local ScaleConstraint = som.class(BinaryConstraint)

function ScaleConstraint.new(src, scale, offset, dest, strength, planner)
  local c = setmetatable({strength = strength, v1 = src, v2 = dest,
                          direction = NONE, scale = scale, offset = offset},
                         ScaleConstraint)
  c:addConstraint(planner)
  return c
end

function ScaleConstraint:addToGraph()
  BinaryConstraint.addToGraph(self)
  self.scale:addConstraint(self)
  self.offset:addConstraint(self)
end

function ScaleConstraint:removeFromGraph()
  BinaryConstraint.removeFromGraph(self)
  if self.scale ~= nil then self.scale:removeConstraint(self) end
  if self.offset ~= nil then self.offset:removeConstraint(self) end
end

function ScaleConstraint:markInputs(mark)
  BinaryConstraint.markInputs(self, mark)
  self.scale.mark = mark
  self.offset.mark = mark
end

function ScaleConstraint:execute()
  if self.direction == FORWARD then
    self.v2.value = self.v1.value * self.scale.value + self.offset.value
  else
    self.v1.value = som.idiv(self.v2.value - self.offset.value, self.scale.value)
  end
end

function ScaleConstraint:recalculate()
  local ihn, out = self:input(), self:output()
  out.walkStrength = weakest(self.strength, ihn.walkStrength)
  out.stay = ihn.stay and self.scale.stay and self.offset.stay
  if out.stay then self:execute() end
end

-- A plan: the constraints to execute, in order.
local Plan = som.class(Vector)

function Plan.new()
  local p = Vector.new(15)
  return setmetatable(p, Plan)
end

function Plan:execute()
  for i = 0, self:size() - 1 do self:at(i):execute() end
end

function Planner.new()
  return setmetatable({currentMark = 0}, Planner)
end

function Planner:newMark()
  self.currentMark = self.currentMark + 1
  return self.currentMark
end

function Planner:incrementalAdd(c)
  local mark = self:newMark()
  local overridden = c:satisfy(mark, self)
  while overridden ~= nil do overridden = overridden:satisfy(mark, self) end
end

function Planner:incrementalRemove(c)
  local out = c:output()
  c:markUnsatisfied()
  c:removeFromGraph()
  local unsatisfied = self:removePropagateFrom(out)
  local strength = REQUIRED
  repeat
    for i = 0, unsatisfied:size() - 1 do
      local u = unsatisfied:at(i)
      if u.strength == strength then self:incrementalAdd(u) end
    end
    strength = nextWeaker(strength)
  until strength == WEAKEST
end

function Planner:extractPlanFromConstraints(constraints)
  local sources = Vector.new()
  for i = 0, constraints:size() - 1 do
    local c = constraints:at(i)
    if c:isInput() and c:isSatisfied() then sources:append(c) end
  end
  return self:makePlan(sources)
end

function Planner:makePlan(sources)
  local mark = self:newMark()
  local plan = Plan.new()
  local todo = sources
  while not todo:isEmpty() do
    local c = todo:removeFirst()
    if c:output().mark ~= mark and c:inputsKnown(mark) then
      plan:append(c)
      c:output().mark = mark
      self:addConstraintsConsumingTo(c:output(), todo)
    end
  end
  return plan
end

function Planner:addPropagate(c, mark)
  local todo = Vector.with(c)
  while not todo:isEmpty() do
    local d = todo:removeFirst()
    if d:output().mark == mark then
      self:incrementalRemove(c)
      return false
    end
    d:recalculate()
    self:addConstraintsConsumingTo(d:output(), todo)
  end
  return true
end

function Planner:removePropagateFrom(out)
  out.determinedBy = nil
  out.walkStrength = WEAKEST
  out.stay = true
  local unsatisfied = Vector.new()
  local todo = Vector.with(out)
  while not todo:isEmpty() do
    local v = todo:removeFirst()
    local cs = v.constraints
    for i = 0, cs:size() - 1 do
      local c = cs:at(i)
      if not c:isSatisfied() then unsatisfied:append(c) end
    end
    local determining = v.determinedBy
    for i = 0, cs:size() - 1 do
      local nxt = cs:at(i)
      if nxt ~= determining and nxt:isSatisfied() then
        nxt:recalculate()
        todo:append(nxt:output())
      end
    end
  end
  return unsatisfied
end

function Planner:addConstraintsConsumingTo(v, coll)
  local determining = v.determinedBy
  local cs = v.constraints
  for i = 0, cs:size() - 1 do
    local c = cs:at(i)
    if c ~= determining and c:isSatisfied() then coll:append(c) end
  end
end

function Planner:change(v, newValue)
  local edit = EditConstraint.new(v, PREFERRED, self)
  local plan = self:extractPlanFromConstraints(Vector.with(edit))
  for _ = 1, 10 do
    v.value = newValue
    plan:execute()
  end
  edit:destroyConstraint(self)
end

local function chainTest(n)
  local planner = Planner.new()
  local vars = {}
  for i = 0, n do vars[i] = Variable.new() end
  for i = 0, n - 1 do
    EqualityConstraint.new(vars[i], vars[i + 1], REQUIRED, planner)
  end
  StayConstraint.new(vars[n], STRONG_DEFAULT, planner)
  local edit = EditConstraint.new(vars[0], PREFERRED, planner)
  local plan = planner:extractPlanFromConstraints(Vector.with(edit))
  for i = 0, 99 do
    vars[0].value = i
    plan:execute()
    if vars[n].value ~= i then error("Chain test failed!") end
  end
  edit:destroyConstraint(planner)
end

local function projectionTest(n)
  local planner = Planner.new()
  local scale = Variable.new(10)
  local offset = Variable.new(1000)
  local src, dst
  local dests = Vector.new()
  for i = 0, n - 1 do
    src = Variable.new(i)
    dst = Variable.new(i)
    dests:append(dst)
    StayConstraint.new(src, NORMAL, planner)
    ScaleConstraint.new(src, scale, offset, dst, REQUIRED, planner)
  end
  planner:change(src, 17)
  if dst.value ~= 1170 then error("Projection 1 failed") end
  planner:change(dst, 1050)
  if src.value ~= 5 then error("Projection 2 failed") end
  planner:change(scale, 5)
  for i = 0, n - 2 do
    if dests:at(i).value ~= i * 5 + 1000 then error("Projection 3 failed") end
  end
  planner:change(offset, 2000)
  for i = 0, n - 2 do
    if dests:at(i).value ~= i * 5 + 2000 then error("Projection 4 failed") end
  end
end

local function innerBenchmarkLoop(inner)
  chainTest(inner)
  projectionTest(inner)
  return true
end

return {innerBenchmarkLoop = innerBenchmarkLoop}
