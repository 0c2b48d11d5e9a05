/* pymalloc's arena hook: its 1 MiB arenas come from a dedicated tunalloc
 * arena, so pymalloc keeps small objects while decay, limits and stats
 * apply to the memory under it. */
#include <errno.h>
#include <stdatomic.h>

#include "hook.h"

static PyObjectArenaAllocator prev_arena;
_Atomic(ta_arena_t *) hook_backing;
static atomic_bool installed;
static atomic_bool active;

/* pymalloc asks for arenas with the GIL held; a NULL return makes it
 * report MemoryError, as with its own allocator. */
static void *arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (!atomic_load_explicit(&active, memory_order_relaxed))
        return prev_arena.alloc(prev_arena.ctx, size);
    return ta_arena_malloc(hook_arena_backing(), size);
}

/* Arenas made before enable (or after disable) return to their maker. */
static void arena_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (p == NULL)
        return;
    if (ta_owns(p))
        ta_free_sized(p, size);
    else
        prev_arena.free(prev_arena.ctx, p, size);
}

/* The backing arena is created once and lives as long as the process:
 * pymalloc may hold arenas from it until exit. */
static int ensure_backing(void)
{
    if (hook_arena_backing() != NULL)
        return 0;
    ta_arena_t *a = ta_arena_create(NULL);
    if (a == NULL)
        return errno ? errno : ENOMEM;
    atomic_store(&hook_backing, a);
    hook_refresh_fast_paths();
    return 0;
}

/* Called with the GIL held, as pymalloc's own arena calls are. */
int hook_arena_enable(void)
{
    int err = ensure_backing();
    if (err != 0)
        return err;
    if (!atomic_load(&installed)) {
        PyObject_GetArenaAllocator(&prev_arena);
        PyObjectArenaAllocator mine = {NULL, arena_alloc, arena_free};
        PyObject_SetArenaAllocator(&mine);
        atomic_store(&installed, true);
    }
    atomic_store(&active, true);
    return 0;
}

void hook_arena_disable(void) { atomic_store(&active, false); }

bool hook_arena_active(void) { return atomic_load(&active); }

bool hook_arena_installed(void) { return atomic_load(&installed); }
