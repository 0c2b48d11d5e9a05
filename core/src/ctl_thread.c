/* Handlers of thread.* (the calling thread) and tcache.* (explicit caches
 * named by small integers, as jemalloc's tcache.create hands out). */
#include <errno.h>

#include "arena.h"
#include "ctl.h"
#include "init.h"
#include "lock.h"
#include "thread.h"

#define CTL_NTCACHES 4096

static mutex_t tcaches_lock = MUTEX_INITIALIZER;
static ta_tcache_t *tcaches[CTL_NTCACHES];

/* Binding to an index that is no arena is EFAULT, as in jemalloc. A
 * manual arena is looked up and bound under the global lock, which
 * destroy holds, so it cannot be freed in between; once bound, destroy
 * refuses it (EBUSY). */
int tai_ctl_thread_arena(ctl_io_t *io)
{
    arena_t *cur = tai_thread_arena();
    if (cur == NULL)
        return EAGAIN;
    unsigned old = cur->index;
    if (io->newp) {
        unsigned i = tai_ctl_in_unsigned(io);
        if (i >= tai_ctl_narenas())
            return EFAULT;
        arena_t *a;
        if (i < tai_narenas_auto) {
            a = tai_arena_get_or_create(i);
            if (a != NULL)
                tai_thread_set_arena(a);
        } else {
            mutex_lock(&tai_global_lock);
            a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
            if (a != NULL)
                tai_thread_set_arena(a);
            mutex_unlock(&tai_global_lock);
        }
        if (a == NULL)
            return EFAULT;
    }
    return tai_ctl_out_num(io, old);
}

/* Disabling flushes and frees the cache; enabling makes a new one. */
int tai_ctl_thread_tcache_enabled(ctl_io_t *io)
{
    bool old = tai_thread_tcache_enabled();
    if (io->newp)
        tai_thread_tcache_set_enabled(tai_ctl_in_bool(io));
    return tai_ctl_out_num(io, old);
}

/* Lets a thread make the statistics identities exact before a read. */
int tai_ctl_thread_tcache_flush(ctl_io_t *io)
{
    (void)io;
    tai_thread_tcache_flush();
    return 0;
}

/* Counters of the calling thread, kept by its cache without atomics. */
int tai_ctl_thread_counter(ctl_io_t *io)
{
    switch (io->node->arg) {
    case CTL_THREAD_ALLOCATED:
        return tai_ctl_out_num(io, tai_thread_allocated());
    case CTL_THREAD_DEALLOCATED:
        return tai_ctl_out_num(io, tai_thread_deallocated());
    default:
        return tai_ctl_out_num(io, tai_thread_peak());
    }
}

/* Starts a new measurement window, as jemalloc's thread.peak.reset. */
int tai_ctl_thread_peak_reset(ctl_io_t *io)
{
    (void)io;
    tai_thread_peak_reset();
    return 0;
}

/* The lowest free index, so indexes stay small and are reused. */
int tai_ctl_tcache_create(ctl_io_t *io)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    if (tc == NULL)
        return ENOMEM;
    mutex_lock(&tcaches_lock);
    unsigned i = 0;
    while (i < CTL_NTCACHES && tcaches[i] != NULL)
        i++;
    if (i < CTL_NTCACHES)
        tcaches[i] = tc;
    mutex_unlock(&tcaches_lock);
    if (i == CTL_NTCACHES) {
        ta_tcache_destroy(tc);
        return EAGAIN;
    }
    return tai_ctl_out_num(io, i);
}

/* Under the table lock, so a concurrent destroy cannot free the cache
 * while it is being flushed, nor two destroys free it twice. Writing
 * nothing, or an index with no cache, names no cache: EFAULT. */
static int tcache_op(const ctl_io_t *io, bool destroy)
{
    unsigned i = io->newp ? tai_ctl_in_unsigned(io) : CTL_NTCACHES;
    if (i >= CTL_NTCACHES)
        return EFAULT;
    mutex_lock(&tcaches_lock);
    ta_tcache_t *tc = tcaches[i];
    if (tc && destroy) {
        tcaches[i] = NULL;
        ta_tcache_destroy(tc);
    } else if (tc) {
        ta_tcache_flush(tc);
    }
    mutex_unlock(&tcaches_lock);
    return tc ? 0 : EFAULT;
}

/* jemalloc's tcache.flush: the index comes through newp. */
int tai_ctl_tcache_flush(ctl_io_t *io) { return tcache_op(io, false); }

/* jemalloc's tcache.destroy: frees the cache and its index. */
int tai_ctl_tcache_destroy(ctl_io_t *io) { return tcache_op(io, true); }

/* Fork handlers keep the table lock consistent in the child. */
FORK_HANDLER void tai_ctl_tcaches_prefork(void) { mutex_lock(&tcaches_lock); }

/* The child reinitialises the lock its parent held at fork. */
FORK_HANDLER void tai_ctl_tcaches_postfork(bool child)
{
    if (child)
        mutex_init(&tcaches_lock);
    else
        mutex_unlock(&tcaches_lock);
}
