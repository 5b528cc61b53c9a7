/* Batch normalisation 2-D with PyTorch's training and evaluation semantics. */
#include "nn/nn_layer_util.h"
#include "nn/nn_layers.h"

#include <string.h>

int nn_batchnorm2d_init(rt_context *ctx, nn_batchnorm2d *bn, const char *name, int channels,
                        bool fuse_relu)
{
    memset(bn, 0, sizeof *bn);
    if (channels < 1)
        return rt_set_error(RT_ERR_INVALID, "batchnorm2d %s: channels is %d, expected >= 1", name,
                            channels);
    bn->channels = channels;
    bn->momentum = 0.1f;
    bn->eps = 1e-5f;
    bn->fuse_relu = fuse_relu;

    char tname[128];
    int st;
    snprintf(tname, sizeof tname, "%s.weight", name);
    st = nn_param_init(ctx, &bn->weight, tname, 1, &channels);
    if (st == RT_OK)
        st = rt_tensor_fill(&bn->weight.value, 1.0f);
    if (st == RT_OK) {
        snprintf(tname, sizeof tname, "%s.bias", name);
        st = nn_param_init(ctx, &bn->bias, tname, 1, &channels);
    }
    if (st == RT_OK)
        st = rt_tensor_zero(&bn->bias.value);

    struct {
        rt_tensor *t;
        const char *suffix;
        float value;
    } stats[] = {
        {&bn->running_mean, "running_mean", 0.0f},
        {&bn->running_var, "running_var", 1.0f},
        {&bn->save_mean, "save_mean", 0.0f},
        {&bn->save_invstd, "save_invstd", 1.0f},
    };
    for (size_t i = 0; st == RT_OK && i < sizeof stats / sizeof stats[0]; i++) {
        snprintf(tname, sizeof tname, "%s.%s", name, stats[i].suffix);
        st = rt_tensor_alloc(ctx, stats[i].t, tname, RT_F32, 1, &channels);
        if (st == RT_OK)
            st = rt_tensor_fill(stats[i].t, stats[i].value);
    }
    if (st != RT_OK)
        nn_batchnorm2d_free(bn);
    return st;
}

void nn_batchnorm2d_free(nn_batchnorm2d *bn)
{
    nn_param_free(&bn->weight);
    nn_param_free(&bn->bias);
    rt_tensor_free(&bn->running_mean);
    rt_tensor_free(&bn->running_var);
    rt_tensor_free(&bn->save_mean);
    rt_tensor_free(&bn->save_invstd);
    rt_tensor_free(&bn->scratch);
}

static int check_feature_map(const nn_batchnorm2d *bn, const char *op, const rt_tensor *t,
                             const char *role, const rt_tensor *like)
{
    int shape[4] = {NN_ANY, bn->channels, NN_ANY, NN_ANY};
    if (like)
        memcpy(shape, like->shape, sizeof shape);
    return nn_check_tensor(t, op, role, RT_F32, 4, shape);
}

int nn_batchnorm2d_forward(rt_context *ctx, nn_batchnorm2d *bn, const rt_tensor *in, rt_tensor *out,
                           bool training)
{
    const char *op = "batchnorm2d forward";
    RT_TRY(check_feature_map(bn, op, in, "input", NULL));
    RT_TRY(check_feature_map(bn, op, out, "output", in));
    cl_int n = in->shape[0], c = bn->channels, hw = in->shape[2] * in->shape[3];
    if (training && (size_t)n * hw < 2)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: %s has one value per channel (shape 1x%dx1x1), so the batch "
                            "variance is undefined in training mode; use a batch larger than 1",
                            op, in->name, bn->channels);

    cl_kernel k;
    size_t global_c = (size_t)c;
    if (training) {
        RT_TRY(rt_kernel_get(ctx, "batchnorm", "bn_batch_stats", &k));
        RT_ARG(ctx, k, 0, n);
        RT_ARG(ctx, k, 1, c);
        RT_ARG(ctx, k, 2, hw);
        RT_ARG(ctx, k, 3, bn->momentum);
        RT_ARG(ctx, k, 4, bn->eps);
        RT_ARG(ctx, k, 5, in->buf);
        RT_ARG(ctx, k, 6, bn->save_mean.buf);
        RT_ARG(ctx, k, 7, bn->save_invstd.buf);
        RT_ARG(ctx, k, 8, bn->running_mean.buf);
        RT_ARG(ctx, k, 9, bn->running_var.buf);
        RT_TRY(nn_launch_rows(ctx, k, "bn_batch_stats", 1, &global_c));
    } else {
        RT_TRY(rt_kernel_get(ctx, "batchnorm", "bn_running_stats", &k));
        RT_ARG(ctx, k, 0, c);
        RT_ARG(ctx, k, 1, bn->eps);
        RT_ARG(ctx, k, 2, bn->running_mean.buf);
        RT_ARG(ctx, k, 3, bn->running_var.buf);
        RT_ARG(ctx, k, 4, bn->save_mean.buf);
        RT_ARG(ctx, k, 5, bn->save_invstd.buf);
        RT_TRY(nn_launch_rows(ctx, k, "bn_running_stats", 1, &global_c));
    }
    bn->saved_batch_stats = training;

    cl_int rows = n * c, relu = bn->fuse_relu;
    RT_TRY(rt_kernel_get(ctx, "batchnorm", "bn_normalize", &k));
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, hw);
    RT_ARG(ctx, k, 3, relu);
    RT_ARG(ctx, k, 4, in->buf);
    RT_ARG(ctx, k, 5, bn->save_mean.buf);
    RT_ARG(ctx, k, 6, bn->save_invstd.buf);
    RT_ARG(ctx, k, 7, bn->weight.value.buf);
    RT_ARG(ctx, k, 8, bn->bias.value.buf);
    RT_ARG(ctx, k, 9, out->buf);
    size_t global_rows = (size_t)rows;
    return nn_launch_rows(ctx, k, "bn_normalize", 1, &global_rows);
}

int nn_batchnorm2d_backward(rt_context *ctx, nn_batchnorm2d *bn, const rt_tensor *in,
                            const rt_tensor *out, const rt_tensor *dout, rt_tensor *din)
{
    const char *op = "batchnorm2d backward";
    RT_TRY(check_feature_map(bn, op, in, "input", NULL));
    RT_TRY(check_feature_map(bn, op, dout, "output gradient", in));
    if (bn->fuse_relu)
        RT_TRY(check_feature_map(bn, op, out, "forward output (required with fused ReLU)", in));
    if (din)
        RT_TRY(check_feature_map(bn, op, din, "input gradient", in));
    cl_int n = in->shape[0], c = bn->channels, hw = in->shape[2] * in->shape[3];
    cl_int relu = bn->fuse_relu, batch_stats = bn->saved_batch_stats;
    /* without a fused ReLU the kernels never read y, so any valid buffer fills the slot */
    cl_mem y = bn->fuse_relu ? out->buf : in->buf;

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "batchnorm", "bn_backward_reduce", &k));
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, hw);
    RT_ARG(ctx, k, 3, relu);
    RT_ARG(ctx, k, 4, in->buf);
    RT_ARG(ctx, k, 5, y);
    RT_ARG(ctx, k, 6, dout->buf);
    RT_ARG(ctx, k, 7, bn->save_mean.buf);
    RT_ARG(ctx, k, 8, bn->save_invstd.buf);
    RT_ARG(ctx, k, 9, bn->weight.grad.buf);
    RT_ARG(ctx, k, 10, bn->bias.grad.buf);
    size_t global_c = (size_t)c;
    RT_TRY(nn_launch_rows(ctx, k, "bn_backward_reduce", 1, &global_c));
    if (!din)
        return RT_OK;

    cl_int rows = n * c;
    float count = (float)n * (float)hw;
    RT_TRY(rt_kernel_get(ctx, "batchnorm", "bn_backward_input", &k));
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, c);
    RT_ARG(ctx, k, 2, hw);
    RT_ARG(ctx, k, 3, relu);
    RT_ARG(ctx, k, 4, batch_stats);
    RT_ARG(ctx, k, 5, count);
    RT_ARG(ctx, k, 6, in->buf);
    RT_ARG(ctx, k, 7, y);
    RT_ARG(ctx, k, 8, dout->buf);
    RT_ARG(ctx, k, 9, bn->save_mean.buf);
    RT_ARG(ctx, k, 10, bn->save_invstd.buf);
    RT_ARG(ctx, k, 11, bn->weight.value.buf);
    RT_ARG(ctx, k, 12, bn->weight.grad.buf);
    RT_ARG(ctx, k, 13, bn->bias.grad.buf);
    RT_ARG(ctx, k, 14, din->buf);
    size_t global_rows = (size_t)rows;
    return nn_launch_rows(ctx, k, "bn_backward_input", 1, &global_rows);
}
