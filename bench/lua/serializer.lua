-- A JSON-like serializer: builds nested documents and encodes them to
-- text through string buffers, the shape of API servers' hot loops.
local n = tonumber(arg and arg[1]) or 4000

local function encode(v, out)
  local t = type(v)
  if t == "table" then
    if #v > 0 then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out)
      end
      out[#out + 1] = "]"
    else
      out[#out + 1] = "{"
      local first = true
      for k, x in pairs(v) do
        if not first then out[#out + 1] = "," end
        first = false
        out[#out + 1] = ('"%s":'):format(k)
        encode(x, out)
      end
      out[#out + 1] = "}"
    end
  elseif t == "string" then
    out[#out + 1] = ('"%s"'):format(v)
  else
    out[#out + 1] = tostring(v)
  end
end

local function document(i)
  local items = {}
  for k = 1, 20 do
    items[k] = {id = i * 100 + k, name = "item" .. k, price = k * 1.25,
                tags = {"a" .. k, "b" .. i}}
  end
  return {user = {id = i, name = "user" .. i, active = i % 2 == 0}, items = items}
end

local bytes = 0
for i = 1, n do
  local out = {}
  encode(document(i), out)
  bytes = bytes + #table.concat(out)
end
print("serializer", bytes)
