/* A test that reruns itself under another TUNALLOC_CONF; for tests built
 * with the core's flags (_GNU_SOURCE: setenv, fork, execv). */
#ifndef TA_TEST_RERUN_H
#define TA_TEST_RERUN_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* tunalloc reads TUNALLOC_CONF when the program starts, so a test that
 * runs under another mode (check:true, secure:true) reruns itself with
 * that setting and waits for it. */
#define TEST_RERUN_ENV "TA_TEST_RERUN"

static inline void test_rerun_with_conf(char **argv, const char *conf)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("TUNALLOC_CONF", conf, 1);
        setenv(TEST_RERUN_ENV, "1", 1);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Called first in main: the test's own run reruns it under check:true and
 * secure:true before its own tests; then each run names its mode before
 * its tests' output, so a failure says which mode it came from. */
static inline void test_rerun_in_checked_modes(char **argv)
{
    if (getenv(TEST_RERUN_ENV) == NULL) {
        test_rerun_with_conf(argv, "check:true");
        test_rerun_with_conf(argv, "secure:true");
    }
    const char *conf = getenv("TUNALLOC_CONF");
    printf("TUNALLOC_CONF=%s\n", conf ? conf : "");
}

#endif
