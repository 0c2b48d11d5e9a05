/* The fork handlers: before fork they take every lock of every layer in
 * the lock order, after it they release them in the parent and
 * reinitialise them in the child, so neither inherits a lock held by a
 * thread the child does not have. The one module that calls every
 * layer's prefork/postfork; nothing calls it but the registration. */
#include <pthread.h>

#include "arena.h"
#include "background.h"
#include "base.h"
#include "ctl.h"
#include "fork.h"
#include "init.h"
#include "prof.h"
#include "tcache.h"

/* Lock order: start-up, control, profile, cache registry, global,
 * background, arenas (bins, then arena), metadata. A module that adds a
 * lock adds its prefork/postfork pair here, at the lock's place. */
static void prefork(void)
{
    /* before all of those: a fork waits for a start-up under way in
     * another thread, so the child never inherits it half done */
    tai_init_prefork();
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
    tai_init_postfork(false);
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
    tai_init_postfork(true);
}

/* At load time, before the program can have threads that fork: handlers
 * registered by the first allocation would leave a fork racing it (or
 * coming before the registration) with locks held by threads the child
 * does not have. The handlers work before start-up too (their locks are
 * static). pthread_atfork may allocate, which is served: nothing is held
 * here. */
void tai_fork_register(void)
{
    pthread_atfork(prefork, postfork_parent, postfork_child);
}
