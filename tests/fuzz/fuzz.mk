# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang against a
# copy of the core compiled with coverage, ASan+UBSan and the debug
# assertions. `make fuzz` runs each for FUZZ_SECONDS from its committed
# seed corpus (tests/fuzz/corpus/<target>/); new inputs go to
# build/fuzz/corpus/, findings to build/fuzz/artifacts/, and any finding
# fails the target. tests/test_fuzz.py runs each for a few seconds.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_COV = -fsanitize=fuzzer-no-link
FUZZ_CFLAGS = $(BASE_CFLAGS) -O1 -DTA_DEBUG $(FUZZ_SAN) $(FUZZ_COV)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_NAMES))
FUZZ_OBJS := $(patsubst $(CORE_DIR)/%.c,$(FUZZ_DIR)/lib/%.o,$(CORE_SRCS))
# The conf parser warns on stderr for every malformed pair it skips.
FUZZ_FLAGS_conf := -close_fd_mask=2
# ASan's checks of leaks and of the allocator's own mappings do not
# apply: tunalloc maps its memory itself.
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

$(FUZZ_DIR)/lib/%.o: $(CORE_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# The checker's loops are no coverage to steer by, and their traced
# comparisons would cost more than the operations they check.
$(FUZZ_DIR)/lib/verify.o: FUZZ_COV :=

$(FUZZ_DIR)/libtunalloc.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/c/include/harness.h tests/c/include/walker.h \
		$(CORE_HDRS) $(FUZZ_DIR)/libtunalloc.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/c/include -fsanitize=fuzzer $< -o $@ $(FUZZ_DIR)/libtunalloc.a $(LDLIBS)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

# One target's run, new inputs kept in build/fuzz/corpus/<target>;
# libFuzzer exits nonzero on a crash, a broken property (abort), a
# timeout or running out of memory.
fuzz-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts
	$(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
		-rss_limit_mb=4096 -print_final_stats=1 $(FUZZ_FLAGS_$*) \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$*- $(FUZZ_DIR)/corpus/$* tests/fuzz/corpus/$*

# The targets in turn, so each has the machine to itself.
fuzz: fuzz-build
	@for t in $(FUZZ_NAMES); do $(MAKE) --no-print-directory fuzz-$$t || exit 1; done

test-build: fuzz-build
