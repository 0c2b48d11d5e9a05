/* Threads whose very first call into tunalloc is an allocation, released
 * together, while the main thread forks: the allocator starts up under
 * them. Each round runs in a fresh process (this program re-executed), and
 * nothing there calls tunalloc before the barrier (the harness prints
 * through libc's malloc, which this static build does not replace), so
 * every round starts from an uninitialised allocator. Under TSan this
 * catches a thread reading the size-class table while another still fills
 * it in; the fork child must get memory whatever state the start-up was
 * in (a child that inherits a lock held by a start-up in another thread
 * hangs, and the alarm turns that into a failure). */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

enum { NTHREADS = 6, NBLOCKS = 64, ROUNDS = 12, CHILD_SECONDS = 20 };

static pthread_barrier_t start;

/* Sizes across small classes, cached large classes, runs and huge blocks,
 * so every table a first call may consult is consulted. */
static size_t size_for(uintptr_t t, unsigned i)
{
    static const size_t sizes[] = {1, 24, 100, 700, 5000, 16384, 20000, 32768, 100000, 3 << 20};
    return sizes[(t + i) % (sizeof(sizes) / sizeof(sizes[0]))];
}

static size_t checked_len(size_t n) { return n < 256 ? n : 256; }

static void *first_caller(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    void *blocks[NBLOCKS];
    pthread_barrier_wait(&start);
    for (unsigned i = 0; i < NBLOCKS; i++) {
        size_t n = size_for(t, i);
        blocks[i] = t % 2 ? ta_calloc(1, n) : ta_malloc(n);
        TCHECK(blocks[i] != NULL);
        if (blocks[i]) {
            TCHECK(ta_malloc_usable_size(blocks[i]) >= n);
            test_fill(blocks[i], checked_len(n), t * NBLOCKS + i);
        }
    }
    for (unsigned i = 0; i < NBLOCKS; i++) {
        size_t n = checked_len(size_for(t, i));
        if (blocks[i])
            TCHECK(test_verify(blocks[i], n, t * NBLOCKS + i) == n);
        ta_free(blocks[i]);
    }
    return NULL;
}

/* One round, in a process that has not called tunalloc yet. */
static void first_calls_and_fork(void)
{
    pthread_t th[NTHREADS];
    CHECK_EQ(pthread_barrier_init(&start, NULL, NTHREADS + 1), 0);
    for (uintptr_t t = 0; t < NTHREADS; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, first_caller, (void *)t), 0);
    pthread_barrier_wait(&start);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(CHILD_SECONDS);
        void *p = ta_malloc(100), *q = ta_malloc(1 << 20);
        int ok = p && q;
        ta_free(p);
        ta_free(q);
        _exit(ok ? 0 : 3);
    }
    CHECK(pid > 0);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    if (pid > 0) {
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            fprintf(stderr, "fork child: status %#x\n", (unsigned)status);
    }
    CHECK_EQ(test_thread_failures(), 0);
    pthread_barrier_destroy(&start);
}

/* Each round is this program run again with "round": a fresh process. */
static void test_first_calls_in_fresh_processes(void)
{
    const unsigned rounds = ROUNDS * test_scale();
    for (unsigned r = 0; r < rounds; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", "test_first_call_fork_mt", "round", (char *)NULL);
            _exit(127);
        }
        CHECK(pid > 0);
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "round %d: status %#x\n", r, (unsigned)status);
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "round") == 0) {
        first_calls_and_fork();
        return harness_failures ? 1 : 0;
    }
    RUN(test_first_calls_in_fresh_processes);
    return TEST_EXIT();
}
