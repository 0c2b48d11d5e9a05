/* What the kernel holds of a range, and arenas with chosen decay times,
 * for the tests of purging (decay, the dirty bound). Residency is read
 * with mincore(); include after harness.h and tunalloc.h. */
#ifndef TA_TEST_RESIDENCY_H
#define TA_TEST_RESIDENCY_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static inline size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Resident pages of the pages [p, p+n) touches; unmapped ranges count as
 * not resident. */
static inline size_t resident_pages(const void *p, size_t n)
{
    size_t pg = page_size();
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(pg - 1);
    size_t npages = ((uintptr_t)p + n - start + pg - 1) / pg;
    size_t count = 0;
    unsigned char vec[256];
    for (size_t done = 0; done < npages;) {
        size_t chunk = npages - done < sizeof(vec) ? npages - done : sizeof(vec);
        if (mincore((void *)(start + done * pg), chunk * pg, vec) == 0) {
            for (size_t i = 0; i < chunk; i++)
                count += vec[i] & 1;
        } else {
            CHECK_EQ(errno, ENOMEM);
        }
        done += chunk;
    }
    return count;
}

/* Whether transparent huge pages are always on: one under a mapping
 * backs all of its pages at once, so per-page residency says nothing. */
static inline bool thp_always(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return false;
    char buf[128] = "";
    bool always = fgets(buf, sizeof buf, f) && strstr(buf, "[always]");
    fclose(f);
    return always;
}

/* A manual arena with these decay times (ms; -1 keeps pages). */
static inline ta_arena_t *arena_with_decay(int64_t dirty, int64_t muzzy)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = dirty;
    o.muzzy_decay_ms = muzzy;
    ta_arena_t *ar = ta_arena_create(&o);
    CHECK(ar != NULL);
    return ar;
}

#endif
