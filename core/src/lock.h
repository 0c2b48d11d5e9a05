/* Mutexes: pthread's, which never allocate, wrapped so fork handling can
 * reinitialise them in the child. */
#ifndef TA_LOCK_H
#define TA_LOCK_H

#include <pthread.h>

#include "common.h"

typedef struct mutex {
    pthread_mutex_t m;
} mutex_t;

/* Adaptive where glibc has it: a contended lock spins a while before it
 * sleeps. The locks guard short sections (a fill, a flush), and a
 * producer's fill meeting its consumer's flush on one bin lock went to
 * the kernel on both sides each time: prodcons-64 runs now and then took
 * 30 times the CPU, most of it in futex calls. */
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#define MUTEX_INITIALIZER {PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP}
static inline void mutex_init(mutex_t *l)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&l->m, &attr);
    pthread_mutexattr_destroy(&attr);
}
#else
#define MUTEX_INITIALIZER {PTHREAD_MUTEX_INITIALIZER}
static inline void mutex_init(mutex_t *l) { pthread_mutex_init(&l->m, NULL); }
#endif
static inline void mutex_lock(mutex_t *l) { pthread_mutex_lock(&l->m); }
static inline void mutex_unlock(mutex_t *l) { pthread_mutex_unlock(&l->m); }
static inline bool mutex_trylock(mutex_t *l) { return pthread_mutex_trylock(&l->m) == 0; }

#endif
