/* The background purging thread: without it an idle process never runs
 * decay and keeps its dirty pages. It sleeps a fraction of the shortest
 * decay time between sweeps, so memory comes back within that time. */
#include <errno.h>
#include <time.h>

#include "arena.h"
#include "background.h"
#include "decay.h"
#include "init.h"

static mutex_t bg_lock = MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static pthread_t bg_thread;
static bool bg_running, bg_stop;
static _Atomic bool bg_enabled;
_Atomic bool tai_background_pending;

/* Sweep interval: an eighth of the shortest positive decay time, within
 * 10 ms .. 1 s. Under the global lock, as in sweep, so a manual arena is
 * not destroyed (and its memory reused) while its decay times are read. */
COLD static uint64_t sweep_interval_ms(void)
{
    uint64_t best = 1000;
    mutex_lock(&tai_global_lock);
    unsigned n = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        arena_t *a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
        if (!a)
            continue;
        int64_t d[2] = {atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed),
                        atomic_load_explicit(&a->muzzy_decay_ms, memory_order_relaxed)};
        for (int k = 0; k < 2; k++)
            if (d[k] > 0 && (uint64_t)d[k] / 8 < best)
                best = (uint64_t)d[k] / 8;
    }
    mutex_unlock(&tai_global_lock);
    return best < 10 ? 10 : best;
}

/* The global lock keeps a manual arena from being destroyed under us. */
COLD static void sweep(void)
{
    unsigned n = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        mutex_lock(&tai_global_lock);
        arena_t *a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
        if (a)
            tai_decay_run(a, false);
        mutex_unlock(&tai_global_lock);
    }
}

COLD static void *bg_main(void *arg)
{
    (void)arg;
    mutex_lock(&bg_lock);
    while (!bg_stop) {
        mutex_unlock(&bg_lock);
        sweep();
        uint64_t ms = sweep_interval_ms();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(ms / 1000);
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        mutex_lock(&bg_lock);
        if (!bg_stop)
            pthread_cond_timedwait(&bg_cond, &bg_lock.m, &ts);
    }
    mutex_unlock(&bg_lock);
    return NULL;
}

COLD int tai_background_set(bool on)
{
    mutex_lock(&bg_lock);
    int err = 0;
    if (on && !bg_running) {
        bg_stop = false;
        err = pthread_create(&bg_thread, NULL, bg_main, NULL);
        bg_running = err == 0;
        if (err)
            err = EAGAIN;
    } else if (!on && bg_running) {
        bg_stop = true;
        pthread_cond_signal(&bg_cond);
        mutex_unlock(&bg_lock);
        pthread_join(bg_thread, NULL);
        mutex_lock(&bg_lock);
        bg_running = false;
    }
    if (!err)
        atomic_store(&bg_enabled, on);
    atomic_store(&tai_background_pending, false);
    mutex_unlock(&bg_lock);
    return err;
}

bool tai_background_enabled(void) { return atomic_load(&bg_enabled); }

void tai_background_maybe_start(void)
{
    if (atomic_exchange(&tai_background_pending, false))
        tai_background_set(true);
}

void tai_background_wake(void)
{
    mutex_lock(&bg_lock);
    pthread_cond_signal(&bg_cond);
    mutex_unlock(&bg_lock);
}

void tai_background_prefork(void) { mutex_lock(&bg_lock); }

/* The thread does not survive fork: the child restarts it lazily. */
void tai_background_postfork(bool child)
{
    if (!child) {
        mutex_unlock(&bg_lock);
        return;
    }
    mutex_init(&bg_lock);
    pthread_cond_init(&bg_cond, NULL);
    if (bg_running) {
        bg_running = false;
        atomic_store(&bg_enabled, false);
        atomic_store(&tai_background_pending, true);
    }
}
