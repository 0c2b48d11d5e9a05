-- `luarocks make` builds the module with the Makefile and installs it into
-- the rocks tree. LuaRocks wants the version in this file's name and below:
-- it is TA_VERSION in core/include/tunalloc.h (tests/test_rockspec.py
-- checks they agree).
rockspec_format = "3.0"
package = "tunalloc"
version = "0.1.0-1"
-- LuaRocks requires a source; `luarocks make` builds the checkout it runs
-- in and fetches nothing.
source = {
   url = "git+file://.",
}
description = {
   summary = "Lua 5.4 states on the tunalloc allocator: stats, tuning, limits",
   detailed = [[
require "tunalloc" gives live allocator statistics, arena tuning and
per-state memory limits; tunalloc.install() moves the running state's
allocations onto tunalloc. The allocator core is linked into the module.]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
supported_platforms = { "linux" }
build = {
   type = "make",
   build_target = "lua-module",
   build_variables = {
      LUA_CFLAGS = "-I$(LUA_INCDIR)",
   },
   install_target = "install-lua-module",
   install_variables = {
      LUA_CMOD_DIR = "$(LIBDIR)",
   },
}
