-- Coroutines: many short-lived generator threads, each with its own
-- stack, passing freshly made values back and forth.
local n = tonumber(arg and arg[1]) or 200000
local sum = 0
for i = 1, n do
  local gen = coroutine.wrap(function(a)
    for k = 1, 8 do a = coroutine.yield({a, k}) end
    return {a}
  end)
  local v = gen(i)
  for _ = 1, 8 do v = gen(v[1] + v[2]) end
  sum = sum + v[1]
end
print("coroutines", sum)
