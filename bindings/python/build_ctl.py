"""CFFI (API mode) builder of tunalloc._ctl: the core's allocation and
arena calls for CFFI code (new_allocator's ta_malloc and ta_free, and
blocks made or inspected from CFFI, as the tests do). The control
namespace, arenas and statistics go through tunalloc._hook instead, which
loads in every interpreter; CFFI's backend does not load in isolated
subinterpreters.

setup.py points ``cffi_modules`` here; the module links against the one
shared core library (libtunalloc_core.so) next to it, so the hook and
this module see the same heap.
"""
import os

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CDEF = """
typedef struct ta_arena ta_arena_t;

void *ta_malloc(size_t size);
void ta_free(void *p);
int ta_owns(const void *p);

unsigned ta_arena_index(const ta_arena_t *arena);
ta_arena_t *ta_arena_get(unsigned index);
ta_arena_t *ta_arena_of(const void *p);
void *ta_arena_malloc(ta_arena_t *arena, size_t size);
"""

ffibuilder = cffi.FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "tunalloc._ctl",
    '#include "tunalloc.h"\n',
    include_dirs=[os.path.join(ROOT, "core", "include")],
    libraries=["tunalloc_core"],
    extra_compile_args=["-fvisibility=hidden"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
)
