-- String building: formatting, concatenation, gsub and table.concat,
-- the allocation pattern of templating and logging code.
local n = tonumber(arg and arg[1]) or 400000
local parts, total = {}, 0
for i = 1, n do
  local s = ("item-%d:%s"):format(i, ("ab"):rep(i % 20))
  s = s:upper():gsub("B", "b")
  parts[#parts + 1] = s
  if #parts == 1000 then
    total = total + #table.concat(parts, ",")
    parts = {}
  end
end
local acc = ""
for i = 1, 3000 do acc = acc .. i end
print("string_build", total + #acc)
