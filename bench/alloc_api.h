/* The allocator interface every workload calls. Built with -DUSE_TA it
 * goes straight to tunalloc's ta_ API (linked statically); otherwise it
 * calls the plain malloc family, which LD_PRELOAD can redirect to glibc,
 * jemalloc, mimalloc, tcmalloc or tunalloc's preload build. */
#ifndef BENCH_ALLOC_API_H
#define BENCH_ALLOC_API_H

#include <stddef.h>

#ifdef USE_TA
#include "tunalloc.h"

/* Direct calls, so the ta_ build measures the API with no indirection. */
static inline void *bench_malloc(size_t n) { return ta_malloc(n); }
static inline void *bench_realloc(void *p, size_t n) { return ta_realloc(p, n); }
static inline void bench_free(void *p) { ta_free(p); }
static inline void bench_free_sized(void *p, size_t n) { ta_free_sized(p, n); }
/* Nothing to resolve: the sized free is ta_free_sized itself. */
static inline void bench_alloc_init(void) {}
static inline const char *bench_alloc_name(void) { return "ta_api"; }
static inline const char *bench_sized_free_name(void) { return "ta_free_sized"; }

#else
#include <stdlib.h>

/* Sized free has no portable name before C23, so it is looked up at
 * start-up among the names the preloaded allocator may export, and called
 * through one pointer: a load and an indirect call, as a PLT call to free
 * costs, so the two free paths differ only by the allocator's own code. */
typedef void bench_sized_fn(void *p, size_t n);
extern bench_sized_fn *bench_sized;

/* Resolves the sized-free entry point; call once before any workload. */
void bench_alloc_init(void);
/* File name of the library that provides malloc ("libc.so.6", ...). */
const char *bench_alloc_name(void);
/* The symbol bench_free_sized ends up calling ("free" if none). */
const char *bench_sized_free_name(void);

/* Out-of-line in libc or the preloaded library, as in any program. */
static inline void *bench_malloc(size_t n) { return malloc(n); }
static inline void *bench_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void bench_free(void *p) { free(p); }
static inline void bench_free_sized(void *p, size_t n) { bench_sized(p, n); }
#endif

#endif
