# Core test programs: every tests/c/test_*.c is built against the plain
# library, the ASan+UBSan library and the assertions (TA_DEBUG) library;
# *_mt.c also against the TSan one.
# tests/test_c.py runs them all under pytest.

TEST_SRCS := $(wildcard tests/c/test_*.c)
TEST_NAMES := $(patsubst tests/c/%.c,%,$(TEST_SRCS))
TEST_MT_NAMES := $(filter %_mt,$(TEST_NAMES))
TEST_DIR := $(BUILD)/tests
TEST_CFLAGS := $(BASE_CFLAGS) -O1
TEST_LIBS := $(LDLIBS) -ldl
TEST_HDRS := tests/c/harness.h tests/c/map_budget.h tests/c/capture.h $(CORE_HDRS)

TEST_PLAIN := $(addprefix $(TEST_DIR)/plain/,$(TEST_NAMES))
TEST_ASAN := $(addprefix $(TEST_DIR)/asan/,$(TEST_NAMES))
TEST_TSAN := $(addprefix $(TEST_DIR)/tsan/,$(TEST_MT_NAMES))
TEST_DEBUG := $(addprefix $(TEST_DIR)/debug/,$(TEST_NAMES))
# The invariant walker, shared with the fuzzers.
TEST_HDRS += tests/c/walker.h
# The library build wrapped in a shared object, for the dlopen test.
TEST_DL := $(TEST_DIR)/libta_dl.so
TEST_TSAN_PROBE := $(TEST_DIR)/tsan_probe
# A plain program for the preload build to meet bad pointers in.
TEST_BAD_FREE := $(TEST_DIR)/bad_free
# Heap misuse scenarios for the preload build (tests/test_heap_errors.py).
TEST_HEAP_ERRORS := $(TEST_DIR)/heap_errors
# Libraries of falling static TLS sizes that use up the surplus first.
TLS_FILL_SIZES := 4096 2048 1024 512 256 128 64 32 16 8
TEST_TLS_FILLERS := $(foreach n,$(TLS_FILL_SIZES),$(TEST_DIR)/tls_filler_$(n).so)

# test_huge stands in for mremap to make the kernel refuse a move part way.
TEST_LDFLAGS_test_huge := -Wl,--wrap=mremap
# Tests with a mapping budget (map_budget.h) count what tunalloc maps.
MAP_BUDGET_LDFLAGS := -Wl,--wrap=mmap -Wl,--wrap=munmap -Wl,--wrap=mremap
TEST_LDFLAGS_test_realloc_shrink := $(MAP_BUDGET_LDFLAGS)
TEST_LDFLAGS_test_oom_reclaim := $(MAP_BUDGET_LDFLAGS)
TEST_LDFLAGS_test_oom_reclaim_mt := $(MAP_BUDGET_LDFLAGS)

$(TEST_DIR)/plain/%: tests/c/%.c $(TEST_HDRS) $(BUILD)/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< -o $@ $(BUILD)/libtunalloc.a $(TEST_LDFLAGS_$*) $(TEST_LIBS)

$(TEST_DIR)/asan/%: tests/c/%.c $(TEST_HDRS) $(BUILD)/asan/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) $< -o $@ $(BUILD)/asan/libtunalloc.a \
		-fsanitize=address,undefined $(TEST_LDFLAGS_$*) $(TEST_LIBS)

$(TEST_DIR)/tsan/%: tests/c/%.c $(TEST_HDRS) $(BUILD)/tsan/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_CFLAGS) $< -o $@ $(BUILD)/tsan/libtunalloc.a \
		-fsanitize=thread $(TEST_LDFLAGS_$*) $(TEST_LIBS)

$(TEST_DIR)/debug/%: tests/c/%.c $(TEST_HDRS) $(BUILD)/debug/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(DEBUG_CFLAGS) $< -o $@ $(BUILD)/debug/libtunalloc.a $(TEST_LDFLAGS_$*) $(TEST_LIBS)

test-c-build: $(TEST_DEBUG)

$(TEST_DL): $(BUILD)/libtunalloc.a
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ -Wl,--whole-archive $< -Wl,--no-whole-archive $(LDLIBS)

$(TEST_DIR)/tls_filler_%.so: tests/data/tls_filler.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -DFILL=$* -shared $< -o $@

$(TEST_TSAN_PROBE): tests/data/tsan_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_CFLAGS) $< -o $@ -fsanitize=thread $(LDLIBS)

$(TEST_BAD_FREE): tests/data/bad_free.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 $< -o $@ -ldl

$(TEST_HEAP_ERRORS): tests/data/heap_errors.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 $< -o $@ -ldl

.PHONY: test-c-build
test-c-build: $(TEST_PLAIN) $(TEST_ASAN) $(TEST_TSAN) $(TEST_DL) $(TEST_TSAN_PROBE) \
	$(TEST_TLS_FILLERS) $(TEST_BAD_FREE) $(TEST_HEAP_ERRORS)

test-build: test-c-build
