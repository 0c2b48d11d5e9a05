/* When the kernel refuses a mapping, tunalloc gives back what it holds
 * unused (cached huge mappings, dirty and muzzy pages, spare slabs,
 * segments with nothing in them, in every arena) and tries again.
 *
 * The RLIMIT_AS tests fill memory with blocks of one size until
 * allocation fails, free them all, then fill with another size, in a
 * child under a 300 MB address-space limit; memory freed must be
 * reusable, so the second fill must get about what the same size gets in
 * a fresh process. They run only in the plain build: ASan and TSan
 * reserve terabytes of shadow address space, which no RLIMIT_AS leaves
 * room for, so those builds print why they skip them.
 *
 * They run with the default settings (10 s decay, no background thread),
 * with decay at 0, and with the background thread.
 *
 * The budget tests run in every build: map_budget.h counts what tunalloc
 * maps and refuses mappings past a budget of the test's choosing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "map_budget.h"

/* Arena x holds cached huge mappings and free runs; a request in arena
 * y that needs a new mapping past the budget gets it from x's memory. */
static void test_reclaims_other_arenas(void)
{
    ta_arena_t *x = test_keeping_arena(), *y = ta_arena_create(NULL);
    CHECK(y != NULL);
    void *big[4], *mid[80];
    for (int i = 0; i < 4; i++)
        big[i] = ta_arena_malloc(x, 3 << 20);
    for (int i = 0; i < 80; i++)
        mid[i] = ta_arena_malloc(x, 100000);
    for (int i = 0; i < 4; i++) {
        CHECK(big[i] != NULL);
        ta_free(big[i]);
    }
    for (int i = 0; i < 80; i++) {
        CHECK(mid[i] != NULL);
        ta_free(mid[i]);
    }
    size_t held = test_arena_stat(x, "mapped");
    CHECK(held >= (size_t)16 << 20);
    atomic_store(&budget, atomic_load(&mapped_now) + (1 << 20));
    void *p = ta_arena_malloc(y, 100000), *q = ta_arena_malloc(y, 5 << 20);
    void *r = ta_arena_malloc(y, 100);
    atomic_store(&budget, 0);
    CHECK(p != NULL && q != NULL && r != NULL);
    CHECK(test_arena_stat(x, "mapped") < held);
    CHECK_EQ(test_arena_stat(x, "pdirty"), 0);
    ta_free(p);
    ta_free(q);
    ta_free(r);
    CHECK_EQ(ta_arena_destroy(x), 0);
    CHECK_EQ(ta_arena_destroy(y), 0);
}

/* A failure the kernel had no part in (the arena's own limit) gives
 * nothing back: other arenas keep their cached memory. */
static void test_limit_failure_keeps_caches(void)
{
    ta_arena_t *x = test_keeping_arena(), *y = ta_arena_create(NULL);
    CHECK(y != NULL);
    ta_free(ta_arena_malloc(x, 3 << 20));
    ta_free(ta_arena_malloc(x, 100000));
    size_t dirty = test_arena_stat(x, "pdirty");
    CHECK(dirty > 0);
    size_t limit = 1 << 20;
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", ta_arena_index(y));
    CHECK_EQ(ta_ctl(name, NULL, NULL, &limit, sizeof(limit)), 0);
    CHECK(ta_arena_malloc(y, 3 << 20) == NULL);
    CHECK(ta_arena_malloc(y, 2 << 20) == NULL);
    CHECK_EQ(test_arena_stat(x, "pdirty"), dirty);
    CHECK_EQ(ta_arena_destroy(x), 0);
    CHECK_EQ(ta_arena_destroy(y), 0);
}

/* Segments emptied by frees go back whole, and their address space
 * serves a huge block that needs it, in the same arena. */
static void test_empty_segments_unmapped(void)
{
    ta_arena_t *a = test_keeping_arena();
    enum { N = 200 };
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        CHECK((blocks[i] = ta_arena_malloc(a, 100000)) != NULL);
    for (int i = 0; i < N; i++)
        ta_free(blocks[i]);
    size_t held = test_arena_stat(a, "mapped");
    CHECK(held >= (size_t)N * 100000);
    atomic_store(&budget, atomic_load(&mapped_now) + (1 << 20));
    void *p = ta_arena_malloc(a, (size_t)N * 100000 / 2);
    atomic_store(&budget, 0);
    CHECK(p != NULL);
    ta_free(p);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* ---- RLIMIT_AS ---------------------------------------------------------- */

#define LIMIT_BYTES ((size_t)300 << 20)
#define MAX_BLOCKS (LIMIT_BYTES / 1024 + 1)

static void *blocks[MAX_BLOCKS];

/* Allocates blocks of size until allocation fails, touching each;
 * returns the bytes obtained. */
static size_t fill(size_t size, size_t *count)
{
    size_t n = 0;
    while (n < MAX_BLOCKS) {
        char *p = ta_malloc(size);
        if (!p)
            break;
        p[0] = p[size - 1] = 1;
        blocks[n++] = p;
    }
    *count = n;
    return n * size;
}

static void free_all(size_t n)
{
    for (size_t i = 0; i < n; i++)
        ta_free(blocks[i]);
}

/* Settings of a run: the calling thread's arena's dirty decay time
 * (TA_DECAY_DEFAULT: as configured) and TUNALLOC_CONF (NULL: none). */
typedef struct settings {
    int64_t decay_ms;
    const char *conf;
} settings_t;

/* In a child under RLIMIT_AS: fills with `first` (if not 0), frees, then
 * fills with `second`; returns the bytes the second fill got, or 0 if
 * the child failed. The parent has not started tunalloc, so the child's
 * first call reads its TUNALLOC_CONF. */
static size_t refill_in_child(size_t first, size_t second, settings_t set)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (set.conf)
            setenv("TUNALLOC_CONF", set.conf, 1);
        else
            unsetenv("TUNALLOC_CONF");
        struct rlimit rl = {test_vm_size() + LIMIT_BYTES,
                            test_vm_size() + LIMIT_BYTES};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(2);
        unsigned arena = 0;
        size_t len = sizeof(arena);
        if (ta_ctl("thread.arena", &arena, &len, NULL, 0) != 0)
            _exit(3);
        char name[64];
        snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", arena);
        ssize_t decay = (ssize_t)set.decay_ms;
        if (set.decay_ms != TA_DECAY_DEFAULT &&
            ta_ctl(name, NULL, NULL, &decay, sizeof(decay)) != 0)
            _exit(4);
        size_t n;
        if (first) {
            fill(first, &n);
            free_all(n);
        }
        size_t got = fill(second, &n);
        free_all(n);
        bool bg = false;
        len = sizeof(bg);
        if (ta_ctl("background_thread", &bg, &len, NULL, 0) != 0 ||
            bg != (set.conf && strstr(set.conf, "background_thread:true")))
            _exit(6);
        ssize_t w = write(fds[1], &got, sizeof(got));
        _exit(w == (ssize_t)sizeof(got) ? 0 : 5);
    }
    close(fds[1]);
    size_t got = 0;
    if (read(fds[0], &got, sizeof(got)) != (ssize_t)sizeof(got))
        got = 0;
    close(fds[0]);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return got;
}

static const size_t SIZES[] = {3 << 20, 100000, 1024};
#define NSIZES (sizeof(SIZES) / sizeof(SIZES[0]))

/* Every ordered pair of sizes: the second fill after the first gets at
 * least 85% of what that size gets in a fresh process. */
static void refill_pairs(settings_t set)
{
    size_t fresh[NSIZES];
    for (size_t j = 0; j < NSIZES; j++) {
        fresh[j] = refill_in_child(0, SIZES[j], set);
        CHECK(fresh[j] >= LIMIT_BYTES / 2);
    }
    for (size_t i = 0; i < NSIZES; i++)
        for (size_t j = 0; j < NSIZES; j++) {
            if (i == j)
                continue;
            size_t got = refill_in_child(SIZES[i], SIZES[j], set);
            printf("  %s, decay %s: %zu B blocks after %zu B blocks: %zu MiB (fresh %zu MiB)\n",
                   set.conf ? set.conf : "no TUNALLOC_CONF",
                   set.decay_ms == TA_DECAY_DEFAULT ? "default" : "0", SIZES[j], SIZES[i],
                   got >> 20, fresh[j] >> 20);
            CHECK(got >= fresh[j] / 100 * 85);
        }
}

/* Default settings: decay 10 s, no background thread. */
static void test_refill_default_settings(void) { refill_pairs((settings_t){TA_DECAY_DEFAULT, NULL}); }

static void test_refill_immediate_decay(void) { refill_pairs((settings_t){0, NULL}); }

/* Without the reclaim, the background thread gave memory back only once
 * it had run; the refill must not depend on it having run. */
static void test_refill_background_thread(void)
{
    refill_pairs((settings_t){TA_DECAY_DEFAULT, "background_thread:true"});
}

int main(void)
{
    if (TEST_SANITIZED) {
        printf("skipping the RLIMIT_AS tests: sanitizer shadow memory needs more "
               "address space than any limit they could set\n");
    } else {
        RUN(test_refill_default_settings);
        RUN(test_refill_immediate_decay);
        RUN(test_refill_background_thread);
    }
    RUN(test_reclaims_other_arenas);
    RUN(test_limit_failure_keeps_caches);
    RUN(test_empty_segments_unmapped);
    return TEST_EXIT();
}
