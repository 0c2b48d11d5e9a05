-- Hostile calls of the whole module at random, with fixed seeds: every
-- call returns or raises a string error, from the main chunk, a
-- coroutine and a finalizer, and the state goes on working. Longer runs:
-- TUNALLOC_FUZZ_CALLS=100000 lua5.4 tests/lua/test_api_fuzz.lua
local H = require "harness"
local tunalloc = require "tunalloc"

local CALLS = tonumber(os.getenv("TUNALLOC_FUZZ_CALLS")) or 3000
local SCRATCH = os.tmpname()   -- dumps go here, never into the working directory

-- setlimit and arena limits fail the state's own allocations, as they
-- should; that is the limit working, so they are left out.
local names = {}
for k, v in pairs(tunalloc) do
  if type(v) == "function" and k ~= "setlimit" then names[#names + 1] = k end
end
table.sort(names)
local CTL = {"version", "epoch", "background_thread", "arenas.narenas", "arena.0.purge",
  "arena.0.reset", "arena.0.destroy", "arena.4096.purge", "arena.4096.reset", "arenas.create",
  "thread.arena", "thread.tcache.flush", "tcache.create", "tcache.destroy", "tcache.flush",
  "prof.active", "prof.sample_bytes", "prof.reset", "prof.seed", "stats.allocated",
  "stats.arenas.0.pactive", "arena.0.dirty_decay_ms", "opt.narenas", "arenas.lookup",
  "arena.99999999999.purge", "", ".", "arena..purge", "\0", "prof.dump", "prof.dump_folded"}
local VALUES = {0, 1, -1, 2^63, math.maxinteger, math.mininteger, 0/0, 1/0, -1/0, 1.5, "", "x",
  "\0", true, false, {}, {sample_bytes = 1}, {sample_bytes = -1}, {sample_bytes = "x"},
  {dirty_decay_ms = 2^70}, function() end, coroutine.create(function() end), io.stdout,
  setmetatable({}, {__index = function() error("boom") end}), "pprof", "folded"}

local function value()
  local r = math.random(#VALUES + 8)
  if r > #VALUES + 4 then return CTL[math.random(#CTL)] end
  return VALUES[r]   -- nil past the end
end

-- a path argument: the scratch file, or a value no path is made of
local function path_or(v)
  local t = type(v)
  return (t == "string" or t == "number" or math.random() < 0.7) and SCRATCH or v
end

local function args_for(f)
  local n = math.random(0, 3)
  local a = {}
  for j = 1, n do a[j] = value() end
  if f == "ctl" and math.random() < 0.8 then a[1] = CTL[math.random(#CTL)]; n = math.max(n, 1) end
  if f == "profile_dump" then a[1] = path_or(a[1]) end
  if f == "ctl" and type(a[1]) == "string" and a[1]:find("^prof%.dump") then a[2] = path_or(a[2]) end
  if type(a[1]) == "string" and a[1]:find("^prof%.dump") and f ~= "ctl" then a[1] = nil end
  return a, n
end

local failures = {}
local function call(f, ...)
  local ok, err = pcall(tunalloc[f], ...)
  if not ok and type(err) ~= "string" then failures[#failures + 1] = f .. ": " .. type(err) end
  return ok, err
end

local function one()
  local f = names[math.random(#names)]
  local a, n = args_for(f)
  local ok, r = call(f, table.unpack(a, 1, n))
  -- and a method of a returned object (an arena handle, a snapshot ...)
  local mt = ok and (type(r) == "table" or type(r) == "userdata") and getmetatable(r)
  local idx = type(mt) == "table" and mt.__index
  if type(idx) == "table" then
    local ms = {}
    for k, v in pairs(idx) do if type(v) == "function" then ms[#ms + 1] = k end end
    table.sort(ms)
    if #ms > 0 then pcall(idx[ms[math.random(#ms)]], r, value(), value()) end
  end
end

for seed = 1, 3 do
  math.randomseed(seed)
  for i = 1, CALLS do
    one()
    if math.random() < 0.01 then
      setmetatable({}, {__gc = one})
      coroutine.wrap(one)()
      collectgarbage()
    end
    local s = {}
    for j = 1, math.random(0, 20) do s[j] = i .. "." .. j end
    for j = 1, #s do assert(s[j] == i .. "." .. j) end
  end
  collectgarbage()
  H.check(#failures == 0, table.concat(failures, ", "))
end
pcall(tunalloc.profile_stop)
os.remove(SCRATCH)
H.check(tunalloc.ctl("version") == tunalloc.version)
H.done()
