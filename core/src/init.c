/* Start-up on the first call into the allocator, and the global lock. */
#include <stdlib.h>

#include "arena.h"
#include "background.h"
#include "fork.h"
#include "init.h"
#include "opts.h"
#include "prof.h"
#include "secure.h"
#include "thread.h"

_Atomic bool tai_initialized;
mutex_t tai_global_lock = MUTEX_INITIALIZER;
uint64_t tai_start_ms;
static mutex_t init_lock = MUTEX_INITIALIZER;

void tai_init_prefork(void) { mutex_lock(&init_lock); }

void tai_init_postfork(bool child)
{
    if (child)
        mutex_init(&init_lock);
    else
        mutex_unlock(&init_lock);
}

/* The fork handlers (fork.c) are registered from here because every link
 * of the library pulls in init.o: a constructor alone in fork.o would be
 * left out of static links, which take only the archive members that
 * something refers to. */
__attribute__((constructor)) static void at_load(void) { tai_fork_register(); }

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
