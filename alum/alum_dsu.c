#include "alum/alum_dsu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void alum_dsu_init(alum_dsu *dsu, const char *name, float eps)
{
    memset(dsu, 0, sizeof *dsu);
    snprintf(dsu->name, sizeof dsu->name, "%s", name);
    dsu->eps = eps;
}

void alum_dsu_free(alum_dsu *dsu)
{
    rt_tensor *tensors[] = {&dsu->stats, &dsu->scales,      &dsu->draws,
                            &dsu->index, &dsu->batch_index, &dsu->saved,
                            &dsu->grad,  &dsu->grad_scales, &dsu->coef};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        rt_tensor_free(tensors[i]);
}

int alum_tensor_ensure(rt_context *ctx, rt_tensor *t, const char *name, rt_dtype dtype, int ndim,
                       const int *shape)
{
    if (t->buf && t->dtype == dtype && t->ndim == ndim &&
        memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) == 0)
        return RT_OK;
    rt_tensor_free(t);
    return rt_tensor_alloc(ctx, t, name, dtype, ndim, shape);
}

static void warn_once(alum_dsu *dsu, const char *reason)
{
    if (dsu->warned)
        return;
    dsu->warned = true;
    fprintf(stderr, "alumcl: warning: DSU at %s is the identity for this batch: %s\n", dsu->name,
            reason);
}

int alum_dsu_stats(rt_context *ctx, alum_dsu *dsu, const rt_tensor *x)
{
    if (x->dtype != RT_F32 || x->ndim != 4)
        return rt_set_error(RT_ERR_INVALID,
                            "DSU at %s: input %s must be a float32 [B, C, H, W] tensor", dsu->name,
                            x->name);
    dsu->batch = x->shape[0];
    dsu->channels = x->shape[1];
    dsu->height = x->shape[2];
    dsu->width = x->shape[3];
    int shape[3] = {2, dsu->batch, dsu->channels};
    RT_TRY(alum_tensor_ensure(ctx, &dsu->stats, "dsu_stats", RT_F32, 3, shape));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_stats", &k));
    cl_int rows = dsu->batch * dsu->channels, n = dsu->height * dsu->width;
    cl_float eps = dsu->eps;
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, n);
    RT_ARG(ctx, k, 2, eps);
    RT_ARG(ctx, k, 3, x->buf);
    RT_ARG(ctx, k, 4, dsu->stats.buf);
    size_t global = (size_t)rows;
    RT_TRY(rt_launch(ctx, k, "dsu_stats", 1, &global, NULL));
    dsu->stats_ready = true;
    dsu->applied = false;
    return RT_OK;
}

/* Copies the group members (or builds 0..B-1 for the batch mode) into dsu->index. */
static int prepare_groups(rt_context *ctx, alum_dsu *dsu, const alum_dsu_groups *groups)
{
    int batch = dsu->batch;
    if (!groups) {
        int shape[2] = {1, batch};
        if (!dsu->batch_index.buf || dsu->batch_index.shape[1] != batch) {
            RT_TRY(alum_tensor_ensure(ctx, &dsu->batch_index, "dsu_batch_index", RT_I32, 2, shape));
            int *ids = malloc((size_t)batch * sizeof *ids);
            if (!ids)
                return rt_set_error(RT_ERR_NOMEM, "out of host memory for %d indices", batch);
            for (int b = 0; b < batch; b++)
                ids[b] = b;
            int st = rt_tensor_write(&dsu->batch_index, ids);
            free(ids);
            RT_TRY(st);
        }
        dsu->groups = 1;
        dsu->members = batch;
        RT_TRY(alum_tensor_ensure(ctx, &dsu->index, "dsu_index", RT_I32, 2, shape));
        return rt_tensor_copy(&dsu->index, &dsu->batch_index);
    }
    if (groups->groups != 1 && groups->groups != batch)
        return rt_set_error(RT_ERR_INVALID,
                            "DSU at %s: %d scale groups for batch %d; use 1 (shared scales) "
                            "or the batch size (one per sample)",
                            dsu->name, groups->groups, batch);
    if (groups->members < 1 || !groups->index || groups->index->dtype != RT_I32 ||
        groups->index->numel != (size_t)groups->groups * (size_t)groups->members)
        return rt_set_error(RT_ERR_INVALID,
                            "DSU at %s: group index must be int32 with %d x %d elements", dsu->name,
                            groups->groups, groups->members);
    dsu->groups = groups->groups;
    dsu->members = groups->members;
    int shape[2] = {groups->groups, groups->members};
    RT_TRY(alum_tensor_ensure(ctx, &dsu->index, "dsu_index", RT_I32, 2, shape));
    return rt_tensor_copy(&dsu->index, groups->index);
}

int alum_dsu_perturb(rt_context *ctx, alum_dsu *dsu, rt_tensor *x, const alum_dsu_groups *groups,
                     const rt_tensor *draws)
{
    if (!dsu->stats_ready || x->ndim != 4 || x->shape[0] != dsu->batch ||
        x->shape[1] != dsu->channels || x->shape[2] != dsu->height || x->shape[3] != dsu->width)
        return rt_set_error(RT_ERR_INVALID,
                            "DSU at %s: call alum_dsu_stats on input %s before perturbing it",
                            dsu->name, x->name);
    dsu->stats_ready = false;
    dsu->applied = false;
    int batch = dsu->batch, channels = dsu->channels, n = dsu->height * dsu->width;
    if (!draws || draws->dtype != RT_F32 || draws->numel != 2 * (size_t)batch * channels)
        return rt_set_error(RT_ERR_INVALID,
                            "DSU at %s: draws must be float32 [2, %d, %d] (e1, then e2)", dsu->name,
                            batch, channels);
    if (n < 2) {
        warn_once(dsu, "H*W = 1 leaves the spatial variance undefined");
        return RT_OK;
    }
    int members = groups ? groups->members : batch;
    if (members < 2) {
        warn_once(dsu, "a scale group with one member (batch size 1) has no variance");
        return RT_OK;
    }
    RT_TRY(prepare_groups(ctx, dsu, groups));

    int draw_shape[3] = {2, batch, channels};
    int scale_shape[3] = {4, dsu->groups, channels};
    RT_TRY(alum_tensor_ensure(ctx, &dsu->draws, "dsu_draws", RT_F32, 3, draw_shape));
    RT_TRY(rt_tensor_copy(&dsu->draws, draws));
    RT_TRY(alum_tensor_ensure(ctx, &dsu->scales, "dsu_scales", RT_F32, 3, scale_shape));
    RT_TRY(alum_tensor_ensure(ctx, &dsu->saved, "dsu_saved_input", RT_F32, 4, x->shape));

    /* scales of every group */
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_scales", &k));
    cl_int g = dsu->groups, m = dsu->members, b = batch, c = channels, n_cl = n;
    cl_float eps = dsu->eps;
    RT_ARG(ctx, k, 0, g);
    RT_ARG(ctx, k, 1, m);
    RT_ARG(ctx, k, 2, b);
    RT_ARG(ctx, k, 3, c);
    RT_ARG(ctx, k, 4, eps);
    RT_ARG(ctx, k, 5, dsu->stats.buf);
    RT_ARG(ctx, k, 6, dsu->index.buf);
    RT_ARG(ctx, k, 7, dsu->scales.buf);
    size_t global = (size_t)g * (size_t)c;
    RT_TRY(rt_launch(ctx, k, "dsu_scales", 1, &global, NULL));

    /* perturb in place, keeping the input for backward */
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_apply", &k));
    RT_ARG(ctx, k, 0, b);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, g);
    RT_ARG(ctx, k, 3, n_cl);
    RT_ARG(ctx, k, 4, x->buf);
    RT_ARG(ctx, k, 5, dsu->saved.buf);
    RT_ARG(ctx, k, 6, dsu->stats.buf);
    RT_ARG(ctx, k, 7, dsu->scales.buf);
    RT_ARG(ctx, k, 8, dsu->draws.buf);
    global = (size_t)b * (size_t)c;
    RT_TRY(rt_launch(ctx, k, "dsu_apply", 1, &global, NULL));
    dsu->applied = true;
    return RT_OK;
}

int alum_dsu_forward(rt_context *ctx, alum_dsu *dsu, rt_tensor *x, const alum_dsu_groups *groups,
                     const rt_tensor *draws)
{
    RT_TRY(alum_dsu_stats(ctx, dsu, x));
    return alum_dsu_perturb(ctx, dsu, x, groups, draws);
}

void alum_dsu_set_identity(alum_dsu *dsu)
{
    dsu->applied = false;
    dsu->stats_ready = false;
}

int alum_dsu_backward(rt_context *ctx, alum_dsu *dsu, rt_tensor *dx)
{
    if (!dsu->applied)
        return RT_OK;
    if (dx->numel != dsu->saved.numel)
        return rt_set_error(RT_ERR_INVALID,
                            "DSU at %s: gradient %s has %zu elements, the forward input had %zu",
                            dsu->name, dx->name, dx->numel, dsu->saved.numel);
    cl_int b = dsu->batch, c = dsu->channels, g = dsu->groups, m = dsu->members;
    cl_int rows = b * c, n = dsu->height * dsu->width;
    int grad_shape[3] = {2, b, c};
    int grad_scale_shape[3] = {2, g, c};
    RT_TRY(alum_tensor_ensure(ctx, &dsu->grad, "dsu_grad", RT_F32, 3, grad_shape));
    RT_TRY(alum_tensor_ensure(ctx, &dsu->coef, "dsu_coef", RT_F32, 3, grad_shape));
    RT_TRY(
        alum_tensor_ensure(ctx, &dsu->grad_scales, "dsu_grad_scales", RT_F32, 3, grad_scale_shape));
    size_t row_global = (size_t)rows, cell_global = (size_t)g * (size_t)c;

    /* row sums of dy and dy * xhat: the gradients of beta and gamma */
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_grad_reduce", &k));
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, n);
    RT_ARG(ctx, k, 2, dx->buf);
    RT_ARG(ctx, k, 3, dsu->saved.buf);
    RT_ARG(ctx, k, 4, dsu->stats.buf);
    RT_ARG(ctx, k, 5, dsu->grad.buf);
    RT_TRY(rt_launch(ctx, k, "dsu_grad_reduce", 1, &row_global, NULL));

    /* gradients of the scales */
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_grad_scales", &k));
    RT_ARG(ctx, k, 0, b);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, g);
    RT_ARG(ctx, k, 3, dsu->grad.buf);
    RT_ARG(ctx, k, 4, dsu->draws.buf);
    RT_ARG(ctx, k, 5, dsu->grad_scales.buf);
    RT_TRY(rt_launch(ctx, k, "dsu_grad_scales", 1, &cell_global, NULL));

    /* total gradients of mu and sigma, through every group that uses them */
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_grad_stats", &k));
    RT_ARG(ctx, k, 0, b);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, g);
    RT_ARG(ctx, k, 3, m);
    RT_ARG(ctx, k, 4, dsu->stats.buf);
    RT_ARG(ctx, k, 5, dsu->scales.buf);
    RT_ARG(ctx, k, 6, dsu->draws.buf);
    RT_ARG(ctx, k, 7, dsu->index.buf);
    RT_ARG(ctx, k, 8, dsu->grad.buf);
    RT_ARG(ctx, k, 9, dsu->grad_scales.buf);
    RT_ARG(ctx, k, 10, dsu->coef.buf);
    RT_TRY(rt_launch(ctx, k, "dsu_grad_stats", 1, &row_global, NULL));

    /* input gradient, written over dx */
    RT_TRY(rt_kernel_get(ctx, "dsu", "dsu_grad_input", &k));
    RT_ARG(ctx, k, 0, b);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, g);
    RT_ARG(ctx, k, 3, n);
    RT_ARG(ctx, k, 4, dx->buf);
    RT_ARG(ctx, k, 5, dsu->saved.buf);
    RT_ARG(ctx, k, 6, dsu->stats.buf);
    RT_ARG(ctx, k, 7, dsu->scales.buf);
    RT_ARG(ctx, k, 8, dsu->draws.buf);
    RT_ARG(ctx, k, 9, dsu->coef.buf);
    return rt_launch(ctx, k, "dsu_grad_input", 1, &row_global, NULL);
}
