/* jemalloc's control API under its own names, in the preload build only,
 * so programs written against mallctl run unchanged on tunalloc. */
#include "tunalloc.h"

TA_API int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
TA_API int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp);
TA_API int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                        void *newp, size_t newlen);
TA_API void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                               const char *opts);

/* Same contract as ta_ctl, which already follows jemalloc's rules. */
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    return ta_ctl(name, oldp, oldlenp, newp, newlen);
}

/* Same contract as ta_ctl_nametomib. */
int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp)
{
    return ta_ctl_nametomib(name, mibp, miblenp);
}

/* Same contract as ta_ctl_bymib. */
int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen)
{
    return ta_ctl_bymib(mib, miblen, oldp, oldlenp, newp, newlen);
}

/* Same letters as jemalloc; unknown ones are ignored as there. */
void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts)
{
    ta_stats_print(write_cb, cbopaque, opts);
}
