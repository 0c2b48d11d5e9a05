/* Profile output: pprof's profile.proto, gzipped (stored deflate blocks,
 * which every inflater reads; no compression library, so nothing here
 * allocates through the allocator it reports on), and folded stacks for
 * flame graphs. Both are built from a copy of the profile, in metadata
 * memory, after the profile's lock is dropped. A stack with runtime
 * frames is written with those frames only (its C frames are mostly the
 * interpreter's); ta_prof_read gives both. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "ctl.h"
#include "prof.h"
#include "prof_data.h"
#include "prof_read.h"

typedef struct buf {
    uint8_t *b;
    size_t len, cap;
    bool failed;
} buf_t;

static void buf_put(buf_t *o, const void *p, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *nb = tai_base_alloc(cap);
        if (!nb) {
            o->failed = true;
            return;
        }
        if (o->b) {
            memcpy(nb, o->b, o->len);
            tai_base_free(o->b, o->cap);
        }
        o->b = nb;
        o->cap = cap;
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void buf_free(buf_t *o)
{
    if (o->b)
        tai_base_free(o->b, o->cap);
    *o = (buf_t){0};
}

static void put_str(buf_t *o, const char *s) { buf_put(o, s, strlen(s)); }

static void put_dec(buf_t *o, uint64_t v)
{
    char d[24];
    int n = 0;
    do
        d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    buf_put(o, d + sizeof(d) - n, (size_t)n);
}

static void put_hex(buf_t *o, uint64_t v)
{
    char d[18];
    int n = 0;
    do
        d[sizeof(d) - 1 - n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) > 0);
    buf_put(o, "0x", 2);
    buf_put(o, d + sizeof(d) - n, (size_t)n);
}

/* ---- protobuf wire format ---------------------------------------------- */

static void pb_varint(buf_t *o, uint64_t v)
{
    uint8_t b[10];
    int n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    buf_put(o, b, (size_t)n);
}

static void pb_uint(buf_t *o, unsigned field, uint64_t v)
{
    pb_varint(o, (uint64_t)field << 3);
    pb_varint(o, v);
}

static void pb_bytes(buf_t *o, unsigned field, const void *p, size_t n)
{
    pb_varint(o, (uint64_t)field << 3 | 2);
    pb_varint(o, n);
    buf_put(o, p, n);
}

/* A nested message: built in m, then appended as a length-delimited field. */
static void pb_msg(buf_t *o, unsigned field, buf_t *m)
{
    if (m->failed)
        o->failed = true;
    pb_bytes(o, field, m->b, m->len);
    m->len = 0;
}

/* ---- interning tables for the output ------------------------------------ */

/* Open-addressed map from nonzero 64-bit keys to ids; for strings the key
 * is a hash and equality is checked against the string table. */
typedef struct map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap, n;
    bool failed;
} map_t;

static void map_free(map_t *m)
{
    if (m->keys) {
        tai_base_free(m->keys, m->cap * sizeof(uint64_t));
        tai_base_free(m->vals, m->cap * sizeof(uint64_t));
    }
    *m = (map_t){0};
}

static bool map_grow(map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *k = tai_base_alloc(cap * sizeof(uint64_t)), *v = tai_base_alloc(cap * sizeof(uint64_t));
    if (!k || !v) {
        if (k)
            tai_base_free(k, cap * sizeof(uint64_t));
        if (v)
            tai_base_free(v, cap * sizeof(uint64_t));
        m->failed = true;
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = (m->keys[i] * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1);
        while (k[j])
            j = (j + 1) & (cap - 1);
        k[j] = m->keys[i];
        v[j] = m->vals[i];
    }
    size_t old = m->cap;
    if (m->keys) {
        tai_base_free(m->keys, old * sizeof(uint64_t));
        tai_base_free(m->vals, old * sizeof(uint64_t));
    }
    m->keys = k;
    m->vals = v;
    m->cap = cap;
    return true;
}

typedef struct out {
    buf_t body;                /* the Profile message so far, strings aside */
    buf_t strs;                /* string table entries, NUL separated */
    buf_t stroff;              /* size_t offsets into strs */
    size_t nstrs;
    map_t strmap, fnmap, locmap;
    uint64_t nfn, nloc;
    buf_t tmp, tmp2;
} out_t;

static const char *str_at(const out_t *o, uint64_t id)
{
    size_t off;
    memcpy(&off, o->stroff.b + id * sizeof(size_t), sizeof(off));
    return (const char *)o->strs.b + off;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h ? h : 1;
}

/* Finds key in m (eq decides for hashed keys); returns the slot. */
static size_t map_slot(map_t *m, uint64_t key, const out_t *o, const char *s, bool *found)
{
    *found = false;
    if ((m->n + 1) * 2 > m->cap && !map_grow(m))
        return SIZE_MAX;
    size_t j = (key * 0x9E3779B97F4A7C15ULL >> 17) & (m->cap - 1);
    for (; m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        if (m->keys[j] == key && (!s || !strcmp(str_at(o, m->vals[j]), s))) {
            *found = true;
            break;
        }
    }
    return j;
}

static uint64_t str_id(out_t *o, const char *s)
{
    bool found;
    uint64_t key = hash_str(s);
    size_t j = map_slot(&o->strmap, key, o, s, &found);
    if (j == SIZE_MAX)
        return 0;
    if (found)
        return o->strmap.vals[j];
    size_t off = o->strs.len;
    buf_put(&o->strs, s, strlen(s) + 1);
    buf_put(&o->stroff, &off, sizeof(off));
    if (o->strs.failed || o->stroff.failed)
        return 0;
    o->strmap.keys[j] = key;
    o->strmap.vals[j] = o->nstrs;
    o->strmap.n++;
    return o->nstrs++;
}

static uint64_t fn_id(out_t *o, const char *name, const char *file)
{
    uint64_t n = str_id(o, name), f = str_id(o, file);
    bool found;
    uint64_t key = n << 32 | f | 1ULL << 63;
    size_t j = map_slot(&o->fnmap, key, o, NULL, &found);
    if (j == SIZE_MAX)
        return 0;
    if (found)
        return o->fnmap.vals[j];
    uint64_t id = ++o->nfn;
    o->fnmap.keys[j] = key;
    o->fnmap.vals[j] = id;
    o->fnmap.n++;
    pb_uint(&o->tmp, 1, id);
    pb_uint(&o->tmp, 2, n);
    pb_uint(&o->tmp, 3, n);
    pb_uint(&o->tmp, 4, f);
    pb_msg(&o->body, 5, &o->tmp);
    return id;
}

/* A C frame's location, named by the dynamic symbol table when it can. */
static uint64_t pc_loc(out_t *o, uintptr_t pc)
{
    bool found;
    size_t j = map_slot(&o->locmap, pc | 1ULL << 62, o, NULL, &found);
    if (j == SIZE_MAX)
        return 0;
    if (found)
        return o->locmap.vals[j];
    Dl_info info;
    const char *name = NULL, *file = "";
    if (dladdr((void *)pc, &info)) {
        name = info.dli_sname;
        file = info.dli_fname ? info.dli_fname : "";
    }
    uint64_t fid;
    if (name) {
        fid = fn_id(o, name, file);
    } else {
        buf_t b = {0};
        put_hex(&b, pc);
        buf_put(&b, "", 1);
        fid = b.failed ? 0 : fn_id(o, (const char *)b.b, file);
        buf_free(&b);
    }
    uint64_t id = ++o->nloc;
    o->locmap.keys[j] = pc | 1ULL << 62;
    o->locmap.vals[j] = id;
    o->locmap.n++;
    pb_uint(&o->tmp2, 1, fid);
    pb_msg(&o->tmp, 4, &o->tmp2);
    pb_uint(&o->tmp, 1, id);
    pb_uint(&o->tmp, 3, pc);
    pb_msg(&o->body, 4, &o->tmp);
    return id;
}

static uint64_t frame_loc(out_t *o, const ta_prof_frame *f)
{
    uint64_t fid = fn_id(o, f->function, f->file);
    uint64_t key = fid << 32 | (uint32_t)f->line | 1ULL << 61;
    bool found;
    size_t j = map_slot(&o->locmap, key, o, NULL, &found);
    if (j == SIZE_MAX)
        return 0;
    if (found)
        return o->locmap.vals[j];
    uint64_t id = ++o->nloc;
    o->locmap.keys[j] = key;
    o->locmap.vals[j] = id;
    o->locmap.n++;
    pb_uint(&o->tmp2, 1, fid);
    pb_uint(&o->tmp2, 2, f->line < 0 ? 0 : (uint64_t)f->line);
    pb_msg(&o->tmp, 4, &o->tmp2);
    pb_uint(&o->tmp, 1, id);
    pb_msg(&o->body, 4, &o->tmp);
    return id;
}

static uint64_t est(double v) { return v < 0.5 ? 0 : (uint64_t)(v + 0.5); }

static void value_type(out_t *o, unsigned field, const char *type, const char *unit)
{
    pb_uint(&o->tmp, 1, str_id(o, type));
    pb_uint(&o->tmp, 2, str_id(o, unit));
    pb_msg(&o->body, field, &o->tmp);
}

/* The Profile message, strings last (they are only known at the end). */
static bool build_pprof(const prof_snap_t *snap, buf_t *res)
{
    out_t o = {0};
    str_id(&o, "");
    value_type(&o, 1, "alloc_objects", "count");
    value_type(&o, 1, "alloc_space", "bytes");
    value_type(&o, 1, "inuse_objects", "count");
    value_type(&o, 1, "inuse_space", "bytes");
    uintptr_t pcs[PROF_MAX_C_FRAMES];
    ta_prof_frame frames[PROF_MAX_RT_FRAMES];
    buf_t sample = {0}, ids = {0}, vals = {0};
    for (size_t i = 0; i < snap->nstacks; i++) {
        ta_prof_stack st;
        tai_prof_decode(snap, i, &st, pcs, frames);
        if (!st.live_blocks && !st.alloc_blocks)
            continue;
        if (st.n_frames)
            for (unsigned k = 0; k < st.n_frames; k++)
                pb_varint(&ids, frame_loc(&o, &frames[k]));
        else
            for (unsigned k = 0; k < st.n_pcs; k++)
                pb_varint(&ids, pc_loc(&o, pcs[k]));
        pb_varint(&vals, est(st.alloc_blocks_est));
        pb_varint(&vals, est(st.alloc_bytes_est));
        pb_varint(&vals, est(st.live_blocks_est));
        pb_varint(&vals, est(st.live_bytes_est));
        pb_msg(&sample, 1, &ids);
        pb_msg(&sample, 2, &vals);
        pb_msg(&o.body, 2, &sample);
    }
    uint64_t mean = atomic_load_explicit(&tai_prof_sample_bytes, memory_order_relaxed);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pb_uint(&o.body, 9, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    pb_uint(&o.tmp, 1, str_id(&o, "space"));
    pb_uint(&o.tmp, 2, str_id(&o, "bytes"));
    pb_msg(&o.body, 11, &o.tmp);
    pb_uint(&o.body, 12, mean);
    pb_uint(&o.body, 14, str_id(&o, "inuse_space"));
    buf_put(res, o.body.b, o.body.len);
    for (uint64_t k = 0; k < o.nstrs; k++) {
        const char *s = str_at(&o, k);
        pb_bytes(res, 6, s, strlen(s));
    }
    bool ok = !(o.body.failed || o.strs.failed || o.stroff.failed || o.tmp.failed ||
                o.tmp2.failed || sample.failed || ids.failed || vals.failed ||
                o.strmap.failed || o.fnmap.failed || o.locmap.failed || res->failed);
    buf_free(&o.body), buf_free(&o.strs), buf_free(&o.stroff), buf_free(&o.tmp);
    buf_free(&o.tmp2), buf_free(&sample), buf_free(&ids), buf_free(&vals);
    map_free(&o.strmap), map_free(&o.fnmap), map_free(&o.locmap);
    return ok;
}

/* ---- gzip with stored blocks --------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint32_t *table = crc_table;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void le32(buf_t *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_put(o, b, 4);
}

static void gzip_stored(const buf_t *in, buf_t *out)
{
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    buf_put(out, header, sizeof(header));
    size_t off = 0;
    do {
        size_t n = in->len - off > 65535 ? 65535 : in->len - off;
        bool last = off + n == in->len;
        uint8_t h[5] = {last, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n, (uint8_t)(~n >> 8)};
        buf_put(out, h, 5);
        buf_put(out, in->b + off, n);
        off += n;
    } while (off < in->len);
    le32(out, crc32(in->b, in->len));
    le32(out, (uint32_t)in->len);
}

/* ---- folded stacks --------------------------------------------------------- */

static void put_frame_name(buf_t *o, const ta_prof_frame *f)
{
    /* ';' separates frames and a space ends the stack */
    for (const char *s = f->function; *s; s++)
        buf_put(o, *s == ';' || *s == ' ' ? "_" : s, 1);
    if (f->file[0]) {
        buf_put(o, "@", 1);
        for (const char *s = f->file; *s; s++)
            buf_put(o, *s == ';' || *s == ' ' ? "_" : s, 1);
        buf_put(o, ":", 1);
        put_dec(o, (uint64_t)(f->line < 0 ? 0 : f->line));
    }
}

static void build_folded(const prof_snap_t *snap, buf_t *o)
{
    uintptr_t pcs[PROF_MAX_C_FRAMES];
    ta_prof_frame frames[PROF_MAX_RT_FRAMES];
    for (size_t i = 0; i < snap->nstacks; i++) {
        ta_prof_stack st;
        tai_prof_decode(snap, i, &st, pcs, frames);
        if (!st.live_blocks)
            continue;
        if (st.n_frames) {
            for (unsigned k = st.n_frames; k-- > 0;) {
                put_frame_name(o, &frames[k]);
                buf_put(o, k ? ";" : " ", 1);
            }
        } else {
            for (unsigned k = st.n_pcs; k-- > 0;) {
                Dl_info info;
                if (dladdr((void *)pcs[k], &info) && info.dli_sname)
                    put_str(o, info.dli_sname);
                else
                    put_hex(o, pcs[k]);
                buf_put(o, k ? ";" : " ", 1);
            }
            if (!st.n_pcs)
                put_str(o, "[unknown] ");
        }
        put_dec(o, est(st.live_bytes_est));
        buf_put(o, "\n", 1);
    }
}

static int write_all(const char *path, const buf_t *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    int err = 0;
    for (size_t off = 0; off < b->len;) {
        ssize_t w = write(fd, b->b + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) && !err)
        err = errno;
    return err;
}

int ta_prof_dump(const char *path, const char *format)
{
    if (!path || !format)
        return EINVAL;
    bool pprof = !strcmp(format, "pprof");
    if (!pprof && strcmp(format, "folded"))
        return EINVAL;
    prof_snap_t snap;
    int err = tai_prof_snapshot(&snap);
    if (err)
        return err;
    buf_t raw = {0}, gz = {0};
    if (pprof) {
        if (build_pprof(&snap, &raw))
            gzip_stored(&raw, &gz);
        else
            gz.failed = true;
    } else {
        build_folded(&snap, &gz);
    }
    tai_prof_snapshot_free(&snap);
    err = gz.failed ? ENOMEM : write_all(path, &gz);
    buf_free(&raw);
    buf_free(&gz);
    return err;
}

/* ---- control names ------------------------------------------------------- */

int tai_ctl_prof_active(ctl_io_t *io)
{
    bool old = atomic_load(&tai_prof_on);
    if (io->newp) {
        bool on = tai_ctl_in_bool(io);
        if (on)
            atomic_store(&tai_prof_engaged, true);
        atomic_store(&tai_prof_on, on);
        if (on != old)
            atomic_fetch_add(&tai_prof_gen, 1);
    }
    return tai_ctl_out_num(io, old);
}

int tai_ctl_prof_num(ctl_io_t *io)
{
    _Atomic uint64_t *v = io->node->arg == CTL_PROF_SEED ? &tai_prof_seed : &tai_prof_sample_bytes;
    uint64_t old = atomic_load(v);
    if (io->newp) {
        uint64_t n;
        if (io->node->type == TA_CTL_SIZE) {
            size_t z;
            memcpy(&z, io->newp, sizeof(z));
            n = z;
        } else {
            memcpy(&n, io->newp, sizeof(n));
        }
        if (io->node->arg == CTL_PROF_SAMPLE_BYTES && (n == 0 || n > ((uint64_t)1 << 40)))
            return EINVAL;
        atomic_store(v, n);
        atomic_fetch_add(&tai_prof_gen, 1);
    }
    return tai_ctl_out_num(io, old);
}

int tai_ctl_prof_dump(ctl_io_t *io)
{
    const char *path = NULL;
    if (io->newp)
        memcpy(&path, io->newp, sizeof(path));
    return ta_prof_dump(path, io->node->arg == CTL_PROF_FOLDED ? "folded" : "pprof");
}

int tai_ctl_prof_reset(ctl_io_t *io)
{
    (void)io;
    tai_prof_reset_counts();
    return 0;
}
