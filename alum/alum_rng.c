#include "alum/alum_rng.h"

#include <math.h>

#define RNG_PHI 0x9E3779B97F4A7C15ull

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t alum_rng_key(uint64_t seed, uint64_t step, uint32_t module, uint32_t stream)
{
    uint64_t key = mix64(seed + RNG_PHI);
    key = mix64(key ^ (step + RNG_PHI));
    return mix64(key ^ ((((uint64_t)module << 32) | stream) + RNG_PHI));
}

uint64_t alum_rng_bits(uint64_t key, uint64_t counter)
{
    return mix64(key + (counter + 1) * RNG_PHI);
}

float alum_rng_uniform(uint64_t key, uint64_t counter)
{
    return (float)(alum_rng_bits(key, counter) >> 40) * 0x1.0p-24f;
}

float alum_rng_normal(uint64_t key, uint64_t i)
{
    float u1 = (float)((alum_rng_bits(key, 2 * i) >> 40) + 1) * 0x1.0p-24f;
    float u2 = (float)(alum_rng_bits(key, 2 * i + 1) >> 40) * 0x1.0p-24f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

int alum_rng_fill_normal(rt_context *ctx, rt_tensor *out, uint64_t key)
{
    if (out->dtype != RT_F32 || out->numel > (size_t)INT32_MAX)
        return rt_set_error(RT_ERR_INVALID,
                            "alum_rng_fill_normal: tensor %s must be float32 with at most "
                            "2^31-1 elements",
                            out->name);
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_draw_normal", &k));
    cl_ulong cl_key = key;
    cl_int n = (cl_int)out->numel;
    RT_ARG(ctx, k, 0, cl_key);
    RT_ARG(ctx, k, 1, n);
    RT_ARG(ctx, k, 2, out->buf);
    size_t global = out->numel;
    return rt_launch(ctx, k, "dsu_draw_normal", 1, &global, NULL);
}
