/* Handlers of arenas.* (all arenas, size classes) and arena.<i>.* (one
 * arena, or all of them through index MAX_ARENAS where that makes sense). */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "background.h"
#include "conf.h"
#include "ctl.h"
#include "decay.h"
#include "init.h"
#include "opts.h"
#include "os.h"

/* The bound of every arena index, so loops over arenas can use it. */
int tai_ctl_arenas_narenas(ctl_io_t *io) { return tai_ctl_out_num(io, tai_ctl_narenas()); }

/* Through the public call so failures carry its errno (ENOMEM, EAGAIN
 * when every slot is taken). */
int tai_ctl_arenas_create(ctl_io_t *io)
{
    int saved = errno;
    errno = 0;
    ta_arena_t *a = ta_arena_create(NULL);
    int err = errno ? errno : ENOMEM;
    errno = saved;
    if (a == NULL)
        return err;
    return tai_ctl_out_num(io, ta_arena_index(a));
}

/* ta_arena_of is safe on any pointer, so a foreign one is just EINVAL. */
int tai_ctl_arenas_lookup(ctl_io_t *io)
{
    if (io->newp == NULL)
        return EINVAL;
    const void *p;
    memcpy(&p, io->newp, sizeof(p));
    ta_arena_t *a = ta_arena_of(p);
    if (a == NULL)
        return EINVAL;
    return tai_ctl_out_num(io, ta_arena_index(a));
}

/* Constants of this build and machine, shared by several leaves via arg. */
int tai_ctl_arenas_const(ctl_io_t *io)
{
    switch (io->node->arg) {
    case CTL_CONST_PAGE:
        return tai_ctl_out_num(io, tai_page);
    case CTL_CONST_QUANTUM:
        return tai_ctl_out_num(io, QUANTUM);
    case CTL_CONST_NBINS:
        return tai_ctl_out_num(io, NBINS);
    case CTL_CONST_NLEXTENTS:
        return tai_ctl_out_num(io, NLEXTENTS);
    default:
        return tai_ctl_out_num(io, TCACHE_MAX);
    }
}

/* Reads return the value before the write, as in jemalloc. */
static int decay_rw(ctl_io_t *io, _Atomic int64_t *slot)
{
    int64_t old = atomic_load_explicit(slot, memory_order_relaxed);
    if (io->newp) {
        int64_t v = tai_ctl_in_ssize(io);
        if (!tai_decay_ms_valid(v))
            return EINVAL;
        atomic_store_explicit(slot, v, memory_order_relaxed);
        tai_background_wake();
    }
    return tai_ctl_out_ssize(io, old);
}

/* The defaults new arenas copy at creation (arena_init reads them). */
int tai_ctl_arenas_decay(ctl_io_t *io)
{
    return decay_rw(io, io->node->arg == CTL_DIRTY ? &tai_default_dirty_decay_ms
                                                   : &tai_default_muzzy_decay_ms);
}

/* Slab geometry depends on the run-time page size, so it is read live. */
int tai_ctl_arenas_bin(ctl_io_t *io)
{
    const bin_info_t *b = &tai_bin_info[io->mib[2]];
    switch (io->node->arg) {
    case CTL_BIN_SIZE:
        return tai_ctl_out_num(io, b->size);
    case CTL_BIN_NREGS:
        return tai_ctl_out_num(io, b->nregs);
    default:
        return tai_ctl_out_num(io, (uint64_t)b->slab_pages * tai_page);
    }
}

/* Large class sizes are pure arithmetic on the class index. */
int tai_ctl_arenas_lextent(ctl_io_t *io)
{
    return tai_ctl_out_num(io, lextent_size((unsigned)io->mib[2]));
}

/* Automatic arenas exist lazily; create says whether to make one now.
 * NULL means no such arena (a destroyed or never-created slot). */
static arena_t *arena_at(size_t i, bool create)
{
    if (i >= MAX_ARENAS)
        return NULL;
    if (create && i < tai_narenas_auto)
        return tai_arena_get_or_create((unsigned)i);
    return atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
}

/* An automatic arena never created has nothing to purge; a manual slot
 * that is empty is an error, as in jemalloc's EFAULT. */
/* Under the global lock, so a concurrent destroy cannot free the arena
 * while it is purged; false if the slot holds none. */
static bool decay_slot(size_t i, bool force)
{
    mutex_lock(&tai_global_lock);
    arena_t *a = arena_at(i, false);
    if (a)
        tai_decay_run(a, force);
    mutex_unlock(&tai_global_lock);
    return a != NULL;
}

int tai_ctl_arena_decay_run(ctl_io_t *io)
{
    size_t i = io->mib[1];
    bool force = io->node->arg == CTL_PURGE;
    if (i == MAX_ARENAS) {
        unsigned n = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
        for (unsigned k = 0; k < n; k++)
            decay_slot(k, force);
        return 0;
    }
    if (!decay_slot(i, force))
        return i < tai_narenas_auto ? 0 : EFAULT;
    return 0;
}

/* MAX_ARENAS is not one arena, so reset and destroy refuse it. */
int tai_ctl_arena_reset(ctl_io_t *io)
{
    arena_t *a = arena_at(io->mib[1], false);
    return a ? tai_arena_reset(a) : EFAULT;
}

/* The engine refuses automatic arenas (EPERM) and bound ones (EBUSY). */
int tai_ctl_arena_destroy(ctl_io_t *io)
{
    arena_t *a = arena_at(io->mib[1], false);
    return a ? tai_arena_destroy_internal(a) : EFAULT;
}

/* arena_at for a handler that reads or writes the arena: a manual arena
 * comes with the global lock held, which destroy holds too, so it is not
 * freed while in use; arena_done(i) releases it. Automatic arenas are
 * never freed. */
static arena_t *arena_use(size_t i, bool create)
{
    if (i < tai_narenas_auto)
        return arena_at(i, create);
    mutex_lock(&tai_global_lock);
    return arena_at(i, false);
}

static void arena_done(size_t i)
{
    if (i >= tai_narenas_auto)
        mutex_unlock(&tai_global_lock);
}

/* Reading a setting of an automatic arena not created yet reports what it
 * will start with instead of creating it; writing creates it. */
int tai_ctl_arena_decay_ms(ctl_io_t *io)
{
    size_t i = io->mib[1];
    bool dirty = io->node->arg == CTL_DIRTY;
    arena_t *a = arena_use(i, io->newp != NULL);
    int err = a ? decay_rw(io, dirty ? &a->dirty_decay_ms : &a->muzzy_decay_ms) : EFAULT;
    arena_done(i);
    if (a || i >= tai_narenas_auto)
        return err;
    _Atomic int64_t *def = dirty ? &tai_default_dirty_decay_ms : &tai_default_muzzy_decay_ms;
    return tai_ctl_out_ssize(io, atomic_load_explicit(def, memory_order_relaxed));
}

/* The engine checks the limit on every growth, so storing it suffices. */
int tai_ctl_arena_limit(ctl_io_t *io)
{
    size_t i = io->mib[1];
    arena_t *a = arena_use(i, io->newp != NULL);
    size_t old = a ? atomic_load_explicit(&a->limit, memory_order_relaxed) : 0;
    if (a && io->newp) {
        size_t v;
        memcpy(&v, io->newp, sizeof(v));
        atomic_store_explicit(&a->limit, v, memory_order_relaxed);
    }
    arena_done(i);
    if (a == NULL)
        return i < tai_narenas_auto ? tai_ctl_out_num(io, tai_opt.arena_limit) : EFAULT;
    return tai_ctl_out_num(io, old);
}

/* Read-only twin of ta_arena_get: a plain load of the slot. */
ta_arena_t *ta_arena_find(unsigned index)
{
    if (index >= MAX_ARENAS || !tai_ensure_init())
        return NULL;
    return (ta_arena_t *)atomic_load_explicit(&tai_arenas[index], memory_order_acquire);
}
