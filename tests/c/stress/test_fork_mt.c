/* Fork from a process whose threads are busy allocating: the child must
 * find every allocator lock usable and allocate, free, and start threads
 * of its own, then exit 0. Sanitizer builds skip the child's thread: TSan
 * forbids it, and ASan's own allocator, which pthread_create calls, can be
 * left locked by the fork. */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

enum { NWORKERS = 3, CHILD_SECONDS = 60 };

static _Atomic int stop;

/* Keeps every allocator path busy (small, large, huge, arenas) so forks
 * land while locks are held. */
static void *worker(void *arg)
{
    uint64_t seed = 99 + (uintptr_t)arg;
    void *slots[64] = {0};
    while (!atomic_load(&stop)) {
        unsigned i = (unsigned)(test_rand(&seed) % 64);
        ta_free(slots[i]);
        uint64_t r = test_rand(&seed);
        size_t size = r % 100 == 0 ? (size_t)(3 << 20) : r % 10 == 0 ? 40000 : (size_t)(r % 700);
        slots[i] = ta_malloc(size);
    }
    for (int i = 0; i < 64; i++)
        ta_free(slots[i]);
    return NULL;
}

/* A thread started in the child: thread set-up after fork must work. */
static void *child_thread(void *arg)
{
    for (int i = 0; i < 1000; i++)
        ta_free(ta_malloc((size_t)i * 13));
    return arg;
}

/* The child's work; its exit status is the verdict. */
static int child_main(void)
{
    alarm(CHILD_SECONDS); /* a deadlocked child dies instead of hanging */
    enum { N = 2000 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)((i * 7919) % (i % 100 == 0 ? 5000000 : 30000)) + 1;
        p[i] = ta_malloc(size);
        if (!p[i])
            return 2;
        test_fill(p[i], 16 < size ? 16 : size, (uintptr_t)i);
    }
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)((i * 7919) % (i % 100 == 0 ? 5000000 : 30000)) + 1;
        size_t n = 16 < size ? 16 : size;
        if (test_verify(p[i], n, (uintptr_t)i) != n)
            return 3;
        ta_free(p[i]);
    }
    ta_arena_t *ar = ta_arena_create(NULL);
    if (!ar || !ta_arena_malloc(ar, 1000) || ta_arena_destroy(ar) != 0)
        return 4;
#if !TEST_SANITIZED
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 5;
#else
    (void)child_thread;
#endif
    return 0;
}

/* Forks repeatedly while workers allocate; every child must exit 0. */
static void test_fork_while_busy(void)
{
    pthread_t t[NWORKERS];
    for (uintptr_t i = 0; i < NWORKERS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    int forks = (TEST_SANITIZED ? 10 : 40) * (int)test_scale();
    for (int i = 0; i < forks; i++) {
        /* let the workers get into the allocator between forks */
        for (int k = 0; k < 200; k++)
            ta_free(ta_malloc((size_t)k * 31));
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(child_main());
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status));
        if (WIFEXITED(status))
            CHECK_EQ(WEXITSTATUS(status), 0);
        else if (WIFSIGNALED(status))
            fprintf(stderr, "child %d killed by signal %d\n", i, WTERMSIG(status));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(t[i], NULL);
    /* the parent keeps working too */
    void *p = ta_malloc(12345);
    CHECK(p != NULL);
    ta_free(p);
}

int main(void)
{
    RUN(test_fork_while_busy);
    return TEST_EXIT();
}
