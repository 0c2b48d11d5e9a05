# Core test programs, in three kinds (tests/c/README.md says which test
# goes where):
#   unit/         one internal module, white-box: core/src on the include path
#   integration/  the public API only: core/src is NOT on the include path,
#                 so an internal #include there fails to compile
#   stress/       threads, random walks, long loops (may look inside)
# Each tests/c/<kind>/test_*.c is built against the plain library, the
# ASan+UBSan library and the assertions (TA_DEBUG) library; *_mt.c also
# against the TSan one, into $(BUILD)/tests/<variant>/<kind>/.
# tests/test_c.py runs them all under pytest.

TEST_KINDS := unit integration stress
TEST_SRCS := $(foreach k,$(TEST_KINDS),$(wildcard tests/c/$(k)/test_*.c))
TEST_NAMES := $(patsubst tests/c/%.c,%,$(TEST_SRCS))
TEST_MT_NAMES := $(filter %_mt,$(TEST_NAMES))
TEST_DIR := $(BUILD)/tests
TEST_CFLAGS := $(BASE_CFLAGS) -O1
TEST_LIBS := $(LDLIBS) -ldl
# The shared helpers (harness.h; walker.h, the invariant walker shared with
# the fuzzers; map_budget.h; capture.h).
TEST_INC := tests/c/include
TEST_HDRS := $(wildcard $(TEST_INC)/*.h) $(CORE_HDRS)
# What each kind may not see.
TEST_HIDE_integration := -I$(CORE_DIR)

TEST_PLAIN := $(addprefix $(TEST_DIR)/plain/,$(TEST_NAMES))
TEST_ASAN := $(addprefix $(TEST_DIR)/asan/,$(TEST_NAMES))
TEST_TSAN := $(addprefix $(TEST_DIR)/tsan/,$(TEST_MT_NAMES))
TEST_DEBUG := $(addprefix $(TEST_DIR)/debug/,$(TEST_NAMES))
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

# $(call test_flags,kind,variant flags): the variant's flags for a kind.
test_flags = $(filter-out $(TEST_HIDE_$(1)),$(2)) -I$(TEST_INC)

define TEST_KIND_RULES
$$(TEST_DIR)/plain/$(1)/%: tests/c/$(1)/%.c $$(TEST_HDRS) $$(BUILD)/libtunalloc.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(call test_flags,$(1),$$(TEST_CFLAGS)) $$< -o $$@ $$(BUILD)/libtunalloc.a \
		$$(TEST_LDFLAGS_$$*) $$(TEST_LIBS)

$$(TEST_DIR)/asan/$(1)/%: tests/c/$(1)/%.c $$(TEST_HDRS) $$(BUILD)/asan/libtunalloc.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(call test_flags,$(1),$$(ASAN_CFLAGS)) $$< -o $$@ $$(BUILD)/asan/libtunalloc.a \
		-fsanitize=address,undefined $$(TEST_LDFLAGS_$$*) $$(TEST_LIBS)

$$(TEST_DIR)/tsan/$(1)/%: tests/c/$(1)/%.c $$(TEST_HDRS) $$(BUILD)/tsan/libtunalloc.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(call test_flags,$(1),$$(TSAN_CFLAGS)) $$< -o $$@ $$(BUILD)/tsan/libtunalloc.a \
		-fsanitize=thread $$(TEST_LDFLAGS_$$*) $$(TEST_LIBS)

$$(TEST_DIR)/debug/$(1)/%: tests/c/$(1)/%.c $$(TEST_HDRS) $$(BUILD)/debug/libtunalloc.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(call test_flags,$(1),$$(DEBUG_CFLAGS)) $$< -o $$@ $$(BUILD)/debug/libtunalloc.a \
		$$(TEST_LDFLAGS_$$*) $$(TEST_LIBS)
endef
$(foreach k,$(TEST_KINDS),$(eval $(call TEST_KIND_RULES,$(k))))

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

# `make stress`: the stress tests STRESS_SCALE times as long as under
# `make test` (TA_TEST_SCALE, read by harness.h's test_scale), in every
# variant, as `make soak` runs longer than make test's smoke of it.
STRESS_SCALE ?= 20
.PHONY: stress
stress: test-c-build
	TA_TEST_SCALE=$(STRESS_SCALE) $(PYTHON) -m pytest -q -ra tests/test_c.py -k stress/
