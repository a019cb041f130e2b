-- Havlak: Havlak's loop recognition (union-find over a DFS numbering of
-- the nodes) on a synthetic control-flow graph of 5213 blocks made of
-- nested loops and diamonds, after `inner` rounds on a small graph that
-- add their loops to the same loop structure. verifyResult checks the
-- numbers of loops and blocks known for each inner count.
local som = require("som")
local Vector, Set, Dictionary = som.Vector, som.Set, som.Dictionary

local BasicBlock = som.class()

function BasicBlock.new(name)
  return setmetatable({name = name, inEdges = Vector.new(2),
                       outEdges = Vector.new(2)}, BasicBlock)
end

function BasicBlock:numPred() return self.inEdges:size() end

local ControlFlowGraph = som.class()

function ControlFlowGraph.new()
  return setmetatable({basicBlockMap = Vector.new(), startNode = nil,
                       edgeList = Vector.new()}, ControlFlowGraph)
end

function ControlFlowGraph:createNode(name)
  local node = self.basicBlockMap:at(name)
  if not node then
    node = BasicBlock.new(name)
    self.basicBlockMap:atPut(name, node)
  end
  if self:numNodes() == 1 then self.startNode = node end
  return node
end

function ControlFlowGraph:numNodes() return self.basicBlockMap:size() end

local function newEdge(cfg, fromName, toName)
  local from = cfg:createNode(fromName)
  local to = cfg:createNode(toName)
  from.outEdges:append(to)
  to.inEdges:append(from)
  cfg.edgeList:append({from = from, to = to})
end

local SimpleLoop = som.class()

function SimpleLoop.new(bb, isReducible)
  local l = setmetatable({counter = 0, depthLevel = 0, parent = nil,
                          isRoot = false, nestingLevel = 0, header = bb,
                          isReducible = isReducible, basicBlocks = Set.new(),
                          children = Set.new()}, SimpleLoop)
  if bb then l.basicBlocks:add(bb) end
  return l
end

function SimpleLoop:addNode(bb) self.basicBlocks:add(bb) end

function SimpleLoop:setParent(parent)
  self.parent = parent
  parent.children:add(self)
end

function SimpleLoop:setNestingLevel(level)
  self.nestingLevel = level
  if level == 0 then self.isRoot = true end
end

local LoopStructureGraph = som.class()

function LoopStructureGraph.new()
  local g = setmetatable({loops = Vector.new(), loopCounter = 0}, LoopStructureGraph)
  g.root = SimpleLoop.new(nil, true)
  g.root:setNestingLevel(0)
  g.root.counter = g.loopCounter
  g.loopCounter = g.loopCounter + 1
  g.loops:append(g.root)
  return g
end

function LoopStructureGraph:createNewLoop(bb, isReducible)
  local loop = SimpleLoop.new(bb, isReducible)
  loop.counter = self.loopCounter
  self.loopCounter = self.loopCounter + 1
  self.loops:append(loop)
  return loop
end

local function nestingRec(loop, depth)
  loop.depthLevel = depth
  local children = loop.children
  for i = 0, children:size() - 1 do
    local child = children:at(i)
    nestingRec(child, depth + 1)
    loop:setNestingLevel(math.max(loop.nestingLevel, 1 + child.nestingLevel))
  end
end

function LoopStructureGraph:calculateNestingLevel()
  for i = 0, self.loops:size() - 1 do
    local loop = self.loops:at(i)
    if not loop.isRoot and loop.parent == nil then loop:setParent(self.root) end
  end
  nestingRec(self.root, 0)
end

function LoopStructureGraph:numLoops() return self.loops:size() end

local UnionFindNode = som.class()

function UnionFindNode.new()
  return setmetatable({parent = nil, bb = nil, loop = nil, dfsNumber = 0},
                      UnionFindNode)
end

function UnionFindNode:initNode(bb, dfsNumber)
  self.parent = self
  self.bb = bb
  self.dfsNumber = dfsNumber
  self.loop = nil
end

-- The representative of this node's set; compresses the path to it.
function UnionFindNode:findSet()
  local nodeList = Vector.new()
  local node = self
  while node ~= node.parent do
    if node.parent ~= node.parent.parent then nodeList:append(node) end
    node = node.parent
  end
  for i = 0, nodeList:size() - 1 do nodeList:at(i).parent = node.parent end
  return node
end

local BB_NONHEADER, BB_REDUCIBLE, BB_SELF, BB_IRREDUCIBLE, BB_DEAD = 1, 2, 3, 4, 5
local UNVISITED = 2147483647
local MAXNONBACKPREDS = 32 * 1024

local HavlakLoopFinder = som.class()

function HavlakLoopFinder.new(cfg, lsg)
  return setmetatable({cfg = cfg, lsg = lsg, nonBackPreds = Vector.new(),
                       backPreds = Vector.new(), number = Dictionary.new(),
                       header = {}, type = {}, last = {}, nodes = {}},
                      HavlakLoopFinder)
end

local function isAncestor(w, v, last)
  return w <= v and v <= last[w]
end

function HavlakLoopFinder:doDFS(currentNode, current)
  self.nodes[current]:initNode(currentNode, current)
  self.number:atPut(currentNode.name, current)
  local lastId = current
  local outEdges = currentNode.outEdges
  for i = 0, outEdges:size() - 1 do
    local target = outEdges:at(i)
    if self.number:at(target.name) == UNVISITED then
      lastId = self:doDFS(target, lastId + 1)
    end
  end
  self.last[current] = lastId
  return lastId
end

function HavlakLoopFinder:initAllNodes()
  local map = self.cfg.basicBlockMap
  for i = 0, map:size() - 1 do
    self.number:atPut(map:at(i).name, UNVISITED)
  end
  self:doDFS(self.cfg.startNode, 0)
end

function HavlakLoopFinder:processEdges(nodeW, w)
  if nodeW:numPred() > 0 then
    local inEdges = nodeW.inEdges
    for i = 0, inEdges:size() - 1 do
      local v = self.number:at(inEdges:at(i).name)
      if v ~= UNVISITED then
        if isAncestor(w, v, self.last) then
          self.backPreds:at(w):append(v)
        else
          self.nonBackPreds:at(w):add(v)
        end
      end
    end
  end
end

function HavlakLoopFinder:identifyEdges(size)
  for w = 0, size - 1 do
    self.header[w] = 0
    self.type[w] = BB_NONHEADER
    local nodeW = self.nodes[w].bb
    if not nodeW then
      self.type[w] = BB_DEAD
    else
      self:processEdges(nodeW, w)
    end
  end
end

function HavlakLoopFinder:stepD(w, nodePool)
  local preds = self.backPreds:at(w)
  for i = 0, preds:size() - 1 do
    local v = preds:at(i)
    if v ~= w then
      nodePool:append(self.nodes[v]:findSet())
    else
      self.type[w] = BB_SELF
    end
  end
end

function HavlakLoopFinder:stepEProcessNonBackPreds(w, nodePool, workList, x)
  local preds = self.nonBackPreds:at(x.dfsNumber)
  for i = 0, preds:size() - 1 do
    local y = self.nodes[preds:at(i)]
    local ydash = y:findSet()
    if not isAncestor(w, ydash.dfsNumber, self.last) then
      self.type[w] = BB_IRREDUCIBLE
      self.nonBackPreds:at(w):add(ydash.dfsNumber)
    elseif ydash.dfsNumber ~= w then
      if not nodePool:contains(ydash) then
        workList:append(ydash)
        nodePool:append(ydash)
      end
    end
  end
end

function HavlakLoopFinder:setLoopAttributes(w, nodePool, loop)
  self.nodes[w].loop = loop
  for i = 0, nodePool:size() - 1 do
    local node = nodePool:at(i)
    self.header[node.dfsNumber] = w
    node.parent = self.nodes[w]
    if node.loop then
      node.loop:setParent(loop)
    else
      loop:addNode(node.bb)
    end
  end
end

function HavlakLoopFinder:findLoops()
  if not self.cfg.startNode then return end
  local size = self.cfg:numNodes()
  for i = 0, size - 1 do
    self.nonBackPreds:append(Set.new())
    self.backPreds:append(Vector.new())
    self.nodes[i] = UnionFindNode.new()
  end
  self:initAllNodes()
  self:identifyEdges(size)
  self.header[0] = 0

  for w = size - 1, 0, -1 do
    local nodePool = Vector.new()
    local nodeW = self.nodes[w].bb
    if nodeW then
      self:stepD(w, nodePool)
      local workList = Vector.new()
      for i = 0, nodePool:size() - 1 do workList:append(nodePool:at(i)) end
      if nodePool:size() ~= 0 then self.type[w] = BB_REDUCIBLE end
      while not workList:isEmpty() do
        local x = workList:removeFirst()
        local nonBackSize = self.nonBackPreds:at(x.dfsNumber):size()
        if nonBackSize > MAXNONBACKPREDS then return end
        self:stepEProcessNonBackPreds(w, nodePool, workList, x)
      end
      if nodePool:size() > 0 or self.type[w] == BB_SELF then
        local loop = self.lsg:createNewLoop(nodeW, self.type[w] ~= BB_REDUCIBLE)
        self:setLoopAttributes(w, nodePool, loop)
      end
    end
  end
end

local LoopTesterApp = som.class()

function LoopTesterApp.new()
  local app = setmetatable({cfg = ControlFlowGraph.new(),
                            lsg = LoopStructureGraph.new()}, LoopTesterApp)
  app.cfg:createNode(0)
  return app
end

function LoopTesterApp:buildDiamond(start)
  local bb0 = start
  newEdge(self.cfg, bb0, bb0 + 1)
  newEdge(self.cfg, bb0, bb0 + 2)
  newEdge(self.cfg, bb0 + 1, bb0 + 3)
  newEdge(self.cfg, bb0 + 2, bb0 + 3)
  return bb0 + 3
end

function LoopTesterApp:buildConnect(start, stop)
  newEdge(self.cfg, start, stop)
end

function LoopTesterApp:buildStraight(start, n)
  for i = 0, n - 1 do self:buildConnect(start + i, start + i + 1) end
  return start + n
end

function LoopTesterApp:buildBaseLoop(from)
  local header = self:buildStraight(from, 1)
  local diamond1 = self:buildDiamond(header)
  local d11 = self:buildStraight(diamond1, 1)
  local diamond2 = self:buildDiamond(d11)
  local footer = self:buildStraight(diamond2, 1)
  self:buildConnect(diamond2, d11)
  self:buildConnect(diamond1, header)
  self:buildConnect(footer, from)
  footer = self:buildStraight(footer, 1)
  return footer
end

function LoopTesterApp:constructSimpleCFG()
  self.cfg:createNode(0)
  self:buildBaseLoop(0)
  self.cfg:createNode(1)
  newEdge(self.cfg, 0, 2)
end

function LoopTesterApp:findLoops(lsg)
  HavlakLoopFinder.new(self.cfg, lsg):findLoops()
end

function LoopTesterApp:addDummyLoops(numDummyLoops)
  for _ = 1, numDummyLoops do self:findLoops(self.lsg) end
end

function LoopTesterApp:constructCFG(parLoops, pparLoops, ppparLoops)
  local n = 2
  for _ = 1, parLoops do
    self.cfg:createNode(n + 1)
    self:buildConnect(2, n + 1)
    n = n + 1
    for _ = 1, pparLoops do
      local top = n
      n = self:buildStraight(n, 1)
      for _ = 1, ppparLoops do n = self:buildBaseLoop(n) end
      local bottom = self:buildStraight(n, 1)
      self:buildConnect(n, top)
      n = bottom
    end
    self:buildConnect(n, 1)
  end
end

function LoopTesterApp:main(numDummyLoops, findLoopIterations, parLoops,
                            pparLoops, ppparLoops)
  self:constructSimpleCFG()
  self:addDummyLoops(numDummyLoops)
  self:constructCFG(parLoops, pparLoops, ppparLoops)
  self:findLoops(self.lsg)
  for _ = 1, findLoopIterations do self:findLoops(LoopStructureGraph.new()) end
  self.lsg:calculateNestingLevel()
  return {self.lsg:numLoops(), self.cfg:numNodes()}
end

local EXPECTED = {[15000] = 46602, [1500] = 6102, [150] = 2052, [15] = 1647,
                  [1] = 1605}

local function innerBenchmarkLoop(inner)
  local loops = EXPECTED[inner]
  if not loops then error("Havlak: no known result for " .. inner) end
  local r = LoopTesterApp.new():main(inner, 50, 10, 10, 5)
  return r[1] == loops and r[2] == 5213, r
end

return {innerBenchmarkLoop = innerBenchmarkLoop}
