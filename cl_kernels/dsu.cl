/*
 * Feature-statistics perturbation (DSU) and its counter-based normal draws.
 *
 * Shape legend: B samples, C channels, N = H*W positions per channel,
 * G scale groups (1 = one scale per channel, B = one scale per sample),
 * M members per group. stats is [2, B, C] (mu, then sigma); scales is
 * [4, G, C] (s_mu, s_sigma, then the group means of mu and sigma, which the
 * backward pass reuses). Every work-item owns one output row, so every sum
 * runs in a fixed order and results do not depend on scheduling.
 */

/* splitmix64 output function; must match alum_rng.c bit for bit. */
static ulong rng_mix64(ulong z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    return z ^ (z >> 31);
}

static ulong rng_bits(ulong key, ulong counter)
{
    return rng_mix64(key + (counter + 1UL) * 0x9E3779B97F4A7C15UL);
}

/* out[i] ~ N(0, 1) by Box-Muller from counters 2i and 2i+1 of key. */
__kernel void dsu_draw_normal(ulong key, int n, __global float *out)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float u1 = (float)((rng_bits(key, 2UL * (ulong)i) >> 40) + 1UL) * 0x1.0p-24f;
    float u2 = (float)(rng_bits(key, 2UL * (ulong)i + 1UL) >> 40) * 0x1.0p-24f;
    out[i] = sqrt(-2.0f * log(u1)) * cos(6.283185307179586f * u2);
}

/* mu and sigma = sqrt(unbiased variance + eps) of each (b, c) row; sigma = sqrt(eps) when N = 1. */
__kernel void dsu_stats(int rows, int n, float eps, __global const float *x,
                        __global float *stats)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *row = x + (size_t)r * n;
    float sum = 0.0f;
    for (int k = 0; k < n; k++)
        sum += row[k];
    float mu = sum / (float)n;
    float ss = 0.0f;
    for (int k = 0; k < n; k++) {
        float d = row[k] - mu;
        ss = fma(d, d, ss);
    }
    stats[r] = mu;
    stats[rows + r] = sqrt((n > 1 ? ss / (float)(n - 1) : 0.0f) + eps);
}

/*
 * Scales of group g and channel c: sqrt(unbiased variance over the M members
 * index[g, m] of mu (and of sigma) + eps). M >= 2.
 */
__kernel void dsu_scales(int groups, int members, int batch, int channels, float eps,
                         __global const float *stats, __global const int *index,
                         __global float *scales)
{
    int id = get_global_id(0);
    if (id >= groups * channels)
        return;
    int g = id / channels, c = id % channels;
    int rows = batch * channels, cells = groups * channels;
    __global const int *member = index + (size_t)g * members;

    float sum_mu = 0.0f, sum_sigma = 0.0f;
    for (int m = 0; m < members; m++) {
        int j = member[m] * channels + c;
        sum_mu += stats[j];
        sum_sigma += stats[rows + j];
    }
    float mean_mu = sum_mu / (float)members, mean_sigma = sum_sigma / (float)members;

    float ss_mu = 0.0f, ss_sigma = 0.0f;
    for (int m = 0; m < members; m++) {
        int j = member[m] * channels + c;
        float dm = stats[j] - mean_mu, ds = stats[rows + j] - mean_sigma;
        ss_mu = fma(dm, dm, ss_mu);
        ss_sigma = fma(ds, ds, ss_sigma);
    }
    scales[id] = sqrt(ss_mu / (float)(members - 1) + eps);
    scales[cells + id] = sqrt(ss_sigma / (float)(members - 1) + eps);
    scales[2 * cells + id] = mean_mu;
    scales[3 * cells + id] = mean_sigma;
}

/*
 * y = gamma * (x - mu) / sigma + beta in place, with beta = mu + e1 * s_mu and
 * gamma = sigma + e2 * s_sigma; the input is copied to saved for backward.
 * draws is [2, B, C] (e1, then e2).
 */
__kernel void dsu_apply(int batch, int channels, int groups, int n, __global float *x,
                        __global float *saved, __global const float *stats,
                        __global const float *scales, __global const float *draws)
{
    int r = get_global_id(0);
    int rows = batch * channels;
    if (r >= rows)
        return;
    int b = r / channels, c = r % channels;
    int cell = (groups == 1 ? 0 : b) * channels + c, cells = groups * channels;
    float mu = stats[r], sigma = stats[rows + r];
    float beta = fma(draws[r], scales[cell], mu);
    float gamma = fma(draws[rows + r], scales[cells + cell], sigma);
    float a = gamma / sigma;
    float shift = beta - a * mu;
    __global float *row = x + (size_t)r * n;
    __global float *keep = saved + (size_t)r * n;
    for (int k = 0; k < n; k++) {
        float v = row[k];
        keep[k] = v;
        row[k] = fma(a, v, shift);
    }
}

/* Per row: grad[r] = sum of dy (d loss / d beta), grad[rows + r] = sum of dy * xhat. */
__kernel void dsu_grad_reduce(int rows, int n, __global const float *dy,
                              __global const float *saved, __global const float *stats,
                              __global float *grad)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    float mu = stats[r], inv_sigma = 1.0f / stats[rows + r];
    __global const float *drow = dy + (size_t)r * n;
    __global const float *xrow = saved + (size_t)r * n;
    float sum = 0.0f, sum_xhat = 0.0f;
    for (int k = 0; k < n; k++) {
        sum += drow[k];
        sum_xhat = fma(drow[k], (xrow[k] - mu) * inv_sigma, sum_xhat);
    }
    grad[r] = sum;
    grad[rows + r] = sum_xhat;
}

/* Scale gradients [2, G, C]: d s_mu = sum of dbeta * e1 over the group's users, likewise s_sigma. */
__kernel void dsu_grad_scales(int batch, int channels, int groups, __global const float *grad,
                              __global const float *draws, __global float *grad_scales)
{
    int id = get_global_id(0);
    int cells = groups * channels, rows = batch * channels;
    if (id >= cells)
        return;
    int g = id / channels, c = id % channels;
    float d_mu = 0.0f, d_sigma = 0.0f;
    int first = groups == 1 ? 0 : g, last = groups == 1 ? batch : g + 1;
    for (int b = first; b < last; b++) {
        int r = b * channels + c;
        d_mu = fma(grad[r], draws[r], d_mu);
        d_sigma = fma(grad[rows + r], draws[rows + r], d_sigma);
    }
    grad_scales[id] = d_mu;
    grad_scales[cells + id] = d_sigma;
}

/*
 * Per row (j, c): the total gradients of mu and sigma, through beta, gamma and
 * every scale group that lists j as a member (d s / d a_j = (a_j - mean) /
 * ((M - 1) s)), minus the parts the normalised map contributes. Writes
 * coef[r] = G_mu and coef[rows + r] = G_sigma for dsu_grad_input.
 */
__kernel void dsu_grad_stats(int batch, int channels, int groups, int members,
                             __global const float *stats, __global const float *scales,
                             __global const float *draws, __global const int *index,
                             __global const float *grad, __global const float *grad_scales,
                             __global float *coef)
{
    int r = get_global_id(0);
    int rows = batch * channels, cells = groups * channels;
    if (r >= rows)
        return;
    int j = r / channels, c = r % channels;
    float mu = stats[r], sigma = stats[rows + r];

    float d_mu = grad[r], d_sigma = grad[rows + r];
    float inv_m1 = 1.0f / (float)(members - 1);
    for (int g = 0; g < groups; g++) {
        int cell = g * channels + c;
        float w_mu = grad_scales[cell] * inv_m1 / scales[cell];
        float w_sigma = grad_scales[cells + cell] * inv_m1 / scales[cells + cell];
        float dev_mu = mu - scales[2 * cells + cell];
        float dev_sigma = sigma - scales[3 * cells + cell];
        __global const int *member = index + (size_t)g * members;
        for (int m = 0; m < members; m++)
            if (member[m] == j) {
                d_mu = fma(w_mu, dev_mu, d_mu);
                d_sigma = fma(w_sigma, dev_sigma, d_sigma);
            }
    }

    int cell = (groups == 1 ? 0 : j) * channels + c;
    float gamma = fma(draws[rows + r], scales[cells + cell], sigma);
    float a = gamma / sigma;
    coef[r] = d_mu - a * grad[r];
    coef[rows + r] = d_sigma - a * grad[rows + r];
}

/* dx = (gamma / sigma) dy + G_mu / N + G_sigma * xhat / (N - 1), written over dy. */
__kernel void dsu_grad_input(int batch, int channels, int groups, int n, __global float *dy,
                             __global const float *saved, __global const float *stats,
                             __global const float *scales, __global const float *draws,
                             __global const float *coef)
{
    int r = get_global_id(0);
    int rows = batch * channels, cells = groups * channels;
    if (r >= rows)
        return;
    int b = r / channels, c = r % channels;
    int cell = (groups == 1 ? 0 : b) * channels + c;
    float mu = stats[r], sigma = stats[rows + r];
    float inv_sigma = 1.0f / sigma;
    float a = fma(draws[rows + r], scales[cells + cell], sigma) * inv_sigma;
    float from_mu = coef[r] / (float)n;
    float from_sigma = coef[rows + r] * inv_sigma / (float)(n - 1);
    __global float *drow = dy + (size_t)r * n;
    __global const float *xrow = saved + (size_t)r * n;
    for (int k = 0; k < n; k++)
        drow[k] = fma(a, drow[k], fma(from_sigma, xrow[k] - mu, from_mu));
}
