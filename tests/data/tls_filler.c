/* A library that takes FILL bytes of static (initial-exec) TLS when
 * dlopened. test_dlopen loads fillers of falling sizes until the process
 * has no static TLS left, as in a Python process that loaded many
 * extensions, then loads the allocator. */
#ifndef FILL
#error "build with -DFILL=<bytes>"
#endif

static __thread char fill[FILL] __attribute__((tls_model("initial-exec")));

/* Touching the block through initial-exec access is what makes the
 * dynamic loader reserve it in the static TLS area. */
__attribute__((visibility("default"))) char *tls_filler_touch(void)
{
    fill[0] = 1;
    return fill;
}
