/* Secure mode's marks, canaries, randomness and guard pages. The live
 * marks are exact (no hashes, no probabilities): a free is accepted only
 * if it takes the mark its block got when it was handed out. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "arena.h"
#include "check.h"
#include "huge.h"
#include "owner_map.h"
#include "secure.h"

/* Canary bytes checked right after the requested size: a linear overflow
 * writes those first. */
#define CANARY_MAX 16
/* Mark of a block whose tail is too long for the mark byte (which holds
 * tail + 1 up to 254): the tail's length is in the block's last 4 bytes,
 * XORed with the block's key. */
#define TAIL_IN_TRAILER 255

static uint64_t secret;
static TA_TLS uint64_t rng_state;

void tai_secure_init(void)
{
    int saved = errno;
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
        s = tai_os_now_ms() * 0x9E3779B97F4A7C15u ^ (uintptr_t)&s;
    errno = saved;
    secret = s | 1;
}

/* splitmix64, seeded per thread from the secret and the thread's TLS
 * address, so threads and processes draw different sequences. */
uint64_t tai_secure_rand(void)
{
    if (!rng_state)
        rng_state = secret ^ (uintptr_t)&rng_state;
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static _Atomic uint8_t *mark_of(segment_t *seg, const void *p)
{
    return &((_Atomic uint8_t *)(seg + 1))[((uintptr_t)p - (uintptr_t)seg) >> LG_QUANTUM];
}

static uint64_t block_key(const void *p)
{
    return secret ^ ((uintptr_t)p * 0x9E3779B97F4A7C15u);
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* The canary's bytes are the block key's, repeated (n <= CANARY_MAX). */
static void canary_fill(unsigned char *at, size_t n, uint64_t key)
{
    const uint64_t pattern[CANARY_MAX / 8] = {key, key};
    memcpy(at, pattern, n);
}

/* The full canary (the common case) in two word loads, shorter ones
 * byte by byte: a library call would cost more than the compare. */
static bool canary_intact(const unsigned char *at, size_t n, uint64_t key)
{
    if (n == CANARY_MAX) {
        uint64_t w[2];
        memcpy(w, at, sizeof(w));
        return w[0] == key && w[1] == key;
    }
    for (size_t i = 0; i < n; i++)
        if (at[i] != (unsigned char)(key >> (8 * (i & 7))))
            return false;
    return true;
}

/* Usable size of a live block of a normal segment. */
static size_t block_usize(segment_t *seg, const void *p)
{
    unsigned cls = tag_class(page_tag(&seg->head, p));
    return cls < NBINS ? tai_class_size[cls] : extent_of(seg, p)->u.l.usize;
}

/* The tail length a live block's mark stands for; SIZE_MAX if the
 * trailer holding it was overwritten. */
static size_t tail_of(const unsigned char *p, size_t usize, uint8_t mark)
{
    if (mark != TAIL_IN_TRAILER)
        return (size_t)mark - 1;
    uint32_t w;
    memcpy(&w, p + usize - 4, sizeof(w));
    size_t t = w ^ (uint32_t)block_key(p);
    return t + 1 >= TAIL_IN_TRAILER && t <= usize ? t : SIZE_MAX;
}

void *tai_secure_out(void *p, size_t size)
{
    map_head_t *h = head_of(p);
    unsigned char *b = p;
    uint64_t key = block_key(p);
    if (h->kind == SEG_HUGE) {
        huge_t *hb = head_huge(h);
        hb->req = size;
        canary_fill(b + size, min_size(hb->usize - size, CANARY_MAX), key);
        return p;
    }
    segment_t *seg = head_segment(h);
    size_t usize = block_usize(seg, p), t = usize - size;
    uint8_t mark = (uint8_t)(t + 1);
    if (t + 1 >= TAIL_IN_TRAILER) {
        uint32_t w = (uint32_t)t ^ (uint32_t)key;
        memcpy(b + usize - 4, &w, sizeof(w));
        mark = TAIL_IN_TRAILER;
    }
    canary_fill(b + size, min_size(t, CANARY_MAX), key);
    atomic_store_explicit(mark_of(seg, p), mark, memory_order_relaxed);
    return p;
}

/* Why an unmarked pointer is no live block, as far as its page says. */
static void report_unmarked(segment_t *seg, const void *p)
{
    unsigned tag = page_tag(&seg->head, p), cls = tag_class(tag);
    if (cls < NBINS) {
        size_t off = (size_t)((const char *)p - extent_addr(seg, extent_of(seg, p)));
        tai_heap_error(off % tai_class_size[cls] ? TA_ERR_INTERIOR : TA_ERR_DOUBLE, p, "small");
    } else if (cls < NCACHED_CLASSES || tag == PB_LARGE) {
        bool start = (const char *)p == extent_addr(seg, extent_of(seg, p));
        tai_heap_error(start ? TA_ERR_DOUBLE : TA_ERR_INTERIOR, p, "large");
    } else {
        tai_heap_error(TA_ERR_INVALID, p, NULL);
    }
}

/* Huge blocks keep their state in their header, which tai_huge_dalloc
 * checks under the arena lock; here only the canary of a live one. */
static bool huge_check(huge_t *h, void *p, bool release)
{
    if (!h->live || p != h->data) {
        if (!release) {
            tai_heap_error(h->live ? TA_ERR_INTERIOR : TA_ERR_DOUBLE, p, "huge");
            return false;
        }
        return true;
    }
    size_t n = min_size(h->usize - h->req, CANARY_MAX);
    if (!canary_intact((unsigned char *)p + h->req, n, block_key(p)))
        tai_heap_error(TA_ERR_OVERFLOW, p, "huge");
    return true;
}

bool tai_secure_check(void *p, bool release)
{
    if (((uintptr_t)p & (QUANTUM - 1)) || !tai_owner_map_get(p) ||
        tai_owner_map_unit((const char *)p - 1) != OWNER_HEAD) {
        tai_heap_error(TA_ERR_INVALID, p, NULL);
        return false;
    }
    map_head_t *h = head_of(p);
    if (h->kind == SEG_HUGE)
        return huge_check(head_huge(h), p, release);
    segment_t *seg = head_segment(h);
    if ((uintptr_t)p - (uintptr_t)seg >= SEGMENT_SIZE) {
        tai_heap_error(TA_ERR_INVALID, p, NULL);
        return false;
    }
    _Atomic uint8_t *m = mark_of(seg, p);
    uint8_t mark = release ? atomic_exchange_explicit(m, 0, memory_order_relaxed)
                           : atomic_load_explicit(m, memory_order_relaxed);
    if (!mark) {
        report_unmarked(seg, p);
        return false;
    }
    size_t usize = block_usize(seg, p), t = tail_of(p, usize, mark);
    if (t == SIZE_MAX ||
        !canary_intact((unsigned char *)p + usize - t, min_size(t, CANARY_MAX), block_key(p)))
        tai_heap_error(TA_ERR_OVERFLOW, p, tag_class(page_tag(h, p)) < NBINS
                                              ? "small" : "large");
    return true;
}

bool tai_secure_is_live(segment_t *seg, const void *p)
{
    return (uintptr_t)p - (uintptr_t)seg < SEGMENT_SIZE &&
           atomic_load_explicit(mark_of(seg, p), memory_order_relaxed) != 0;
}

size_t tai_secure_usable(const void *p)
{
    map_head_t *h = head_of(p);
    if (h->kind == SEG_HUGE)
        return head_huge(h)->req;
    segment_t *seg = head_segment(h);
    uint8_t mark = atomic_load_explicit(mark_of(seg, p), memory_order_relaxed);
    size_t usize = block_usize(seg, p), t = tail_of(p, usize, mark);
    return t == SIZE_MAX ? 0 : usize - t;
}

static _Atomic long guards_left = SECURE_MAX_GUARDS;

static char *last_page(extent_t *e)
{
    return extent_addr(extent_segment(e), e) + ((size_t)(e->npages - 1) << tai_lg_page);
}

void tai_secure_guard(extent_t *e)
{
    e->guarded = false;
    if (atomic_fetch_sub_explicit(&guards_left, 1, memory_order_relaxed) <= 0) {
        atomic_fetch_add_explicit(&guards_left, 1, memory_order_relaxed);
        return;
    }
    int saved = errno;
    e->guarded = mprotect(last_page(e), tai_page, PROT_NONE) == 0;
    errno = saved;
    if (!e->guarded)
        atomic_fetch_add_explicit(&guards_left, 1, memory_order_relaxed);
}

void tai_secure_forget_guards(segment_t *seg)
{
    for (size_t i = seg->hdr_pages; i < seg->npages; i += seg->ext[i].npages)
        if (seg->ext[i].guarded)
            atomic_fetch_add_explicit(&guards_left, 1, memory_order_relaxed);
}

void tai_secure_unguard(extent_t *e)
{
    int saved = errno;
    mprotect(last_page(e), tai_page, PROT_READ | PROT_WRITE);
    errno = saved;
    e->guarded = false;
    atomic_fetch_add_explicit(&guards_left, 1, memory_order_relaxed);
}
