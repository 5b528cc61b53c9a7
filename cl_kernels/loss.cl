/*
 * Softmax cross-entropy with label smoothing, as PyTorch's
 * cross_entropy(logits, labels, label_smoothing=eps, reduction="mean"):
 *   loss_i = (1 - eps) * (-log p_iy) + (eps / K) * sum_k (-log p_ik)
 *          = lse_i - (1 - eps) * z_iy - (eps / K) * sum_k z_ik
 *   dloss_i / dz_ik = p_ik - (1 - eps) * [k == y] - eps / K
 */

/*
 * Runs as a single work-group of `local_size` work-items (a power of two).
 * Work-item l handles rows l, l + local_size, ... and the partial sums are
 * then reduced in local memory in a fixed tree order, so the mean loss and
 * correct count are deterministic. Labels outside 0..K-1 are clamped to the
 * nearest valid class so that a bad label cannot read out of bounds.
 * grad_scale_over_n multiplies dlogits (grad_scale / N for the mean loss).
 */
__kernel void softmax_xent(int N, int K, __global const float *logits,
                           __global const int *labels, float smoothing,
                           float grad_scale_over_n, int write_loss, __global float *loss,
                           int write_grad, __global float *dlogits, int write_stats,
                           __global float *stats,
                           __local float *partial_loss, __local float *partial_correct)
{
    int lid = get_local_id(0);
    int local_size = get_local_size(0);
    float loss_sum = 0.0f, correct = 0.0f;
    for (int i = lid; i < N; i += local_size) {
        __global const float *z = logits + (size_t)i * K;
        int y = clamp(labels[i], 0, K - 1);

        float zmax = z[0];
        int best = 0;
        float zsum = 0.0f;
        for (int k = 0; k < K; k++) {
            if (z[k] > zmax) {
                zmax = z[k];
                best = k;
            }
            zsum += z[k];
        }
        float expsum = 0.0f;
        for (int k = 0; k < K; k++)
            expsum += exp(z[k] - zmax);
        float lse = zmax + log(expsum);

        float li = lse - (1.0f - smoothing) * z[y] - smoothing / (float)K * zsum;
        loss_sum += li;
        correct += best == y ? 1.0f : 0.0f;
        if (write_loss)
            loss[i] = li;
        if (write_grad) {
            __global float *g = dlogits + (size_t)i * K;
            float inv = 1.0f / expsum;
            float uniform = smoothing / (float)K;
            for (int k = 0; k < K; k++) {
                float target = (k == y ? 1.0f - smoothing : 0.0f) + uniform;
                g[k] = (exp(z[k] - zmax) * inv - target) * grad_scale_over_n;
            }
        }
    }

    partial_loss[lid] = loss_sum;
    partial_correct[lid] = correct;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = local_size / 2; span > 0; span /= 2) {
        if (lid < span) {
            partial_loss[lid] += partial_loss[lid + span];
            partial_correct[lid] += partial_correct[lid + span];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0 && write_stats) {
        stats[0] = partial_loss[0] / (float)N;
        stats[1] = partial_correct[0];
    }
}
