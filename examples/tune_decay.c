/* Tuning decay by name, jemalloc-style, then printing statistics.
 *
 * Two manual arenas hold the same 4 MiB of freed memory: one never decays
 * (dirty_decay_ms -1) and keeps the pages until an explicit purge, the
 * other decays at once (0) and gives them back on free. The program prints
 * key=value lines, then the statistics report (JSON with --json).
 *
 *   build/examples/tune_decay
 *   TUNALLOC_CONF="dirty_decay_ms:5000,narenas:2" build/examples/tune_decay --json
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "tunalloc.h"

#define FREED_BYTES ((size_t)4 << 20)

/* Every call here must succeed; a failure names the control and exits. */
static void ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    int rc = ta_ctl(name, oldp, oldlenp, newp, newlen);
    if (rc != 0) {
        fprintf(stderr, "tune_decay: %s failed: %s\n", name, strerror(rc));
        exit(1);
    }
}

static size_t arena_stat(unsigned arena, const char *leaf)
{
    char name[96];
    size_t v = 0, len = sizeof(v);
    uint64_t epoch = 1;
    ctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
    snprintf(name, sizeof(name), "stats.arenas.%u.%s", arena, leaf);
    ctl(name, &v, &len, NULL, 0);
    return v;
}

static void print_options(void)
{
    ssize_t dirty, muzzy;
    unsigned narenas;
    bool background;
    size_t slen = sizeof(ssize_t), ulen = sizeof(unsigned), blen = sizeof(bool);
    ctl("opt.dirty_decay_ms", &dirty, &slen, NULL, 0);
    ctl("opt.muzzy_decay_ms", &muzzy, &slen, NULL, 0);
    ctl("opt.narenas", &narenas, &ulen, NULL, 0);
    ctl("opt.background_thread", &background, &blen, NULL, 0);
    printf("opt.dirty_decay_ms=%zd\nopt.muzzy_decay_ms=%zd\n", dirty, muzzy);
    printf("opt.narenas=%u\nopt.background_thread=%s\n", narenas, background ? "true" : "false");
}

/* A manual arena with both decay times set to decay_ms. */
static unsigned arena_with_decay(ssize_t decay_ms)
{
    unsigned arena;
    size_t len = sizeof(arena);
    char name[64];
    ctl("arenas.create", &arena, &len, NULL, 0);
    snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", arena);
    ctl(name, NULL, NULL, &decay_ms, sizeof(decay_ms));
    snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", arena);
    ctl(name, NULL, NULL, &decay_ms, sizeof(decay_ms));
    return arena;
}

/* Touches then frees FREED_BYTES in the arena, in 256 KiB blocks. */
static void churn(unsigned arena)
{
    ta_arena_t *a = ta_arena_get(arena);
    void *blocks[FREED_BYTES / (256 << 10)];
    for (size_t k = 0; k < sizeof(blocks) / sizeof(blocks[0]); k++) {
        blocks[k] = ta_arena_malloc(a, 256 << 10);
        if (blocks[k] == NULL) {
            fprintf(stderr, "tune_decay: out of memory\n");
            exit(1);
        }
        memset(blocks[k], 0x5a, 256 << 10);
    }
    for (size_t k = 0; k < sizeof(blocks) / sizeof(blocks[0]); k++)
        ta_free(blocks[k]);
}

static void write_stdout(void *opaque, const char *text)
{
    fputs(text, (FILE *)opaque);
}

int main(int argc, char **argv)
{
    bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
    print_options();

    unsigned keep = arena_with_decay(-1);
    churn(keep);
    printf("keep.arena=%u\nkeep.pdirty_after_free=%zu\n", keep, arena_stat(keep, "pdirty"));
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.purge", keep);
    ctl(name, NULL, NULL, NULL, 0);
    printf("keep.pdirty_after_purge=%zu\n", arena_stat(keep, "pdirty"));
    printf("keep.dirty_purged=%zu\n", arena_stat(keep, "dirty_purged"));

    unsigned eager = arena_with_decay(0);
    churn(eager);
    printf("eager.arena=%u\neager.pdirty_after_free=%zu\n", eager, arena_stat(eager, "pdirty"));
    printf("eager.pmuzzy_after_free=%zu\n", arena_stat(eager, "pmuzzy"));
    fflush(stdout);

    ta_stats_print(write_stdout, stdout, json ? "J" : "");
    return 0;
}
