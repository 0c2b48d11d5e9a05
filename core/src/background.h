/* The optional background thread that runs decay for idle processes. */
#ifndef TA_BACKGROUND_H
#define TA_BACKGROUND_H

#include "common.h"

/* Starts or stops it; 0 or an errno value (EAGAIN if it cannot start). */
HIDDEN int tai_background_set(bool on);
HIDDEN bool tai_background_enabled(void);
/* Starts it if requested but not running (after fork, or set at init);
 * called from slow paths with no lock held. */
HIDDEN void tai_background_maybe_start(void);
/* Wakes it early, e.g. after a decay setting changed. */
HIDDEN void tai_background_wake(void);
HIDDEN void tai_background_prefork(void);
HIDDEN void tai_background_postfork(bool child);
extern HIDDEN _Atomic bool tai_background_pending;

#endif
