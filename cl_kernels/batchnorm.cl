/*
 * Batch normalisation over [N, C, H, W] with per-channel statistics, as
 * PyTorch's BatchNorm2d. Reductions run one work-item per channel in a fixed
 * order (no atomics), so results are deterministic.
 */

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
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * HW;
        float partial = 0.0f;
        for (int p = 0; p < HW; p++)
            partial += row[p];
        sum += partial;
    }
    float mean = sum / count;

    float sq = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * HW;
        float partial = 0.0f;
        for (int p = 0; p < HW; p++) {
            float d = row[p] - mean;
            partial = fma(d, d, partial);
        }
        sq += partial;
    }
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
 * forward pass fused a ReLU.
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
        float part_g = 0.0f, part_gx = 0.0f;
        for (int p = 0; p < HW; p++) {
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
