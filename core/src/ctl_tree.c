/* The control namespace's tables, built from ctl_tree.def: one array of
 * nodes and one string table. A node names its children by position in
 * the array, its strings by offset and its handler by number, so none of
 * it is relocated when the library loads (pointers in static data would
 * be, privately in every process). */
#include <stddef.h>

#include "ctl.h"
#include "opts.h"
#include "stats.h"

#define R TA_CTL_READ
#define W TA_CTL_WRITE
#define RW (TA_CTL_READ | TA_CTL_WRITE)

/* Every entry is a node with a C name (group_name), a name and a doc;
 * ENTRY gives each pass that view of it. */
#define LEAF(g, n, t, m, h, a, d) ENTRY(g, n, #n, d)
#define LEAFX(g, n, t, m, h, a, d) ENTRY(g, n, #n, d)
#define NODE(g, n, k, d) ENTRY(g, n, #n, d)
#define INODE(g, n, k, kind, d) ENTRY(g, n, #n, d)
#define LINODE(g, n, k, kind, d) ENTRY(g, n, #n, d)
#define IKID(g, l, k, d) ENTRY(g, l, "<" #l ">", d)
#define ROOT(n, d) ENTRY(top, n, "", d)

/* Pass 1: positions. CTL_AT_g is where group g starts, CTL_END_g where it
 * ends; the enumerator after an alias continues from its value. */
#define ENTRY(g, n, s, d) CTL_NODE_##g##_##n,
#define GROUP(g) CTL_AT_##g, CTL_BACK_##g = CTL_AT_##g - 1,
#define END(g) CTL_END_##g, CTL_BACK_END_##g = CTL_END_##g - 1,
enum {
#include "ctl_tree.def"
    CTL_NNODES
};
#undef ENTRY
#undef GROUP
#undef END
_Static_assert(CTL_NNODES <= UINT16_MAX, "ctl_node_t.kids is 16 bits");

/* Pass 2: the string table's layout, a member per string. */
#define ENTRY(g, n, s, d) char g##_##n##_name[sizeof(s)], g##_##n##_doc[sizeof(d)];
#define GROUP(g)
#define END(g)
typedef struct ctl_strs {
#include "ctl_tree.def"
} ctl_strs_t;
#undef ENTRY
_Static_assert(sizeof(ctl_strs_t) <= UINT16_MAX, "ctl_node_t.name and .doc are 16 bits");

/* Pass 3: the strings. */
#define ENTRY(g, n, s, d) s, d,
const ctl_strs_t tai_ctl_strs = {
#include "ctl_tree.def"
};
#undef ENTRY
#undef GROUP
#undef END

/* Pass 4: the nodes. */
#undef LEAF
#undef LEAFX
#undef NODE
#undef INODE
#undef LINODE
#undef IKID
#undef ROOT
#define STRS(g, n) \
    .name = offsetof(ctl_strs_t, g##_##n##_name), .doc = offsetof(ctl_strs_t, g##_##n##_doc)
#define LEAF_(g, n, t, m, f, h, a) \
    {STRS(g, n), .type = t, .mode = m, .flags = f, .fn = CTL_FN_##h, .arg = a},
#define LEAF(g, n, t, m, h, a, d) LEAF_(g, n, t, m, 0, h, a)
#define LEAFX(g, n, t, m, h, a, d) LEAF_(g, n, t, m, CTL_NODUMP, h, a)
#define NODE_(g, n, k) {STRS(g, n), .type = TA_CTL_NODE, .kids = CTL_AT_##k, \
                        .nkids = CTL_END_##k - CTL_AT_##k},
#define NODE(g, n, k, d) NODE_(g, n, k)
#define IKID(g, l, k, d) NODE_(g, l, k)
#define ROOT(n, d) NODE_(top, n, n)
#define INODE_(g, n, k, kind, f) {STRS(g, n), .type = TA_CTL_NODE, .kids = CTL_AT_##k, \
                                  .index = CTL_INDEX_##kind, .flags = f},
#define INODE(g, n, k, kind, d) INODE_(g, n, k, kind, 0)
#define LINODE(g, n, k, kind, d) INODE_(g, n, k, kind, CTL_LIVE)
#define GROUP(g)
#define END(g)
const ctl_node_t tai_ctl_nodes[] = {
#include "ctl_tree.def"
};
#undef LEAF
#undef LEAFX
#undef NODE
#undef INODE
#undef LINODE
#undef IKID
#undef ROOT
#undef END

/* Pass 5: the fields are wide enough, and an indexed node's group holds
 * exactly its index child. */
#define LEAF(g, n, t, m, h, a, d)
#define LEAFX(g, n, t, m, h, a, d)
#define NODE(g, n, k, d)
#define IKID(g, l, k, d)
#define ROOT(n, d)
#define INODE(g, n, k, kind, d) \
    _Static_assert(CTL_END_##k - CTL_AT_##k == 1, #k " holds one index child");
#define LINODE(g, n, k, kind, d) INODE(g, n, k, kind, d)
#define END(g) _Static_assert(CTL_END_##g - CTL_AT_##g <= UINT8_MAX, "ctl_node_t.nkids is 8 bits");
#include "ctl_tree.def"
