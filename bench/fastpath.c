/* Fast-path microbenchmark: malloc+free pairs of 16..1024 bytes, freed at
 * once (thread-cache hit), with a sized free, or in batches that overflow
 * small per-bin caches. Models the allocation pattern of most C/C++ code. */
#include <stdint.h>

#include "alloc_api.h"
#include "common.h"

enum { MODE_IMM, MODE_SIZED, MODE_BATCH };
static const char *const modes[] = {"imm", "sized", "batch", NULL};

static unsigned mode = MODE_IMM;
static uint64_t pairs = 10000000, size = 0, threads = 1, batch = 100;

static const bench_opt opts[] = {
    {"mode", "imm: free at once, sized: free_sized at once, batch: free in batches",
     NULL, 0, 0, modes, &mode},
    {"n", "malloc+free pairs per thread", &pairs, 1, UINT64_MAX >> 1, NULL, NULL},
    {"size", "block size; 0 cycles through 16..1024 in steps of 16", &size, 0,
     1 << 20, NULL, NULL},
    {"batch", "blocks allocated before freeing them (mode=batch)", &batch, 1, 1 << 20,
     NULL, NULL},
    {"threads", "independent threads doing the same", &threads, 1, 256, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Observed by nobody, but the compiler cannot prove that, so it cannot
 * delete a malloc/free pair whose block is never used. Per thread, so
 * threads neither race on it nor share its cache line. */
static _Thread_local volatile uintptr_t sink;

/* Cycling sizes keeps several size classes hot, as real code does. */
static inline size_t size_at(uint64_t i)
{
    return size ? (size_t)size : (size_t)(16 + (i & 63) * 16);
}

/* Touches the block so a lazily-mapped allocator pays for it. */
static inline void use(char *p, uint64_t i)
{
    if (!p)
        bench_fail("malloc(%zu) returned NULL", size_at(i));
    p[0] = (char)i;
    sink = (uintptr_t)p;
}

/* malloc then free at once, with or without the size. */
static void run_immediate(int sized)
{
    for (uint64_t i = 0; i < pairs; i++) {
        size_t n = size_at(i);
        char *p = bench_malloc(n);
        use(p, i);
        if (sized)
            bench_free_sized(p, n);
        else
            bench_free(p);
    }
}

/* Allocates `batch` blocks, checks their tags and frees them in
 * allocation order, which drains a cache bin from the other end. */
static void run_batch(char **slot)
{
    uint64_t done = 0;
    while (done < pairs) {
        uint64_t k = pairs - done < batch ? pairs - done : batch;
        for (uint64_t j = 0; j < k; j++) {
            slot[j] = bench_malloc(size_at(done + j));
            use(slot[j], done + j);
        }
        for (uint64_t j = 0; j < k; j++) {
            if (slot[j][0] != (char)(done + j))
                bench_fail("block %llu was overwritten", (unsigned long long)(done + j));
            bench_free(slot[j]);
        }
        done += k;
    }
}

/* Thread body: the slot array comes from the allocator too, once. */
static void *worker(void *arg)
{
    (void)arg;
    if (mode != MODE_BATCH) {
        run_immediate(mode == MODE_SIZED);
        return NULL;
    }
    char **slot = bench_malloc(batch * sizeof *slot);
    if (!slot)
        bench_fail("cannot allocate the batch array");
    run_batch(slot);
    bench_free(slot);
    return NULL;
}

/* Times only the allocation loop; start-up is excluded. */
int main(int argc, char **argv)
{
    bench_parse("fastpath", argc, argv, opts, NOPTS);
    bench_alloc_init();
    double t0 = bench_now();
    if (threads == 1)
        worker(NULL);
    else
        bench_threads((unsigned)threads, worker, NULL, 0);
    double t = bench_now() - t0;
    bench_json_begin("fastpath", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", pairs * threads);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(pairs * threads));
    bench_json_end();
    return 0;
}
