/* Name and MIB resolution for the control namespace, jemalloc's argument
 * conventions, and the public ta_ctl* entry points. Names are parsed in
 * place: no copy, no allocation, any length. */
#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "arena.h"
#include "init.h"
#include "stats.h"

/* Interior nodes are exactly those that can have children. */
static bool is_leaf(const ctl_node_t *n) { return n->nkids == 0 && n->ikid == NULL; }

/* Decimal digits only, so "-1", "+1", " 1" and overflowing numbers are
 * unknown names rather than silently wrapped indexes. */
static bool parse_index(const char *s, size_t len, size_t *out)
{
    size_t v = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        size_t d = (size_t)(s[k] - '0');
        if (v > (SIZE_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return len > 0;
}

/* Documentation walkers name an index child "<i>" instead of a number. */
static bool is_placeholder(const char *s, size_t len)
{
    return len >= 2 && s[0] == '<' && s[len - 1] == '>';
}

/* One component step from node; the MIB value is the child's position or
 * the index itself. */
static const ctl_node_t *step(const ctl_node_t *node, const char *s, size_t len,
                              bool placeholders, size_t *mibv)
{
    if (node->ikid) {
        if (placeholders && is_placeholder(s, len)) {
            *mibv = 0;
            return node->ikid;
        }
        if (!parse_index(s, len, mibv) || !node->valid(*mibv))
            return NULL;
        return node->ikid;
    }
    for (size_t k = 0; k < node->nkids; k++) {
        const char *kn = node->kids[k].name;
        if (strncmp(kn, s, len) == 0 && kn[len] == '\0') {
            *mibv = k;
            return &node->kids[k];
        }
    }
    return NULL;
}

/* Walks a dotted name; "" is the root. Empty components (leading,
 * trailing or doubled dots) and names deeper than cap are unknown. */
static int resolve(const char *name, size_t *mib, size_t cap, size_t *depth,
                   const ctl_node_t **out, bool placeholders)
{
    const ctl_node_t *node = &tai_ctl_root;
    size_t d = 0;
    const char *p = name;
    for (bool more = *name != '\0'; more;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || d >= cap)
            return ENOENT;
        node = step(node, p, len, placeholders, &mib[d]);
        if (!node)
            return ENOENT;
        d++;
        more = dot != NULL;
        if (more)
            p = dot + 1;
    }
    *depth = d;
    *out = node;
    return 0;
}

/* MIB components were validated when the MIB was made, but a caller may
 * edit them (that is the point of MIBs), so every one is checked again. */
static const ctl_node_t *node_bymib(const size_t *mib, size_t miblen)
{
    const ctl_node_t *node = &tai_ctl_root;
    for (size_t d = 0; d < miblen; d++) {
        if (node->ikid) {
            if (!node->valid(mib[d]))
                return NULL;
            node = node->ikid;
        } else if (mib[d] < node->nkids) {
            node = &node->kids[mib[d]];
        } else {
            return NULL;
        }
    }
    return node;
}

/* Bytes a value of this type occupies in newp. */
static size_t type_size(ta_ctl_type t)
{
    switch (t) {
    case TA_CTL_BOOL:
        return sizeof(bool);
    case TA_CTL_UNSIGNED:
        return sizeof(unsigned);
    case TA_CTL_SIZE:
        return sizeof(size_t);
    case TA_CTL_SSIZE:
        return sizeof(ssize_t);
    case TA_CTL_UINT64:
        return sizeof(uint64_t);
    case TA_CTL_STRING:
        return sizeof(const char *);
    case TA_CTL_POINTER:
        return sizeof(void *);
    default:
        return 0;
    }
}

/* A pointer leaf (arenas.lookup) takes a pointer and reads an index. */
size_t tai_ctl_read_size(const ctl_node_t *node)
{
    return node->type == TA_CTL_POINTER ? sizeof(unsigned) : type_size(node->type);
}

/* jemalloc's rules, checked once for every leaf: a read needs oldlenp
 * (oldp NULL only asks for the size), lengths must match the type
 * exactly, actions take no data, and the mode must allow the access.
 * NULL with a nonzero length is EFAULT, a wrong length EINVAL. */
int tai_ctl_call(const ctl_node_t *node, const size_t *mib, void *oldp, size_t *oldlenp,
                const void *newp, size_t newlen)
{
    bool rd = oldp != NULL || oldlenp != NULL;
    bool wr = newp != NULL || newlen != 0;
    if ((rd && !(node->mode & TA_CTL_READ)) || (wr && !(node->mode & TA_CTL_WRITE)))
        return EPERM;
    if (rd && oldlenp == NULL)
        return EFAULT;
    if (rd && oldp == NULL) {
        *oldlenp = tai_ctl_read_size(node);
        rd = false;
    } else if (rd && *oldlenp != tai_ctl_read_size(node)) {
        return EINVAL;
    }
    if (wr && newp == NULL)
        return EFAULT;
    if (wr && newlen != type_size(node->type))
        return EINVAL;
    /* Nothing asked of a readable leaf is a no-op; a write-only leaf
     * with no input is the handler's to refuse. */
    if (!rd && !wr && node->type != TA_CTL_ACTION && (node->mode & TA_CTL_READ))
        return 0;
    ctl_io_t io = {node, mib, rd ? oldp : NULL, wr && node->type != TA_CTL_ACTION ? newp : NULL};
    return node->fn(&io);
}

/* One entry point for every integer-like type, so handlers hold values as
 * uint64_t and the node's declared type alone decides the width written. */
int tai_ctl_out_num(ctl_io_t *io, uint64_t v)
{
    if (!io->oldp)
        return 0;
    switch (io->node->type) {
    case TA_CTL_BOOL: {
        bool b = v != 0;
        memcpy(io->oldp, &b, sizeof(b));
        break;
    }
    case TA_CTL_UNSIGNED:
    case TA_CTL_POINTER: {
        unsigned u = (unsigned)v;
        memcpy(io->oldp, &u, sizeof(u));
        break;
    }
    case TA_CTL_SIZE: {
        size_t z = (size_t)v;
        memcpy(io->oldp, &z, sizeof(z));
        break;
    }
    default:
        memcpy(io->oldp, &v, sizeof(v));
        break;
    }
    return 0;
}

/* Decay times are signed (-1 = never), so they get their own conversion. */
int tai_ctl_out_ssize(ctl_io_t *io, int64_t v)
{
    ssize_t s = (ssize_t)v;
    if (io->oldp)
        memcpy(io->oldp, &s, sizeof(s));
    return 0;
}

/* Strings are returned as pointers to static storage, as in jemalloc. */
int tai_ctl_out_str(ctl_io_t *io, const char *s)
{
    if (io->oldp)
        memcpy(io->oldp, &s, sizeof(s));
    return 0;
}

/* Inputs are copied with memcpy: callers' buffers need not be aligned. */
int64_t tai_ctl_in_ssize(const ctl_io_t *io)
{
    ssize_t v;
    memcpy(&v, io->newp, sizeof(v));
    return (int64_t)v;
}

/* Any nonzero byte is true, so a caller's odd bool representation cannot
 * become an invalid _Bool inside the allocator. */
bool tai_ctl_in_bool(const ctl_io_t *io)
{
    unsigned char c;
    memcpy(&c, io->newp, sizeof(c));
    return c != 0;
}

/* Likewise, for arena and cache indexes. */
unsigned tai_ctl_in_unsigned(const ctl_io_t *io)
{
    unsigned v;
    memcpy(&v, io->newp, sizeof(v));
    return v;
}

/* As jemalloc's arenas.narenas: automatic arenas count before their lazy
 * creation, manual ones once their slot has been used. */
unsigned tai_ctl_narenas(void)
{
    unsigned total = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
    return total > tai_narenas_auto ? total : tai_narenas_auto;
}

/* Arena indexes below arenas.narenas, plus the all-arenas index. */
bool tai_ctl_valid_arena(size_t i) { return i == MAX_ARENAS || i < tai_ctl_narenas(); }

/* Size-class indexes are fixed at build time. */
bool tai_ctl_valid_bin(size_t j) { return j < NBINS; }

bool tai_ctl_valid_lextent(size_t j) { return j < NLEXTENTS; }

/* A name's node and MIB, for walkers inside the core. */
int tai_ctl_resolve(const char *name, size_t *mib, size_t *depth, const ctl_node_t **out)
{
    return resolve(name, mib, CTL_MAX_DEPTH, depth, out, false);
}

/* Resolves and runs in one call; NULL names are EFAULT, not a crash. */
int ta_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    if (name == NULL)
        return EFAULT;
    if (!tai_ensure_init())
        return EAGAIN;
    size_t mib[CTL_MAX_DEPTH], depth;
    const ctl_node_t *node;
    int rc = resolve(name, mib, CTL_MAX_DEPTH, &depth, &node, false);
    if (rc)
        return rc;
    if (is_leaf(node) == false)
        return ENOENT;
    return tai_ctl_call(node, mib, oldp, oldlenp, newp, newlen);
}

/* Partial names are allowed so a loop can fill in an index component. */
int ta_ctl_nametomib(const char *name, size_t *mibp, size_t *miblenp)
{
    if (name == NULL || mibp == NULL || miblenp == NULL)
        return EFAULT;
    if (!tai_ensure_init())
        return EAGAIN;
    size_t mib[CTL_MAX_DEPTH], depth;
    const ctl_node_t *node;
    size_t cap = *miblenp < CTL_MAX_DEPTH ? *miblenp : CTL_MAX_DEPTH;
    int rc = resolve(name, mib, cap, &depth, &node, false);
    if (rc)
        return rc;
    if (depth == 0)
        return ENOENT;
    memcpy(mibp, mib, depth * sizeof(size_t));
    *miblenp = depth;
    return 0;
}

int ta_ctl_bymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen)
{
    if (mib == NULL && miblen != 0)
        return EFAULT;
    if (!tai_ensure_init())
        return EAGAIN;
    if (miblen == 0 || miblen > CTL_MAX_DEPTH)
        return ENOENT;
    const ctl_node_t *node = node_bymib(mib, miblen);
    if (node == NULL || !is_leaf(node))
        return ENOENT;
    return tai_ctl_call(node, mib, oldp, oldlenp, newp, newlen);
}

/* Enumeration accepts "<i>" placeholders so docs and bindings can walk
 * the tree without knowing which indexes exist. */
int ta_ctl_child(const char *node, size_t index, ta_ctl_info *out)
{
    if (node == NULL || out == NULL)
        return EFAULT;
    if (!tai_ensure_init())
        return EAGAIN;
    size_t mib[CTL_MAX_DEPTH], depth;
    const ctl_node_t *n;
    int rc = resolve(node, mib, CTL_MAX_DEPTH, &depth, &n, true);
    if (rc)
        return rc;
    const ctl_node_t *kid;
    if (n->ikid)
        kid = index == 0 ? n->ikid : NULL;
    else
        kid = index < n->nkids ? &n->kids[index] : NULL;
    if (kid == NULL)
        return ENOENT;
    *out = (ta_ctl_info){kid->name, kid->type, kid->mode, kid->doc, n->ikid ? n->bound : NULL};
    return 0;
}

/* The control locks come before every engine lock in the lock order
 * (an epoch takes the global and tcache locks inside the stats lock). */
FORK_HANDLER void tai_ctl_prefork(void)
{
    tai_stats_prefork();
    tai_ctl_tcaches_prefork();
}

/* Reverse order of tai_ctl_prefork. */
FORK_HANDLER void tai_ctl_postfork(bool child)
{
    tai_ctl_tcaches_postfork(child);
    tai_stats_postfork(child);
}
