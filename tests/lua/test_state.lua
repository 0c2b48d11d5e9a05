-- tunalloc.state and setlimit: counters by kind, and a limit that fails
-- cleanly and can be changed while the script runs.
local H = require "harness"
local tunalloc = require "tunalloc"
tunalloc.install()

local st = tunalloc.state()
for _, k in ipairs{"in_use", "peak", "limit", "nalloc", "nfree", "nfail", "arena"} do
  H.check(math.type(st[k]) == "integer", k)
end
H.check(st.peak >= st.in_use)
-- installed over another allocator the state has no own arena to mark
H.check(type(st.huge_pages) == "boolean" and (st.own_arena or not st.huge_pages))

local function kinds() return tunalloc.state().types end
local k0 = kinds()
local objs = {}
for i = 1, 100 do
  objs[#objs + 1] = {}
  objs[#objs + 1] = ("s%d"):format(i) .. ("x"):rep(50)
  objs[#objs + 1] = function() return i end
  objs[#objs + 1] = coroutine.create(function() end)
end
objs[#objs + 1] = io.tmpfile()
local k1 = kinds()
for _, k in ipairs{"table", "string", "function", "thread", "userdata"} do
  H.check(k1[k].count > k0[k].count, k)
  H.check(k1[k].bytes > k0[k].bytes, k)
end
objs[#objs]:close()
objs = nil
collectgarbage()

-- The state's cache: what it holds is reported apart from in_use, and a
-- flush gives it back (Lua allocates a little again between the calls).
local churn = {} for i = 1, 20000 do churn[i] = {i} end
churn = nil
collectgarbage()
local held = tunalloc.state().cached
H.check(math.type(held) == "integer" and held > 0, "cached " .. held)
local flushed = tunalloc.flush()
H.check(math.type(flushed) == "integer" and flushed > 0)
H.check(tunalloc.state().cached < flushed // 4, "cached after flush")

-- The limit: a catchable error, then the state goes on working.
local base = tunalloc.state()
H.check(tunalloc.setlimit(base.in_use - base.baseline + 256 * 1024) == base.limit)
local ok, err = pcall(function()
  local t = {} for i = 1, 1e7 do t[i] = ("y"):rep(40) .. i end
end)
H.check(not ok and tostring(err):find("not enough memory"), tostring(err))
H.check(tunalloc.state().nfail > base.nfail)
collectgarbage()
local fine = {} for i = 1, 1000 do fine[i] = i end
H.check(#fine == 1000)
H.check(tunalloc.setlimit(0) > 0)
local big = {} for i = 1, 3e5 do big[i] = i end
H.check(#big == 3e5)
big = nil

H.raises("limit must be >= 0", tunalloc.setlimit, -1)
H.raises("bad argument #1", tunalloc.setlimit, "lots")

-- Arenas from Lua.
local a = tunalloc.arena_create{dirty_decay_ms = 0, muzzy_decay_ms = 0, limit = 1 << 30}
H.check(math.type(a) == "integer" and a > 0)
H.raises("unknown option 'size'", tunalloc.arena_create, {size = 1})
H.raises("out of range", tunalloc.arena_create, {limit = -1})
H.raises("must be an integer", tunalloc.arena_create, {limit = "big"})
H.raises("is automatic", tunalloc.arena_destroy, 0)
tunalloc.arena_destroy(a)
H.raises("no arena", tunalloc.arena_destroy, a)
H.raises("no arena", tunalloc.arena_destroy, -3)
H.check(tunalloc.arena_of({}) == tunalloc.state().arena)
H.raises("bad argument #1", tunalloc.arena_of, 7)
H.done()
