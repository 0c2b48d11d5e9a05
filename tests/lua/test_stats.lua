-- tunalloc.stats, stats_text, stats_json and purge.
local H = require "harness"
local tunalloc = require "tunalloc"
tunalloc.install()

local keep = {}
for i = 1, 20000 do keep[i] = {i} end

local s = tunalloc.stats()
H.check(s.allocated > 0)
H.check(s.allocated <= s.active, "allocated <= active")
H.check(s.active <= s.mapped, "active <= mapped")
H.check(type(s.arenas) == "table" and type(s.arenas[0]) == "table")
H.check(s.arenas[tunalloc.ARENAS_ALL] and s.arenas[tunalloc.ARENAS_ALL].pactive >= 0)
H.check(s.arenas.all == nil, "one shape: the merged arenas keyed by their index")
H.check(s.arenas[0].small and s.arenas[0].small.allocated >= 0)

local mine = tunalloc.arena_of(keep)
H.check(s.arenas[mine] ~= nil)
local sub = tunalloc.stats(("stats.arenas.%d"):format(mine))
H.check(sub.small.allocated + sub.large.allocated > 20000 * 16)
H.raises("unknown name", tunalloc.stats, "stats.nothing")
H.raises("is a value", tunalloc.stats, "stats.allocated")

local text = tunalloc.stats_text()
H.check(#text > 100 and text:find("allocated"))
H.check(#tunalloc.stats_text("gab") > 0)
local json = tunalloc.stats_json()
H.check(json:match("^%s*{") and json:match("}%s*$"))
H.check(json:find('"allocated"', 1, true))
H.raises("unknown option letter", tunalloc.stats_text, "Z")
H.raises("unknown option letter", tunalloc.stats_json, "J")

tunalloc.purge()
tunalloc.purge(mine)
H.raises("arena index out of range", tunalloc.purge, -1)
H.raises("arena index out of range", tunalloc.purge, 1 << 40)
H.raises("tunalloc.purge", tunalloc.purge, 4000)
H.done()
