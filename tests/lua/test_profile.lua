-- Heap profiling from Lua: profile_start/stop/snapshot/dump, the Lua
-- frames of sampled blocks, a leak found by diffing snapshots, and freed
-- blocks leaving the profile.
local H = require "harness"
local tunalloc = require "tunalloc"
tunalloc.install()

local keep = {}
local function leak(n)
  for i = 1, n do keep[#keep + 1] = string.rep("x", 1000) .. i end
end
local function churn(n)
  for i = 1, n do local t = {i, tostring(i)} end
end

local function leak_entry(snap)
  local bytes = 0
  for k, v in pairs(snap) do
    H.check(type(v.bytes) == "number" and type(v.alloc_blocks) == "number")
    if k:find("test_profile.lua:10 (leak)", 1, true) then bytes = bytes + v.bytes end
  end
  return bytes
end

tunalloc.ctl("prof.seed", 11)
tunalloc.profile_start{sample_bytes = 16384}
H.check(tunalloc.ctl("prof.active") == true)
churn(20000)
collectgarbage() -- live means not yet freed: garbage counts until collected
local before = tunalloc.profile_snapshot()
leak(5000)
churn(20000)
collectgarbage()
local after = tunalloc.profile_snapshot()
local truth = 5000 * 1280 -- 1029-byte strings (24-byte header) in the 1280-byte class
local grew = leak_entry(after) - leak_entry(before)
H.check(grew > 0.7 * truth and grew < 1.3 * truth, "leak estimate " .. grew)

local folded = os.tmpname()
H.check(tunalloc.profile_dump(folded, "folded") == true)
local f = assert(io.open(folded))
local text = f:read("a")
f:close()
os.remove(folded)
H.check(text:find("leak@", 1, true) ~= nil)
local pb = os.tmpname()
H.check(tunalloc.profile_dump(pb) == true)
f = assert(io.open(pb, "rb"))
H.check(f:read(2) == "\x1f\x8b")
f:close()
os.remove(pb)

keep = nil
collectgarbage()
collectgarbage()
H.check(leak_entry(tunalloc.profile_snapshot()) == 0, "freed blocks leave the profile")
tunalloc.profile_stop()
H.check(tunalloc.ctl("prof.active") == false)

H.raises("sample_bytes", tunalloc.profile_start, {sample_bytes = 0})
H.raises("sample_bytes", tunalloc.profile_start, {sample_bytes = "lots"})
H.raises("format", tunalloc.profile_dump, "/tmp/x", "svg")
local ok, msg = tunalloc.profile_dump("/nonexistent-dir/heap.pb.gz")
H.check(ok == nil and msg:find("No such file", 1, true))

-- A snapshot's own allocations (its tables, kept here) are not sampled,
-- though every other allocation is.
tunalloc.profile_start{sample_bytes = 1}
local snaps = {}
for i = 1, 4 do snaps[i] = tunalloc.profile_snapshot() end
local own, others = 0, 0
for k in pairs(tunalloc.profile_snapshot()) do
  if k:find("(profile_snapshot)", 1, true) then own = own + 1 else others = others + 1 end
end
tunalloc.profile_stop()
H.check(own == 0, own .. " stacks of profile_snapshot's own allocations")
H.check(others > 0)
snaps = nil

-- Started and stopped over and over, from coroutines and from
-- finalizers (one runs as the interpreter closes the state): the script
-- runs on and its own count of memory stays Lua's.
local co = coroutine.wrap(function()
  while true do
    tunalloc.profile_start{sample_bytes = 4096}
    coroutine.yield()
    tunalloc.profile_stop()
    coroutine.yield()
  end
end)
for i = 1, 400 do
  co()
  setmetatable({}, {__gc = function()
    if i % 3 == 0 then tunalloc.profile_stop() else tunalloc.profile_start{sample_bytes = 2048} end
  end})
  local t = {} for j = 1, 30 do t[j] = {j, tostring(j)} end
  if i % 50 == 0 then collectgarbage() end
end
collectgarbage()
tunalloc.profile_stop()
H.check(tunalloc.ctl("prof.active") == false)
at_close = setmetatable({}, {__gc = function() tunalloc.profile_start{sample_bytes = 1024} end})
H.done()
