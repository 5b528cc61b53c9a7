#include "alum/alum_uncertainty.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alum/alum_dsu.h"

int alum_data_uncertainty_init(rt_context *ctx, alum_data_uncertainty *u, int dataset_size)
{
    memset(u, 0, sizeof *u);
    if (dataset_size < 1)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty: dataset size %d is invalid; pass the number of "
                            "training samples (>= 1)",
                            dataset_size);
    u->dataset_size = dataset_size;
    int shape[1] = {dataset_size};
    RT_TRY(rt_tensor_alloc(ctx, &u->sum, "uncertainty_sum", RT_F32, 1, shape));
    RT_TRY(rt_tensor_alloc(ctx, &u->count, "uncertainty_count", RT_I32, 1, shape));
    return alum_data_uncertainty_reset(u);
}

void alum_data_uncertainty_free(alum_data_uncertainty *u)
{
    rt_tensor_free(&u->sum);
    rt_tensor_free(&u->count);
    rt_tensor_free(&u->batch_value);
}

int alum_data_uncertainty_reset(alum_data_uncertainty *u)
{
    RT_TRY(rt_tensor_zero(&u->sum));
    return rt_tensor_zero(&u->count);
}

int alum_data_uncertainty_add(rt_context *ctx, alum_data_uncertainty *u, const rt_tensor *stats,
                              const rt_tensor *mined, const rt_tensor *sample_index)
{
    if (stats->ndim != 3 || stats->shape[0] != 2)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty: statistics %s must be [2, B, C] (mu, sigma)",
                            stats->name);
    cl_int batch = stats->shape[1], channels = stats->shape[2];
    if (mined->dtype != RT_I32 || mined->numel != 2 * (size_t)batch)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty: mined indices %s must be int32 "
                            "[2, %d]",
                            mined->name, batch);
    if (sample_index->dtype != RT_I32 || sample_index->numel != (size_t)batch)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty: sample indices %s must be int32 [%d]",
                            sample_index->name, batch);
    int shape[1] = {batch};
    RT_TRY(alum_tensor_ensure(ctx, &u->batch_value, "uncertainty_batch", RT_F32, 1, shape));
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "uncertainty", "triplet_data_uncertainty", &k));
    RT_ARG(ctx, k, 0, batch);
    RT_ARG(ctx, k, 1, channels);
    RT_ARG(ctx, k, 2, stats->buf);
    RT_ARG(ctx, k, 3, mined->buf);
    RT_ARG(ctx, k, 4, sample_index->buf);
    RT_ARG(ctx, k, 5, u->batch_value.buf);
    RT_ARG(ctx, k, 6, u->sum.buf);
    RT_ARG(ctx, k, 7, u->count.buf);
    size_t global = 1;
    return rt_launch(ctx, k, "triplet_data_uncertainty", 1, &global, NULL);
}

int alum_data_uncertainty_read(const alum_data_uncertainty *u, float *mean, int *count)
{
    size_t n = (size_t)u->dataset_size;
    int *seen = malloc(n * sizeof *seen);
    if (!seen)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for %zu counts", n);
    int st = rt_tensor_read(&u->sum, mean);
    if (st == RT_OK)
        st = rt_tensor_read(&u->count, seen);
    if (st == RT_OK)
        for (size_t i = 0; i < n; i++) {
            mean[i] = seen[i] > 0 ? mean[i] / (float)seen[i] : NAN;
            if (count)
                count[i] = seen[i];
        }
    free(seen);
    return st;
}

int alum_mc_uncertainty(rt_context *ctx, const rt_tensor *logits, rt_tensor *out,
                        rt_tensor *scratch)
{
    if (logits->dtype != RT_F32 || logits->ndim != 3)
        return rt_set_error(RT_ERR_INVALID,
                            "model uncertainty: logits %s must be float32 [T, N, K]", logits->name);
    cl_int passes = logits->shape[0], batch = logits->shape[1], classes = logits->shape[2];
    if (out->dtype != RT_F32 || out->numel != 2 * (size_t)batch)
        return rt_set_error(RT_ERR_INVALID, "model uncertainty: output %s must be float32 [2, %d]",
                            out->name, batch);
    int shape[2] = {passes, batch};
    RT_TRY(alum_tensor_ensure(ctx, scratch, "mc_log_normalizer", RT_F32, 2, shape));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "uncertainty", "mc_log_normalizer", &k));
    cl_int rows = passes * batch;
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, classes);
    RT_ARG(ctx, k, 2, logits->buf);
    RT_ARG(ctx, k, 3, scratch->buf);
    size_t global = (size_t)rows;
    RT_TRY(rt_launch(ctx, k, "mc_log_normalizer", 1, &global, NULL));

    RT_TRY(rt_kernel_get(ctx, "uncertainty", "mc_uncertainty", &k));
    RT_ARG(ctx, k, 0, passes);
    RT_ARG(ctx, k, 1, batch);
    RT_ARG(ctx, k, 2, classes);
    RT_ARG(ctx, k, 3, logits->buf);
    RT_ARG(ctx, k, 4, scratch->buf);
    RT_ARG(ctx, k, 5, out->buf);
    global = (size_t)batch;
    return rt_launch(ctx, k, "mc_uncertainty", 1, &global, NULL);
}
