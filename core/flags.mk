# How the core is compiled, read by the Makefile and by setup.py (which
# takes `NAME := words` lines only), so the Python package's copy of the
# core is built the way the C library is.

# Every build of the core.
CORE_CFLAGS := -std=c11 -fPIC -fvisibility=hidden -fno-semantic-interposition -fno-strict-aliasing -D_GNU_SOURCE
# Optimisation of the release builds (the Makefile's OPT).
CORE_OPT := -O2
# The library build (not the preload one) adds those of these the
# compiler takes. TLS descriptors: fast, and loadable by dlopen after
# static TLS is spent (clang 14 lacks them: its build keeps the slower
# general-dynamic calls, as loadable).
CORE_LIB_CFLAGS := -mtls-dialect=gnu2
# Sources that define malloc itself: only the preload library has them.
CORE_PRELOAD_ONLY := preload.c jemalloc_compat.c
