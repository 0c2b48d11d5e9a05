/* Where the statistics reports go (stats_out.c): a write callback fed
 * text formatted on the stack, never through the allocator being
 * measured. The text report (stats_print.c) and the JSON one
 * (ctl_json.c) both write through it. */
#ifndef TA_STATS_OUT_H
#define TA_STATS_OUT_H

#include "common.h"

typedef struct stats_out {
    ta_write_cb *cb;
    void *opaque;
} stats_out_t;

/* Output to cb, or with cb NULL to stderr by write(2), which is usable
 * inside malloc and atexit. */
HIDDEN stats_out_t tai_stats_out(ta_write_cb *cb, void *opaque);
/* Formats one piece of output on the stack and hands it to the callback. */
HIDDEN void tai_stats_emit(stats_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
