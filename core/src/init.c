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

_Atomic bool ta_initialized;
mutex_t ta_global_lock = MUTEX_INITIALIZER;
uint64_t ta_start_ms;
static mutex_t init_lock = MUTEX_INITIALIZER;

/* Lock order: control, profile, cache registry, global, background, arenas (bins,
 * then arena), metadata. */
static void prefork(void)
{
    /* before all of those: a fork waits for a start-up under way in
     * another thread, so the child never inherits it half done */
    mutex_lock(&init_lock);
    ta_ctl_prefork();
    ta_prof_prefork();
    ta_tcache_prefork();
    mutex_lock(&ta_global_lock);
    ta_background_prefork();
    ta_arena_prefork();
    ta_base_prefork();
}

static void postfork_parent(void)
{
    ta_base_postfork(false);
    ta_arena_postfork(false);
    ta_background_postfork(false);
    mutex_unlock(&ta_global_lock);
    ta_tcache_postfork(false);
    ta_prof_postfork(false);
    ta_ctl_postfork(false);
    mutex_unlock(&init_lock);
}

static void postfork_child(void)
{
    ta_base_postfork(true);
    ta_arena_postfork(true);
    ta_background_postfork(true);
    mutex_init(&ta_global_lock);
    ta_tcache_postfork(true);
    ta_prof_postfork(true);
    ta_ctl_postfork(true);
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
    unsigned n = ta_opt.narenas ? ta_opt.narenas : ta_os_ncpus();
    return n > MAX_ARENAS / 2 ? MAX_ARENAS / 2 : n;
}

/* Everything here avoids allocating; what may allocate (atexit) runs
 * after the allocator is marked ready, so re-entry is served. */
bool ta_init_slow(void)
{
    mutex_lock(&init_lock);
    if (atomic_load(&ta_initialized)) {
        mutex_unlock(&init_lock);
        return true;
    }
    ta_os_init();
    ta_sizeclass_init(ta_page);
    ta_conf_init();
    ta_prof_boot();
    if (ta_opt.secure)
        ta_secure_init();
    ta_narenas_auto = default_narenas();
    atomic_store(&ta_default_dirty_decay_ms, ta_opt.dirty_decay_ms);
    atomic_store(&ta_default_muzzy_decay_ms, ta_opt.muzzy_decay_ms);
    ta_start_ms = ta_os_now_ms();
    ta_thread_init_once();
    bool ok = ta_arena_get_or_create(0) != NULL;
    atomic_store_explicit(&ta_initialized, ok, memory_order_release);
    mutex_unlock(&init_lock);
    if (!ok)
        return false;
    if (ta_opt.stats_print)
        atexit(ta_stats_atexit);
    if (ta_opt.background_thread)
        atomic_store(&ta_background_pending, true);
    return true;
}
