/* Thin wrappers over mmap/madvise; nothing here allocates. */
#include "os.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

size_t tai_page = 4096;
unsigned tai_lg_page = 12;

void tai_os_init(void)
{
    long p = sysconf(_SC_PAGESIZE);
    if (p >= (1 << LG_MIN_PAGE) && is_pow2((size_t)p) && (size_t)p <= SEGMENT_SIZE / 16)
        tai_page = (size_t)p;
    tai_lg_page = (unsigned)__builtin_ctzll(tai_page);
}

/* sched_getaffinity uses no heap, unlike some sysconf paths. */
unsigned tai_os_ncpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
    return 1;
}

static _Atomic uint64_t map_refusals;

void *tai_os_map(size_t size)
{
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    errno = saved;
    if (p != MAP_FAILED)
        return p;
    atomic_fetch_add_explicit(&map_refusals, 1, memory_order_relaxed);
    return NULL;
}

uint64_t tai_os_map_refusals(void)
{
    return atomic_load_explicit(&map_refusals, memory_order_relaxed);
}

/* Over-map and trim: the kernel gives no alignment beyond a page. */
void *tai_os_map_aligned(size_t size, size_t align)
{
    if (size + align < size)
        return NULL;
    char *raw = tai_os_map(size + align);
    if (!raw)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t lead = start - (uintptr_t)raw;
    size_t trail = align - lead;
    if (lead)
        tai_os_unmap(raw, lead);
    if (trail)
        tai_os_unmap((char *)start + size, trail);
    return (void *)start;
}

void tai_os_unmap(void *p, size_t size)
{
    int saved = errno;
    munmap(p, size);
    errno = saved;
}

/* ThreadSanitizer does not intercept mremap: pages that arrive by it
 * keep the shadow state of whatever was mapped at that address before,
 * and the first write to them is reported as a race with that memory's
 * old users. Under TSan the callers take their fresh-mapping and copying
 * paths instead, which it sees. */
#if defined(__SANITIZE_THREAD__)
#define OS_REMAP 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OS_REMAP 0
#endif
#endif
#ifndef OS_REMAP
#define OS_REMAP 1
#endif

bool tai_os_extend(void *p, size_t old_size, size_t new_size)
{
    if (!OS_REMAP)
        return false;
    int saved = errno;
    void *q = mremap(p, old_size, new_size, 0);
    errno = saved;
    return q == p;
}

/* The kernel moves the page tables: no copy, no new faults for the pages
 * that already exist. The target reservation is replaced atomically. */
bool tai_os_move(void *p, size_t old_size, size_t new_size, void *target)
{
    if (!OS_REMAP)
        return false;
    int saved = errno;
    void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    errno = saved;
    return q == target;
}

void tai_os_purge_forced(void *p, size_t size)
{
    int saved = errno;
    /* Refused for locked pages (mlockall, EINVAL): they stay resident
     * whatever is done, and what they held must still read as zero, as
     * the callers take purged runs as clean (calloc skips them). */
    if (madvise(p, size, MADV_DONTNEED) != 0)
        memset(p, 0, size);
    errno = saved;
}

bool tai_os_purge_lazy(void *p, size_t size)
{
    int saved = errno;
#ifdef MADV_FREE
    int rc = madvise(p, size, MADV_FREE);
#else
    int rc = -1;
#endif
    errno = saved;
    return rc == 0;
}

int tai_os_huge_pages(void *p, size_t size)
{
    int saved = errno, err = 0;
#ifdef MADV_HUGEPAGE
    if (madvise(p, size, MADV_HUGEPAGE) != 0)
        err = errno;
#else
    err = EINVAL;
#endif
    errno = saved;
    return err;
}

uint64_t tai_os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* vsnprintf into a stack buffer and write(2): safe inside malloc. */
COLD void tai_warn(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    int saved = errno;
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
    errno = saved;
}
