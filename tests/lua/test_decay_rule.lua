-- Decay times given to arena_create follow the core's one rule (-1 up to
-- TA_DECAY_MS_MAX, 2^62 - 1 ms): anything past it is a Lua error, not an
-- arena that silently never purges.
local H = require "harness"
local tunalloc = require "tunalloc"

local max = math.maxinteger // 2
for _, key in ipairs{"dirty_decay_ms", "muzzy_decay_ms"} do
  for _, bad in ipairs{math.maxinteger, max + 1, -2, math.mininteger} do
    H.raises("arena_create", tunalloc.arena_create, {[key] = bad})
  end
  for _, good in ipairs{-1, 0, 5000, max} do
    local a = tunalloc.arena_create{[key] = good}
    H.check(math.type(a) == "integer")
    H.check(tunalloc.ctl(("arena.%d.%s"):format(a, key)) == good)
    tunalloc.arena_destroy(a)
  end
end
H.raises("up to " .. max .. " ms", tunalloc.arena_create, {dirty_decay_ms = math.maxinteger})
H.done()
