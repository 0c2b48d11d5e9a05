-- watch.lua: watches the allocator while a workload runs and tunes it.
--
--   build/tunalua examples/watch.lua
--   LUA_CPATH='build/lua/?.so' lua5.4 examples/watch.lua
--
-- The workload runs as a coroutine; between its steps the watcher reads a
-- fresh snapshot, prints one line, and reacts: when dirty pages pile up it
-- shortens the arena's decay time, when they are gone it restores it; and
-- it sets a memory limit for the final phase from the peak it has seen.
local tunalloc = require "tunalloc"
tunalloc.install()                         -- no-op under tunalua

local arena = tunalloc.state().arena
local decay_name = ("arena.%d.dirty_decay_ms"):format(arena)
local page = tunalloc.ctl("arenas.page")
local original_decay = tunalloc.ctl(decay_name)

-- Phases: grow a cache, drop it, churn strings.
local function workload()
  local cache = {}
  for round = 1, 6 do
    for i = 1, 40000 do cache[#cache + 1] = {round, i, ("v"):rep(i % 40)} end
    coroutine.yield("grow " .. round)
  end
  cache = nil
  collectgarbage()
  coroutine.yield("dropped")
  for round = 1, 4 do
    local parts = {}
    for i = 1, 50000 do parts[i] = ("%d:%d"):format(round, i) end
    local _ = table.concat(parts, ",")
    coroutine.yield("strings " .. round)
  end
end

local function snapshot()
  local a = tunalloc.stats(("stats.arenas.%d"):format(arena))
  local st = tunalloc.state()
  return {
    in_use = st.in_use, peak = st.peak,
    active = a.pactive * page, dirty = a.pdirty * page,
    purged = a.dirty_purged,
  }
end

local function kib(n) return ("%8.0f KiB"):format(n / 1024) end

local tuned = false
local function react(s)
  if not tuned and s.dirty > 4 * 1024 * 1024 then
    tunalloc.ctl(decay_name, 0)            -- return dirty pages at once
    tunalloc.purge(arena)
    tuned = true
    return "dirty > 4 MiB: decay 0 + purge"
  elseif tuned and s.dirty == 0 then
    tunalloc.ctl(decay_name, original_decay)
    tuned = false
    return "dirty gone: decay restored"
  end
  return ""
end

print(("arena %d, page %d, decay %d ms"):format(arena, page, original_decay))
print(("%-10s %12s %12s %12s %12s  %s"):format("phase", "lua in use", "active",
      "dirty", "peak", "action"))
local work = coroutine.wrap(workload)
local peak = 0
while true do
  local phase = work()
  if not phase then break end
  local s = snapshot()
  peak = math.max(peak, s.peak)
  print(("%-10s %s %s %s %s  %s"):format(phase, kib(s.in_use), kib(s.active),
        kib(s.dirty), kib(s.peak), react(s)))
end

-- Finally cap the state at its observed peak and show a runaway caught.
local st = tunalloc.state()
tunalloc.setlimit(peak - st.baseline)
local ok, err = pcall(function()
  local t = {} for i = 1, 1e8 do t[i] = {} end
end)
print(("limit %s: runaway loop %s (%s)"):format(kib(peak - st.baseline),
      ok and "finished?!" or "stopped", tostring(err)))
tunalloc.setlimit(0)
tunalloc.ctl(decay_name, original_decay)
