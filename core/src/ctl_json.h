/* The JSON statistics report (ctl_json.c). */
#ifndef TA_CTL_JSON_H
#define TA_CTL_JSON_H

#include "stats_out.h"

/* Every readable name of the namespace, nested as the names are, minus
 * the sections the option letters omit. */
HIDDEN void tai_stats_json(stats_out_t *o, const char *opts);

#endif
