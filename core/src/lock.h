/* Mutexes: pthread's, which never allocate, wrapped so fork handling can
 * reinitialise them in the child. */
#ifndef TA_LOCK_H
#define TA_LOCK_H

#include <pthread.h>

#include "common.h"

typedef struct mutex {
    pthread_mutex_t m;
} mutex_t;

#define MUTEX_INITIALIZER {PTHREAD_MUTEX_INITIALIZER}

static inline void mutex_init(mutex_t *l) { pthread_mutex_init(&l->m, NULL); }
static inline void mutex_lock(mutex_t *l) { pthread_mutex_lock(&l->m); }
static inline void mutex_unlock(mutex_t *l) { pthread_mutex_unlock(&l->m); }

#endif
