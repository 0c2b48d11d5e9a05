-- Names with a NUL character are errors, not truncated (issue 13 item
-- 7), and scripts cannot free an arena that is in use (item 4).
local H = require "harness"
local tunalloc = require "tunalloc"

-- Every entry that takes a name or option letters refuses a NUL in it.
local nul = "contains a NUL character"
H.raises(nul, tunalloc.ctl, "version\0xyz")
H.raises(nul, tunalloc.ctl, "arenas.narenas\0")
H.raises(nul, tunalloc.ctl, "\0version")
H.raises(nul, tunalloc.ctl, "arena.0.dirty_decay_ms\0", 5)
H.raises(nul, tunalloc.list, "arenas\0.bin")
H.raises(nul, tunalloc.stats, "stats\0.arenas")
H.raises(nul, tunalloc.stats_text, "g\0x")
H.raises(nul, tunalloc.stats_json, "\0")
H.raises("option name with a NUL", tunalloc.arena_create, {["limit\0x"] = 1})
H.check(tunalloc.ctl("version") == tunalloc.version)
H.raises("string expected", tunalloc.ctl, {})
H.raises("string expected", tunalloc.ctl)

-- An arena the calling thread is bound to cannot go, even forced; once
-- unbound and empty it can, and then it is gone for good.
local a = tunalloc.arena_create{}
local before = tunalloc.ctl("thread.arena", a)
H.raises("is in use", tunalloc.arena_destroy, a, true)
H.raises("is in use", tunalloc.arena_reset, a)
H.raises("is in use", tunalloc.ctl, ("arena.%d.destroy"):format(a))
tunalloc.ctl("thread.arena", before)
tunalloc.arena_reset(a)
tunalloc.ctl(("arena.%d.reset"):format(a))
tunalloc.arena_destroy(a)
H.raises("no arena", tunalloc.arena_destroy, a)
H.raises("no arena", tunalloc.arena_reset, a, true)
H.raises("no arena", tunalloc.ctl, ("arena.%d.destroy"):format(a))

-- Hostile arguments are Lua errors.
H.raises("is automatic", tunalloc.arena_destroy, 0)
H.raises("is automatic", tunalloc.arena_reset, 0, true)
H.raises("is automatic", tunalloc.ctl, "arena.0.reset")
H.raises("no arena", tunalloc.arena_destroy, -1)
H.raises("no arena", tunalloc.arena_destroy, math.maxinteger)
H.raises("no arena", tunalloc.ctl, ("arena.%d.destroy"):format(tunalloc.ARENAS_ALL))
H.raises("unknown name", tunalloc.ctl, "arena.99999999999999999999.reset")
H.raises("number has no integer representation", tunalloc.arena_destroy, 2^70)
H.raises("number expected", tunalloc.arena_reset, "one")
H.raises("boolean expected", tunalloc.arena_destroy, 1, "yes")
H.raises("takes no value", tunalloc.ctl, "arena.1.destroy", true)

H.done()
