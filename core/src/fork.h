/* The fork handlers (fork.c): the one module that knows the whole lock
 * order, above every layer that owns a lock. */
#ifndef TA_FORK_H
#define TA_FORK_H

#include "common.h"

/* Registers the handlers with pthread_atfork; called once, at load time. */
HIDDEN void tai_fork_register(void);

#endif
