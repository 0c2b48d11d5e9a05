/*
 * tunalloc: a memory allocator that runtimes plug in and scripts tune.
 *
 * Every public symbol carries the ta_ prefix. The preload build
 * (libtunalloc.so) additionally exports the standard malloc family and
 * jemalloc-compatible mallctl aliases.
 */
#ifndef TUNALLOC_H
#define TUNALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TA_VERSION "0.1.0"

#if defined(__GNUC__)
#define TA_API __attribute__((visibility("default")))
#define TA_MALLOC_ATTR __attribute__((malloc))
#else
#define TA_API
#define TA_MALLOC_ATTR
#endif

/* ---- The malloc family --------------------------------------------- */

TA_API TA_MALLOC_ATTR void *ta_malloc(size_t size);
TA_API TA_MALLOC_ATTR void *ta_calloc(size_t n, size_t size);
TA_API void *ta_realloc(void *p, size_t size);
TA_API void ta_free(void *p);
/* Free with the size last requested for p (malloc/calloc/realloc). The
 * size is verified in checked mode; tunalloc finds a block's class from
 * its page, so a sized free costs what ta_free costs. */
TA_API void ta_free_sized(void *p, size_t size);
TA_API TA_MALLOC_ATTR void *ta_aligned_alloc(size_t align, size_t size);
TA_API int ta_posix_memalign(void **out, size_t align, size_t size);
TA_API TA_MALLOC_ATTR void *ta_memalign(size_t align, size_t size);
TA_API size_t ta_malloc_usable_size(const void *p);

/* Nonzero iff p lies inside memory tunalloc manages (live or free);
 * lock-free, O(1), exact: never true for memory tunalloc did not map. */
TA_API int ta_owns(const void *p);

/* For allocators installed over another one (Python, Lua): frees p and
 * returns 1 if tunalloc owns it, else returns 0 and leaves p alone, in
 * one lookup. */
TA_API int ta_free_if_owned(void *p);

/* 0 if p is the start of a block tunalloc handed out and has not taken
 * back into a slab or run; EINVAL otherwise. Never crashes. */
TA_API int ta_check_ptr(const void *p);

/* ---- Arenas --------------------------------------------------------- */

typedef struct ta_arena ta_arena_t;

/* Decay value meaning "inherit arenas.dirty_decay_ms / muzzy_decay_ms". */
#define TA_DECAY_DEFAULT INT64_MIN
/* Longest decay time, in ms, accepted anywhere (TUNALLOC_CONF, ta_ctl,
 * ta_arena_create): far beyond any real use, small enough that adding it
 * to a millisecond clock cannot overflow. */
#define TA_DECAY_MS_MAX (INT64_MAX / 2)

typedef struct ta_arena_opts {
    /* -1 never purge, 0 at once, up to TA_DECAY_MS_MAX ms, or
     * TA_DECAY_DEFAULT; anything else makes ta_arena_create fail (EINVAL) */
    int64_t dirty_decay_ms;
    int64_t muzzy_decay_ms;
    size_t limit;           /* cap on active bytes; 0 = none */
} ta_arena_opts;

/* Fills opts with the defaults (inherited decay, no limit). */
TA_API void ta_arena_opts_init(ta_arena_opts *opts);
/* NULL opts = defaults. Returns NULL with errno set on failure. */
TA_API ta_arena_t *ta_arena_create(const ta_arena_opts *opts);
/* Releases every block of the arena and unmaps its memory. Only arenas
 * made by ta_arena_create can be destroyed (EPERM otherwise); EBUSY if a
 * thread still has it as its arena. */
TA_API int ta_arena_destroy(ta_arena_t *arena);
TA_API unsigned ta_arena_index(const ta_arena_t *arena);
/* The arena with that index, for allocating from it: an automatic arena
 * (below opt.narenas) is created on first use. NULL if none. */
TA_API ta_arena_t *ta_arena_get(unsigned index);
/* The arena with that index if it exists, or NULL: never creates one,
 * so readers (statistics, checks before a destroy) change nothing. */
TA_API ta_arena_t *ta_arena_find(unsigned index);
/* The arena p was allocated from, or NULL if tunalloc does not own p. */
TA_API ta_arena_t *ta_arena_of(const void *p);
/* What ta_arena_destroy or arena.<i>.reset would free: the blocks a
 * manual arena has handed out and not taken back, and their usable bytes
 * (small, large and huge). A block waiting in a cache still counts, as
 * the arena cannot tell it from a live one: flush the caches you own
 * first (a manual arena's blocks wait only in caches bound to it). Exact
 * when nothing allocates from or frees to the arena meanwhile; no epoch
 * needed, no lock taken (but the heap profile's, briefly, once profiling
 * ever ran: blocks it sampled through the arena's caches count too). The test a binding makes before a destroy or
 * reset. 0; EPERM for an automatic arena (never destroyed or reset; its
 * counts are in stats.arenas.<i>); EINVAL if arena is no live arena
 * (destroyed, or never one) or an out pointer is NULL. */
TA_API int ta_arena_live(const ta_arena_t *arena, size_t *blocks, size_t *bytes);
/* From now on the arena's segments (the memory of its small and large
 * blocks, those it has and those it maps later) ask the kernel for
 * transparent huge pages (madvise MADV_HUGEPAGE): fewer TLB misses for a
 * big heap walked in no order (a garbage collector's), at the price of
 * resident memory faulted in 2 MiB at a time. It cannot be undone. 0;
 * EINVAL if arena is no live arena; or the kernel's error (EINVAL: no
 * THP), the arena then keeps asking for segments it maps later. */
TA_API int ta_arena_huge_pages(ta_arena_t *arena);

TA_API TA_MALLOC_ATTR void *ta_arena_malloc(ta_arena_t *arena, size_t size);
TA_API TA_MALLOC_ATTR void *ta_arena_calloc(ta_arena_t *arena, size_t n,
                                            size_t size);
TA_API void *ta_arena_realloc(ta_arena_t *arena, void *p, size_t size);
TA_API TA_MALLOC_ATTR void *ta_arena_aligned_alloc(ta_arena_t *arena,
                                                   size_t align, size_t size);

/* ---- Explicit caches -------------------------------------------------
 * A cache is used by one thread at a time (the caller serialises), so
 * allocation through it takes neither a lock nor a thread-local lookup. */

typedef struct ta_tcache ta_tcache_t;

/* arena NULL = the calling thread's arena; NULL with errno EINVAL if
 * arena is no live arena (a destroyed one, say). */
TA_API ta_tcache_t *ta_tcache_create(ta_arena_t *arena);
TA_API void ta_tcache_destroy(ta_tcache_t *tc);
TA_API void ta_tcache_flush(ta_tcache_t *tc);
TA_API ta_arena_t *ta_tcache_arena(const ta_tcache_t *tc);
/* Bytes of the blocks the cache holds, filled in from the arena or freed
 * through it, and not yet back in their arena (ta_tcache_flush returns
 * them). 0 for NULL. */
TA_API size_t ta_tcache_cached_bytes(const ta_tcache_t *tc);
TA_API TA_MALLOC_ATTR void *ta_tcache_malloc(ta_tcache_t *tc, size_t size);
TA_API TA_MALLOC_ATTR void *ta_tcache_calloc(ta_tcache_t *tc, size_t n,
                                             size_t size);
TA_API void *ta_tcache_realloc(ta_tcache_t *tc, void *p, size_t size);
TA_API void ta_tcache_free(ta_tcache_t *tc, void *p);
TA_API void ta_tcache_free_sized(ta_tcache_t *tc, void *p, size_t size);
/* ta_free_if_owned through a cache. */
TA_API int ta_tcache_free_if_owned(ta_tcache_t *tc, void *p);

/* ---- Sized blocks on an explicit cache --------------------------------
 * For runtimes that hand every block's size back, as Lua's lua_Alloc
 * (ud, ptr, osize, nsize) does: the sizes tell a resize whether the
 * block must move without a look at it, and let checked mode verify each
 * free. A block's size is the one last asked of ta_sized_alloc or
 * ta_sized_resize.
 *
 * The context is a ta_sized_t the runtime owns: embed it first in its
 * allocator's state. The runtime's accounting (counts, limits) stays its
 * own: it counts a request before the call and ends its path in the
 * call, and a request that fails does not return NULL to it but calls
 * `failed` with the request's arguments (osize 0 for ta_sized_alloc),
 * whose return value the call returns; there the runtime takes its
 * counts back. NULL `failed` returns NULL. Only growth and allocation
 * fail (ENOMEM). The cache's one-thread-at-a-time rule is the runtime's
 * (Lua: one state, one thread at a time). Checked and secure modes
 * verify what these calls are told and take their general paths. */
typedef struct ta_sized {
    ta_tcache_t *cache;
    void *(*failed)(struct ta_sized *sized, void *p, size_t osize, size_t nsize);
    /* Where ta_sized_free pushes: set it to `cache` too. While the cache
     * samples a heap profile the core points it elsewhere (see
     * docs/profiling.md) and back; a runtime that replaces `cache` sets
     * both again. */
    ta_tcache_t *free_cache;
} ta_sized_t;

/* A block of size bytes (size 0 gives a distinct block). */
TA_API TA_MALLOC_ATTR void *ta_sized_alloc(ta_sized_t *sized, size_t size);

/* Frees p, of the given size (p may be NULL), and returns NULL: what an
 * allocator function returns for a free, so a runtime's free path can
 * end in this call. */
TA_API void *ta_sized_free(ta_sized_t *sized, void *p, size_t size);

/* p, of osize bytes, resized to nsize bytes with the first
 * min(osize, nsize) bytes kept: p itself when the new size's class is the
 * block's (or a large block can change in place), else a new block from
 * the cache with the old one given back to it. p NULL is ta_sized_alloc
 * of nsize; nsize 0 frees p and returns NULL. Growth that cannot be
 * served leaves p as it was (and calls `failed`). A shrink never fails:
 * when no smaller block can be had it returns p, which stays in its
 * class (later calls with the smaller size are still right). */
TA_API void *ta_sized_resize(ta_sized_t *sized, void *p, size_t osize, size_t nsize);
/* The same two, counting the bytes they hand out for the heap profile: a
 * runtime calls these instead of ta_sized_alloc and ta_sized_resize while
 * the profile samples (prof.active), so that a block ta_sized_free took
 * is the next one of its class handed out, as without sampling, and each
 * call is one call. Blocks, sizes and `failed` are as for the plain
 * calls, and the two kinds may be mixed on one cache at any time (switch
 * back when sampling stops: off, these cost a test more). */
TA_API TA_MALLOC_ATTR void *ta_sized_count_alloc(ta_sized_t *sized, size_t size);
TA_API void *ta_sized_count_resize(ta_sized_t *sized, void *p, size_t osize, size_t nsize);

/* ---- Hook callbacks ---------------------------------------------------
 * Allocation callbacks in the (context, ...) shape runtimes take for
 * their allocator hooks (CPython's PyMemAllocatorEx, zlib's zalloc and
 * zfree), so a hook hands them to the runtime as they are and nothing of
 * its own runs between the runtime and the cache on a hit. The context is
 * a ta_hook_t the hook owns and keeps alive while the runtime may call.
 *
 * alloc_cache and free_cache name the explicit cache that serves the
 * calls; the hook may switch either at any time (an atomic store, e.g.
 * __atomic_store_n, as ta_hook_* read them with relaxed atomic loads);
 * NULL sends every call of that kind to the fallbacks. The cache's
 * one-thread-at-a-time rule is the hook's to keep (CPython's GIL).
 * free_fallback also gets NULL and every block tunalloc does not own, so
 * a hook that wraps another allocator forwards those to it. Fallbacks get
 * the ta_hook_t's address as their context: embed it first in a struct of
 * your own to reach your state. */
typedef struct ta_hook {
    ta_tcache_t *alloc_cache;
    ta_tcache_t *free_cache;
    void *(*malloc_fallback)(void *hook, size_t size);
    void *(*calloc_fallback)(void *hook, size_t n, size_t size);
    void (*free_fallback)(void *hook, void *p);
} ta_hook_t;

/* Size 0 and calloc's zero counts give distinct blocks; a calloc whose
 * product overflows gives NULL (ENOMEM). */
TA_API TA_MALLOC_ATTR void *ta_hook_malloc(void *hook, size_t size);
TA_API TA_MALLOC_ATTR void *ta_hook_calloc(void *hook, size_t n, size_t size);
TA_API void ta_hook_free(void *hook, void *p);
/* The same, counting the bytes they hand out for the heap profile: a hook
 * installs these instead of ta_hook_malloc and ta_hook_calloc while the
 * profile samples (prof.active), and its frees then reuse blocks as
 * without sampling. Off, they cost a test more than the plain ones. */
TA_API TA_MALLOC_ATTR void *ta_hook_count_malloc(void *hook, size_t size);
TA_API TA_MALLOC_ATTR void *ta_hook_count_calloc(void *hook, size_t n, size_t size);

/* The same callbacks served by the calling thread's own cache, for a
 * runtime that calls from several threads at once (CPython 3.12 and
 * later: one GIL per interpreter). alloc_cache and free_cache are only
 * switches here, never dereferenced: TA_HOOK_THREAD (or any non-NULL
 * value) turns the thread's cache on, NULL sends the calls to the
 * fallbacks as above. Inside a thread's arena choice (thread.arena) new
 * blocks come from that arena, as with ta_malloc. */
#define TA_HOOK_THREAD ((ta_tcache_t *)1)
TA_API TA_MALLOC_ATTR void *ta_hook_thread_malloc(void *hook, size_t size);
TA_API TA_MALLOC_ATTR void *ta_hook_thread_calloc(void *hook, size_t n, size_t size);
TA_API void ta_hook_thread_free(void *hook, void *p);
/* ta_hook_thread_malloc counting, as ta_hook_count_malloc. */
TA_API TA_MALLOC_ATTR void *ta_hook_thread_count_malloc(void *hook, size_t size);

/* ---- Sampled heap profiling ----------------------------------------
 * Off by default: TUNALLOC_CONF=prof:true,prof_sample_bytes:512k, or the
 * control names prof.active and prof.sample_bytes at run time. About one
 * block per prof.sample_bytes allocated is sampled (exponentially
 * distributed byte intervals) and remembers its stack: C frames, plus
 * the frames of the runtime that made it as a registered hook reports
 * them. Estimates scale each sample by 1 / its inclusion probability. */

/* One runtime frame. The core copies the strings after the hook returns,
 * before the sampled allocation does: they must last that long. */
typedef struct ta_prof_frame {
    const char *function;
    const char *file;
    int line;
} ta_prof_frame;

/* Fills up to max frames, innermost first, and returns how many. Called
 * on the allocating thread at each sample, with no allocator lock held;
 * allocations it makes are not sampled. cache is the explicit cache the
 * block is allocated through (a runtime that owns one, such as a Lua
 * state, knows it by that), NULL for the thread's own cache. */
typedef int ta_prof_frames_fn(void *ctx, ta_tcache_t *cache, ta_prof_frame *frames, int max);
/* Registers the hook (NULL: none). */
TA_API void ta_prof_set_frames_hook(ta_prof_frames_fn *fn, void *ctx);

/* One stack of the profile. Counts are of sampled blocks; the _est
 * fields scale them to estimates of all blocks. */
typedef struct ta_prof_stack {
    uint64_t live_blocks, live_bytes;     /* sampled blocks still live */
    double live_blocks_est, live_bytes_est;
    uint64_t alloc_blocks, alloc_bytes;   /* sampled since the last reset */
    double alloc_blocks_est, alloc_bytes_est;
    unsigned n_pcs;                       /* C frames, innermost first */
    const uintptr_t *pcs;
    unsigned n_frames;                    /* runtime frames, innermost first */
    const ta_prof_frame *frames;
} ta_prof_stack;

/* Calls visit for every stack with live or cumulative samples, on a copy
 * taken under a short lock (visit may allocate); stops early when visit
 * returns nonzero and returns that value. 0, ENOMEM. */
TA_API int ta_prof_read(int (*visit)(void *arg, const ta_prof_stack *s), void *arg);
/* Writes the live heap profile to path: format "pprof" (gzipped
 * profile.proto) or "folded" (one "outer;...;inner bytes" line per
 * stack). 0, EINVAL for an unknown format, or the errno of the write. */
TA_API int ta_prof_dump(const char *path, const char *format);
/* A read of the profile by the calling thread, begun and ended: in
 * between, its allocations are neither sampled nor counted towards the
 * next sample, so profiles do not show their own readers. cache is the
 * explicit cache the thread allocates through (NULL: only its own), which
 * the thread must be the user of. Reads nest. ta_prof_read marks its own
 * (ta_prof_dump allocates nothing from the heap); a runtime that builds
 * objects of its own from a read marks the whole of it. */
TA_API void ta_prof_read_begin(ta_tcache_t *cache);
TA_API void ta_prof_read_end(void);

/* The arena index that means "all arenas" in control names
 * (stats.arenas.4096.*, arena.4096.purge), as jemalloc's
 * MALLCTL_ARENAS_ALL. */
#define TA_ARENAS_ALL 4096u

/* ---- Control namespace (mallctl equivalent) ---------------------------
 * Returns 0 or an errno value: ENOENT, EINVAL, EPERM, EFAULT, EAGAIN,
 * ENOMEM. */

TA_API int ta_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
                  size_t newlen);
TA_API int ta_ctl_nametomib(const char *name, size_t *mibp, size_t *miblenp);
TA_API int ta_ctl_bymib(const size_t *mib, size_t miblen, void *oldp,
                        size_t *oldlenp, void *newp, size_t newlen);

typedef enum ta_ctl_type {
    TA_CTL_NODE = 0, /* interior node: has children */
    TA_CTL_BOOL,     /* bool */
    TA_CTL_UNSIGNED, /* unsigned */
    TA_CTL_SIZE,     /* size_t */
    TA_CTL_SSIZE,    /* ssize_t (decay times) */
    TA_CTL_UINT64,   /* uint64_t */
    TA_CTL_STRING,   /* const char * */
    TA_CTL_POINTER,  /* void * (arenas.lookup input) */
    TA_CTL_ACTION    /* no data: writing nothing triggers it */
} ta_ctl_type;

#define TA_CTL_READ 1u
#define TA_CTL_WRITE 2u

/* Storage for a value of any control type, for code that reads names
 * generically (bindings, dumps): pass &v with the type's size. */
typedef union ta_ctl_value {
    bool b;           /* TA_CTL_BOOL */
    unsigned u;       /* TA_CTL_UNSIGNED */
    size_t z;         /* TA_CTL_SIZE */
    ssize_t s;        /* TA_CTL_SSIZE */
    uint64_t q;       /* TA_CTL_UINT64 */
    const char *str;  /* TA_CTL_STRING */
    void *ptr;        /* TA_CTL_POINTER */
} ta_ctl_value;

typedef struct ta_ctl_info {
    const char *name;  /* this component: "purge", or "<i>" for an index */
    ta_ctl_type type;
    unsigned mode;     /* TA_CTL_READ | TA_CTL_WRITE; 0 for nodes */
    const char *doc;   /* one line */
    /* For an index child ("<i>"): the readable name whose value bounds
     * its indexes ("arenas.narenas", "arenas.nbins", ...); valid indexes
     * are below it, and arena indexes also take TA_ARENAS_ALL. NULL for
     * named children. */
    const char *bound;
} ta_ctl_info;

/* The child number `index` of the node `node` ("" = root; indexes may be
 * given as numbers or as "<i>"). 0, or ENOENT past the last child or for
 * an unknown node. */
TA_API int ta_ctl_child(const char *node, size_t index, ta_ctl_info *out);

/* What ta_ctl_walk reports. A component is a name, or (name NULL) an
 * index: its number, TA_ARENAS_ALL for the merged arenas, as in names. */
typedef struct ta_ctl_visitor {
    /* An interior node with at least one value below it opens ... */
    void (*open)(void *opaque, const char *name, size_t index);
    /* ... and closes after its last member. */
    void (*close)(void *opaque);
    /* A readable value. */
    void (*value)(void *opaque, const char *name, size_t index, ta_ctl_type type,
                  const ta_ctl_value *v);
} ta_ctl_visitor;

/* The one statistics walker (ta_stats_print's JSON, and the bindings'
 * stats tables): every readable value below the interior node `node`
 * ("" = root, "stats", "stats.arenas.0", ...), in namespace order, with
 * index children at their live indexes only (absent and destroyed arenas
 * are skipped, the merged arenas last). Reads the current epoch; it
 * creates nothing, takes no lock across a callback, so callbacks may
 * allocate or longjmp. `omit` letters as ta_stats_print's: "g" general
 * (version, opt, arenas), "m" merged arenas, "a" each arena, "b" bins,
 * "l" large classes (NULL = none). 0, EFAULT (NULL node or visitor),
 * ENOENT (unknown node), EINVAL (node is a value), EAGAIN. */
TA_API int ta_ctl_walk(const char *node, const char *omit, const ta_ctl_visitor *visitor,
                       void *opaque);

typedef void ta_write_cb(void *opaque, const char *text);
/* opts: letters as malloc_stats_print ("J" JSON, "g" no general info,
 * "m" no merged arena stats, "a" no per-arena stats, "b" no bins,
 * "l" no large classes); write_cb NULL writes to stderr. */
TA_API void ta_stats_print(ta_write_cb *write_cb, void *opaque,
                           const char *opts);

/* A byte count as TUNALLOC_CONF takes it: the first len bytes of s are
 * decimal digits with an optional k, m or g (KiB, MiB, GiB; either case),
 * for tools that take sizes too. 0, or EINVAL (empty, a sign, any other
 * character, beyond SIZE_MAX). */
TA_API int ta_parse_size(const char *s, size_t len, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
