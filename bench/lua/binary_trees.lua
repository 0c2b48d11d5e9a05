-- binary-trees (Benchmarks Game shape): many short-lived small tables.
local depth = tonumber(arg and arg[1]) or 14

local function make(d)
  if d == 0 then return {} end
  d = d - 1
  return {make(d), make(d)}
end

local function check(t)
  if t[1] then return 1 + check(t[1]) + check(t[2]) end
  return 1
end

local total = check(make(depth + 1))
local long_lived = make(depth)
for d = 4, depth, 2 do
  local iters = 1 << (depth - d + 4)
  local sum = 0
  for _ = 1, iters do sum = sum + check(make(d)) end
  total = total + sum
end
total = total + check(long_lived)
print("binary_trees", total)
