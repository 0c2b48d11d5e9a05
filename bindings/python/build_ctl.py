"""CFFI (API mode) builder of tunalloc._ctl, the control-namespace bridge.

setup.py points ``cffi_modules`` here; the module links against the one
shared core library (libtunalloc_core.so) next to it, so the hook and the
control API see the same heap.
"""
import os

import cffi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CDEF = """
typedef struct ta_arena ta_arena_t;
typedef struct ta_arena_opts {
    int64_t dirty_decay_ms;
    int64_t muzzy_decay_ms;
    size_t limit;
} ta_arena_opts;
typedef enum ta_ctl_type {
    TA_CTL_NODE, TA_CTL_BOOL, TA_CTL_UNSIGNED, TA_CTL_SIZE, TA_CTL_SSIZE,
    TA_CTL_UINT64, TA_CTL_STRING, TA_CTL_POINTER, TA_CTL_ACTION
} ta_ctl_type;
typedef struct ta_ctl_info {
    const char *name;
    ta_ctl_type type;
    unsigned mode;
    const char *doc;
    const char *bound;
} ta_ctl_info;
#define TA_CTL_READ ...
#define TA_CTL_WRITE ...
static const int64_t TA_DECAY_DEFAULT;

void *ta_malloc(size_t size);
void ta_free(void *p);
size_t ta_malloc_usable_size(const void *p);
int ta_owns(const void *p);
int ta_check_ptr(const void *p);

void ta_arena_opts_init(ta_arena_opts *opts);
ta_arena_t *ta_arena_create(const ta_arena_opts *opts);
int ta_arena_destroy(ta_arena_t *arena);
unsigned ta_arena_index(const ta_arena_t *arena);
ta_arena_t *ta_arena_get(unsigned index);
ta_arena_t *ta_arena_of(const void *p);
void *ta_arena_malloc(ta_arena_t *arena, size_t size);

int ta_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
           size_t newlen);
int ta_ctl_child(const char *node, size_t index, ta_ctl_info *out);

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
