/* Max pooling with saved argmax and global average pooling. */
#include "nn/nn_layer_util.h"
#include "nn/nn_layers.h"

#include <string.h>

void nn_maxpool2d_init(nn_maxpool2d *pool, int kernel, int stride, int padding)
{
    memset(pool, 0, sizeof *pool);
    pool->kernel = kernel;
    pool->stride = stride;
    pool->padding = padding;
}

void nn_maxpool2d_free(nn_maxpool2d *pool)
{
    rt_tensor_free(&pool->argmax);
}

void nn_maxpool2d_output_shape(const nn_maxpool2d *pool, int h, int w, int *out_h, int *out_w)
{
    *out_h = (h + 2 * pool->padding - pool->kernel) / pool->stride + 1;
    *out_w = (w + 2 * pool->padding - pool->kernel) / pool->stride + 1;
}

static int check_config(const nn_maxpool2d *pool, const char *op, int h, int w)
{
    /* PyTorch's limit: padding above kernel / 2 would allow windows of padding only */
    if (pool->kernel < 1 || pool->stride < 1 || pool->padding < 0 ||
        2 * pool->padding > pool->kernel)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: invalid kernel=%d stride=%d padding=%d; kernel and stride must "
                            "be >= 1 and padding between 0 and kernel / 2",
                            op, pool->kernel, pool->stride, pool->padding);
    if (h + 2 * pool->padding < pool->kernel || w + 2 * pool->padding < pool->kernel)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: input %dx%d with padding %d is smaller than the kernel %d; use a "
                            "larger input or a smaller kernel",
                            op, h, w, pool->padding, pool->kernel);
    return RT_OK;
}

int nn_maxpool2d_forward(rt_context *ctx, nn_maxpool2d *pool, const rt_tensor *in, rt_tensor *out)
{
    const char *op = "maxpool2d forward";
    int in_shape[4] = {NN_ANY, NN_ANY, NN_ANY, NN_ANY};
    RT_TRY(nn_check_tensor(in, op, "input", RT_F32, 4, in_shape));
    cl_int h = in->shape[2], w = in->shape[3], oh, ow;
    RT_TRY(check_config(pool, op, h, w));
    nn_maxpool2d_output_shape(pool, h, w, &oh, &ow);
    int out_shape[4] = {in->shape[0], in->shape[1], oh, ow};
    RT_TRY(nn_check_tensor(out, op, "output", RT_F32, 4, out_shape));

    if (pool->argmax.buf && pool->argmax.numel < out->numel)
        rt_tensor_free(&pool->argmax);
    if (!pool->argmax.buf) {
        int shape[1] = {(int)out->numel};
        RT_TRY(rt_tensor_alloc(ctx, &pool->argmax, "maxpool2d.argmax", RT_I32, 1, shape));
    }

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "pool", "maxpool_forward", &k));
    cl_int planes = in->shape[0] * in->shape[1];
    RT_ARG(ctx, k, 0, planes);
    RT_ARG(ctx, k, 1, h);
    RT_ARG(ctx, k, 2, w);
    RT_ARG(ctx, k, 3, oh);
    RT_ARG(ctx, k, 4, ow);
    RT_ARG(ctx, k, 5, pool->kernel);
    RT_ARG(ctx, k, 6, pool->stride);
    RT_ARG(ctx, k, 7, pool->padding);
    RT_ARG(ctx, k, 8, in->buf);
    RT_ARG(ctx, k, 9, out->buf);
    RT_ARG(ctx, k, 10, pool->argmax.buf);
    size_t global[2] = {(size_t)oh, (size_t)planes};
    return nn_launch_rows(ctx, k, "maxpool_forward", 2, global);
}

int nn_maxpool2d_backward(rt_context *ctx, nn_maxpool2d *pool, const rt_tensor *dout,
                          rt_tensor *din)
{
    const char *op = "maxpool2d backward";
    int any[4] = {NN_ANY, NN_ANY, NN_ANY, NN_ANY};
    RT_TRY(nn_check_tensor(din, op, "input gradient", RT_F32, 4, any));
    cl_int h = din->shape[2], w = din->shape[3], oh, ow;
    RT_TRY(check_config(pool, op, h, w));
    nn_maxpool2d_output_shape(pool, h, w, &oh, &ow);
    int out_shape[4] = {din->shape[0], din->shape[1], oh, ow};
    RT_TRY(nn_check_tensor(dout, op, "output gradient", RT_F32, 4, out_shape));
    if (!pool->argmax.buf || pool->argmax.numel < dout->numel)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: no saved argmax for an output of %zu elements; run "
                            "nn_maxpool2d_forward on this input before the backward pass",
                            op, dout->numel);

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "pool", "maxpool_backward", &k));
    cl_int planes = din->shape[0] * din->shape[1], hw = h * w, ohw = oh * ow;
    RT_ARG(ctx, k, 0, planes);
    RT_ARG(ctx, k, 1, hw);
    RT_ARG(ctx, k, 2, ohw);
    RT_ARG(ctx, k, 3, dout->buf);
    RT_ARG(ctx, k, 4, pool->argmax.buf);
    RT_ARG(ctx, k, 5, din->buf);
    size_t global = (size_t)planes;
    return nn_launch_rows(ctx, k, "maxpool_backward", 1, &global);
}

static int launch_global_avgpool(rt_context *ctx, const char *kernel_name, const rt_tensor *map,
                                 const rt_tensor *src, rt_tensor *dst)
{
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "pool", kernel_name, &k));
    cl_int planes = map->shape[0] * map->shape[1];
    cl_int hw = map->shape[2] * map->shape[3];
    RT_ARG(ctx, k, 0, planes);
    RT_ARG(ctx, k, 1, hw);
    RT_ARG(ctx, k, 2, src->buf);
    RT_ARG(ctx, k, 3, dst->buf);
    size_t global = (size_t)planes;
    return nn_launch_rows(ctx, k, kernel_name, 1, &global);
}

int nn_global_avgpool_forward(rt_context *ctx, const rt_tensor *in, rt_tensor *out)
{
    const char *op = "global_avgpool forward";
    int any[4] = {NN_ANY, NN_ANY, NN_ANY, NN_ANY};
    RT_TRY(nn_check_tensor(in, op, "input", RT_F32, 4, any));
    int out_shape[2] = {in->shape[0], in->shape[1]};
    RT_TRY(nn_check_tensor(out, op, "output", RT_F32, 2, out_shape));
    return launch_global_avgpool(ctx, "global_avgpool_forward", in, in, out);
}

int nn_global_avgpool_backward(rt_context *ctx, const rt_tensor *dout, rt_tensor *din)
{
    const char *op = "global_avgpool backward";
    int any[4] = {NN_ANY, NN_ANY, NN_ANY, NN_ANY};
    RT_TRY(nn_check_tensor(din, op, "input gradient", RT_F32, 4, any));
    int out_shape[2] = {din->shape[0], din->shape[1]};
    RT_TRY(nn_check_tensor(dout, op, "output gradient", RT_F32, 2, out_shape));
    return launch_global_avgpool(ctx, "global_avgpool_backward", din, dout, din);
}
