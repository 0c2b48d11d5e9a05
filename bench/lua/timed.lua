-- Runs one workload several times in this state and reports the CPU time
-- of each run: usage `lua timed.lua WORKLOAD.lua ITERATIONS [ARG]`.
-- Several short timings per process, of which run.py keeps the least,
-- resist the bursts of other load a shared machine has better than one
-- long timing does. A full collection before each run, outside the
-- timing, gives every run the same start; the workload's own output is
-- printed by every run, so run.py can check that all of them agree.
local script, iterations = arg[1], tonumber(arg[2])
assert(script and iterations and iterations >= 1,
       "usage: timed.lua WORKLOAD.lua ITERATIONS [ARG]")
local chunk = assert(loadfile(script))
arg = {[0] = script, arg[3]}
local times = {}
for i = 1, iterations do
  collectgarbage("collect")
  local t0 = os.clock()
  chunk(arg[1])
  times[i] = string.format("%.6f", os.clock() - t0)
end
print("#cpu " .. table.concat(times, " "))
