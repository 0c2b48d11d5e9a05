/* Start-up on the first call into the allocator, and the fork handlers
 * that keep every lock consistent in parent and child. */
#include <stdlib.h>

#include "arena.h"
#include "background.h"
#include "base.h"
#include "ctl.h"
#include "init.h"
#include "opts.h"
#include "prof.h"
#include "secure.h"
#include "thread.h"

_Atomic bool tai_initialized;
mutex_t tai_global_lock = MUTEX_INITIALIZER;
uint64_t tai_start_ms;
static mutex_t init_lock = MUTEX_INITIALIZER;

/* Lock order: control, profile, cache registry, global, background, arenas (bins,
 * then arena), metadata. */
static void prefork(void)
{
    /* before all of those: a fork waits for a start-up under way in
     * another thread, so the child never inherits it half done */
    mutex_lock(&init_lock);
    tai_ctl_prefork();
    tai_prof_prefork();
    tai_tcache_prefork();
    mutex_lock(&tai_global_lock);
    tai_background_prefork();
    tai_arena_prefork();
    tai_base_prefork();
}

static void postfork_parent(void)
{
    tai_base_postfork(false);
    tai_arena_postfork(false);
    tai_background_postfork(false);
    mutex_unlock(&tai_global_lock);
    tai_tcache_postfork(false);
    tai_prof_postfork(false);
    tai_ctl_postfork(false);
    mutex_unlock(&init_lock);
}

static void postfork_child(void)
{
    tai_base_postfork(true);
    tai_arena_postfork(true);
    tai_background_postfork(true);
    mutex_init(&tai_global_lock);
    tai_tcache_postfork(true);
    tai_prof_postfork(true);
    tai_ctl_postfork(true);
    mutex_init(&init_lock);
}

/* At load time, before the program can have threads that fork: handlers
 * registered by the first allocation would leave a fork racing it (or
 * coming before the registration) with locks held by threads the child
 * does not have. The handlers work before start-up too (their locks are
 * static). pthread_atfork may allocate, which is served: nothing is held
 * here. */
__attribute__((constructor)) static void register_fork_handlers(void)
{
    pthread_atfork(prefork, postfork_parent, postfork_child);
}

/* One arena per CPU: thread caches take an arena's locks once per batch,
 * so more threads than CPUs share arenas without contention to speak of,
 * while every extra arena keeps its own free pages. 8 threads on 2 CPUs
 * churning shared blocks held 0.65 GiB with 4 arenas per CPU, 0.4 GiB
 * with one, and ran faster (issue 13 item 9). */
static unsigned default_narenas(void)
{
    unsigned n = tai_opt.narenas ? tai_opt.narenas : tai_os_ncpus();
    return n > MAX_ARENAS / 2 ? MAX_ARENAS / 2 : n;
}

/* Everything here avoids allocating; what may allocate (atexit) runs
 * after the allocator is marked ready, so re-entry is served. */
bool tai_init_slow(void)
{
    mutex_lock(&init_lock);
    if (atomic_load(&tai_initialized)) {
        mutex_unlock(&init_lock);
        return true;
    }
    tai_os_init();
    tai_sizeclass_init(tai_page);
    tai_conf_init();
    tai_prof_boot();
    if (tai_opt.secure)
        tai_secure_init();
    tai_narenas_auto = default_narenas();
    atomic_store(&tai_default_dirty_decay_ms, tai_opt.dirty_decay_ms);
    atomic_store(&tai_default_muzzy_decay_ms, tai_opt.muzzy_decay_ms);
    tai_start_ms = tai_os_now_ms();
    tai_thread_init_once();
    bool ok = tai_arena_get_or_create(0) != NULL;
    atomic_store_explicit(&tai_initialized, ok, memory_order_release);
    mutex_unlock(&init_lock);
    if (!ok)
        return false;
    if (tai_opt.stats_print)
        atexit(tai_stats_atexit);
    if (tai_opt.background_thread)
        atomic_store(&tai_background_pending, true);
    return true;
}
