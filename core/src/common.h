/* Shared compile-time knobs and helpers for every core translation unit. */
#ifndef TA_COMMON_H
#define TA_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debug.h"
#include "tunalloc.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define CACHELINE 64
#define CACHE_ALIGNED __attribute__((aligned(CACHELINE)))
/* An entry point whose hit is a few dozen instructions starts a line of
 * its own, so code added or removed ahead of it in the library (one more
 * PLT entry is 16 bytes) cannot move where its branches and loop fall:
 * such a 16-byte shift of malloc and free made the fastpath imm loop 1.9
 * times slower on one of this machine's two CPUs and not the other
 * (bench/results/issue14.md, "code alignment"). */
#define HOT_ENTRY __attribute__((aligned(CACHELINE)))
/* A function a program that only allocates and frees never runs (option
 * parsing, the profiler's sampling), in an object with code every program
 * runs: it joins the cold objects' text (the Makefile's COLD_TEXT) past
 * the first 64 KiB of the preload library's text. A section, not the cold
 * attribute: its callers' code stays as it was. */
#define COLD __attribute__((section(".ta_cold")))
/* The other way round: a function of an object whose text the Makefile
 * moves to .ta_cold that every forking program runs (a fork handler). Its
 * own section keeps it out of the move, and ld puts it in .text. */
#define FORK_HANDLER __attribute__((section(".text.fork")))

/* The preload build may use the fast initial-exec model; the library build
 * must stay loadable by dlopen after static TLS is used up, so it takes
 * the dynamic (TLS descriptor) model the compiler picks for -fPIC. */
#ifdef TA_PRELOAD
#define TA_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define TA_TLS __thread
#endif

/* Segments are the unit of mapping and of pointer-to-metadata lookup. */
#define LG_SEGMENT 22
#define SEGMENT_SIZE ((size_t)1 << LG_SEGMENT)
#define SEGMENT_MASK (SEGMENT_SIZE - 1)
/* Smallest page size supported; the real one is read at run time. */
#define LG_MIN_PAGE 12
#define MAX_SEGMENT_PAGES (SEGMENT_SIZE >> LG_MIN_PAGE)

#define MAX_ARENAS 4096

static inline size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
static inline size_t align_down(size_t n, size_t a) { return n & ~(a - 1); }
static inline bool is_pow2(size_t n) { return n && !(n & (n - 1)); }

/* Statistics counters: written only under the lock that guards them, read
 * at any time without one, so relaxed atomics keep readers race-free and
 * writers as cheap as plain stores. */
typedef _Atomic uint64_t counter_t;

static inline uint64_t ctr_get(const counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}
static inline void ctr_set(counter_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}
static inline void ctr_add(counter_t *c, uint64_t v) { ctr_set(c, ctr_get(c) + v); }
static inline void ctr_sub(counter_t *c, uint64_t v) { ctr_set(c, ctr_get(c) - v); }
/* ctr_add(c, 1) by the counter's only writer in one instruction where
 * that is one store to readers (x86-64: an add to memory, not locked), as
 * a fast path's count must not cost it a load, an add and a store. */
static ALWAYS_INLINE void ctr_inc_own(counter_t *c)
{
#if defined(__x86_64__)
    __asm__("addq $1, %0" : "+m"(*(uint64_t *)c));
#else
    ctr_add(c, 1);
#endif
}

/* Report a misuse or internal problem on stderr without allocating. */
HIDDEN void tai_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
