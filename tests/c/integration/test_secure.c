/* Secure mode (TUNALLOC_CONF=secure:true, set before the first call):
 * every double and invalid free is caught at the free, thread cache
 * included and across threads; an overwritten canary is reported at the
 * free; a linear overflow off a slab or a large run faults on its guard
 * page; slabs hand out regions in random order. abort_on_error is
 * turned off so the process lives to count the reports. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"
#include "capture.h"

static int count_lines(const char *text, const char *what)
{
    int n = 0;
    for (const char *s = text; (s = strstr(s, what)); s++)
        n++;
    return n;
}

static void *volatile launder;

static void *hide(void *p)
{
    launder = p;
    return launder;
}

static void test_mode_is_on(void)
{
    bool v = false;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl("opt.secure", &v, &len, NULL, 0), 0);
    CHECK(v);
    CHECK_EQ(ta_ctl("opt.check", &v, &len, NULL, 0), 0);
    CHECK(v);
    CHECK_EQ(ta_ctl("opt.abort_on_error", &v, &len, NULL, 0), 0);
    CHECK(!v);
}

/* Every size kind, freed twice in a row: the block sits in the thread
 * cache after the first free, yet the second is refused at once, and the
 * block is not handed out twice. */
static void test_double_free_every_kind(void)
{
    static const size_t sizes[] = {16, 64, 1000, 16384, 20000, 100000, 5000000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *p = ta_malloc(sizes[i]);
        CHECK(p != NULL);
        CHECK_EQ(ta_check_ptr(p), 0);
        ta_free(p);
        CHECK(ta_check_ptr(p) != 0);
        capture_begin();
        ta_free(hide(p));
        const char *out = capture_end();
        CHECK_EQ(count_lines(out, "tunalloc: "), 1);
        CHECK(strstr(out, "double free") || strstr(out, "invalid pointer"));
        char *a = ta_malloc(sizes[i]), *b = ta_malloc(sizes[i]);
        CHECK(a && b && a != b);
        ta_free(a);
        ta_free(b);
    }
}

static void test_invalid_pointers(void)
{
    int local;
    char *p = ta_malloc(256), *big = ta_malloc(100000);
    capture_begin();
    ta_free(hide(p + 16));
    ta_free(hide(p + 8));
    ta_free(hide(big + 4096));
    ta_free(hide(&local));
    ta_free((void *)(uintptr_t)0x1000);
    CHECK(ta_realloc(hide(p + 32), 10) == NULL);
    const char *out = capture_end();
    CHECK_EQ(count_lines(out, "tunalloc: "), 6);
    CHECK_EQ(ta_check_ptr(p), 0);
    CHECK_EQ(ta_check_ptr(big), 0);
    ta_free(p);
    ta_free(big);
}

struct handoff {
    char *p;
};

static void *free_it(void *arg)
{
    ta_free(((struct handoff *)arg)->p);
    return NULL;
}

/* A block freed by another thread sits in that thread's cache; the
 * second free, here, still finds it unmarked. */
static void test_cross_thread_double_free(void)
{
    struct handoff h = {ta_malloc(48)};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, free_it, &h), 0);
    pthread_join(t, NULL);
    capture_begin();
    ta_free(hide(h.p));
    const char *out = capture_end();
    CHECK_EQ(count_lines(out, "double free of "), 1);
}

/* One byte past the requested size, inside the usable size: reported
 * when the block is freed, for small, large and huge blocks; blocks
 * written only up to their size are not. */
static void test_canary(void)
{
    static const size_t sizes[] = {1, 100, 1000, 9000, 20000, 100000, 5000000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *good = ta_malloc(sizes[i]), *bad = ta_malloc(sizes[i]);
        CHECK(good && bad);
        CHECK_EQ(ta_malloc_usable_size(bad), sizes[i]);
        memset(good, 'g', sizes[i]);
        memset(hide(bad), 'b', sizes[i] + 1);
        capture_begin();
        ta_free(good);
        ta_free(bad);
        const char *out = capture_end();
        CHECK_EQ(count_lines(out, "tunalloc: "), 1);
        CHECK_EQ(count_lines(out, "heap overflow"), 1);
    }
    /* realloc in place keeps the canary at the new size */
    char *p = ta_malloc(100);
    p = ta_realloc(p, 110);
    memset(p, 'r', 110);
    capture_begin();
    ta_free(p);
    CHECK_EQ(count_lines(capture_end(), "tunalloc: "), 0);
}

static char *volatile guarded;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    _exit((char *)si->si_addr - guarded <= 131072 ? 3 : 4);
}

/* In a child: writing forward from a block faults at its slab's or
 * run's end (at most 112 KiB on for these sizes) instead of running on
 * through the neighbours. */
static void test_guard_pages(void)
{
    static const size_t sizes[] = {64, 1000, 16384, 20000, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_sigaction = on_segv;
            sa.sa_flags = SA_SIGINFO;
            sigaction(SIGSEGV, &sa, NULL);
            guarded = ta_malloc(sizes[i]);
            for (size_t k = 0; k < ((size_t)8 << 20); k++)
                guarded[k] = 1;
            _exit(0);
        }
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 3)
            fprintf(stderr, "size %zu: status %#x\n", sizes[i], (unsigned)status);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    }
}

/* Two runs of 64 fresh blocks from fresh slabs come out in different
 * orders, and none twice. */
static void test_random_order(void)
{
    enum { N = 64 };
    int ascending = 0;
    for (int run = 0; run < 8; run++) {
        ta_arena_t *ar = ta_arena_create(NULL);
        char *b[N];
        for (int i = 0; i < N; i++)
            b[i] = ta_arena_malloc(ar, 64);
        int up = 1;
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < i; j++)
                CHECK(b[i] != b[j]);
            if (i && b[i] < b[i - 1])
                up = 0;
        }
        ascending += up;
        for (int i = 0; i < N; i++)
            ta_free(b[i]);
        CHECK_EQ(ta_arena_destroy(ar), 0);
    }
    CHECK_EQ(ascending, 0);
}

/* Blocks that go through every path keep working, and the stats come
 * back to where they were. */
static void test_churn(void)
{
    uint64_t seed = 42;
    enum { N = 2000 };
    static char *b[N];
    static size_t sz[N];
    for (int it = 0; it < (TEST_SANITIZED ? 20000 : 100000); it++) {
        int i = (int)(test_rand(&seed) % N);
        if (b[i]) {
            CHECK_EQ(test_verify(b[i], sz[i], (uintptr_t)i), sz[i]);
            if (test_rand(&seed) % 3 == 0) {
                size_t n = 1 + test_rand(&seed) % 40000;
                b[i] = ta_realloc(b[i], n);
                test_fill(b[i], n, (uintptr_t)i);
                sz[i] = n;
            } else {
                ta_free(b[i]);
                b[i] = NULL;
            }
        } else {
            sz[i] = test_rand(&seed) % 3000;
            b[i] = test_rand(&seed) % 4 ? ta_malloc(sz[i]) : ta_calloc(1, sz[i]);
            test_fill(b[i], sz[i], (uintptr_t)i);
        }
    }
    capture_begin();
    for (int i = 0; i < N; i++)
        ta_free(b[i]);
    CHECK_EQ(count_lines(capture_end(), "tunalloc: "), 0);
}

int main(void)
{
    setenv("TUNALLOC_CONF", "secure:true,abort_on_error:false", 1);
    RUN(test_mode_is_on);
    RUN(test_double_free_every_kind);
    RUN(test_invalid_pointers);
    RUN(test_cross_thread_double_free);
    RUN(test_canary);
    RUN(test_guard_pages);
    RUN(test_random_order);
    RUN(test_churn);
    return TEST_EXIT();
}
