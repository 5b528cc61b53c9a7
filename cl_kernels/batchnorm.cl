/*
 * Batch normalisation over [N, C, H, W] with per-channel statistics, as
 * PyTorch's BatchNorm2d. Reductions run one work-item per channel in a fixed
 * order (no atomics), so results are deterministic.
 */

/*
 * Row reductions with eight independent accumulators, so that the loop is not
 * bound by the latency of one chain of dependent additions. The order is fixed
 * by the row length alone, so results are deterministic.
 */
inline float row_sum(__global const float *row, int n)
{
    float8 acc = (float8)(0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc += vload8(0, row + i);
    float sum = ((acc.s0 + acc.s1) + (acc.s2 + acc.s3)) + ((acc.s4 + acc.s5) + (acc.s6 + acc.s7));
    for (; i < n; i++)
        sum += row[i];
    return sum;
}

/* Returns the sum of (row[i] - mean)^2. */
inline float row_sum_squared_deviation(__global const float *row, int n, float mean)
{
    float8 acc = (float8)(0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        float8 d = vload8(0, row + i) - mean;
        acc = fma(d, d, acc);
    }
    float sum = ((acc.s0 + acc.s1) + (acc.s2 + acc.s3)) + ((acc.s4 + acc.s5) + (acc.s6 + acc.s7));
    for (; i < n; i++) {
        float d = row[i] - mean;
        sum = fma(d, d, sum);
    }
    return sum;
}

/*
 * Computes the batch mean and biased variance of channel c with two passes,
 * stores mean and 1 / sqrt(var + eps) for the backward pass, and updates the
 * running averages with the unbiased variance (var * M / (M - 1), M = N * HW).
 */
__kernel void bn_batch_stats(int N, int C, int HW, float momentum, float eps,
                             __global const float *x, __global float *save_mean,
                             __global float *save_invstd, __global float *running_mean,
                             __global float *running_var)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    float count = (float)N * (float)HW;

    float sum = 0.0f;
    for (int n = 0; n < N; n++)
        sum += row_sum(x + ((size_t)n * C + c) * HW, HW);
    float mean = sum / count;

    float sq = 0.0f;
    for (int n = 0; n < N; n++)
        sq += row_sum_squared_deviation(x + ((size_t)n * C + c) * HW, HW, mean);
    float var = sq / count;

    save_mean[c] = mean;
    save_invstd[c] = rsqrt(var + eps);
    float unbiased = var * count / (count - 1.0f);
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
}

/* Copies the running statistics into save_mean and save_invstd for evaluation. */
__kernel void bn_running_stats(int C, float eps, __global const float *running_mean,
                               __global const float *running_var, __global float *save_mean,
                               __global float *save_invstd)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    save_mean[c] = running_mean[c];
    save_invstd[c] = rsqrt(running_var[c] + eps);
}

/*
 * y = (x - mean) * invstd * gamma + beta, then max(0, y) when relu is
 * non-zero. One work-item per (n, c) row of HW elements.
 */
__kernel void bn_normalize(int rows, int C, int HW, int relu, __global const float *x,
                           __global const float *mean, __global const float *invstd,
                           __global const float *gamma, __global const float *beta,
                           __global float *y)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    int c = r % C;
    float scale = gamma[c] * invstd[c];
    float shift = beta[c] - mean[c] * scale;
    __global const float *src = x + (size_t)r * HW;
    __global float *dst = y + (size_t)r * HW;
    if (relu) {
        for (int p = 0; p < HW; p++) {
            float v = fma(src[p], scale, shift);
            dst[p] = v < 0.0f ? 0.0f : v; /* NaN passes through, as in PyTorch */
        }
    } else {
        for (int p = 0; p < HW; p++)
            dst[p] = fma(src[p], scale, shift);
    }
}

/*
 * Per channel: dbeta = sum(g) and dgamma = sum(g * xhat) with
 * xhat = (x - mean) * invstd, where g = dy, or dy masked by y > 0 when the
 * forward pass fused a ReLU. Eight accumulators per sum, as in row_sum.
 */
__kernel void bn_backward_reduce(int N, int C, int HW, int relu, __global const float *x,
                                 __global const float *y, __global const float *dy,
                                 __global const float *mean, __global const float *invstd,
                                 __global float *dgamma, __global float *dbeta)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    float m = mean[c];
    float sum_g = 0.0f, sum_gx = 0.0f;
    for (int n = 0; n < N; n++) {
        size_t base = ((size_t)n * C + c) * HW;
        float8 acc_g = (float8)(0.0f), acc_gx = (float8)(0.0f);
        int p = 0;
        for (; p + 8 <= HW; p += 8) {
            float8 g = vload8(0, dy + base + p);
            if (relu)
                g = select((float8)(0.0f), g, isgreater(vload8(0, y + base + p), (float8)(0.0f)));
            acc_g += g;
            acc_gx = fma(g, vload8(0, x + base + p) - m, acc_gx);
        }
        float part_g = ((acc_g.s0 + acc_g.s1) + (acc_g.s2 + acc_g.s3)) +
                       ((acc_g.s4 + acc_g.s5) + (acc_g.s6 + acc_g.s7));
        float part_gx = ((acc_gx.s0 + acc_gx.s1) + (acc_gx.s2 + acc_gx.s3)) +
                        ((acc_gx.s4 + acc_gx.s5) + (acc_gx.s6 + acc_gx.s7));
        for (; p < HW; p++) {
            float g = dy[base + p];
            if (relu && !(y[base + p] > 0.0f))
                g = 0.0f;
            part_g += g;
            part_gx = fma(g, x[base + p] - m, part_gx);
        }
        sum_g += part_g;
        sum_gx += part_gx;
    }
    dbeta[c] = sum_g;
    dgamma[c] = sum_gx * invstd[c];
}

/*
 * dx for one (n, c) row. With batch statistics (batch_stats non-zero) the
 * gradient flows through the mean and variance:
 *   dx = gamma * invstd * (g - dbeta / M - xhat * dgamma / M), M = N * HW.
 * With running statistics they are constants: dx = gamma * invstd * g.
 */
__kernel void bn_backward_input(int rows, int C, int HW, int relu, int batch_stats, float count,
                                __global const float *x, __global const float *y,
                                __global const float *dy, __global const float *mean,
                                __global const float *invstd, __global const float *gamma,
                                __global const float *dgamma, __global const float *dbeta,
                                __global float *dx)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    int c = r % C;
    float is = invstd[c];
    float k = gamma[c] * is;
    float m = mean[c];
    float mean_g = batch_stats ? dbeta[c] / count : 0.0f;
    float mean_gx = batch_stats ? dgamma[c] / count : 0.0f;
    size_t base = (size_t)r * HW;
    for (int p = 0; p < HW; p++) {
        float g = dy[base + p];
        if (relu && !(y[base + p] > 0.0f))
            g = 0.0f;
        float xhat = (x[base + p] - m) * is;
        dx[base + p] = k * (g - mean_g - xhat * mean_gx);
    }
}
