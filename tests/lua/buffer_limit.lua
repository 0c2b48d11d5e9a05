-- The lauxlib buffer pitfall (issue 17), the issue's reproducer: a limit
-- that runs out inside the state's first string-buffer growth must not
-- leave the buffers' metatable half built (registered without __close),
-- which would make every later large string.rep, gsub or table.concat
-- fail for the life of the state. Run by tests/test_lua.py in fresh
-- states, under tunalua and under lua5.4 after install(), with the
-- registry padded by PAD entries (the first argument): which step of the
-- growth the limit stops depends on the state's layout.
local PAD = assert(tonumber(arg[1]), "usage: buffer_limit.lua PAD")
local t = require 'tunalloc'
t.install()
local f = function(w) return w end
local reg = debug.getregistry()
for i = 1, PAD do reg['pad' .. i] = true end
local function work() return ('abc '):rep(3000):gsub('%w+', f) end
local failed = 0
for k = 0, 4096, 16 do
  collectgarbage() collectgarbage()
  local s = t.state()
  local used = s.in_use - s.baseline
  s = nil
  t.setlimit(used + k)
  if not pcall(work) then failed = failed + 1 end
  t.setlimit(0)
end
assert(failed > 0, 'the limit never bit')
local mt = reg['_UBOX*']
assert(mt and mt.__gc and mt.__close, 'buffer metatable half built')
assert(#('x'):rep(10000) == 10000)
assert(#table.concat({('y'):rep(5000), ('z'):rep(5000)}) == 10000)
print("buffer_limit: ok")
