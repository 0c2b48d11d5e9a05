# tunalloc build. `make` builds the core library (static, for embedding),
# the preload library (drop-in malloc) and the Lua pieces; `make test`
# installs what it needs and runs every test; `make demo` runs the demo.
# `make install` / `make wheel`: packaging/install.mk. Longer runs than
# make test's: `make stress` (tests/tests.mk), `make soak` (bench/bench.mk),
# `make fuzz` (tests/fuzz/fuzz.mk).

CC ?= cc
PYTHON ?= python3
BUILD := build

CORE_DIR := core/src
include core/flags.mk
PRELOAD_ONLY := $(addprefix $(CORE_DIR)/,$(CORE_PRELOAD_ONLY))
CORE_SRCS := $(filter-out $(PRELOAD_ONLY),$(wildcard $(CORE_DIR)/*.c))
PRELOAD_SRCS := $(CORE_SRCS) $(wildcard $(PRELOAD_ONLY))
CORE_HDRS := $(wildcard $(CORE_DIR)/*.h $(CORE_DIR)/*.def) core/include/tunalloc.h

WARN := -Wall -Wextra -Werror
BASE_CFLAGS := $(CORE_CFLAGS) -g $(WARN) -Icore/include -I$(CORE_DIR) $(EXTRA_CFLAGS)
OPT := $(CORE_OPT)
# Each of CORE_LIB_CFLAGS the compiler takes (clang 14 has no
# -mtls-dialect=gnu2: its build keeps the general-dynamic TLS calls,
# slower but as loadable by dlopen).
cc_takes = $(shell echo 'int x;' | $(CC) $(1) -Werror -x c -c -o /dev/null - 2>/dev/null && echo $(1))
LIB_CFLAGS := $(BASE_CFLAGS) $(OPT) $(foreach f,$(CORE_LIB_CFLAGS),$(call cc_takes,$(f)))
PRELOAD_CFLAGS := $(BASE_CFLAGS) $(OPT) -DTA_PRELOAD
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
TSAN_CFLAGS := $(BASE_CFLAGS) -O1 -fsanitize=thread
# The assertions build: the invariants the headers document, checked.
DEBUG_CFLAGS := $(BASE_CFLAGS) -O1 -DTA_DEBUG
LDLIBS := -lpthread

LIB_OBJS := $(patsubst $(CORE_DIR)/%.c,$(BUILD)/lib/%.o,$(CORE_SRCS))
PRELOAD_OBJS := $(patsubst $(CORE_DIR)/%.c,$(BUILD)/preload/%.o,$(PRELOAD_SRCS))
# The objects with the biggest zeroed tables (arena table, explicit
# caches, owner map, profiler rules, stats snapshot) link last, so the
# small variables of .bss share a page or two ahead of the tables rather
# than each sitting on a page of its own between them (prodcons: 7 ->
# 3 resident pages of the preload library's .bss).
BSS_LAST := $(addprefix $(BUILD)/preload/,arena.o ctl_thread.o prof_walk.o stats.o owner_map.o)
PRELOAD_OBJS := $(filter-out $(BSS_LAST),$(PRELOAD_OBJS)) $(BSS_LAST)
# Code a program that only calls malloc and free never runs (ta_ctl,
# stats, profile dumps and walks, verify, check, secure mode, the ta_ API
# beyond malloc's, jemalloc's names). Its preload objects' text moves to
# .ta_cold, which ld places after .text, so the code every program runs
# shares the text's first 64 KiB. The text starts at a 64 KiB boundary of
# the library's addresses: Linux (5.18 on) maps a file mapping of 2 MiB
# or more, as this library's (its .bss), at a 2 MiB boundary, so the
# kernel's 64 KiB fault-around windows start where the text does, and a
# program maps those 64 KiB of text, not all 108. (A 64 KiB p_align would
# make glibc place the library itself, off the 2 MiB boundary, and move
# the libraries mapped after it.) No DT_FINI: crti's empty _fini sits at
# the text's far end, and calling it at exit faulted the window before it
# (ld sets DT_FINI only if the -fini symbol exists).
COLD_TEXT := $(addprefix $(BUILD)/preload/,$(addsuffix .o,alloc_arena alloc_hook alloc_sized \
	alloc_tcache check ctl ctl_arenas ctl_json ctl_misc ctl_stats ctl_thread ctl_tree ctl_walk \
	jemalloc_compat prof_data prof_dump prof_walk secure stats stats_out stats_print verify))
PRELOAD_LDFLAGS := -Wl,--section-start=.init=0x10000 -Wl,-fini=tai_no_dt_fini
ASAN_OBJS := $(patsubst $(CORE_DIR)/%.c,$(BUILD)/asan/%.o,$(CORE_SRCS))
TSAN_OBJS := $(patsubst $(CORE_DIR)/%.c,$(BUILD)/tsan/%.o,$(CORE_SRCS))
DEBUG_OBJS := $(patsubst $(CORE_DIR)/%.c,$(BUILD)/debug/%.o,$(CORE_SRCS))

.PHONY: all core sanitizers deps test demo bench bench-report clean
all: core

core: $(BUILD)/libtunalloc.a $(BUILD)/libtunalloc.so

$(BUILD)/lib/%.o: $(CORE_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@
$(BUILD)/preload/%.o: $(CORE_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(PRELOAD_CFLAGS) -c $< -o $@
	$(if $(filter $@,$(COLD_TEXT)),$(OBJCOPY) --rename-section .text=.ta_cold $@ || (rm -f $@; false))
$(BUILD)/asan/%.o: $(CORE_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c $< -o $@
$(BUILD)/tsan/%.o: $(CORE_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_CFLAGS) -c $< -o $@
$(BUILD)/debug/%.o: $(CORE_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(DEBUG_CFLAGS) -c $< -o $@

$(BUILD)/libtunalloc.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libtunalloc.so: $(PRELOAD_OBJS)
	$(CC) -shared -Wl,-Bsymbolic-functions -Wl,-soname,$(PRELOAD_SONAME) $(PRELOAD_LDFLAGS) \
		-o $@ $^ $(LDLIBS)
$(BUILD)/asan/libtunalloc.a: $(ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/tsan/libtunalloc.a: $(TSAN_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/debug/libtunalloc.a: $(DEBUG_OBJS)
	rm -f $@ && ar rcs $@ $^

sanitizers: $(BUILD)/asan/libtunalloc.a $(BUILD)/tsan/libtunalloc.a

# Installs system and Python packages the build, tests and demo need.
deps:
	bash tools/install-deps.sh

-include tests/tests.mk
-include tests/fuzz/fuzz.mk
-include bindings/lua/lua.mk
-include bench/bench.mk
-include examples/examples.mk
-include bindings/python/python.mk
include packaging/install.mk

test: deps
	$(MAKE) all test-build
	$(PYTHON) -m pytest -q -ra tests

demo: deps
	$(MAKE) all
	$(PYTHON) -m pip install -q .
	$(PYTHON) examples/demo.py
	$(BUILD)/tunalua examples/demo.lua

clean:
	rm -rf $(BUILD) *.egg-info bindings/python/*.egg-info
