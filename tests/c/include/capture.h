/* stderr sent to a file between capture_begin and capture_end, which
 * returns what was written (a static buffer, overwritten by the next
 * capture): for tests of the allocator's own reports. Include after
 * harness.h. */
#ifndef TA_TEST_CAPTURE_H
#define TA_TEST_CAPTURE_H

#include <stdlib.h>
#include <unistd.h>

static int capture_saved_stderr = -1, capture_fd = -1;
static char captured[8192];

static inline void capture_begin(void)
{
    char path[] = "/tmp/ta_capture_XXXXXX";
    capture_fd = mkstemp(path);
    CHECK(capture_fd >= 0);
    unlink(path);
    fflush(stderr);
    capture_saved_stderr = dup(STDERR_FILENO);
    dup2(capture_fd, STDERR_FILENO);
}

static inline const char *capture_end(void)
{
    fflush(stderr);
    dup2(capture_saved_stderr, STDERR_FILENO);
    close(capture_saved_stderr);
    ssize_t n = pread(capture_fd, captured, sizeof(captured) - 1, 0);
    close(capture_fd);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

#endif
