-- Test helper for the Lua test scripts: plain asserts, counted, and one
-- summary line the pytest driver checks ("<script>: N checks passed").
local H = {count = 0}

-- Asserts, counting the check so the summary proves checks ran.
function H.check(cond, msg)
  H.count = H.count + 1
  return assert(cond, msg or "check failed")
end

-- Asserts that fn(...) raises an error whose text contains `pattern`.
function H.raises(pattern, fn, ...)
  H.count = H.count + 1
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error matching '" .. pattern .. "'")
  assert(tostring(err):find(pattern, 1, true),
         "error '" .. tostring(err) .. "' does not contain '" .. pattern .. "'")
  return err
end

function H.done()
  local name = (arg and arg[0] or "?"):match("[^/]+$")
  print(("%s: %d checks passed"):format(name, H.count))
end

return H
