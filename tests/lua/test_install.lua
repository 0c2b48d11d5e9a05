-- tunalloc.install: switching the running state; under lua5.4 the blocks
-- made before stay with the stock allocator, under tunalua it is a no-op.
local H = require "harness"
local tunalloc = require "tunalloc"

local before = {}
for i = 1, 1000 do before[i] = "pre" .. i end
local stock = not pcall(tunalloc.state)
if stock then H.raises("install() first", tunalloc.flush) end
local arena = tunalloc.arena_create{}
local switched = tunalloc.install(arena)
H.check(switched == stock, "install switches only a stock state")
H.check(tunalloc.install() == false)
H.check(tunalloc.state().installed == stock)

if stock then
  H.check(tunalloc.arena_of(before) == nil)
  H.check(tunalloc.state().arena == arena)
end
-- Old blocks keep working; growing them moves them to tunalloc.
for i = 1001, 100000 do before[i] = i end
H.check(#before == 100000)
H.check(tunalloc.arena_of(before) == nil or not stock)
local after = {}
H.check(tunalloc.arena_of(after) ~= nil)
before = nil
collectgarbage()
local co = coroutine.wrap(function(x) while true do x = coroutine.yield(x * 2) end end)
H.check(co(21) == 42)
H.done()
