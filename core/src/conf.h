/* TUNALLOC_CONF parsing, exposed to the tests so every rule can be checked
 * on a private options struct without restarting the process. */
#ifndef TA_CONF_H
#define TA_CONF_H

#include "opts.h"

/* Applies "key:value,..." to o; origin names the source in warnings.
 * Returns how many pairs were malformed (each warned once and skipped). */
HIDDEN unsigned tai_conf_parse(tai_opts_t *o, const char *s, const char *origin);
/* What options imply once all are parsed: secure sets check, and
 * abort_on_error unless that was given. */
HIDDEN void tai_conf_finish(tai_opts_t *o);
/* Every option of o as "key:value" pairs joined by sep, in opts.def order,
 * into buf (always NUL-terminated); returns the length written. */
HIDDEN size_t tai_conf_format(const tai_opts_t *o, char *buf, size_t cap, char sep);

#endif
