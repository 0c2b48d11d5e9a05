/* The control namespace: names raw from the input or built by walking the
 * tree with ta_ctl_child (index components filled with interesting
 * numbers), read and written with values of the right, wrong or missing
 * size, by name and by MIB (components edited after nametomib), plus
 * enumeration of arbitrary nodes and ta_stats_print with any option
 * letters. Properties: the errno contract (no crash, lengths checked
 * before any byte is written, a read of the right size reports that
 * size), by-name and by-MIB calls agree, strings read are real strings,
 * JSON reports balance, and the engine's invariants hold after every
 * input. Each input's side effects (arenas, caches, the thread's arena
 * and cache, decay defaults, limits, the background thread) are undone
 * after it, so inputs replay alone as they ran. The profile's dump names
 * write the path they are given: a path the input made up would leave
 * files wherever the fuzzer runs, so a write to one is given a path in
 * the target's own scratch directory instead (or one a file system must
 * refuse), and their own errors are expected of them alone. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

#include "arena.h"
#include "fuzz.h"
#include "harness.h"
#include "walker.h"

#define NAME_CAP 160
#define GUARD 0xa5

/* Blocks of each kind whose addresses (and addresses inside them) are
 * fed to arenas.lookup. */
static void *blocks[3];
static const size_t block_sizes[3] = {48, 40000, (size_t)9 << 20};
static unsigned narenas_auto, home_arena;
static ssize_t default_decay[2];

/* The dump leaves (prof.dump, prof.dump_folded), by name and by MIB, and
 * the paths a write to them is given. */
static const char *const dump_names[2] = {"prof.dump", "prof.dump_folded"};
static size_t dump_mibs[2][8], dump_miblens[2];
static char scratch[64];
static char dump_paths[3][PATH_MAX + 64];

static void clear_scratch(void)
{
    DIR *d = opendir(scratch);
    if (d) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(scratch);
}

static void init_dump_paths(void)
{
    snprintf(scratch, sizeof(scratch), "/tmp/tunalloc-fuzz-ctl.XXXXXX");
    REQUIRE(mkdtemp(scratch) != NULL);
    atexit(clear_scratch);
    snprintf(dump_paths[0], sizeof(dump_paths[0]), "%s/dump", scratch);
    snprintf(dump_paths[1], sizeof(dump_paths[1]), "%s/missing/dump", scratch);
    /* one component longer than any file system's NAME_MAX */
    int n = snprintf(dump_paths[2], sizeof(dump_paths[2]), "%s/", scratch);
    memset(dump_paths[2] + n, 'Z', NAME_MAX + 1);
    for (int i = 0; i < 2; i++) {
        dump_miblens[i] = 8;
        REQUIRE(ta_ctl_nametomib(dump_names[i], dump_mibs[i], &dump_miblens[i]) == 0);
    }
}

static bool is_dump_name(const char *name)
{
    return !strcmp(name, dump_names[0]) || !strcmp(name, dump_names[1]);
}

static bool is_dump_mib(const size_t *mib, size_t miblen)
{
    for (int i = 0; i < 2; i++)
        if (miblen == dump_miblens[i] && !memcmp(mib, dump_mibs[i], miblen * sizeof(*mib)))
            return true;
    return false;
}

/* A write to a dump leaf gets one of the scratch paths in place of the
 * input's bytes. */
static void dump_value(unsigned char *val, unsigned pick)
{
    const char *path = dump_paths[pick % 3];
    memcpy(val, &path, sizeof(path));
}

static int ctl_rw(const char *name, void *oldp, size_t *oldlenp, const void *newp, size_t newlen)
{
    return ta_ctl(name, oldp, oldlenp, (void *)newp, newlen);
}

static unsigned read_unsigned(const char *name)
{
    unsigned v = 0;
    size_t len = sizeof(v);
    REQUIRE(ctl_rw(name, &v, &len, NULL, 0) == 0);
    return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 3; i++) {
        blocks[i] = ta_malloc(block_sizes[i]);
        REQUIRE(blocks[i] != NULL);
        memset(blocks[i], 0x5a, block_sizes[i]);
    }
    home_arena = read_unsigned("thread.arena");
    narenas_auto = read_unsigned("arenas.narenas");
    size_t len = sizeof(ssize_t);
    REQUIRE(ctl_rw("arenas.dirty_decay_ms", &default_decay[0], &len, NULL, 0) == 0);
    REQUIRE(ctl_rw("arenas.muzzy_decay_ms", &default_decay[1], &len, NULL, 0) == 0);
    init_dump_paths();
    return 0;
}

/* A number for an index component: small ones, the edges of the arena
 * table and of the size classes, or anything. */
static unsigned long long pick_index(fuzz_in_t *in)
{
    uint8_t k = fuzz_u8(in);
    switch (k % 8) {
    case 0:
    case 1:
    case 2:
        return k / 8;
    case 3:
        return read_unsigned("arenas.narenas") - (k / 8 % 2);
    case 4:
        return TA_ARENAS_ALL + (k / 8 % 3) - 1;
    case 5:
        return NBINS + (k / 8 % 3) - 1;
    case 6:
        return NLEXTENTS + (k / 8 % 3) - 1;
    default:
        return fuzz_u64(in);
    }
}

/* Appends one component to name. */
static void append(char *name, size_t *len, const char *comp)
{
    int n = snprintf(name + *len, NAME_CAP - *len, "%s%s", *len ? "." : "", comp);
    if (n > 0)
        *len = *len + (size_t)n < NAME_CAP ? *len + (size_t)n : NAME_CAP - 1;
}

/* A name built by walking the tree from the root: a child chosen by the
 * input at each level, index children given a number, stopping at a
 * leaf or where the input says. *type and *mode describe the last node. */
static void build_name(fuzz_in_t *in, char *name, ta_ctl_type *type, unsigned *mode)
{
    size_t len = 0;
    name[0] = '\0';
    *type = TA_CTL_NODE;
    *mode = 0;
    for (int depth = 0; depth < 8; depth++) {
        uint8_t k = fuzz_u8(in);
        if (k == 0xff)
            return; /* an interior node */
        ta_ctl_info info;
        int err = ta_ctl_child(name, k, &info);
        if (err) {
            REQUIRE(err == ENOENT);
            if (ta_ctl_child(name, 0, &info))
                return;
            size_t n = 1;
            while (ta_ctl_child(name, n, &info) == 0)
                n++;
            REQUIRE(ta_ctl_child(name, k % n, &info) == 0);
        }
        if (info.name[0] == '<') {
            char num[32];
            snprintf(num, sizeof(num), "%llu", pick_index(in));
            append(name, &len, num);
        } else {
            append(name, &len, info.name);
        }
        *type = info.type;
        *mode = info.mode;
        if (info.type != TA_CTL_NODE)
            return;
    }
}

/* A raw name: up to 63 input bytes, cut at the first NUL as C would. */
static void raw_name(fuzz_in_t *in, char *name)
{
    size_t n = fuzz_u8(in) % 64;
    fuzz_bytes(in, name, n);
    name[n] = '\0';
}

/* A value to write: the input's bytes, or for pointers an address in or
 * near one of the live blocks. */
static void make_value(fuzz_in_t *in, unsigned char *val, size_t cap)
{
    fuzz_bytes(in, val, cap);
    if (val[0] % 4 == 0) {
        size_t b = val[1] % 3, off = (size_t)fuzz_u32(in) % (block_sizes[b] + 64);
        uintptr_t p = (uintptr_t)blocks[b] + off - (val[2] % 2 ? 0 : 32);
        memcpy(val, &p, sizeof(p));
    }
}

static bool untouched(const unsigned char *buf, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (buf[i] != GUARD)
            return false;
    return true;
}

/* A string read points at a NUL-terminated string. */
static void check_string(const unsigned char *out)
{
    const char *s;
    memcpy(&s, out, sizeof(s));
    REQUIRE(s != NULL && strlen(s) < 4096);
}

/* One access to a name: reads and writes of various sizes; the output
 * buffer is guarded so a byte written past the length given shows. */
static void access_name(fuzz_in_t *in, const char *name, ta_ctl_type type)
{
    uint8_t how = fuzz_u8(in);
    size_t want = 0;
    int size_err = ta_ctl(name, NULL, &want, NULL, 0);
    REQUIRE(size_err == 0 || size_err == ENOENT || size_err == EPERM || size_err == EAGAIN);
    if (size_err == 0)
        REQUIRE(want <= 8);
    unsigned char out[32], val[16];
    memset(out, GUARD, sizeof(out));
    size_t outlen = how & 1 ? (size_t)(fuzz_u8(in) % 17) : want;
    size_t inlen = how & 2 ? (size_t)(fuzz_u8(in) % 17) : 0;
    make_value(in, val, sizeof(val));
    bool rd = how & 4, wr = how & 8;
    size_t len = outlen;
    int err;
    bool by_name = (how >> 4 & 3) < 2; /* an edited MIB may name another leaf */
    bool dump = false;
    switch (how >> 4 & 3) {
    case 0: /* the plain call */
        if ((dump = is_dump_name(name)))
            dump_value(val, val[3]);
        err = ctl_rw(name, rd ? out : NULL, rd ? &len : NULL, wr ? val : NULL, wr ? inlen : 0);
        break;
    case 1: /* a length with no buffer, or a buffer with no length */
        err = ctl_rw(name, rd ? out : NULL, rd ? NULL : &len, NULL, wr ? inlen : 0);
        REQUIRE(err != 0 || (!rd && !(wr && inlen)));
        break;
    default: { /* by MIB, components edited */
        size_t mib[10], miblen = 2 + fuzz_u8(in) % 9;
        err = ta_ctl_nametomib(name, mib, &miblen);
        if (err) {
            REQUIRE(err == ENOENT);
            return;
        }
        REQUIRE(miblen >= 1 && miblen <= 8);
        if (how & 64)
            mib[fuzz_u8(in) % miblen] = (size_t)pick_index(in);
        if ((dump = is_dump_mib(mib, miblen)))
            dump_value(val, val[3]);
        err = ta_ctl_bymib(mib, miblen, rd ? out : NULL, rd ? &len : NULL, wr ? val : NULL,
                           wr ? inlen : 0);
        break;
    }
    }
    REQUIRE(err == 0 || err == ENOENT || err == EINVAL || err == EPERM || err == EFAULT ||
            err == EAGAIN || err == ENOMEM || err == EBUSY || (dump && err == ENAMETOOLONG));
    /* the callee writes at most *oldlenp bytes, and only what it reports */
    REQUIRE(untouched(out, rd ? outlen : 0, sizeof(out)));
    if (err == 0 && rd) {
        REQUIRE(len == outlen);
        if (size_err == 0 && by_name)
            REQUIRE(len == want);
        if (type == TA_CTL_STRING && by_name)
            check_string(out);
    }
}

/* Reads agree by name and by MIB for a name the walk built. */
static void compare_mib(const char *name, ta_ctl_type type, unsigned mode)
{
    if (!(mode & TA_CTL_READ) || type == TA_CTL_POINTER || strstr(name, "create") ||
        strncmp(name, "stats.", 6) == 0 || strstr(name, "uptime") || strstr(name, "thread.") ||
        strcmp(name, "background_thread") == 0)
        return;
    uint64_t a = 0, b = 0;
    size_t la = 8, lb = 8, mib[8], miblen = 8;
    ta_ctl(name, NULL, &la, NULL, 0);
    lb = la;
    int ea = ta_ctl(name, &a, &la, NULL, 0);
    if (ta_ctl_nametomib(name, mib, &miblen))
        return;
    int eb = ta_ctl_bymib(mib, miblen, &b, &lb, NULL, 0);
    REQUIRE(ea == eb);
    if (ea == 0 && type != TA_CTL_STRING)
        REQUIRE(a == b);
}

/* Enumeration of any node: children are well formed, the count ends. */
static void enumerate(fuzz_in_t *in, const char *node)
{
    size_t idx = fuzz_u8(in) % 4 == 0 ? (size_t)fuzz_u64(in) : fuzz_u8(in);
    ta_ctl_info info;
    int err = ta_ctl_child(node, idx, &info);
    REQUIRE(err == 0 || err == ENOENT);
    if (err == 0) {
        REQUIRE(info.name && info.doc && strlen(info.name) > 0 && strlen(info.doc) > 0);
        REQUIRE(info.type <= TA_CTL_ACTION);
        REQUIRE(info.type == TA_CTL_NODE ? info.mode == 0
                                          : info.mode != 0 && info.mode <= 3);
    }
    REQUIRE(ta_ctl_child(node, idx, NULL) == EFAULT);
}

/* ta_stats_print's output, checked as it streams: JSON's nesting depth
 * and whether the text is inside a string (after a backslash or not). */
typedef struct shape {
    size_t bytes;
    int depth;
    bool quoted, escaped, broken;
} shape_t;

static void collect(void *opaque, const char *text)
{
    shape_t *sh = opaque;
    size_t n = strlen(text);
    REQUIRE(n > 0);
    sh->bytes += n;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (sh->escaped)
            sh->escaped = false;
        else if (sh->quoted)
            sh->quoted = c != '"', sh->escaped = c == '\\';
        else if (c == '"')
            sh->quoted = true;
        else if (c == '{' || c == '[')
            sh->depth++;
        else if (c == '}' || c == ']')
            sh->broken |= --sh->depth < 0;
    }
}

/* Any option letters: the report is printed, and as JSON ("J") its
 * braces, brackets and quotes balance. Once per input: a report of
 * every arena is long. */
static void print_stats(fuzz_in_t *in, bool *printed)
{
    char opts[9];
    fuzz_bytes(in, opts, 8);
    opts[8] = '\0';
    if (*printed)
        return;
    *printed = true;
    shape_t sh = {0};
    ta_stats_print(collect, &sh, opts);
    REQUIRE(sh.bytes > 0);
    if (strchr(opts, 'J'))
        REQUIRE(!sh.broken && sh.depth == 0 && !sh.quoted);
}

/* Puts back every global setting an input may have changed. */
static void undo(unsigned ops)
{
    for (unsigned i = 0; i <= ops; i++)
        ctl_rw("tcache.destroy", NULL, NULL, &i, sizeof(i));
    bool on = true, off = false;
    REQUIRE(ctl_rw("thread.tcache.enabled", NULL, NULL, &on, sizeof(on)) == 0);
    REQUIRE(ctl_rw("thread.arena", NULL, NULL, &home_arena, sizeof(home_arena)) == 0);
    REQUIRE(ctl_rw("background_thread", NULL, NULL, &off, sizeof(off)) == 0);
    REQUIRE(ctl_rw("arenas.dirty_decay_ms", NULL, NULL, &default_decay[0], sizeof(ssize_t)) == 0);
    REQUIRE(ctl_rw("arenas.muzzy_decay_ms", NULL, NULL, &default_decay[1], sizeof(ssize_t)) == 0);
    unsigned n = read_unsigned("arenas.narenas");
    char name[64];
    for (unsigned i = 0; i < n; i++) {
        if (i >= narenas_auto) {
            snprintf(name, sizeof(name), "arena.%u.destroy", i);
            int err = ctl_rw(name, NULL, NULL, NULL, 0);
            REQUIRE(err == 0 || err == EFAULT);
            continue;
        }
        if (!atomic_load(&tai_arenas[i]))
            continue;
        size_t zero = 0;
        snprintf(name, sizeof(name), "arena.%u.limit", i);
        REQUIRE(ctl_rw(name, NULL, NULL, &zero, sizeof(zero)) == 0);
        snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
        REQUIRE(ctl_rw(name, NULL, NULL, &default_decay[0], sizeof(ssize_t)) == 0);
        snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", i);
        REQUIRE(ctl_rw(name, NULL, NULL, &default_decay[1], sizeof(ssize_t)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    unsigned ops = 0;
    bool printed = false;
    while (fuzz_left(&in) && ops < 64) {
        char name[NAME_CAP];
        ta_ctl_type type = TA_CTL_NODE;
        unsigned mode = 0;
        uint8_t op = fuzz_u8(&in);
        ops++;
        if (op & 1)
            raw_name(&in, name);
        else
            build_name(&in, name, &type, &mode);
        switch (op >> 1 & 7) {
        case 0:
            enumerate(&in, name);
            break;
        case 1:
            compare_mib(name, type, mode);
            break;
        case 7:
            print_stats(&in, &printed);
            break;
        default:
            access_name(&in, name, type);
            break;
        }
    }
    undo(ops);
    for (int i = 0; i < 3; i++) {
        const unsigned char *b = blocks[i];
        REQUIRE(b[0] == 0x5a && b[block_sizes[i] - 1] == 0x5a);
        REQUIRE(ta_check_ptr(b) == 0);
    }
    check_all_arenas();
    REQUIRE(harness_failures == 0);
    return 0;
}
