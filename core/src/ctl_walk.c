/* ta_ctl_walk: the one walker of the namespace's readable values, behind
 * the JSON report and the bindings' statistics tables. Index children are
 * visited at their live indexes only, and objects with nothing readable
 * (destroyed arenas, write-only groups) are not opened at all. */
#include <errno.h>
#include <string.h>

#include "ctl.h"
#include "init.h"

typedef struct walk {
    const char *omit;
    const ta_ctl_visitor *vis;
    void *opaque;
    size_t mib[CTL_MAX_DEPTH];
    const char *names[CTL_MAX_DEPTH]; /* NULL for index components */
} walk_t;

/* Option letters are single characters anywhere in the string. */
static bool omit_set(const walk_t *w, char c) { return strchr(w->omit, c) != NULL; }

/* Sections are recognised by their path, since tables are static data. */
static bool name_is(const walk_t *w, size_t d, const char *s)
{
    return w->names[d] != NULL && strcmp(w->names[d], s) == 0;
}

/* The malloc_stats_print letters: g general (constant) information,
 * m merged arena, a per-arena, b bins, l large classes. */
static bool omitted(const walk_t *w, size_t depth, const char *name, size_t idx)
{
    if (name != NULL) {
        if (depth == 0 && omit_set(w, 'g') &&
            (!strcmp(name, "version") || !strcmp(name, "opt") || !strcmp(name, "arenas")))
            return true;
        if (omit_set(w, 'b') && (!strcmp(name, "bins") || !strcmp(name, "bin")))
            return true;
        return omit_set(w, 'l') && (!strcmp(name, "lextents") || !strcmp(name, "lextent"));
    }
    bool stats_arena = depth == 2 && name_is(w, 0, "stats") && name_is(w, 1, "arenas");
    bool arena = depth == 1 && name_is(w, 0, "arena");
    if (stats_arena && idx == MAX_ARENAS)
        return omit_set(w, 'm');
    return (stats_arena || arena) && omit_set(w, 'a');
}

/* Through the normal checks; w->mib holds the leaf's full MIB. Leaves with
 * read side effects or inputs are never read by a walk. */
static bool read_leaf(const walk_t *w, const ctl_node_t *n, ta_ctl_value *v)
{
    if (!(n->mode & TA_CTL_READ) || (n->flags & CTL_NODUMP))
        return false;
    size_t len = tai_ctl_read_size(n);
    return tai_ctl_call(n, w->mib, v, &len, NULL, 0) == 0;
}

/* The valid indexes of an indexed node in order: from 0 while valid, then
 * the all-arenas index if valid; SIZE_MAX starts and ends the sequence. */
static size_t next_index(const ctl_node_t *n, size_t i)
{
    size_t next = i == SIZE_MAX ? 0 : i + 1;
    if (next < MAX_ARENAS && tai_ctl_valid(n->index, next))
        return next;
    if (next <= MAX_ARENAS && tai_ctl_valid(n->index, MAX_ARENAS))
        return MAX_ARENAS;
    return SIZE_MAX;
}

/* Member k of n (its position, or its index): name NULL for an index. */
static const ctl_node_t *member_at(const ctl_node_t *n, size_t k, const char **name)
{
    const ctl_node_t *kid = tai_ctl_kid(n, k);
    *name = n->index != CTL_INDEX_NONE ? NULL : tai_ctl_str(kid->name);
    return kid;
}

/* The first member of n, or SIZE_MAX; then the one after k. */
static size_t next_member(const ctl_node_t *n, size_t k)
{
    if (n->index != CTL_INDEX_NONE)
        return next_index(n, k);
    size_t next = k == SIZE_MAX ? 0 : k + 1;
    return next < n->nkids ? next : SIZE_MAX;
}

static bool any_value(walk_t *w, const ctl_node_t *n, size_t depth);

/* The live filter of a CTL_LIVE node's kind. */
static bool live(const ctl_node_t *n, const size_t *mib, size_t depth)
{
    switch (n->index) {
    case CTL_INDEX_arena:
        return tai_ctl_stats_arena_live(mib, depth);
    case CTL_INDEX_bin:
        return tai_ctl_stats_bin_live(mib, depth);
    default:
        return tai_ctl_stats_lextent_live(mib, depth);
    }
}

/* Places member k at depth in the walk's MIB; false if omitted or, for
 * an index the node's filter knows, not live. */
static bool enter(walk_t *w, const ctl_node_t *n, size_t k, size_t depth,
                  const ctl_node_t **kid)
{
    const char *name;
    *kid = member_at(n, k, &name);
    if (omitted(w, depth, name, k))
        return false;
    w->mib[depth] = k;
    w->names[depth] = name;
    return !(n->flags & CTL_LIVE) || live(n, w->mib, depth);
}

/* Whether anything below n (at depth components) can be read now. */
static bool any_value(walk_t *w, const ctl_node_t *n, size_t depth)
{
    ta_ctl_value v;
    if (tai_ctl_is_leaf(n))
        return read_leaf(w, n, &v);
    if (depth >= CTL_MAX_DEPTH)
        return false;
    const ctl_node_t *kid;
    for (size_t k = next_member(n, SIZE_MAX); k != SIZE_MAX; k = next_member(n, k))
        if (enter(w, n, k, depth, &kid) && any_value(w, kid, depth + 1))
            return true;
    return false;
}

/* n sits at depth components; its members go one level deeper. */
static void walk_kids(walk_t *w, const ctl_node_t *n, size_t depth)
{
    const ctl_node_t *kid;
    if (depth >= CTL_MAX_DEPTH)
        return;
    for (size_t k = next_member(n, SIZE_MAX); k != SIZE_MAX; k = next_member(n, k)) {
        if (!enter(w, n, k, depth, &kid))
            continue;
        const char *name = w->names[depth];
        if (tai_ctl_is_leaf(kid)) {
            ta_ctl_value v;
            if (read_leaf(w, kid, &v))
                w->vis->value(w->opaque, name, k, kid->type, &v);
            continue;
        }
        /* Filtered nodes show their live members only, so they open even
         * when none is (an arena's "bins" before its first small block). */
        if (!(n->flags & CTL_LIVE) && !(kid->flags & CTL_LIVE) && !any_value(w, kid, depth + 1))
            continue;
        w->vis->open(w->opaque, name, k);
        walk_kids(w, kid, depth + 1);
        w->vis->close(w->opaque);
    }
}

/* The names of a resolved prefix, which the omission rules look at. */
static void name_prefix(walk_t *w, size_t depth)
{
    const ctl_node_t *n = CTL_ROOT;
    for (size_t d = 0; d < depth; d++)
        n = member_at(n, w->mib[d], &w->names[d]);
}

int ta_ctl_walk(const char *node, const char *omit, const ta_ctl_visitor *visitor, void *opaque)
{
    if (node == NULL || visitor == NULL || !visitor->open || !visitor->close || !visitor->value)
        return EFAULT;
    if (!tai_ensure_init())
        return EAGAIN;
    walk_t w = {.omit = omit ? omit : "", .vis = visitor, .opaque = opaque};
    size_t depth;
    const ctl_node_t *n;
    int rc = tai_ctl_resolve(node, w.mib, &depth, &n);
    if (rc)
        return rc;
    if (tai_ctl_is_leaf(n))
        return EINVAL;
    name_prefix(&w, depth);
    walk_kids(&w, n, depth);
    return 0;
}
