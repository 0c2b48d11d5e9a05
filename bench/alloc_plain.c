/* Sized-free lookup for the plain-malloc build of the workloads. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_api.h"

bench_sized2_fn *bench_sized2;
bench_sized3_fn *bench_sized3;
static const char *sized_name = "free";

/* glibc before 2.39 has no free_sized; the size is then dropped, which
 * keeps the sized workload runnable so its numbers show that cost. */
static void free_ignoring_size(void *p, size_t n)
{
    (void)n;
    free(p);
}

/* Prefers the C23 name, then each allocator's own spelling, so every
 * preloaded allocator is measured through its native sized free. */
void bench_alloc_init(void)
{
    static const char *const two_arg[] = {"mi_free_size", "tc_free_sized"};
    bench_sized2 = free_ignoring_size;
    bench_sized3 = NULL;
    bench_sized2_fn *c23 = (bench_sized2_fn *)dlsym(RTLD_DEFAULT, "free_sized");
    if (c23) {
        bench_sized2 = c23;
        sized_name = "free_sized";
        return;
    }
    bench_sized3 = (bench_sized3_fn *)dlsym(RTLD_DEFAULT, "sdallocx");
    if (bench_sized3) {
        sized_name = "sdallocx";
        return;
    }
    for (size_t i = 0; i < sizeof two_arg / sizeof two_arg[0]; i++) {
        bench_sized2_fn *fn = (bench_sized2_fn *)dlsym(RTLD_DEFAULT, two_arg[i]);
        if (fn) {
            bench_sized2 = fn;
            sized_name = two_arg[i];
            return;
        }
    }
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
