/*
 * Per-sample uncertainty: data uncertainty from mined triplets and model
 * uncertainty from T stochastic forward passes.
 */

/*
 * Data uncertainty of sample b: the mean over channels of
 * (var(mu) + var(sigma)) / 2, unbiased variances over {b, p(b), n(b)}.
 * stats is [2, B, C], mined int32 [2, B]. Writes value [B] and adds it to
 * sum[sample_index[b]] with count[...] += 1. One work-item walks the batch
 * in order, so repeated dataset indices within a batch add up correctly.
 */
__kernel void triplet_data_uncertainty(int batch, int channels, __global const float *stats,
                                       __global const int *mined,
                                       __global const int *sample_index, __global float *value,
                                       __global float *sum, __global int *count)
{
    if (get_global_id(0) != 0)
        return;
    int rows = batch * channels;
    for (int b = 0; b < batch; b++) {
        int member[3] = {b, mined[b], mined[batch + b]};
        float total = 0.0f;
        for (int c = 0; c < channels; c++) {
            for (int s = 0; s < 2; s++) {
                __global const float *stat = stats + s * rows + c;
                float a0 = stat[member[0] * channels], a1 = stat[member[1] * channels];
                float a2 = stat[member[2] * channels];
                float mean = (a0 + a1 + a2) / 3.0f;
                float d0 = a0 - mean, d1 = a1 - mean, d2 = a2 - mean;
                float variance = (d0 * d0 + d1 * d1 + d2 * d2) / 2.0f;
                total += 0.5f * variance;
            }
        }
        float u = total / (float)channels;
        value[b] = u;
        int slot = sample_index[b];
        sum[slot] += u;
        count[slot] += 1;
    }
}

/* log-sum-exp of each row of logits [T, N, K] into lse [T, N]. */
__kernel void mc_log_normalizer(int rows, int classes, __global const float *logits,
                                __global float *lse)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *row = logits + (size_t)r * classes;
    float peak = row[0];
    for (int k = 1; k < classes; k++)
        peak = fmax(peak, row[k]);
    float sum = 0.0f;
    for (int k = 0; k < classes; k++)
        sum += exp(row[k] - peak);
    lse[r] = peak + log(sum);
}

/*
 * For sample n over T passes of softmax p_t: predictive entropy H(mean_t p_t)
 * into out[n] and mutual information H(mean_t p_t) - mean_t H(p_t) into
 * out[N + n], in nats. The difference is clamped at 0 against rounding.
 */
__kernel void mc_uncertainty(int passes, int batch, int classes, __global const float *logits,
                             __global const float *lse, __global float *out)
{
    int n = get_global_id(0);
    if (n >= batch)
        return;
    float expected_entropy = 0.0f;
    for (int t = 0; t < passes; t++) {
        __global const float *row = logits + ((size_t)t * batch + n) * classes;
        float norm = lse[t * batch + n];
        float h = 0.0f;
        for (int k = 0; k < classes; k++) {
            float log_p = row[k] - norm;
            h -= exp(log_p) * log_p;
        }
        expected_entropy += h;
    }
    expected_entropy /= (float)passes;

    float entropy = 0.0f;
    for (int k = 0; k < classes; k++) {
        float mean_p = 0.0f;
        for (int t = 0; t < passes; t++)
            mean_p += exp(logits[((size_t)t * batch + n) * classes + k] - lse[t * batch + n]);
        mean_p /= (float)passes;
        if (mean_p > 0.0f)
            entropy -= mean_p * log(mean_p);
    }
    out[n] = entropy;
    out[batch + n] = fmax(entropy - expected_entropy, 0.0f);
}
