/* Thread state: each thread gets a cache and an arena on its first slow
 * path; a pthread key destructor flushes the cache when the thread ends.
 * Re-entrant calls (pthread_setspecific may allocate) and calls after the
 * destructor ran go to the arena directly. */
#include "thread.h"

#include "init.h"
#include "opts.h"

enum thread_state { TS_NEW = 0, TS_INITIALIZING, TS_ACTIVE, TS_NO_CACHE, TS_DEAD };

TA_TLS tcache_t *tai_tls_tcache = &tai_tcache_empty;
TA_TLS tcache_t *tai_tls_free = &tai_tcache_empty;
/* The thread's cache while TS_ACTIVE. The fast paths see it through
 * tai_tls_tcache, except in secure mode, where every block must pass its
 * slow paths' marks and they see the empty cache instead. */
static TA_TLS tcache_t *tls_cache;
static TA_TLS unsigned char tls_state;
static TA_TLS arena_t *tls_arena; /* for threads without a cache */
static pthread_key_t thread_key;

/* A thread without a cache still counts as bound, so a manual arena it
 * uses cannot be destroyed under it. */
static void bind_cacheless(arena_t *a)
{
    if (tls_arena)
        atomic_fetch_sub_explicit(&tls_arena->nthreads, 1, memory_order_release);
    if (a)
        atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
    tls_arena = a;
    if (tls_state != TS_ACTIVE && tls_state != TS_INITIALIZING)
        pthread_setspecific(thread_key, a);
}

/* The key holds the thread's cache, or for a thread without one the
 * arena it is bound to, so either is released when the thread ends. */
static void thread_exit(void *arg)
{
    bool had_cache = tls_state == TS_ACTIVE;
    tai_tls_tcache = tai_tls_free = &tai_tcache_empty;
    tls_state = TS_DEAD;
    if (had_cache)
        tai_tcache_delete(arg);
    else
        bind_cacheless(NULL);
}

void tai_thread_init_once(void) { pthread_key_create(&thread_key, thread_exit); }

/* Drops the count tai_arena_choose took, once a binding holds its own. */
static void release_choice(arena_t *a)
{
    if (a)
        atomic_fetch_sub_explicit(&a->nthreads, 1, memory_order_release);
}

arena_t *tai_thread_arena(void)
{
    if (tls_state == TS_ACTIVE)
        return tls_cache->arena;
    if (!tls_arena) {
        arena_t *a = tai_arena_choose();
        bind_cacheless(a);
        release_choice(a);
    }
    return tls_arena;
}

static tcache_t *thread_tcache_create(void)
{
    tls_state = TS_INITIALIZING;
    arena_t *chosen = tls_arena ? NULL : tai_arena_choose();
    arena_t *a = tls_arena ? tls_arena : chosen;
    tcache_t *tc = a ? tai_tcache_new(a, 1) : NULL;
    release_choice(chosen);
    if (!tc) {
        tls_state = TS_NO_CACHE;
        return NULL;
    }
    pthread_setspecific(thread_key, tc);
    tls_cache = tc;
    tai_tls_tcache = tai_tls_free = tai_opt.secure ? &tai_tcache_empty : tc;
    bind_cacheless(NULL);
    tls_state = TS_ACTIVE;
    return tc;
}

tcache_t *tai_thread_tcache_slow(void)
{
    switch (tls_state) {
    case TS_ACTIVE:
        return tls_cache;
    case TS_NEW:
        if (tai_opt.tcache)
            return thread_tcache_create();
        tls_state = TS_NO_CACHE;
        return NULL;
    default:
        return NULL;
    }
}

void tai_thread_set_arena(arena_t *a)
{
    if (tls_state == TS_ACTIVE) {
        tcache_t *tc = tls_cache;
        if (tc->arena == a)
            return;
        tai_tcache_rebind(tc, a);
        return;
    }
    bind_cacheless(a);
}

/* A thread that has not allocated yet will get a cache if opt.tcache. */
bool tai_thread_tcache_enabled(void)
{
    return tls_state == TS_ACTIVE || (tls_state == TS_NEW && tai_opt.tcache);
}

void tai_thread_tcache_set_enabled(bool on)
{
    if (on && tls_state == TS_NO_CACHE) {
        thread_tcache_create(); /* an explicit request overrides opt.tcache */
    } else if (!on && tls_state == TS_ACTIVE) {
        tcache_t *tc = tls_cache;
        tai_tls_tcache = tai_tls_free = &tai_tcache_empty;
        tls_state = TS_NO_CACHE;
        pthread_setspecific(thread_key, NULL);
        bind_cacheless(tc->arena);
        tai_tcache_delete(tc);
    } else if (tls_state == TS_NEW) {
        if (on)
            thread_tcache_create();
        else
            tls_state = TS_NO_CACHE;
    }
}

void tai_thread_tcache_flush(void)
{
    if (tls_state == TS_ACTIVE)
        tai_tcache_flush_all(tls_cache);
}

uint64_t tai_thread_allocated(void)
{
    return tls_state == TS_ACTIVE ? tai_tcache_allocated(tls_cache) : 0;
}

uint64_t tai_thread_deallocated(void)
{
    return tls_state == TS_ACTIVE ? tai_tcache_deallocated(tls_cache) : 0;
}

uint64_t tai_thread_peak(void)
{
    if (tls_state != TS_ACTIVE)
        return 0;
    tai_tcache_update_peak(tls_cache);
    return tls_cache->peak;
}

void tai_thread_peak_reset(void)
{
    if (tls_state != TS_ACTIVE)
        return;
    tai_tcache_reset_peak(tls_cache);
}
