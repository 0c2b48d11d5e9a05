-- tunalloc.ctl and tunalloc.list: reads, writes, actions and every error.
local H = require "harness"
local tunalloc = require "tunalloc"
tunalloc.install()

H.check(tunalloc.ctl("version") == tunalloc.version)
H.check(math.type(tunalloc.ctl("arenas.page")) == "integer")
H.check(tunalloc.ctl("arenas.page") >= 4096)
H.check(tunalloc.ctl("arenas.narenas") >= 1)
H.check(type(tunalloc.ctl("background_thread")) == "boolean")
H.check(tunalloc.ctl("arenas.bin.0.size") > 0)

-- Errors name the problem.
H.raises("unknown name 'no.such.name'", tunalloc.ctl, "no.such.name")
H.raises("unknown name", tunalloc.ctl, "stats.")
H.raises("unknown name", tunalloc.ctl, "")
H.raises("unknown name", tunalloc.ctl, ("x."):rep(300))
H.raises("is a node", tunalloc.ctl, "stats")
H.raises("read-only", tunalloc.ctl, "version", "9.9")
H.raises("read-only", tunalloc.ctl, "arenas.page", 8192)
H.raises("bad argument #1", tunalloc.ctl)
H.raises("bad argument #1", tunalloc.ctl, {})

-- A read-write name returns the previous value when written.
local a = tunalloc.arena_create{}
local name = ("arena.%d.dirty_decay_ms"):format(a)
local before = tunalloc.ctl(name)
H.check(tunalloc.ctl(name, 1234) == before)
H.check(tunalloc.ctl(name) == 1234)
H.check(tunalloc.ctl(name, before) == 1234)
H.raises("takes an integer", tunalloc.ctl, name, "soon")
H.raises("takes an integer", tunalloc.ctl, name, 1.5)
H.raises("invalid value", tunalloc.ctl, name, -7)
local bt = tunalloc.ctl("background_thread")
H.raises("takes a boolean", tunalloc.ctl, "background_thread", 1)
H.check(tunalloc.ctl("background_thread", bt) == bt)

-- Actions take no value.
tunalloc.ctl(("arena.%d.purge"):format(a))
H.raises("takes no value", tunalloc.ctl, ("arena.%d.purge"):format(a), 1)
H.raises("unknown name", tunalloc.ctl, "arena.99999999999999999999.purge")

-- arenas.lookup maps any Lua object to the arena holding it.
local t = {}
H.check(tunalloc.ctl("arenas.lookup", t) == tunalloc.arena_of(t))
H.raises("takes an object", tunalloc.ctl, "arenas.lookup", 42)

-- Enumeration.
local top = {}
for _, e in ipairs(tunalloc.list()) do top[e.name] = e end
H.check(top.stats and top.stats.type == "node")
H.check(top.version and top.version.type == "string" and top.version.mode == "r-")
local bin = tunalloc.list("arenas.bin.0")
H.check(#bin >= 3)
for _, e in ipairs(bin) do H.check(e.doc ~= nil and e.mode ~= nil) end
H.raises("unknown name", tunalloc.list, "nope")
H.raises("is a value", tunalloc.list, "version")

tunalloc.arena_destroy(a)
H.done()
