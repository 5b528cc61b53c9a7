/* Fully connected layer: out [N, K_out] = in [N, K_in] x W^T + bias, through rt_gemm. */
#include "nn/nn_layer_util.h"
#include "nn/nn_layers.h"

#include <math.h>
#include <string.h>

int nn_linear_init(rt_context *ctx, nn_linear *fc, const char *name, int in_features,
                   int out_features)
{
    memset(fc, 0, sizeof *fc);
    if (in_features < 1 || out_features < 1)
        return rt_set_error(RT_ERR_INVALID,
                            "linear %s: in_features=%d out_features=%d, both must be >= 1", name,
                            in_features, out_features);
    fc->in_features = in_features;
    fc->out_features = out_features;

    char pname[128];
    float bound = 1.0f / sqrtf((float)in_features);
    int wshape[2] = {out_features, in_features};
    snprintf(pname, sizeof pname, "%s.weight", name);
    int st = nn_param_init(ctx, &fc->weight, pname, 2, wshape);
    if (st == RT_OK)
        st = nn_param_init_uniform(&fc->weight, bound);
    if (st == RT_OK) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        st = nn_param_init(ctx, &fc->bias, pname, 1, &out_features);
    }
    if (st == RT_OK) {
        fc->bias.weight_decay = false;
        st = nn_param_init_uniform(&fc->bias, bound);
    }
    if (st != RT_OK)
        nn_linear_free(fc);
    return st;
}

void nn_linear_free(nn_linear *fc)
{
    nn_param_free(&fc->weight);
    nn_param_free(&fc->bias);
}

int nn_linear_forward(rt_context *ctx, nn_linear *fc, const rt_tensor *in, rt_tensor *out)
{
    const char *op = "linear forward";
    int in_shape[2] = {NN_ANY, fc->in_features};
    RT_TRY(nn_check_tensor(in, op, "input", RT_F32, 2, in_shape));
    cl_int n = in->shape[0];
    int out_shape[2] = {n, fc->out_features};
    RT_TRY(nn_check_tensor(out, op, "output", RT_F32, 2, out_shape));

    /* out [N, K_out] = in [N, K_in] x W^T [K_in, K_out] */
    rt_gemm_args a = {
        .trans_b = true,
        .m = n,
        .n = fc->out_features,
        .k = fc->in_features,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = in->buf,
        .lda = fc->in_features,
        .b = fc->weight.value.buf,
        .ldb = fc->in_features,
        .c = out->buf,
        .ldc = fc->out_features,
    };
    RT_TRY(rt_gemm(ctx, &a));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "channel_bias_add", &k));
    cl_int rows = n * fc->out_features, positions = 1; /* [N, K_out] viewed as [N, C, P = 1] */
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, fc->out_features);
    RT_ARG(ctx, k, 2, positions);
    RT_ARG(ctx, k, 3, fc->bias.value.buf);
    RT_ARG(ctx, k, 4, out->buf);
    size_t global = (size_t)rows;
    return nn_launch_rows(ctx, k, "channel_bias_add", 1, &global);
}

int nn_linear_backward(rt_context *ctx, nn_linear *fc, const rt_tensor *in, const rt_tensor *dout,
                       rt_tensor *din)
{
    const char *op = "linear backward";
    int in_shape[2] = {NN_ANY, fc->in_features};
    RT_TRY(nn_check_tensor(in, op, "input", RT_F32, 2, in_shape));
    cl_int n = in->shape[0];
    int out_shape[2] = {n, fc->out_features};
    RT_TRY(nn_check_tensor(dout, op, "output gradient", RT_F32, 2, out_shape));
    if (din)
        RT_TRY(nn_check_tensor(din, op, "input gradient", RT_F32, 2, in->shape));

    /* dW [K_out, K_in] = dout^T [K_out, N] x in [N, K_in] */
    rt_gemm_args dw = {
        .trans_a = true,
        .m = fc->out_features,
        .n = fc->in_features,
        .k = n,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = dout->buf,
        .lda = fc->out_features,
        .b = in->buf,
        .ldb = fc->in_features,
        .c = fc->weight.grad.buf,
        .ldc = fc->in_features,
    };
    RT_TRY(rt_gemm(ctx, &dw));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "channel_sum", &k));
    cl_int positions = 1;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, fc->out_features);
    RT_ARG(ctx, k, 2, positions);
    RT_ARG(ctx, k, 3, dout->buf);
    RT_ARG(ctx, k, 4, fc->bias.grad.buf);
    size_t global = (size_t)fc->out_features;
    RT_TRY(nn_launch_rows(ctx, k, "channel_sum", 1, &global));
    if (!din)
        return RT_OK;

    /* din [N, K_in] = dout [N, K_out] x W [K_out, K_in] */
    rt_gemm_args dx = {
        .m = n,
        .n = fc->in_features,
        .k = fc->out_features,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = dout->buf,
        .lda = fc->out_features,
        .b = fc->weight.value.buf,
        .ldb = fc->in_features,
        .c = din->buf,
        .ldc = fc->in_features,
    };
    return rt_gemm(ctx, &dx);
}
