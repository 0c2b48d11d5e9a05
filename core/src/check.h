/* Pointer validation for checked mode (opt.check) and ta_check_ptr. */
#ifndef TA_CHECK_H
#define TA_CHECK_H

#include "common.h"

/* True if size maps to the class p was allocated in. */
HIDDEN bool ta_check_size(const void *p, size_t size);
/* One line on stderr naming the pointer; the block is left alone. */
HIDDEN void ta_report_bad_free(const void *p);

#endif
