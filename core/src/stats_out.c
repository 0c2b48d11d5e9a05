/* The sink of the statistics reports: text formatted on the stack, handed
 * to a callback or written to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stats_out.h"

static void write_stderr(void *opaque, const char *text)
{
    (void)opaque;
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, text, len);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

stats_out_t tai_stats_out(ta_write_cb *cb, void *opaque)
{
    return (stats_out_t){cb ? cb : write_stderr, cb ? opaque : NULL};
}

/* vsnprintf into a stack buffer: output never allocates. */
void tai_stats_emit(stats_out_t *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= 0)
        o->cb(o->opaque, buf);
}
