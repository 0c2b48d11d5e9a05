/* Runs a workload and reports its peak RSS from wait4's ru_maxrss.
 * A process started by the Python driver would inherit the driver's RSS
 * high-water mark across exec (Linux keeps the larger of the two), so the
 * driver starts workloads through this small program instead; the
 * grandchild's mark then starts from this process's tiny footprint.
 * The allocator to preload comes in BENCH_PRELOAD and is applied to the
 * workload only, so this process stays on glibc and small.
 * Prints {"maxrss_kib":N,"cpu_s":T} as the last stdout line, T being the
 * child's user+system CPU time, which machine load inflates far less than
 * wall time; exits as the child. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit status 2 for its own errors, 127 if the program cannot run. */
int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: launch program [args...]\n");
        return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "launch: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        const char *lib = getenv("BENCH_PRELOAD");
        if (lib && *lib && setenv("LD_PRELOAD", lib, 1) != 0) {
            fprintf(stderr, "launch: setenv: %s\n", strerror(errno));
            _exit(127);
        }
        execv(argv[1], argv + 1);
        fprintf(stderr, "launch: cannot run %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "launch: wait4: %s\n", strerror(errno));
            return 2;
        }
    }
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    printf("{\"maxrss_kib\":%ld,\"cpu_s\":%.6f}\n", ru.ru_maxrss, cpu);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
