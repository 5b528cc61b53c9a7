/*
 * Counter-based random numbers keyed by (seed, step, module, stream).
 *
 * A draw is a pure function of its key and its counter, so a run is
 * reproducible and resumes from a checkpoint with nothing stored beyond the
 * seed and the step. The host functions below and the dsu_draw_normal kernel
 * (cl_kernels/dsu.cl) compute the same bits. Normals differ only by the
 * float rounding of log and cos on each side.
 */
#ifndef ALUMCL_ALUM_RNG_H
#define ALUMCL_ALUM_RNG_H

#include <stdint.h>

#include "runtime/runtime.h"

/* Streams under one (seed, step, module): normal draws and the apply/skip coin. */
enum { ALUM_STREAM_NORMAL = 0, ALUM_STREAM_COIN = 1 };

/* Derives the key of one stream; module is the feature point (0..5) or another call site. */
uint64_t alum_rng_key(uint64_t seed, uint64_t step, uint32_t module, uint32_t stream);

/* Returns 64 random bits at counter of key (splitmix64 output of key + (counter + 1) * phi). */
uint64_t alum_rng_bits(uint64_t key, uint64_t counter);

/* Returns a uniform float in [0, 1) from counter of key. */
float alum_rng_uniform(uint64_t key, uint64_t counter);

/* Returns the i-th standard normal of key (Box-Muller on counters 2i and 2i+1), as the kernel. */
float alum_rng_normal(uint64_t key, uint64_t i);

/* Fills the float tensor out with standard normals i = 0..numel-1 of key on the device. */
int alum_rng_fill_normal(rt_context *ctx, rt_tensor *out, uint64_t key);

#endif
