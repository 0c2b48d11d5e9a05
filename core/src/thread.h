/* Per-thread state: the thread's cache and arena, created on first use
 * and torn down by a pthread key destructor when the thread exits. */
#ifndef TA_THREAD_H
#define TA_THREAD_H

#include "tcache.h"

/* The calling thread's cache for fast paths (tai_tcache_empty until set up
 * or when caching is off); see tai_thread_tcache_slow. */
extern TA_TLS tcache_t *tai_tls_tcache;
/* Where the thread's free fast paths push: tai_tls_tcache, or its free
 * side while it samples (prof.h: prof_free_cache), kept up to date by
 * the free slow paths. */
extern TA_TLS tcache_t *tai_tls_free;

/* Sets up the thread's cache if it may have one; returns the cache to use
 * or NULL when the thread must go to its arena directly. */
HIDDEN tcache_t *tai_thread_tcache_slow(void);
/* The arena the calling thread allocates from (created on demand). */
HIDDEN arena_t *tai_thread_arena(void);
/* Binds the thread to a (flushing its cache first). */
HIDDEN void tai_thread_set_arena(arena_t *a);
HIDDEN bool tai_thread_tcache_enabled(void);
HIDDEN void tai_thread_tcache_set_enabled(bool on);
HIDDEN void tai_thread_tcache_flush(void);
/* thread.allocated / deallocated / peak of the calling thread. */
HIDDEN uint64_t tai_thread_allocated(void);
HIDDEN uint64_t tai_thread_deallocated(void);
HIDDEN uint64_t tai_thread_peak(void);
HIDDEN void tai_thread_peak_reset(void);
HIDDEN void tai_thread_init_once(void);

#endif
