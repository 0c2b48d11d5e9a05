/* Shared pieces of the libFuzzer targets: a reader that turns the fuzz
 * input into choices (running out of bytes reads zeros, so every input
 * is a valid program), and REQUIRE, which makes a broken property a crash
 * libFuzzer reports and keeps. */
#ifndef TA_FUZZ_H
#define TA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in_t;

static inline size_t fuzz_left(const fuzz_in_t *in) { return in->n; }

static inline uint8_t fuzz_u8(fuzz_in_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(fuzz_in_t *in)
{
    uint16_t lo = fuzz_u8(in);
    return (uint16_t)(lo | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(fuzz_in_t *in)
{
    uint32_t lo = fuzz_u16(in);
    return lo | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(fuzz_in_t *in)
{
    uint64_t lo = fuzz_u32(in);
    return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* Copies up to cap bytes of input into out (zeros past its end). */
static inline void fuzz_bytes(fuzz_in_t *in, void *out, size_t cap)
{
    size_t k = in->n < cap ? in->n : cap;
    memcpy(out, in->p, k);
    memset((char *)out + k, 0, cap - k);
    in->p += k;
    in->n -= k;
}

/* For the targets' own hot loops (pattern fills and checks): their
 * comparisons are no coverage worth steering by, and tracing them
 * costs more than the engine's work. */
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))

#define REQUIRE(cond)                                                                         \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#endif
