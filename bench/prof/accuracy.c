/* Accuracy of the sampled heap profile: sites of known sizes allocate a
 * known number of blocks and keep them; each site's estimated live bytes
 * (through a frames hook naming the site) is compared with the truth
 * (blocks x usable size). One JSON line per run, with each site's
 * usable size and block count, from which the spread that sampling alone
 * gives follows:
 *   accuracy SEED SAMPLE_BYTES MIB_PER_SITE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunalloc.h"

static const size_t SIZES[] = {24, 200, 3000, 40000, 1 << 20};
#define NSITES (sizeof(SIZES) / sizeof(SIZES[0]))
static const char *const NAMES[NSITES] = {"s24", "s200", "s3000", "s40000", "s1m"};
static int current = -1;

static int hook(void *ctx, ta_tcache_t *cache, ta_prof_frame *out, int max)
{
    (void)ctx;
    (void)cache;
    if (current < 0 || max < 1)
        return 0;
    out[0] = (ta_prof_frame){NAMES[current], "accuracy.c", current};
    return 1;
}

static double est[NSITES];
static unsigned long long samples[NSITES];

static int visit(void *arg, const ta_prof_stack *s)
{
    (void)arg;
    for (unsigned i = 0; i < NSITES; i++)
        if (s->n_frames && !strcmp(s->frames[0].function, NAMES[i])) {
            est[i] += s->live_bytes_est;
            samples[i] += s->live_blocks;
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: accuracy SEED SAMPLE_BYTES MIB_PER_SITE\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 10);
    size_t rate = strtoull(argv[2], NULL, 10), per_site = strtoull(argv[3], NULL, 10) << 20;
    bool on = true;
    if (ta_ctl("prof.seed", NULL, NULL, &seed, sizeof(seed)) ||
        ta_ctl("prof.sample_bytes", NULL, NULL, &rate, sizeof(rate)))
        return 1;
    ta_prof_set_frames_hook(hook, NULL);
    ta_ctl("prof.active", NULL, NULL, &on, sizeof(on));
    double truth[NSITES];
    void **blocks[NSITES];
    size_t n[NSITES];
    /* the sites interleave, as a program's would */
    for (unsigned i = 0; i < NSITES; i++) {
        n[i] = per_site / SIZES[i];
        blocks[i] = malloc(n[i] * sizeof(void *));
        if (!blocks[i])
            return 1;
    }
    for (size_t k = 0;; k++) {
        bool any = false;
        for (unsigned i = 0; i < NSITES; i++) {
            size_t per_round = n[i] / 1000 ? n[i] / 1000 : 1;
            for (size_t j = k * per_round; j < (k + 1) * per_round && j < n[i]; j++) {
                current = (int)i;
                blocks[i][j] = ta_malloc(SIZES[i]);
                current = -1;
                any = true;
            }
        }
        if (!any)
            break;
    }
    ta_prof_read(visit, NULL);
    printf("{\"seed\": %llu, \"sample_bytes\": %zu, \"sites\": [", (unsigned long long)seed, rate);
    for (unsigned i = 0; i < NSITES; i++) {
        size_t usize = ta_malloc_usable_size(blocks[i][0]);
        truth[i] = (double)n[i] * (double)usize;
        printf("%s{\"size\": %zu, \"usize\": %zu, \"blocks\": %zu, \"truth\": %.0f, "
               "\"estimate\": %.0f, \"samples\": %llu}",
               i ? ", " : "", SIZES[i], usize, n[i], truth[i], est[i], samples[i]);
    }
    printf("]}\n");
    for (unsigned i = 0; i < NSITES; i++) {
        for (size_t j = 0; j < n[i]; j++)
            ta_free(blocks[i][j]);
        free(blocks[i]);
    }
    return 0;
}
