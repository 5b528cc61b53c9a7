/*
 * Deterministic random numbers for data loading, noise and sampling.
 *
 * Every random decision in the data pipeline comes from a stream seeded by a
 * hash of (seed, stream tag, epoch, index), so a result depends only on those
 * values and never on thread scheduling. The generator is splitmix64.
 */
#ifndef ALUMCL_APP_DATA_RNG_H
#define ALUMCL_APP_DATA_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} app_rng;

/* Advances the state and returns the next 64 random bits (splitmix64). */
static inline uint64_t app_rng_next(app_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Seeds a stream from a seed, a tag naming its use, an epoch and a sample index. */
static inline app_rng app_rng_for(uint64_t seed, uint64_t tag, int64_t epoch, int64_t index)
{
    app_rng rng = {seed ^ (tag * 0xd1b54a32d192ed03ULL)};
    rng.state ^= app_rng_next(&rng) + (uint64_t)epoch * 0x8cb92ba72f3d8dd7ULL;
    rng.state ^= app_rng_next(&rng) + (uint64_t)index * 0xaef17502108ef2d9ULL;
    app_rng_next(&rng);
    return rng;
}

/* Returns a uniform double in [0, 1) with 53 random bits. */
static inline double app_rng_uniform(app_rng *rng)
{
    return (double)(app_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Returns a uniform integer in [0, n) for n > 0, without modulo bias. */
static inline uint64_t app_rng_below(app_rng *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = app_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

/* Stream tags, so that noise, sampling and augmentation never share a stream. */
enum {
    APP_RNG_TAG_NOISE = 1,
    APP_RNG_TAG_SHUFFLE = 2,
    APP_RNG_TAG_AUGMENT = 3,
    APP_RNG_TAG_SUBSET = 4,
    APP_RNG_TAG_PK = 5,
};

#endif
