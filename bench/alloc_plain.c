/* Sized-free lookup for the plain-malloc build of the workloads. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_api.h"

bench_sized_fn *bench_sized;
static const char *sized_name = "free";

/* glibc before 2.39 has no free_sized; the size is then dropped, which
 * keeps the sized workload runnable so its numbers show that cost. */
static void free_ignoring_size(void *p, size_t n)
{
    (void)n;
    free(p);
}

/* jemalloc's sdallocx takes flags: a tail call adds one jump to its path. */
typedef void sdallocx_fn(void *p, size_t n, int flags);
static sdallocx_fn *sdallocx_ptr;
static void sdallocx_no_flags(void *p, size_t n) { sdallocx_ptr(p, n, 0); }

static bool resolve(const char *name)
{
    bench_sized_fn *fn = (bench_sized_fn *)dlsym(RTLD_DEFAULT, name);
    if (fn) {
        bench_sized = fn;
        sized_name = name;
    }
    return fn != NULL;
}

/* Prefers the C23 name, then each allocator's own spelling, so every
 * preloaded allocator is measured through its native sized free. */
void bench_alloc_init(void)
{
    bench_sized = free_ignoring_size;
    if (resolve("free_sized"))
        return;
    sdallocx_ptr = (sdallocx_fn *)dlsym(RTLD_DEFAULT, "sdallocx");
    if (sdallocx_ptr) {
        bench_sized = sdallocx_no_flags;
        sized_name = "sdallocx";
        return;
    }
    if (!resolve("mi_free_size"))
        resolve("tc_free_sized");
}

/* The file that defines the malloc this program calls: the driver checks
 * it, so a preload that silently failed cannot pass glibc off as another
 * allocator. */
const char *bench_alloc_name(void)
{
    Dl_info info;
    if (!dladdr((void *)malloc, &info) || !info.dli_fname)
        return "unknown";
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
}

const char *bench_sized_free_name(void) { return sized_name; }
