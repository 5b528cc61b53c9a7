/*
 * Per-sample uncertainty: data uncertainty accumulated from mined triplets
 * and model uncertainty from T stochastic forward passes.
 */
#ifndef ALUMCL_ALUM_UNCERTAINTY_H
#define ALUMCL_ALUM_UNCERTAINTY_H

#include "runtime/runtime.h"

/* Running sums of the data uncertainty per dataset index, kept on the device. */
typedef struct alum_data_uncertainty {
    int dataset_size;
    rt_tensor sum;         /* [dataset_size] */
    rt_tensor count;       /* int32 [dataset_size]: how many times each index was seen */
    rt_tensor batch_value; /* [B]: values of the last batch */
} alum_data_uncertainty;

/* Allocates zeroed sums for dataset indices 0..dataset_size-1. */
int alum_data_uncertainty_init(rt_context *ctx, alum_data_uncertainty *u, int dataset_size);
void alum_data_uncertainty_free(alum_data_uncertainty *u);

/* Zeroes the sums and counts (for example at the start of a run). */
int alum_data_uncertainty_reset(alum_data_uncertainty *u);

/*
 * Adds, for every sample b of a batch, the mean over channels of
 * (var(mu) + var(sigma)) / 2, unbiased variances over its triplet
 * {b, p(b), n(b)}, to the entry of dataset index sample_index[b].
 * stats is [2, B, C] (mu, sigma), mined int32 [2, B], sample_index int32 [B]
 * with values in 0..dataset_size-1 (not checked on the device).
 */
int alum_data_uncertainty_add(rt_context *ctx, alum_data_uncertainty *u, const rt_tensor *stats,
                              const rt_tensor *mined, const rt_tensor *sample_index);

/*
 * Reads the mean value per dataset index into mean[dataset_size] (NaN for an
 * index never seen) and, when count is not NULL, the counts. Blocks until the
 * queue has produced them.
 */
int alum_data_uncertainty_read(const alum_data_uncertainty *u, float *mean, int *count);

/*
 * Predictive entropy and mutual information (nats) of each sample from T
 * passes: logits is [T, N, K] (softmax is applied here), out is [2, N]:
 * entropy of the mean softmax, then that entropy minus the mean per-pass
 * entropy. scratch is resized to [T, N] as needed.
 */
int alum_mc_uncertainty(rt_context *ctx, const rt_tensor *logits, rt_tensor *out,
                        rt_tensor *scratch);

#endif
