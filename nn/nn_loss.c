/* Softmax cross-entropy with label smoothing, and label range checks. */
#include "nn/nn_layer_util.h"
#include "nn/nn_layers.h"

#include <stdlib.h>

/* Maximum work-group size of the loss kernel, a power of two as its tree reduction requires. */
#define NN_XENT_MAX_LOCAL 256

int nn_labels_check(const int32_t *labels, int count, int num_classes)
{
    for (int i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return rt_set_error(RT_ERR_INVALID,
                                "label %d at index %d is outside 0..%d for %d classes; fix the "
                                "label file or the configured number of classes",
                                labels[i], i, num_classes - 1, num_classes);
    return RT_OK;
}

int nn_labels_check_tensor(const rt_tensor *labels, int num_classes)
{
    int any[1] = {NN_ANY};
    RT_TRY(nn_check_tensor(labels, "label check", "labels", RT_I32, 1, any));
    int32_t *host = malloc(labels->numel * sizeof *host);
    if (!host)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory reading %zu labels of %s",
                            labels->numel, labels->name);
    int st = rt_tensor_read(labels, host);
    if (st == RT_OK)
        st = nn_labels_check(host, (int)labels->numel, num_classes);
    free(host);
    return st;
}

/* Returns the largest power of two <= limit that the kernel accepts as its work-group size. */
static int choose_local_size(rt_context *ctx, cl_kernel k, size_t *local)
{
    size_t kernel_max = 0;
    RT_CL_CHECK(ctx, clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                              sizeof kernel_max, &kernel_max, NULL));
    size_t limit = kernel_max < NN_XENT_MAX_LOCAL ? kernel_max : NN_XENT_MAX_LOCAL;
    size_t size = 1;
    while (size * 2 <= limit)
        size *= 2;
    *local = size;
    return RT_OK;
}

int nn_softmax_xent(rt_context *ctx, const rt_tensor *logits, const rt_tensor *labels,
                    float label_smoothing, float grad_scale, rt_tensor *loss_per_sample,
                    rt_tensor *dlogits, rt_tensor *stats)
{
    const char *op = "softmax_xent";
    int logit_shape[2] = {NN_ANY, NN_ANY};
    RT_TRY(nn_check_tensor(logits, op, "logits", RT_F32, 2, logit_shape));
    cl_int n = logits->shape[0], classes = logits->shape[1];
    RT_TRY(nn_check_tensor(labels, op, "labels", RT_I32, 1, &n));
    if (loss_per_sample)
        RT_TRY(nn_check_tensor(loss_per_sample, op, "per-sample losses", RT_F32, 1, &n));
    if (dlogits)
        RT_TRY(nn_check_tensor(dlogits, op, "logit gradient", RT_F32, 2, logits->shape));
    if (stats) {
        int two = 2;
        RT_TRY(nn_check_tensor(stats, op, "stats", RT_F32, 1, &two));
    }
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        return rt_set_error(RT_ERR_INVALID, "%s: label_smoothing is %g, expected 0 to 1", op,
                            (double)label_smoothing);

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "loss", "softmax_xent", &k));
    size_t local;
    RT_TRY(choose_local_size(ctx, k, &local));
    float scale_over_n = grad_scale / (float)n;
    cl_int write_loss = loss_per_sample != NULL, write_grad = dlogits != NULL;
    cl_int write_stats = stats != NULL;
    cl_mem loss_buf = loss_per_sample ? loss_per_sample->buf : NULL;
    cl_mem grad_buf = dlogits ? dlogits->buf : NULL;
    cl_mem stats_buf = stats ? stats->buf : NULL;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, classes);
    RT_ARG(ctx, k, 2, logits->buf);
    RT_ARG(ctx, k, 3, labels->buf);
    RT_ARG(ctx, k, 4, label_smoothing);
    RT_ARG(ctx, k, 5, scale_over_n);
    RT_ARG(ctx, k, 6, write_loss);
    RT_ARG(ctx, k, 7, loss_buf);
    RT_ARG(ctx, k, 8, write_grad);
    RT_ARG(ctx, k, 9, grad_buf);
    RT_ARG(ctx, k, 10, write_stats);
    RT_ARG(ctx, k, 11, stats_buf);
    RT_ARG_LOCAL(ctx, k, 12, local * sizeof(float));
    RT_ARG_LOCAL(ctx, k, 13, local * sizeof(float));
    return rt_launch(ctx, k, "softmax_xent", 1, &local, &local);
}
