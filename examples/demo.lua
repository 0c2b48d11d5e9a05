-- demo.lua: the Lua part of the README demo (run by `make demo`):
--   build/tunalua examples/demo.lua
-- Per-state accounting, live allocator statistics, tuning by name, and a
-- hard memory limit that fails cleanly.
local tunalloc = require "tunalloc"
tunalloc.install()                    -- no-op under tunalua, needed in lua5.4

local MiB = 1024 * 1024
local function mib(n) return ("%7.2f MiB"):format(n / MiB) end
local function title(s) print(("\n== %s"):format(s)) end

local st = tunalloc.state()
local arena = st.arena
local page = tunalloc.ctl("arenas.page")
print(("tunalloc %s, this state allocates from arena %d%s, GC %s"):format(
  tunalloc.version, arena, st.own_arena and " (its own)" or "",
  collectgarbage("incremental") == "generational" and "generational" or "incremental"))
collectgarbage("generational")

title("1. per-state accounting (from Lua's allocation type tags)")
local data = {}
for i = 1, 60000 do
  data[i] = {id = i, name = "user" .. i, f = function() return i end}
end
st = tunalloc.state()
print(("in use %s  peak %s  allocations %d"):format(mib(st.in_use), mib(st.peak), st.nalloc))
for _, kind in ipairs{"table", "string", "function", "thread", "userdata", "other"} do
  local k = st.types[kind]
  print(("  %-9s %8d objects %s"):format(kind, k.count, mib(k.bytes)))
end

title("2. live allocator statistics (tunalloc.stats)")
local function arena_line(label)
  local a = tunalloc.stats(("stats.arenas.%d"):format(arena))
  local s = tunalloc.stats()
  print(("%-16s active %s  dirty %s  process resident %s"):format(label,
    mib(a.pactive * page), mib(a.pdirty * page), mib(s.resident)))
  return a
end
arena_line("with data")
data = nil
collectgarbage()
local a = arena_line("data dropped")

title("3. tuning by name (tunalloc.ctl)")
local decay = ("arena.%d.dirty_decay_ms"):format(arena)
local original = tunalloc.ctl(decay, 0)  -- writing returns the old value
print(("%s was %d ms; dirty pages waiting: %d"):format(decay, original, a.pdirty))
tunalloc.purge(arena)
print(("%s -> 0 and purge:"):format(decay))
arena_line("after purge")
tunalloc.ctl(decay, original)

title("4. a hard limit (tunalloc.setlimit)")
st = tunalloc.state()
tunalloc.setlimit(st.in_use - st.baseline + 8 * MiB)
local ok, err = pcall(function()
  local t = {} for i = 1, 1e8 do t[i] = ("x"):rep(32) .. i end
end)
st = tunalloc.state()
print(("runaway script: %s (%s); refused requests: %d"):format(
  ok and "finished?!" or "stopped", tostring(err), st.nfail))
collectgarbage()
local fine = {} for i = 1, 1000 do fine[i] = i end
print(("state still works: built a %d-element table, in use %s"):format(
  #fine, mib(tunalloc.state().in_use)))
tunalloc.setlimit(0)

title("5. the whole control namespace is reachable")
local n = 0
local function count(node)
  for _, e in ipairs(tunalloc.list(node)) do
    local name = node == "" and e.name or node .. "." .. e.name
    if e.type == "node" then count(name) else n = n + 1 end
  end
end
count("")
print(("%d names (index patterns counted once), e.g. arenas.nbins = %d, stats.allocated = %s"):format(
  n, tunalloc.ctl("arenas.nbins"), mib(tunalloc.stats().allocated)))
