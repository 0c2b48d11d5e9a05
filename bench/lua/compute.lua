-- Control: arithmetic in a loop, no allocation after start-up. Every
-- configuration should tie here, so a gap is the interpreter binary
-- (tunalua is linked from Debian's liblua5.4.a, lua5.4 is Debian's
-- executable) or the machine, never the allocator: it shows how far the
-- other rows can move without any allocator difference.
local n = tonumber(arg and arg[1]) or 30000000
local s = 0
for i = 1, n do s = s + (i % 7) * 3 end
print("compute", s)
