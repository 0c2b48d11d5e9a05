/* The sampled stacks' walker. glibc's backtrace() unwinds each frame by
 * finding its FDE in .eh_frame (an object lookup and a binary search)
 * and running its call-frame program, about two thousand instructions a
 * frame and most of a sample's cost. Frame pointers would be
 * cheaper but are not there: the core and the pyenv CPythons are built
 * with -O2/-O3, which omit them. So this walker does what libgcc does
 * for the one thing a backtrace needs (the caller's stack pointer,
 * return address and rbp), and keeps the result per return address in a
 * direct-mapped cache of one word per entry: a return address seen before
 * costs a few loads. Rules through DWARF expressions (signal frames,
 * PLT stubs) and other architectures go to backtrace(). */
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "prof_walk.h"

_Atomic uint64_t tai_prof_walk_fallbacks;

#if defined(__x86_64__) && defined(DLFO_EH_SEGMENT_TYPE)

/* _dl_find_object, looked up rather than linked: a reference would make
 * the core need glibc 2.35 (and a wheel manylinux_2_35) for a walker that
 * backtrace() replaces wherever it is missing. Looked up at the first
 * walk, where the walker may already allocate (stack_bounds). */
typedef int (*find_object_fn)(void *, struct dl_find_object *);

static int no_find_object(void *pc, struct dl_find_object *fo)
{
    (void)pc;
    (void)fo;
    return -1;
}

static _Atomic(find_object_fn) find_object;

static find_object_fn find_object_get(void)
{
    find_object_fn f = atomic_load_explicit(&find_object, memory_order_acquire);
    if (f)
        return f;
    void *sym = dlsym(RTLD_DEFAULT, "_dl_find_object");
    if (sym)
        memcpy(&f, &sym, sizeof f); /* POSIX: a data pointer that holds a function's */
    else
        f = no_find_object;
    atomic_store_explicit(&find_object, f, memory_order_release);
    return f;
}

/* ---- one rule ----------------------------------------------------------- */

enum { RULE_EMPTY, RULE_OK, RULE_STOP, RULE_BAD };

/* Where a frame's caller is: CFA = (rbp or rsp) + cfa_off, the return
 * address at CFA - 8, rbp saved at CFA - 8 * rbp_k (0: not saved). STOP:
 * the last frame (no FDE, or the return address undefined, as at _start
 * and a thread's start); BAD: a rule this walker does not follow. */
typedef struct {
    unsigned kind, cfa_rbp, cfa_off, rbp_k;
} rule_t;

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rd_t;

/* An LEB128 number's bits; *shift is where the next byte's bits would
 * go, *last the last byte (its 0x40 is a signed number's sign). */
static uint64_t rd_leb(rd_t *r, unsigned *shift, uint8_t *last)
{
    uint64_t v = 0;
    for (unsigned s = 0;; s += 7) {
        if (r->p >= r->end || s > 63) {
            r->bad = true;
            *shift = 64;
            *last = 0;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *shift = s + 7;
            *last = b;
            return v;
        }
    }
}

static uint64_t rd_uleb(rd_t *r)
{
    unsigned shift;
    uint8_t last;
    return rd_leb(r, &shift, &last);
}

static int64_t rd_sleb(rd_t *r)
{
    unsigned shift;
    uint8_t last;
    uint64_t v = rd_leb(r, &shift, &last);
    if (shift < 64 && (last & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

static uint64_t rd_fixed(rd_t *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, n); /* little-endian */
    r->p += n;
    return v;
}

static int32_t i32_at(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A pointer in a DW_EH_PE encoding: absolute or pc-relative, no
 * indirection (never used for the fields read here). */
static uintptr_t rd_enc(rd_t *r, uint8_t enc)
{
    const uint8_t *at = r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case 0x00: v = rd_fixed(r, 8); break;
    case 0x01: v = rd_uleb(r); break;
    case 0x02: v = rd_fixed(r, 2); break;
    case 0x03: v = rd_fixed(r, 4); break;
    case 0x04: v = rd_fixed(r, 8); break;
    case 0x09: v = (uint64_t)rd_sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
    case 0x0c: v = rd_fixed(r, 8); break;
    default: r->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0x00: return (uintptr_t)v;
    case 0x10: return (uintptr_t)at + (uintptr_t)v;
    default: r->bad = true; return 0;
    }
}

/* The registers a rule needs: DWARF 6 (rbp), 7 (rsp), 16 (return address). */
typedef struct {
    unsigned cfa_reg;
    int64_t cfa_off;
    int rbp_how, ra_how; /* 0 same value, 1 saved at CFA + off, 2 undefined, 3 other */
    int64_t rbp_off, ra_off;
} cfi_state_t;

#define CFI_STACK 8

/* Runs a call-frame program up to target: false if it uses what this
 * walker does not follow. */
static bool run_cfi(rd_t *r, cfi_state_t *st, const cfi_state_t *init, uintptr_t loc,
                    uintptr_t target, uint64_t code_align, int64_t data_align)
{
    cfi_state_t saved[CFI_STACK];
    unsigned nsaved = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        uint64_t reg = op & 0x3f;
        int64_t off;
        switch (op >> 6) {
        case 1: /* advance_loc */
            loc += reg * code_align;
            if (loc > target)
                return true;
            continue;
        case 2: /* offset */
            off = (int64_t)rd_uleb(r) * data_align;
            goto set_offset;
        case 3: /* restore */
            goto restore;
        }
        switch (op) {
        case 0x00: /* nop */
            break;
        case 0x02: /* advance_loc1 */
        case 0x03: /* advance_loc2 */
        case 0x04: /* advance_loc4 */
            loc += rd_fixed(r, op == 0x02 ? 1 : op == 0x03 ? 2 : 4) * code_align;
            if (loc > target)
                return !r->bad;
            break;
        case 0x05: /* offset_extended */
            reg = rd_uleb(r);
            off = (int64_t)rd_uleb(r) * data_align;
            goto set_offset;
        case 0x11: /* offset_extended_sf */
            reg = rd_uleb(r);
            off = rd_sleb(r) * data_align;
            goto set_offset;
        case 0x06: /* restore_extended */
            reg = rd_uleb(r);
            goto restore;
        case 0x07: /* undefined */
        case 0x08: /* same_value */
            reg = rd_uleb(r);
            if (reg == 6)
                st->rbp_how = op == 0x08 ? 0 : 2;
            else if (reg == 16)
                st->ra_how = op == 0x08 ? 3 : 2;
            break;
        case 0x09: /* register */
        case 0x14: /* val_offset */
        case 0x15: /* val_offset_sf */
            reg = rd_uleb(r);
            if (op == 0x15)
                rd_sleb(r);
            else
                rd_uleb(r);
            if (reg == 6)
                st->rbp_how = 3;
            else if (reg == 16)
                st->ra_how = 3;
            break;
        case 0x0a: /* remember_state */
            if (nsaved == CFI_STACK)
                return false;
            saved[nsaved++] = *st;
            break;
        case 0x0b: /* restore_state */
            if (!nsaved)
                return false;
            *st = saved[--nsaved];
            break;
        case 0x0c: /* def_cfa */
            st->cfa_reg = (unsigned)rd_uleb(r);
            st->cfa_off = (int64_t)rd_uleb(r);
            break;
        case 0x12: /* def_cfa_sf */
            st->cfa_reg = (unsigned)rd_uleb(r);
            st->cfa_off = rd_sleb(r) * data_align;
            break;
        case 0x0d: /* def_cfa_register */
            st->cfa_reg = (unsigned)rd_uleb(r);
            break;
        case 0x0e: /* def_cfa_offset */
            st->cfa_off = (int64_t)rd_uleb(r);
            break;
        case 0x13: /* def_cfa_offset_sf */
            st->cfa_off = rd_sleb(r) * data_align;
            break;
        case 0x10: /* expression */
        case 0x16: /* val_expression */
            reg = rd_uleb(r);
            off = (int64_t)rd_uleb(r);
            if (reg == 6 || reg == 16 || r->bad || (uint64_t)off > (uint64_t)(r->end - r->p))
                return false;
            r->p += off;
            break;
        case 0x2e: /* GNU_args_size */
            rd_uleb(r);
            break;
        default: /* set_loc, def_cfa_expression and the rest */
            return false;
        }
        continue;
    set_offset:
        if (reg == 6) {
            st->rbp_how = 1;
            st->rbp_off = off;
        } else if (reg == 16) {
            st->ra_how = 1;
            st->ra_off = off;
        }
        continue;
    restore:
        if (!init)
            return false;
        if (reg == 6) {
            st->rbp_how = init->rbp_how;
            st->rbp_off = init->rbp_off;
        } else if (reg == 16) {
            st->ra_how = init->ra_how;
            st->ra_off = init->ra_off;
        }
    }
    return !r->bad;
}

/* The rule of return address pc (the call before it, at pc - 1), or of
 * the instruction at pc itself (exact: the walker's own first frame). */
static rule_t compute_rule(uintptr_t pc, bool exact)
{
    rule_t bad = {RULE_BAD, 0, 0, 0}, stop = {RULE_STOP, 0, 0, 0};
    uintptr_t target = exact ? pc : pc - 1;
    struct dl_find_object fo;
    /* no object: code a JIT registered with libgcc, which backtrace()
     * finds, or a garbage address, where it stops as well */
    if (find_object_get()((void *)target, &fo) != 0 || !fo.dlfo_eh_frame)
        return bad;
    const uint8_t *hdr = fo.dlfo_eh_frame;
    if (hdr[0] != 1 || hdr[3] != 0x3b) /* version 1; table datarel sdata4 */
        return bad;
    rd_t r = {hdr + 4, hdr + 4 + 16, false};
    rd_enc(&r, hdr[1]);
    uint64_t count = hdr[2] == 0x03 ? rd_fixed(&r, 4) : 0;
    if (r.bad || hdr[2] != 0x03)
        return bad;
    const uint8_t *tab = r.p;
    /* the last entry whose start is at or below target */
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hdr + (uintptr_t)(intptr_t)i32_at(tab + 8 * mid) <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo)
        return stop;
    const uint8_t *fde = hdr + i32_at(tab + 8 * (lo - 1) + 4);
    uint32_t len, cie_off;
    memcpy(&len, fde, 4);
    memcpy(&cie_off, fde + 4, 4);
    if (len == 0 || len == 0xffffffffu || !cie_off)
        return bad;
    const uint8_t *cie = fde + 4 - cie_off;
    uint32_t clen;
    memcpy(&clen, cie, 4);
    if (clen == 0 || clen == 0xffffffffu)
        return bad;
    /* the CIE: version, augmentation, alignments, return register */
    rd_t c = {cie + 8, cie + 4 + clen, false};
    uint8_t version = (uint8_t)rd_fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t auglen = strnlen(aug, (size_t)(c.end - c.p));
    c.p += auglen + 1;
    if (version != 1 && version != 3)
        return bad;
    uint64_t code_align = rd_uleb(&c);
    int64_t data_align = rd_sleb(&c);
    uint64_t ra_reg = version == 1 ? rd_fixed(&c, 1) : rd_uleb(&c);
    uint8_t fde_enc = 0;
    bool z = aug[0] == 'z';
    if (z) {
        uint64_t n = rd_uleb(&c);
        const uint8_t *after = c.p + n;
        for (size_t i = 1; i < auglen && !c.bad; i++) {
            if (aug[i] == 'R')
                fde_enc = (uint8_t)rd_fixed(&c, 1);
            else if (aug[i] == 'P')
                rd_enc(&c, (uint8_t)rd_fixed(&c, 1));
            else if (aug[i] == 'L')
                rd_fixed(&c, 1);
            else
                return bad; /* 'S' (a signal frame) among others */
        }
        if (after > c.end)
            return bad;
        c.p = after;
    } else if (auglen) {
        return bad;
    }
    if (c.bad || ra_reg != 16)
        return bad;
    /* the FDE: the range it covers, then its program after the CIE's */
    rd_t f = {fde + 8, fde + 4 + len, false};
    uintptr_t start = rd_enc(&f, fde_enc);
    uintptr_t range = rd_enc(&f, fde_enc & 0x0f);
    if (f.bad)
        return bad;
    if (target < start || target - start >= range)
        return stop;
    if (z) {
        uint64_t n = rd_uleb(&f);
        if (f.bad || n > (uint64_t)(f.end - f.p))
            return bad;
        f.p += n;
    }
    cfi_state_t st = {0, 0, 0, 0, 0, 0}, init;
    if (!run_cfi(&c, &st, NULL, 0, UINTPTR_MAX, code_align, data_align))
        return bad;
    init = st;
    if (!run_cfi(&f, &st, &init, start, target, code_align, data_align))
        return bad;
    if (st.ra_how == 2)
        return stop;
    if (st.ra_how != 1 || st.ra_off != -8 || (st.cfa_reg != 7 && st.cfa_reg != 6) ||
        st.cfa_off < 8 || st.cfa_off > 0xffff || st.rbp_how > 1 ||
        (st.rbp_how == 1 && (st.rbp_off >= 0 || st.rbp_off % 8 || st.rbp_off < -8 * 255)))
        return bad;
    return (rule_t){RULE_OK, st.cfa_reg == 6, (unsigned)st.cfa_off,
                    st.rbp_how == 1 ? (unsigned)(-st.rbp_off / 8) : 0};
}

/* ---- the cache ---------------------------------------------------------- */

/* One word an entry, so readers on other threads see a whole entry or
 * none without a lock: the address's bits above the index (user
 * addresses are below 2^47), the kind, and the rule. */
#define NRULES 4096
#define LG_NRULES 12
static _Atomic uint64_t rules[NRULES];

static uint64_t pack(uintptr_t pc, bool exact, rule_t r)
{
    return (uint64_t)(pc >> LG_NRULES) << 29 | (uint64_t)exact << 28 |
           (uint64_t)r.kind << 26 | (uint64_t)r.cfa_rbp << 25 | (uint64_t)r.cfa_off << 8 |
           r.rbp_k;
}

static rule_t rule_of(uintptr_t pc, bool exact)
{
    if (pc >> 47)
        return compute_rule(pc, exact);
    _Atomic uint64_t *slot = &rules[pc & (NRULES - 1)];
    uint64_t e = atomic_load_explicit(slot, memory_order_relaxed);
    uint64_t key = (uint64_t)(pc >> LG_NRULES) << 29 | (uint64_t)exact << 28;
    if ((e & ~(((uint64_t)1 << 28) - 1)) == key && (e >> 26 & 3) != RULE_EMPTY)
        return (rule_t){(unsigned)(e >> 26 & 3), (unsigned)(e >> 25 & 1),
                        (unsigned)(e >> 8 & 0xffff), (unsigned)(e & 0xff)};
    rule_t r = compute_rule(pc, exact);
    atomic_store_explicit(slot, pack(pc, exact, r), memory_order_relaxed);
    return r;
}

/* ---- the walk ----------------------------------------------------------- */

/* This thread's stack, read once (pthread_getattr_np may allocate: the
 * caller is inside the profiler, where that allocation is an ordinary
 * one). lo == hi: unknown. */
static TA_TLS uintptr_t stack_lo, stack_hi;
static TA_TLS bool stack_known;

static bool stack_bounds(void)
{
    if (!stack_known) {
        pthread_attr_t attr;
        void *addr;
        size_t size;
        stack_known = true;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
                stack_lo = (uintptr_t)addr;
                stack_hi = (uintptr_t)addr + size;
            }
            pthread_attr_destroy(&attr);
        }
    }
    return stack_lo < stack_hi;
}

__attribute__((no_sanitize_address)) static uintptr_t load_word(uintptr_t a)
{
    return *(const uintptr_t *)a;
}

NOINLINE int tai_prof_walk(void **pcs, int max)
{
    uintptr_t pc, sp, bp;
    int n = -1;
    /* where this function is now: its own frame is the first unwound */
    __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
                     : "=r"(pc), "=r"(sp), "=r"(bp));
    if (max <= 0)
        return 0;
    if (max > PROF_WALK_MAX || !stack_bounds() || sp < stack_lo || sp >= stack_hi)
        goto fallback;
    for (bool exact = true;; exact = false) {
        rule_t r = rule_of(pc, exact);
        if (r.kind == RULE_BAD)
            goto fallback;
        if (r.kind == RULE_STOP)
            break;
        uintptr_t cfa = (r.cfa_rbp ? bp : sp) + r.cfa_off;
        uintptr_t low = cfa - 8 * (r.rbp_k > 1 ? r.rbp_k : 1);
        /* a caller's frame lies above its callee's, inside the stack */
        if (cfa <= sp || cfa > stack_hi || low < sp || cfa % 8)
            break;
        pc = load_word(cfa - 8);
        if (r.rbp_k)
            bp = load_word(cfa - 8 * r.rbp_k);
        sp = cfa;
        if (!pc)
            break;
        pcs[++n] = (void *)pc;
        if (n + 1 == max)
            break;
    }
    return n + 1;
fallback:;
    /* backtrace()'s answer in the same form: its first entry is here */
    atomic_fetch_add_explicit(&tai_prof_walk_fallbacks, 1, memory_order_relaxed);
    void *buf[PROF_WALK_MAX + 1];
    n = backtrace(buf, (max < PROF_WALK_MAX ? max : PROF_WALK_MAX) + 1);
    if (n <= 1)
        return 0;
    memcpy(pcs, buf + 1, (size_t)(n - 1) * sizeof(void *));
    return n - 1;
}

#else

NOINLINE int tai_prof_walk(void **pcs, int max)
{
    void *buf[PROF_WALK_MAX + 1];
    if (max <= 0)
        return 0;
    int n = backtrace(buf, max + 1 < PROF_WALK_MAX + 1 ? max + 1 : PROF_WALK_MAX + 1);
    if (n <= 1)
        return 0;
    memcpy(pcs, buf + 1, (size_t)(n - 1) * sizeof(void *));
    return n - 1;
}

#endif
