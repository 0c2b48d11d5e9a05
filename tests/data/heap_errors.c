/* Heap misuse under the preloaded allocator, one scenario per run
 * (argv[1]), for tests/test_heap_errors.py. Each scenario prints the
 * addresses involved ("p=0x..."), then what the allocator handed out
 * afterwards, so the test can tell a refused free from one that went
 * through. mallctl is looked up at run time, so the program also runs
 * without the preload. */
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef int mallctl_fn(const char *, void *, size_t *, void *, size_t);

/* Through a volatile pointer, so the compiler cannot see a double free. */
static void *volatile launder;

static void *hide(void *p)
{
    launder = p;
    return launder;
}

static void flush(void)
{
    mallctl_fn *ctl = (mallctl_fn *)dlsym(RTLD_DEFAULT, "mallctl");
    if (!ctl || ctl("thread.tcache.flush", NULL, NULL, NULL, 0))
        printf("no flush\n");
}

/* Frees p twice (flushing the thread cache between the frees and after
 * them when asked), then allocates two blocks of its size: while both
 * live they must differ. */
static void double_free(size_t size, int flush_between)
{
    char *p = malloc(size);
    void *again = hide(p);
    printf("p=%p\n", (void *)p);
    fflush(stdout);
    free(p);
    if (flush_between)
        flush();
    free(again);
    flush();
    char *q = malloc(size), *r = malloc(size);
    printf("distinct=%d\n", q != r);
    free(q);
    free(r);
}

static void set_arena(unsigned i)
{
    mallctl_fn *ctl = (mallctl_fn *)dlsym(RTLD_DEFAULT, "mallctl");
    if (!ctl || ctl("thread.arena", NULL, NULL, &i, sizeof i))
        printf("no thread.arena\n");
}

/* A block of arena 1 freed by a thread bound to arena 0 waits in that
 * thread's remote batch and is checked when the batch is flushed: twice
 * (interior 0), or 16 bytes into it (interior 1). Back on arena 1, two
 * new blocks of the size must differ, and not be p. */
static void remote_free(size_t size, int interior)
{
    set_arena(1);
    char *p = malloc(size);
    void *again = hide(p);
    uintptr_t at = (uintptr_t)p;
    set_arena(0);
    printf("p=%p\n", (void *)p);
    fflush(stdout);
    if (interior) {
        free(hide(p + 16));
    } else {
        free(p);
        free(again);
    }
    flush();
    set_arena(1);
    char *q = malloc(size), *r = malloc(size);
    printf("distinct=%d\n", q != r);
    printf("reused=%d\n", interior && ((uintptr_t)q == at || (uintptr_t)r == at));
    free(q);
    free(r);
}

/* Frees an address 16 bytes into a live block; the block must stay
 * live: the next block of the size is not p. */
static void interior_free(size_t size)
{
    char *p = malloc(size);
    printf("p=%p\n", (void *)p);
    fflush(stdout);
    free(hide(p + 16));
    flush();
    char *q = malloc(size);
    printf("reused=%d\n", q == p);
}

static char *guarded;

/* A fault's offset from the block being overrun. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    char line[64];
    int n = snprintf(line, sizeof(line), "fault at +%ld\n", (long)((char *)si->si_addr - guarded));
    ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
    (void)w;
    _exit(3);
}

/* Writes forward from the start of a block of size bytes, one byte per
 * page and then every byte, until something faults. */
static void overrun(size_t size)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    guarded = malloc(size);
    printf("p=%p\n", (void *)guarded);
    fflush(stdout);
    for (size_t i = 0; i < ((size_t)8 << 20); i++)
        ((volatile char *)guarded)[i] = 1;
    printf("no fault\n");
}

/* Writes bytes past the requested size (inside the usable size) and
 * frees the block. */
static void canary(size_t size, size_t past)
{
    char *p = malloc(size);
    printf("p=%p\n", (void *)p);
    fflush(stdout);
    memset(hide(p), 'x', size + past);
    free(hide(p));
    printf("freed\n");
}

/* The order in which 256 blocks of 64 bytes were handed out, as ranks
 * of their addresses; and whether all were distinct. */
static void order(void)
{
    enum { N = 256 };
    static uintptr_t a[N];
    for (int i = 0; i < N; i++)
        a[i] = (uintptr_t)malloc(64);
    int distinct = 1;
    printf("order=");
    for (int i = 0; i < N; i++) {
        int rank = 0;
        for (int j = 0; j < N; j++) {
            rank += a[j] < a[i];
            distinct &= j == i || a[j] != a[i];
        }
        printf("%d,", rank);
    }
    printf("\ndistinct=%d\n", distinct);
}

/* 320 MiB of 64-byte blocks (80 000 one-page slabs), then the count of
 * the process's mappings and whether it can still map more. */
static void many_slabs(void)
{
    size_t n = (size_t)320 << 20 >> 6;
    for (size_t i = 0; i < n; i++)
        if (!malloc(64)) {
            printf("malloc failed after %zu\n", i);
            return;
        }
    FILE *f = fopen("/proc/self/maps", "r");
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    void *extra[64];
    int mapped = 0;
    for (int i = 0; i < 64; i++) {
        extra[i] = mmap(NULL, 4096, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mapped += extra[i] != MAP_FAILED;
    }
    printf("mappings=%d mapped=%d\n", lines, mapped);
}

static void options(void)
{
    mallctl_fn *ctl = (mallctl_fn *)dlsym(RTLD_DEFAULT, "mallctl");
    const char *names[] = {"opt.check", "opt.secure", "opt.abort_on_error"};
    for (int i = 0; i < 3; i++) {
        _Bool v = 0;
        size_t len = sizeof(v);
        int err = ctl ? ctl(names[i], &v, &len, NULL, 0) : -1;
        printf("%s=%d err=%d\n", names[i], (int)v, err);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *s = argv[1];
    if (!strcmp(s, "huge-double"))
        double_free(5000000, 0);
    else if (!strcmp(s, "large-double"))
        double_free(100000, 0);
    else if (!strcmp(s, "large-cached-double"))
        double_free(20000, 0);
    else if (!strcmp(s, "small-double"))
        double_free(64, 0);
    else if (!strcmp(s, "small-double-flushed"))
        double_free(64, 1);
    else if (!strcmp(s, "small-double-remote"))
        remote_free(64, 0);
    else if (!strcmp(s, "small-interior-remote"))
        remote_free(64, 1);
    else if (!strcmp(s, "small-interior"))
        interior_free(64);
    else if (!strcmp(s, "large-interior"))
        interior_free(100000);
    else if (!strcmp(s, "large-cached-interior"))
        interior_free(20000);
    else if (!strcmp(s, "huge-interior"))
        interior_free(5000000);
    else if (!strcmp(s, "overrun-small"))
        overrun(64);
    else if (!strcmp(s, "overrun-large"))
        overrun(100000);
    else if (!strcmp(s, "canary-small"))
        canary(100, 1);
    else if (!strcmp(s, "canary-large"))
        canary(100000, 1);
    else if (!strcmp(s, "canary-huge"))
        canary(5000000, 1);
    else if (!strcmp(s, "order"))
        order();
    else if (!strcmp(s, "many-slabs"))
        many_slabs();
    else if (!strcmp(s, "options"))
        options();
    else
        return 2;
    printf("end\n");
    return 0;
}
