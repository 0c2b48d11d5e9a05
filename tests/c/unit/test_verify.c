/* Unit test of verify.c.
 * The invariant checker itself: tai_arena_verify finds each kind of
 * damage it is meant to find (planted by hand in a manual arena, then
 * undone) without hanging on a looping list, and in the assertions build
 * (TA_DEBUG) planted damage aborts with the assertion named: where the
 * damaged structure is next changed, or at the next whole-arena check. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "harness.h"
#include "walker.h"

#define MIB ((size_t)1 << 20)

/* Planted damage is reported (and only damage: the arena checks clean
 * before and after). */
static void expect_found(arena_t *a, const char *what)
{
    unsigned found = tai_arena_verify(a, NULL);
    if (!found)
        fprintf(stderr, "not found: %s\n", what);
    CHECK(found > 0);
}

static void test_finds_slab_damage(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    arena_t *a = &ar->a;
    char *p = ta_arena_malloc(ar, 48), *q = ta_arena_malloc(ar, 48);
    CHECK(p && q);
    if (!p || !q)
        return;
    CHECK_EQ(tai_arena_verify(a, NULL), 0);
    segment_t *seg = segment_of(p);
    extent_t *e = extent_of(seg, p);
    uint64_t *map = slab_map(seg, e);

    map[0] ^= 1; /* p's region marked free, nfree unchanged */
    expect_found(a, "free map bit against nfree");
    map[0] ^= 1;

    e->nfree++;
    expect_found(a, "nfree off by one");
    e->nfree--;

    unsigned cls = e->cls;
    ctr_add(&a->bins[cls].stats.curregs, 1);
    expect_found(a, "curregs against the slabs");
    ctr_sub(&a->bins[cls].stats.curregs, 1);

    size_t head = extent_page(e);
    seg->head.page_bin[head] ^= 1;
    expect_found(a, "slab page tag");
    seg->head.page_bin[head] ^= 1;

    CHECK_EQ(tai_arena_verify(a, NULL), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

static void test_finds_run_damage(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    arena_t *a = &ar->a;
    char *p = ta_arena_malloc(ar, 100000), *q = ta_arena_malloc(ar, 100000);
    CHECK(p && q);
    if (!p || !q)
        return;
    ta_free(p); /* a dirty run before q */
    CHECK_EQ(tai_arena_verify(a, NULL), 0);
    segment_t *seg = segment_of(q);
    extent_t *e = extent_of(seg, q);
    size_t head = extent_page(e), last = head + e->npages - 1;

    seg->page_head[last]++;
    expect_found(a, "large run's last page_head");
    seg->page_head[last]--;

    e->u.l.usize += tai_page;
    expect_found(a, "large run's usize against its pages");
    e->u.l.usize -= tai_page;

    uint64_t mask = a->avail_mask[EXT_DIRTY];
    a->avail_mask[EXT_DIRTY] = 0;
    expect_found(a, "free-list mask");
    a->avail_mask[EXT_DIRTY] = mask;

    uint8_t state = e->state; /* q "free" beside the dirty run p left */
    e->state = EXT_DIRTY;
    expect_found(a, "free run missing from its lists and uncoalesced");
    e->state = state;

    CHECK_EQ(tai_arena_verify(a, NULL), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A huge mapping cached twice (the list then loops) or both live and
 * cached: reported, and the walk ends. */
static void test_finds_huge_damage(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    arena_t *a = &ar->a;
    char *p = ta_arena_malloc(ar, 5 * MIB), *q = ta_arena_malloc(ar, 5 * MIB);
    CHECK(p && q);
    if (!p || !q)
        return;
    ta_free(p);
    CHECK(a->huge_cache != NULL && a->huge_live != NULL);
    if (!a->huge_cache || !a->huge_live)
        return;
    CHECK_EQ(tai_arena_verify(a, NULL), 0);
    huge_t *cached = a->huge_cache, *live = a->huge_live;

    huge_t *next = cached->next;
    cached->next = cached;
    expect_found(a, "looping huge cache");
    cached->next = next;

    live->prev = NULL;
    live->next = NULL;
    cached->next = live; /* live and cached at once, as a double free does */
    live->prev = cached;
    expect_found(a, "a mapping both live and cached");
    cached->next = next;
    live->prev = NULL;

    CHECK_EQ(tai_arena_verify(a, NULL), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

#ifdef TA_DEBUG
/* Runs fn in a child; true if it died by abort naming an assertion. */
static bool aborts_with_assertion(void (*fn)(void))
{
    int fds[2];
    if (pipe(fds))
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        fn();
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 && (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return false;
    bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
              strstr(buf, "assertion failed") != NULL;
    if (!ok)
        fprintf(stderr, "child status %d, stderr: %s\n", status, buf);
    return ok;
}

/* A slab whose count says one region more is free than its map does:
 * the allocation that runs the map dry trips the slab's assertion. */
static void nfree_above_map(void)
{
    ta_arena_t *ar = test_keeping_arena();
    char *p = ta_arena_malloc(ar, 64);
    extent_t *e = extent_of(segment_of(p), p);
    e->nfree++;
    for (unsigned i = 0; i <= tai_bin_info[e->cls].nregs; i++)
        ta_arena_malloc(ar, 64);
}

/* A live huge block put on the cache list behind the engine's back: its
 * free lists it a second time, which the list's assertion refuses. */
static void huge_cached_twice(void)
{
    ta_arena_t *ar = test_keeping_arena();
    char *p = ta_arena_malloc(ar, 5 * MIB);
    huge_t *h = head_huge(head_of(p));
    arena_t *a = &ar->a;
    h->next = a->huge_cache;
    a->huge_cache = h;
    ta_free(p);
}

/* Damage no local assertion sees is found by the whole-arena check that
 * runs after an explicit cache's flush. */
static void damage_found_at_flush(void)
{
    ta_arena_t *ar = test_keeping_arena();
    ta_tcache_t *tc = ta_tcache_create(ar);
    char *p = ta_tcache_malloc(tc, 64);
    ctr_add(&ar->a.bins[extent_of(segment_of(p), p)->cls].stats.curregs, 1);
    ta_tcache_flush(tc);
}

static void test_debug_build_aborts(void)
{
    CHECK(aborts_with_assertion(nfree_above_map));
    CHECK(aborts_with_assertion(huge_cached_twice));
    CHECK(aborts_with_assertion(damage_found_at_flush));
}
#endif

int main(void)
{
    RUN(test_finds_slab_damage);
    RUN(test_finds_run_damage);
    RUN(test_finds_huge_damage);
#ifdef TA_DEBUG
    RUN(test_debug_build_aborts);
#endif
    return TEST_EXIT();
}
