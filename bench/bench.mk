# Benchmark suite (issue 6). `make bench` builds every workload twice
# (plain malloc for LD_PRELOAD runs, and linked to the ta_ API), then runs
# the interleaved suite; ROUNDS=n sets the rounds, QUICK=1 a short run.
# `make bench-report` turns bench/results/latest.json into Markdown + PNG.

BENCH_OUT := $(BUILD)/bench
BENCH_WORKLOADS := fastpath prodcons larson churn passing falseshare realloc_grow frag large decay soak
BENCH_CFLAGS := $(BASE_CFLAGS) -O2 -D_GNU_SOURCE
BENCH_HDRS := bench/common.h bench/alloc_api.h core/include/tunalloc.h
BENCH_PLAIN := $(addprefix $(BENCH_OUT)/,$(BENCH_WORKLOADS))
BENCH_TA := $(addsuffix -ta,$(BENCH_PLAIN))
BENCH_ARGS := $(if $(ROUNDS),--rounds $(ROUNDS)) $(if $(filter-out 0,$(QUICK)),--quick)

.PHONY: bench-build bench-pydeps soak

bench-build: $(BENCH_PLAIN) $(BENCH_TA) $(BENCH_OUT)/launch

$(BENCH_OUT)/launch: bench/launch.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< -o $@

$(BENCH_OUT)/%.o: bench/%.c $(BENCH_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_PLAIN): $(BENCH_OUT)/%: bench/%.c $(BENCH_OUT)/common.o $(BENCH_OUT)/alloc_plain.o $(BENCH_HDRS)
	$(CC) $(BENCH_CFLAGS) $< $(BENCH_OUT)/common.o $(BENCH_OUT)/alloc_plain.o -o $@ $(LDLIBS) -lm

$(BENCH_TA): $(BENCH_OUT)/%-ta: bench/%.c $(BENCH_OUT)/common.o $(BUILD)/libtunalloc.a $(BENCH_HDRS)
	$(CC) $(BENCH_CFLAGS) -DUSE_TA $< $(BENCH_OUT)/common.o $(BUILD)/libtunalloc.a -o $@ $(LDLIBS) -lm

bench: deps
	$(MAKE) core bench-build
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# The plot needs matplotlib, which only the report uses.
bench-pydeps:
	@$(PYTHON) -c 'import matplotlib' 2>/dev/null || $(PYTHON) -m pip install -q matplotlib

bench-report: bench-pydeps
	$(PYTHON) bench/report.py bench/results/latest.json --md bench/results/latest.md \
		--png bench/results/ratios.png --docs docs/bench.md

# Threaded churn with fork under each allocator's preload, RSS side by side
# (issue 13 item 9); SOAK_SECONDS per run, default 60.
soak: deps
	$(MAKE) core $(BENCH_OUT)/soak $(BENCH_OUT)/launch
	$(PYTHON) bench/soak.py $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS))

# Heap profiling benchmark (issue 16): fast-path cost, accuracy, overhead on
# the Python and Lua suites, tracemalloc side by side.
$(BENCH_OUT)/prof_accuracy: bench/prof/accuracy.c $(BUILD)/libtunalloc.a core/include/tunalloc.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< $(BUILD)/libtunalloc.a -o $@ $(LDLIBS) -ldl

.PHONY: bench-prof
bench-prof: $(BENCH_OUT)/prof_accuracy $(BENCH_OUT)/fastpath-ta $(BENCH_OUT)/fastpath $(BUILD)/libtunalloc.so \
		$(BUILD)/tunalua $(PY_STAMP)
	$(PYTHON) bench/prof/run.py
