# Lua 5.4 integration: host API (build/libta_lua.a), the C module
# (build/lua/tunalloc.so, core linked in), the tunalua interpreter, the
# lua_host example, and the host-API C tests (plain, ASan/UBSan, TSan).

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4) -lm -ldl
# tunalua links Lua statically, as the lua5.4 binary does (the shared
# library's PIC interpreter loop is measurably slower), and exports the
# Lua API (-E) so C modules it loads resolve against it.
TUNALUA_LIBS := -Wl,-E -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl
LUA_DIR := bindings/lua
LUA_HDRS := $(wildcard $(LUA_DIR)/*.h) core/include/tunalloc.h
LUA_API_SRCS := $(addprefix $(LUA_DIR)/,lstate_alloc.c lstate.c lmod.c lmod_ctl.c lmod_stats.c \
	lmod_prof.c)
TUNALUA_SRCS := $(addprefix $(LUA_DIR)/,tunalua.c tunalua_repl.c)
# The binding sees the public header only (core/include), never core/src:
# libta_lua.a works with any core build of the same API.
LUA_BIND_CFLAGS := $(filter-out -I$(CORE_DIR),$(BASE_CFLAGS)) $(LUA_CFLAGS) -I$(LUA_DIR)

LUA_API_OBJS := $(patsubst $(LUA_DIR)/%.c,$(BUILD)/lua/obj/%.o,$(LUA_API_SRCS))
LUA_ASAN_OBJS := $(patsubst $(LUA_DIR)/%.c,$(BUILD)/lua/asan/%.o,$(LUA_API_SRCS))
LUA_TSAN_OBJS := $(patsubst $(LUA_DIR)/%.c,$(BUILD)/lua/tsan/%.o,$(LUA_API_SRCS))
TUNALUA_OBJS := $(patsubst $(LUA_DIR)/%.c,$(BUILD)/lua/obj/%.o,$(TUNALUA_SRCS))

LUA_TEST_SRCS := $(wildcard tests/lua/c/test_*.c)
LUA_TESTS := $(patsubst tests/lua/c/%.c,$(BUILD)/tests/lua/%,$(LUA_TEST_SRCS))
LUA_TESTS_ASAN := $(patsubst tests/lua/c/%.c,$(BUILD)/tests/lua/asan/%,$(LUA_TEST_SRCS))
LUA_TESTS_TSAN := $(patsubst tests/lua/c/%.c,$(BUILD)/tests/lua/tsan/%,$(filter %_mt.c,$(LUA_TEST_SRCS)))
LUA_TEST_CFLAGS := -Icore/include -Itests/c/include -I$(LUA_DIR) $(LUA_CFLAGS)

.PHONY: lua bench-lua
lua: $(BUILD)/libta_lua.a $(BUILD)/lua/tunalloc.so $(BUILD)/tunalua
all: lua

$(BUILD)/lua/obj/%.o: $(LUA_DIR)/%.c $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LUA_BIND_CFLAGS) $(OPT) -c $< -o $@
$(BUILD)/lua/asan/%.o: $(LUA_DIR)/%.c $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LUA_BIND_CFLAGS) -O1 -fsanitize=address,undefined \
		-fno-omit-frame-pointer -fno-sanitize-recover=undefined -c $< -o $@
$(BUILD)/lua/tsan/%.o: $(LUA_DIR)/%.c $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LUA_BIND_CFLAGS) -O1 -fsanitize=thread -c $< -o $@

$(BUILD)/libta_lua.a: $(LUA_API_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/lua/libta_lua_asan.a: $(LUA_ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/lua/libta_lua_tsan.a: $(LUA_TSAN_OBJS)
	rm -f $@ && ar rcs $@ $^

# The module carries its own copy of the core; lua5.4 provides Lua.
$(BUILD)/lua/tunalloc.so: $(LUA_API_OBJS) $(BUILD)/libtunalloc.a
	$(CC) -shared -o $@ $(LUA_API_OBJS) $(BUILD)/libtunalloc.a $(LDLIBS)

$(BUILD)/tunalua: $(TUNALUA_OBJS) $(BUILD)/libta_lua.a $(BUILD)/libtunalloc.a
	$(CC) -o $@ $(TUNALUA_OBJS) $(BUILD)/libta_lua.a $(BUILD)/libtunalloc.a \
		$(TUNALUA_LIBS) $(LDLIBS)

$(BUILD)/examples/lua_host: examples/lua_host.c $(BUILD)/libta_lua.a $(BUILD)/libtunalloc.a $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LUA_BIND_CFLAGS) $(OPT) -o $@ $< $(BUILD)/libta_lua.a \
		$(BUILD)/libtunalloc.a $(LUA_LIBS) $(LDLIBS)

$(BUILD)/tests/lua/%: tests/lua/c/%.c tests/lua/c/lua_test_util.h $(BUILD)/libta_lua.a $(BUILD)/libtunalloc.a $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -g -O1 $(WARN) $(LUA_TEST_CFLAGS) -o $@ $< \
		$(BUILD)/libta_lua.a $(BUILD)/libtunalloc.a $(LUA_LIBS) $(LDLIBS)
$(BUILD)/tests/lua/asan/%: tests/lua/c/%.c tests/lua/c/lua_test_util.h $(BUILD)/lua/libta_lua_asan.a $(BUILD)/asan/libtunalloc.a $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -g -O1 $(WARN) -fsanitize=address,undefined \
		-fno-omit-frame-pointer -fno-sanitize-recover=undefined \
		$(LUA_TEST_CFLAGS) -o $@ $< $(BUILD)/lua/libta_lua_asan.a \
		$(BUILD)/asan/libtunalloc.a $(LUA_LIBS) $(LDLIBS)
$(BUILD)/tests/lua/tsan/%: tests/lua/c/%.c tests/lua/c/lua_test_util.h $(BUILD)/lua/libta_lua_tsan.a $(BUILD)/tsan/libtunalloc.a $(LUA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -g -O1 $(WARN) -fsanitize=thread $(LUA_TEST_CFLAGS) \
		-o $@ $< $(BUILD)/lua/libta_lua_tsan.a $(BUILD)/tsan/libtunalloc.a \
		$(LUA_LIBS) $(LDLIBS)

test-build: $(BUILD)/libta_lua.a $(BUILD)/lua/tunalloc.so $(BUILD)/tunalua \
	$(BUILD)/examples/lua_host $(LUA_TESTS) $(LUA_TESTS_ASAN) $(LUA_TESTS_TSAN)

# Not a test: writes bench/results/lua.md and lua.json.
bench-lua: $(BUILD)/tunalua $(BUILD)/lua/tunalloc.so $(BUILD)/bench/launch
	$(PYTHON) bench/lua/run.py
