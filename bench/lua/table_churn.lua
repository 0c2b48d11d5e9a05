-- Table churn: records created, grown, rehashed and dropped in waves,
-- with a live set that keeps changing size.
local rounds = tonumber(arg and arg[1]) or 10
local live, checksum = {}, 0
for r = 1, rounds do
  for i = 1, 20000 do
    local rec = {id = i, round = r, tags = {}}
    for k = 1, i % 8 do rec.tags[k] = k * r end
    live[(i * 7 + r) % 30000 + 1] = rec
  end
  for k in pairs(live) do
    if (k + r) % 3 == 0 then live[k] = nil end
  end
  local n = 0
  for _, rec in pairs(live) do n = n + #rec.tags end
  checksum = checksum + n
end
print("table_churn", checksum)
