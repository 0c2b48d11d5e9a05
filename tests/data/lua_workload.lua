-- Allocation-heavy Lua workload for the LD_PRELOAD tests: tables and
-- strings built, sorted, concatenated and collected. Deterministic, so a
-- run under tunalloc must print exactly what a plain run prints.

-- A small linear congruential generator: identical on every Lua build,
-- unlike math.random's seeding.
local state = 12345
local function rand(n)
  state = (state * 1103515245 + 12345) % 2147483648
  return state % n
end

-- Folds a string into a running checksum.
local function fold(sum, s)
  for i = 1, #s, 7 do
    sum = (sum * 31 + s:byte(i)) % 4294967291
  end
  return sum
end

local sum = 0
for round = 1, 40 do
  local t = {}
  for i = 1, 3000 do
    local parts = {}
    for k = 1, rand(12) + 1 do
      parts[k] = string.char(97 + rand(26)):rep(rand(30) + 1)
    end
    t[i] = table.concat(parts, "-") .. round
  end
  table.sort(t)
  local joined = table.concat(t, ",")
  sum = fold(sum, joined)
  local map = {}
  for i = 1, #t do
    map[t[i]] = (map[t[i]] or 0) + i
  end
  local n = 0
  for _, v in pairs(map) do
    n = n + v
  end
  sum = (sum + n) % 4294967291
  local big = string.rep("z", 100000 + rand(900000))
  sum = (sum + #big + #joined:gsub("a", "AA")) % 4294967291
  if round % 10 == 0 then
    collectgarbage("collect")
  end
end
print(string.format("checksum %d", sum))
