/* Per-sample training records, scattered into dataset-sized arrays by index. */

/*
 * For each sample b of a batch (logits [n, k], labels and dataset indices [n],
 * per-sample losses [n]) stores at its dataset index: the loss, the predicted
 * class, the softmax probability of its training label and the epoch number
 * plus one (so 0 means never seen).
 */
__kernel void record_samples(int n, int k, __global const float *logits,
                             __global const int *labels, __global const int *indices,
                             __global const float *loss, float epoch_tag,
                             __global float *sample_loss, __global float *sample_pred,
                             __global float *sample_prob, __global float *sample_seen)
{
    int b = get_global_id(0);
    if (b >= n)
        return;
    __global const float *row = logits + (size_t)b * k;
    int best = 0;
    float max_logit = row[0];
    for (int j = 1; j < k; j++)
        if (row[j] > max_logit) {
            max_logit = row[j];
            best = j;
        }
    float denom = 0.0f;
    for (int j = 0; j < k; j++)
        denom += exp(row[j] - max_logit);
    int label = clamp(labels[b], 0, k - 1);
    int dst = indices[b];
    sample_loss[dst] = loss[b];
    sample_pred[dst] = (float)best;
    sample_prob[dst] = exp(row[label] - max_logit) / denom;
    sample_seen[dst] = epoch_tag;
}
