/* The profile's tables, all in metadata memory (never the allocator's own
 * blocks, so recording cannot recurse). A stack is a byte string: C
 * frames then runtime frames with their names inline; equal strings are
 * one stack. Live blocks sit in an open-addressed table keyed by address
 * (linear probing, deletion by backward shift: no tombstones). */
#include <link.h>
#include <errno.h>
#include <string.h>

#include "base.h"
#include "lock.h"
#include "prof.h"
#include "prof_data.h"
#include "prof_read.h"
#include "prof_walk.h"

_Atomic uint64_t tai_prof_sample_bytes = 512 * 1024;
_Atomic uint64_t tai_prof_seed = 0x243F6A8885A308D3ULL;
_Atomic uint64_t tai_prof_gen = 1;

typedef struct live {
    uintptr_t addr; /* 0: empty slot */
    void *origin;
    size_t usize;
    double w;
    uint32_t stack;
} live_t;

static mutex_t data_lock = MUTEX_INITIALIZER;
static ta_prof_frames_fn *hook_fn;
static void *hook_ctx;

static uint8_t *pool;
static size_t pool_len, pool_cap;
static prof_stack_t *stacks;
static uint32_t nstacks, stacks_cap;
static uint32_t *sindex; /* stack number + 1, 0 empty */
static size_t sindex_cap;
static live_t *live;
static size_t nlive, live_cap;

static TA_TLS bool busy;

bool tai_prof_busy(void) { return busy; }

static uint64_t hash_bytes(const uint8_t *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h ? h : 1;
}

static size_t hash_addr(uintptr_t a, size_t cap)
{
    return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
}

/* Doubles a metadata array; false when the OS refuses. */
static bool grow(void **arr, size_t *cap, size_t elem, size_t min)
{
    size_t ncap = *cap ? *cap * 2 : min;
    void *n = tai_base_alloc(ncap * elem);
    if (!n)
        return false;
    if (*arr) {
        memcpy(n, *arr, *cap * elem);
        tai_base_free(*arr, *cap * elem);
    }
    *arr = n;
    *cap = ncap;
    return true;
}

static bool sindex_rebuild(size_t cap)
{
    uint32_t *n = tai_base_alloc(cap * sizeof(uint32_t));
    if (!n)
        return false;
    for (uint32_t i = 0; i < nstacks; i++) {
        size_t j = stacks[i].hash & (cap - 1);
        while (n[j])
            j = (j + 1) & (cap - 1);
        n[j] = i + 1;
    }
    if (sindex)
        tai_base_free(sindex, sindex_cap * sizeof(uint32_t));
    sindex = n;
    sindex_cap = cap;
    return true;
}

/* The stack's number, added if new; UINT32_MAX when out of memory. */
static uint32_t intern(const uint8_t *blob, size_t len)
{
    uint64_t h = hash_bytes(blob, len);
    if (sindex_cap) {
        for (size_t j = h & (sindex_cap - 1); sindex[j]; j = (j + 1) & (sindex_cap - 1)) {
            prof_stack_t *s = &stacks[sindex[j] - 1];
            if (s->hash == h && s->len == len && !memcmp(pool + s->off, blob, len))
                return sindex[j] - 1;
        }
    }
    if ((nstacks + 1) * 2 > sindex_cap && !sindex_rebuild(sindex_cap ? sindex_cap * 2 : 256))
        return UINT32_MAX;
    size_t scap = stacks_cap;
    if (nstacks == stacks_cap && !grow((void **)&stacks, &scap, sizeof(*stacks), 128))
        return UINT32_MAX;
    stacks_cap = (uint32_t)scap;
    while (pool_len + len > pool_cap)
        if (!grow((void **)&pool, &pool_cap, 1, 64 * 1024))
            return UINT32_MAX;
    memcpy(pool + pool_len, blob, len);
    prof_stack_t *s = &stacks[nstacks];
    memset(s, 0, sizeof(*s));
    s->hash = h;
    s->off = pool_len;
    s->len = (uint32_t)len;
    pool_len += len;
    size_t j = h & (sindex_cap - 1);
    while (sindex[j])
        j = (j + 1) & (sindex_cap - 1);
    sindex[j] = nstacks + 1;
    return nstacks++;
}

static bool live_rehash(size_t cap)
{
    live_t *n = tai_base_alloc(cap * sizeof(live_t));
    if (!n)
        return false;
    for (size_t i = 0; i < live_cap; i++) {
        if (!live[i].addr)
            continue;
        size_t j = hash_addr(live[i].addr, cap);
        while (n[j].addr)
            j = (j + 1) & (cap - 1);
        n[j] = live[i];
    }
    if (live)
        tai_base_free(live, live_cap * sizeof(live_t));
    live = n;
    live_cap = cap;
    return true;
}

static void count(prof_stack_t *s, const live_t *e, int sign)
{
    if (sign > 0) {
        s->alloc_blocks++;
        s->alloc_bytes += e->usize;
        s->alloc_blocks_est += e->w;
        s->alloc_bytes_est += e->w * (double)e->usize;
        s->live_blocks++;
        s->live_bytes += e->usize;
    } else {
        s->live_blocks--;
        s->live_bytes -= e->usize;
    }
    s->live_blocks_est += sign * e->w;
    s->live_bytes_est += sign * e->w * (double)e->usize;
    if (!s->live_blocks) /* no drift from adding and subtracting weights */
        s->live_blocks_est = s->live_bytes_est = 0;
}

/* Removes slot i, shifting later members of its probe run back. */
static void live_remove(size_t i)
{
    count(&stacks[live[i].stack], &live[i], -1);
    nlive--;
    size_t j = i;
    for (;;) {
        live[i].addr = 0;
        for (;;) {
            j = (j + 1) & (live_cap - 1);
            if (!live[j].addr)
                return;
            size_t home = hash_addr(live[j].addr, live_cap);
            /* j may move to i unless its home lies cyclically in (i, j] */
            if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                continue;
            break;
        }
        live[i] = live[j];
        i = j;
    }
}

static size_t live_find(uintptr_t a)
{
    if (!nlive)
        return SIZE_MAX;
    for (size_t j = hash_addr(a, live_cap); live[j].addr; j = (j + 1) & (live_cap - 1))
        if (live[j].addr == a)
            return j;
    return SIZE_MAX;
}

/* ---- recording ---------------------------------------------------------- */

static size_t put_name(uint8_t *b, const char *s)
{
    size_t n = s ? strnlen(s, PROF_MAX_NAME) : 0;
    memcpy(b, s ? s : "", n);
    b[n] = 0;
    return n + 1;
}

/* The allocator's own frames lead every stack. When it is a shared
 * object of its own (the preload library, a Python extension), they are
 * the leading frames inside that object's code segment, and are cut; in
 * a program it is linked into, the program's frames are in the same
 * segment, so all are kept. */
static _Atomic uintptr_t own_lo, own_hi;
static atomic_bool own_known;

static int find_own(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t self = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ph->p_type != PT_LOAD || self < lo || self >= hi)
            continue;
        if (info->dlpi_name && info->dlpi_name[0]) {
            atomic_store_explicit(&own_lo, lo, memory_order_relaxed);
            atomic_store_explicit(&own_hi, hi, memory_order_relaxed);
        }
        return 1;
    }
    return 0;
}

static bool own_frame(void *pc)
{
    if (!atomic_load_explicit(&own_known, memory_order_acquire)) {
        dl_iterate_phdr(find_own, (void *)(uintptr_t)tai_prof_record);
        atomic_store_explicit(&own_known, true, memory_order_release);
    }
    uintptr_t a = (uintptr_t)pc;
    return a >= atomic_load_explicit(&own_lo, memory_order_relaxed) &&
           a < atomic_load_explicit(&own_hi, memory_order_relaxed);
}

NOINLINE bool tai_prof_record(void *p, size_t usize, double w, void *origin, ta_tcache_t *cache)
{
    enum { BLOB_MAX = 4 + PROF_MAX_C_FRAMES * sizeof(uintptr_t) +
                      PROF_MAX_RT_FRAMES * (4 + 2 * (PROF_MAX_NAME + 1)) };
    uint8_t blob[BLOB_MAX];
    void *pcs[PROF_MAX_C_FRAMES + 16];
    ta_prof_frame frames[PROF_MAX_RT_FRAMES];
    busy = true;
    mutex_lock(&data_lock);
    ta_prof_frames_fn *fn = hook_fn;
    void *ctx = hook_ctx;
    mutex_unlock(&data_lock);
    int nfr = fn ? fn(ctx, cache, frames, PROF_MAX_RT_FRAMES) : 0;
    nfr = nfr < 0 ? 0 : nfr > PROF_MAX_RT_FRAMES ? PROF_MAX_RT_FRAMES : nfr;
    /* Under runtime frames only the C frames below the innermost of them
     * say more than those do, so fewer are kept (with less room for the
     * allocator's own, which are then seldom more than eight). */
    int want = nfr ? PROF_RT_C_FRAMES : PROF_MAX_C_FRAMES;
    int npc = tai_prof_walk(pcs, want + (nfr ? 8 : 16)), first = 1;
    while (first < npc && own_frame(pcs[first]))
        first++;
    npc = npc - first > want ? want : npc - first;
    if (npc < 0)
        npc = 0;
    blob[0] = (uint8_t)npc;
    blob[1] = (uint8_t)nfr;
    blob[2] = blob[3] = 0;
    size_t len = 4;
    memcpy(blob + len, pcs + first, (size_t)npc * sizeof(uintptr_t));
    len += (size_t)npc * sizeof(uintptr_t);
    for (int i = 0; i < nfr; i++) {
        int32_t line = frames[i].line;
        memcpy(blob + len, &line, 4);
        len += 4;
        len += put_name(blob + len, frames[i].function);
        len += put_name(blob + len, frames[i].file);
    }
    bool ok = false;
    mutex_lock(&data_lock);
    uint32_t st = intern(blob, len);
    if (st != UINT32_MAX && ((nlive + 1) * 2 <= live_cap || live_rehash(live_cap ? live_cap * 2 : 1024))) {
        uintptr_t a = (uintptr_t)p;
        size_t j = hash_addr(a, live_cap);
        while (live[j].addr)
            j = (j + 1) & (live_cap - 1);
        live[j] = (live_t){a, origin, usize, w, st};
        nlive++;
        count(&stacks[st], &live[j], +1);
        ok = true;
    }
    mutex_unlock(&data_lock);
    busy = false;
    return ok;
}

void tai_prof_forget(void *p)
{
    mutex_lock(&data_lock);
    size_t i = live_find((uintptr_t)p);
    if (i != SIZE_MAX)
        live_remove(i);
    mutex_unlock(&data_lock);
}

size_t tai_prof_take_origin(void *origin, void **out, size_t n)
{
    size_t got = 0;
    mutex_lock(&data_lock);
    for (size_t i = 0; i < live_cap && got < n;) {
        if (live[i].addr && live[i].origin == origin) {
            out[got++] = (void *)live[i].addr;
            live_remove(i); /* may shift a later entry into i: look again */
        } else {
            i++;
        }
    }
    mutex_unlock(&data_lock);
    return got;
}

void tai_prof_origin_live(const void *origin, uint64_t *blocks, uint64_t *bytes)
{
    mutex_lock(&data_lock);
    for (size_t i = 0; i < live_cap; i++)
        if (live[i].addr && live[i].origin == origin) {
            ++*blocks;
            *bytes += live[i].usize;
        }
    mutex_unlock(&data_lock);
}

void ta_prof_set_frames_hook(ta_prof_frames_fn *fn, void *ctx)
{
    mutex_lock(&data_lock);
    hook_fn = fn;
    hook_ctx = ctx;
    mutex_unlock(&data_lock);
}

void tai_prof_reset_counts(void)
{
    mutex_lock(&data_lock);
    for (uint32_t i = 0; i < nstacks; i++) {
        stacks[i].alloc_blocks = stacks[i].alloc_bytes = 0;
        stacks[i].alloc_blocks_est = stacks[i].alloc_bytes_est = 0;
    }
    mutex_unlock(&data_lock);
}

/* ---- reading ----------------------------------------------------------- */

int tai_prof_snapshot(prof_snap_t *snap)
{
    memset(snap, 0, sizeof(*snap));
    mutex_lock(&data_lock);
    size_t ns = nstacks, np = pool_len;
    prof_stack_t *s = ns ? tai_base_alloc(ns * sizeof(*s)) : NULL;
    uint8_t *b = np ? tai_base_alloc(np) : NULL;
    if ((ns && !s) || (np && !b)) {
        mutex_unlock(&data_lock);
        if (s)
            tai_base_free(s, ns * sizeof(*s));
        if (b)
            tai_base_free(b, np);
        return ENOMEM;
    }
    if (ns)
        memcpy(s, stacks, ns * sizeof(*s));
    if (np)
        memcpy(b, pool, np);
    mutex_unlock(&data_lock);
    snap->stacks = s;
    snap->nstacks = ns;
    snap->pool = b;
    snap->pool_len = np;
    return 0;
}

void tai_prof_snapshot_free(prof_snap_t *snap)
{
    if (snap->stacks)
        tai_base_free(snap->stacks, snap->nstacks * sizeof(*snap->stacks));
    if (snap->pool)
        tai_base_free(snap->pool, snap->pool_len);
}

void tai_prof_decode(const prof_snap_t *snap, size_t i, ta_prof_stack *out, uintptr_t *pcs,
                    ta_prof_frame *frames)
{
    const prof_stack_t *s = &snap->stacks[i];
    const uint8_t *b = snap->pool + s->off;
    *out = (ta_prof_stack){
        .live_blocks = s->live_blocks, .live_bytes = s->live_bytes,
        .live_blocks_est = s->live_blocks_est, .live_bytes_est = s->live_bytes_est,
        .alloc_blocks = s->alloc_blocks, .alloc_bytes = s->alloc_bytes,
        .alloc_blocks_est = s->alloc_blocks_est, .alloc_bytes_est = s->alloc_bytes_est,
        .n_pcs = b[0], .pcs = pcs, .n_frames = b[1], .frames = frames};
    size_t off = 4;
    memcpy(pcs, b + off, b[0] * sizeof(uintptr_t));
    off += b[0] * sizeof(uintptr_t);
    for (unsigned k = 0; k < b[1]; k++) {
        int32_t line;
        memcpy(&line, b + off, 4);
        off += 4;
        frames[k].line = line;
        frames[k].function = (const char *)b + off;
        off += strlen(frames[k].function) + 1;
        frames[k].file = (const char *)b + off;
        off += strlen(frames[k].file) + 1;
    }
}

int ta_prof_read(int (*visit)(void *arg, const ta_prof_stack *s), void *arg)
{
    if (!visit)
        return EINVAL;
    prof_snap_t snap;
    int err = tai_prof_snapshot(&snap);
    if (err)
        return err;
    ta_prof_read_begin(NULL);
    uintptr_t pcs[PROF_MAX_C_FRAMES];
    ta_prof_frame frames[PROF_MAX_RT_FRAMES];
    for (size_t i = 0; i < snap.nstacks && !err; i++) {
        if (!snap.stacks[i].live_blocks && !snap.stacks[i].alloc_blocks)
            continue;
        ta_prof_stack st;
        tai_prof_decode(&snap, i, &st, pcs, frames);
        err = visit(arg, &st);
    }
    ta_prof_read_end();
    tai_prof_snapshot_free(&snap);
    return err;
}

FORK_HANDLER void tai_prof_data_prefork(void) { mutex_lock(&data_lock); }

FORK_HANDLER void tai_prof_data_postfork(bool child)
{
    if (child)
        mutex_init(&data_lock);
    else
        mutex_unlock(&data_lock);
}
