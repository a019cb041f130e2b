-- Richards: Martin Richards' operating-system simulation: an idle task,
-- a worker, two handlers and two devices passing packets under a
-- priority scheduler. verifyResult checks the packets queued (23246) and
-- the times a task held itself (9297).
local som = require("som")
local benchmark = require("benchmark")

local IDLER, WORKER, HANDLER_A, HANDLER_B, DEVICE_A, DEVICE_B = 0, 1, 2, 3, 4, 5
local DEVICE_PACKET_KIND, WORK_PACKET_KIND = 0, 1
local DATA_SIZE = 4
local NO_TASK, NO_WORK = nil, nil

local Packet = som.class()

function Packet.new(link, identity, kind)
  return setmetatable({link = link, identity = identity, kind = kind,
                       datum = 0, data = {[0] = 0, 0, 0, 0}}, Packet)
end

-- Appends this packet to the queue that starts at `queue`; the new head.
function Packet:addTo(queue)
  self.link = NO_WORK
  if queue == NO_WORK then return self end
  local nxt = queue
  while nxt.link ~= NO_WORK do nxt = nxt.link end
  nxt.link = self
  return queue
end

-- Task states, kept in the task control block itself.
local Tcb = som.class()

function Tcb.new(link, identity, priority, initialWorkQueue, state, handle, fn)
  return setmetatable({link = link, identity = identity, priority = priority,
                       input = initialWorkQueue,
                       packetPending = state.packetPending,
                       taskWaiting = state.taskWaiting,
                       taskHolding = state.taskHolding,
                       handle = handle, fn = fn}, Tcb)
end

function Tcb:isTaskHoldingOrWaiting()
  return self.taskHolding or (not self.packetPending and self.taskWaiting)
end

function Tcb:isWaitingWithPacket()
  return self.packetPending and self.taskWaiting and not self.taskHolding
end

function Tcb:addInputAndCheckPriority(packet, oldTask)
  if self.input == NO_WORK then
    self.input = packet
    self.packetPending = true
    if self.priority > oldTask.priority then return self end
  else
    self.input = packet:addTo(self.input)
  end
  return oldTask
end

function Tcb:runTask()
  local message
  if self:isWaitingWithPacket() then
    message = self.input
    self.input = message.link
    if self.input == NO_WORK then
      self.packetPending, self.taskWaiting, self.taskHolding = false, false, false
    else
      self.packetPending, self.taskWaiting, self.taskHolding = true, false, false
    end
  else
    message = NO_WORK
  end
  return self.fn(message, self.handle)
end

local function state(pending, waiting, holding)
  return {packetPending = pending, taskWaiting = waiting, taskHolding = holding}
end
local function running() return state(false, false, false) end
local function waiting() return state(false, true, false) end
local function waitingWithPacket() return state(true, true, false) end

local Scheduler = som.class()

function Scheduler.new()
  return setmetatable({taskList = NO_TASK, currentTask = NO_TASK,
                       currentTaskIdentity = 0, taskTable = {},
                       queuePacketCount = 0, holdCount = 0}, Scheduler)
end

function Scheduler:createTask(identity, priority, work, st, data, fn)
  local t = Tcb.new(self.taskList, identity, priority, work, st, data, fn)
  self.taskList = t
  self.taskTable[identity] = t
end

function Scheduler:findTask(identity)
  local t = self.taskTable[identity]
  if t == NO_TASK then error("findTask failed") end
  return t
end

function Scheduler:holdSelf()
  self.holdCount = self.holdCount + 1
  self.currentTask.taskHolding = true
  return self.currentTask.link
end

function Scheduler:queuePacket(packet)
  local t = self:findTask(packet.identity)
  if t == NO_TASK then return NO_TASK end
  self.queuePacketCount = self.queuePacketCount + 1
  packet.link = NO_WORK
  packet.identity = self.currentTaskIdentity
  return t:addInputAndCheckPriority(packet, self.currentTask)
end

function Scheduler:release(identity)
  local t = self:findTask(identity)
  if t == NO_TASK then return NO_TASK end
  t.taskHolding = false
  if t.priority > self.currentTask.priority then return t end
  return self.currentTask
end

function Scheduler:waitTask()
  self.currentTask.taskWaiting = true
  return self.currentTask
end

function Scheduler:createDevice(identity, priority, work, st)
  local data = {pending = NO_WORK}
  self:createTask(identity, priority, work, st, data, function(packet, rec)
    if packet == NO_WORK then
      local pending = rec.pending
      if pending == NO_WORK then return self:waitTask() end
      rec.pending = NO_WORK
      return self:queuePacket(pending)
    end
    rec.pending = packet
    return self:holdSelf()
  end)
end

function Scheduler:createHandler(identity, priority, work, st)
  local data = {workIn = NO_WORK, deviceIn = NO_WORK}
  self:createTask(identity, priority, work, st, data, function(packet, rec)
    if packet ~= NO_WORK then
      if packet.kind == WORK_PACKET_KIND then
        rec.workIn = packet:addTo(rec.workIn)
      else
        rec.deviceIn = packet:addTo(rec.deviceIn)
      end
    end
    local workPacket = rec.workIn
    if workPacket == NO_WORK then return self:waitTask() end
    local count = workPacket.datum
    if count >= DATA_SIZE then
      rec.workIn = workPacket.link
      return self:queuePacket(workPacket)
    end
    local devicePacket = rec.deviceIn
    if devicePacket == NO_WORK then return self:waitTask() end
    rec.deviceIn = devicePacket.link
    devicePacket.datum = workPacket.data[count]
    workPacket.datum = count + 1
    return self:queuePacket(devicePacket)
  end)
end

function Scheduler:createIdler(identity, priority, work, st)
  local data = {control = 1, count = 10000}
  self:createTask(identity, priority, work, st, data, function(_, rec)
    rec.count = rec.count - 1
    if rec.count == 0 then return self:holdSelf() end
    if rec.control % 2 == 0 then
      rec.control = som.idiv(rec.control, 2)
      return self:release(DEVICE_A)
    end
    rec.control = som.bxor(som.idiv(rec.control, 2), 53256)
    return self:release(DEVICE_B)
  end)
end

function Scheduler:createWorker(identity, priority, work, st)
  local data = {destination = HANDLER_A, count = 0}
  self:createTask(identity, priority, work, st, data, function(packet, rec)
    if packet == NO_WORK then return self:waitTask() end
    if rec.destination == HANDLER_A then
      rec.destination = HANDLER_B
    else
      rec.destination = HANDLER_A
    end
    packet.identity = rec.destination
    packet.datum = 0
    for i = 0, DATA_SIZE - 1 do
      rec.count = rec.count + 1
      if rec.count > 26 then rec.count = 1 end
      packet.data[i] = 65 + rec.count - 1
    end
    return self:queuePacket(packet)
  end)
end

function Scheduler:schedule()
  self.currentTask = self.taskList
  while self.currentTask ~= NO_TASK do
    if self.currentTask:isTaskHoldingOrWaiting() then
      self.currentTask = self.currentTask.link
    else
      self.currentTaskIdentity = self.currentTask.identity
      self.currentTask = self.currentTask:runTask()
    end
  end
end

function Scheduler:start()
  self:createIdler(IDLER, 0, NO_WORK, running())
  local wkq = Packet.new(NO_WORK, WORKER, WORK_PACKET_KIND)
  wkq = Packet.new(wkq, WORKER, WORK_PACKET_KIND)
  self:createWorker(WORKER, 1000, wkq, waitingWithPacket())
  wkq = Packet.new(NO_WORK, DEVICE_A, DEVICE_PACKET_KIND)
  wkq = Packet.new(wkq, DEVICE_A, DEVICE_PACKET_KIND)
  wkq = Packet.new(wkq, DEVICE_A, DEVICE_PACKET_KIND)
  self:createHandler(HANDLER_A, 2000, wkq, waitingWithPacket())
  wkq = Packet.new(NO_WORK, DEVICE_B, DEVICE_PACKET_KIND)
  wkq = Packet.new(wkq, DEVICE_B, DEVICE_PACKET_KIND)
  wkq = Packet.new(wkq, DEVICE_B, DEVICE_PACKET_KIND)
  self:createHandler(HANDLER_B, 3000, wkq, waitingWithPacket())
  self:createDevice(DEVICE_A, 4000, NO_WORK, waiting())
  self:createDevice(DEVICE_B, 5000, NO_WORK, waiting())
  self:schedule()
  return self.queuePacketCount == 23246 and self.holdCount == 9297
end

local function run() return Scheduler.new():start() end
local function verify(result) return result end

return {innerBenchmarkLoop = benchmark.loop(run, verify)}
