/*
 * 2-D convolution as im2col + GEMM.
 *
 * A batch is processed in chunks of nb images so that the scratch (the column
 * matrix [K, nb * P] plus a GEMM result [Cout, nb * P], K = Cin * KH * KW,
 * P = OH * OW) stays within scratch_limit_bytes, and each GEMM spans a whole
 * chunk. 1x1 convolutions with stride 1 and no padding use the input directly
 * as the column matrix and need no scratch.
 */
#include "nn/nn_layer_util.h"
#include "nn/nn_layers.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/*
 * Default bound on the im2col scratch of one layer. A single image that needs
 * more gets it. Chunks this small stay in cache between im2col and the GEMM.
 * In bench_layers on PoCL 3.1 (2 cores of a loaded machine, so noisy), 3x3
 * convolutions at batch 64 ran 1.5-3x faster with 4 MiB than with 64 MiB.
 * Limits of 1-2 MiB gave no consistent further gain.
 */
#define NN_CONV_SCRATCH_BYTES ((size_t)4 << 20)

typedef struct conv_geometry {
    int n, h, w, oh, ow, p, k; /* batch, input size, output size, P = oh * ow, K */
} conv_geometry;

int nn_conv2d_init(rt_context *ctx, nn_conv2d *conv, const char *name, int in_channels,
                   int out_channels, int kernel_size, int stride, int padding, bool bias)
{
    memset(conv, 0, sizeof *conv);
    if (in_channels < 1 || out_channels < 1 || kernel_size < 1 || stride < 1 || padding < 0)
        return rt_set_error(RT_ERR_INVALID,
                            "conv2d %s: invalid configuration in_channels=%d out_channels=%d "
                            "kernel_size=%d stride=%d padding=%d; channels, kernel size and "
                            "stride must be >= 1 and padding >= 0",
                            name, in_channels, out_channels, kernel_size, stride, padding);
    conv->in_channels = in_channels;
    conv->out_channels = out_channels;
    conv->kernel_h = kernel_size;
    conv->kernel_w = kernel_size;
    conv->stride = stride;
    conv->padding = padding;
    conv->has_bias = bias;

    char pname[128];
    int fan_in = in_channels * kernel_size * kernel_size;
    float bound = 1.0f / sqrtf((float)fan_in);
    int wshape[4] = {out_channels, in_channels, kernel_size, kernel_size};
    snprintf(pname, sizeof pname, "%s.weight", name);
    int st = nn_param_init(ctx, &conv->weight, pname, 4, wshape);
    if (st == RT_OK)
        st = nn_param_init_uniform(&conv->weight, bound);
    if (st == RT_OK && bias) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        st = nn_param_init(ctx, &conv->bias, pname, 1, &out_channels);
        if (st == RT_OK)
            st = nn_param_init_uniform(&conv->bias, bound);
        conv->bias.weight_decay = false;
    }
    if (st != RT_OK)
        nn_conv2d_free(conv);
    return st;
}

void nn_conv2d_free(nn_conv2d *conv)
{
    nn_param_free(&conv->weight);
    nn_param_free(&conv->bias);
    rt_tensor_free(&conv->scratch);
}

void nn_conv2d_output_shape(const nn_conv2d *conv, int h, int w, int *out_h, int *out_w)
{
    *out_h = (h + 2 * conv->padding - conv->kernel_h) / conv->stride + 1;
    *out_w = (w + 2 * conv->padding - conv->kernel_w) / conv->stride + 1;
}

static bool is_pointwise(const nn_conv2d *conv)
{
    return conv->kernel_h == 1 && conv->kernel_w == 1 && conv->stride == 1 && conv->padding == 0;
}

/* Validates in (and out or dout when given) and fills the geometry. */
static int check_shapes(const nn_conv2d *conv, const char *op, const rt_tensor *in,
                        const rt_tensor *out, const char *out_role, conv_geometry *g)
{
    int in_shape[4] = {NN_ANY, conv->in_channels, NN_ANY, NN_ANY};
    RT_TRY(nn_check_tensor(in, op, "input", RT_F32, 4, in_shape));
    g->n = in->shape[0];
    g->h = in->shape[2];
    g->w = in->shape[3];
    nn_conv2d_output_shape(conv, g->h, g->w, &g->oh, &g->ow);
    if (g->h + 2 * conv->padding < conv->kernel_h || g->w + 2 * conv->padding < conv->kernel_w)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: input %s is %dx%d, smaller than the %dx%d kernel with padding "
                            "%d; use a larger input or a smaller kernel",
                            op, in->name, g->h, g->w, conv->kernel_h, conv->kernel_w,
                            conv->padding);
    g->p = g->oh * g->ow;
    g->k = conv->in_channels * conv->kernel_h * conv->kernel_w;
    int out_shape[4] = {g->n, conv->out_channels, g->oh, g->ow};
    return nn_check_tensor(out, op, out_role, RT_F32, 4, out_shape);
}

/* Returns the workspace shared with other layers when one is set, else the layer's own scratch. */
static rt_tensor *scratch_tensor(nn_conv2d *conv)
{
    return conv->workspace ? conv->workspace : &conv->scratch;
}

static cl_mem scratch_buffer(const nn_conv2d *conv)
{
    return conv->workspace ? conv->workspace->buf : conv->scratch.buf;
}

/* Returns the chunk size nb and grows the scratch to at least (K + Cout) * nb * P floats. */
static int prepare_scratch(rt_context *ctx, nn_conv2d *conv, const conv_geometry *g, int *nb_out)
{
    size_t per_image = ((size_t)g->k + (size_t)conv->out_channels) * (size_t)g->p;
    size_t limit = conv->scratch_limit_bytes ? conv->scratch_limit_bytes : NN_CONV_SCRATCH_BYTES;
    size_t budget = limit / sizeof(float);
    size_t nb = budget / per_image;
    if (nb < 1)
        nb = 1;
    if (nb > (size_t)g->n)
        nb = (size_t)g->n;
    size_t need = per_image * nb;
    if (need > INT_MAX)
        return rt_set_error(RT_ERR_INVALID,
                            "conv2d %s: one image needs %zu scratch floats, above the %d the "
                            "kernels can index; reduce the input size or channel count",
                            conv->weight.name, need, INT_MAX);
    rt_tensor *scratch = scratch_tensor(conv);
    if (scratch->buf && scratch->numel < need)
        rt_tensor_free(scratch);
    if (!scratch->buf) {
        char sname[128];
        snprintf(sname, sizeof sname, "%s.im2col", conv->workspace ? "conv2d" : conv->weight.name);
        int shape[1] = {(int)need};
        RT_TRY(rt_tensor_alloc(ctx, scratch, sname, RT_F32, 1, shape));
    }
    *nb_out = (int)nb;
    return RT_OK;
}

static int launch_im2col(rt_context *ctx, const nn_conv2d *conv, const conv_geometry *g,
                         const rt_tensor *in, int n0, int nb)
{
    cl_mem scratch = scratch_buffer(conv);
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "conv", "im2col", &k));
    cl_int zero = 0;
    RT_ARG(ctx, k, 0, conv->in_channels);
    RT_ARG(ctx, k, 1, g->h);
    RT_ARG(ctx, k, 2, g->w);
    RT_ARG(ctx, k, 3, conv->kernel_h);
    RT_ARG(ctx, k, 4, conv->kernel_w);
    RT_ARG(ctx, k, 5, conv->stride);
    RT_ARG(ctx, k, 6, conv->padding);
    RT_ARG(ctx, k, 7, g->oh);
    RT_ARG(ctx, k, 8, g->ow);
    RT_ARG(ctx, k, 9, n0);
    RT_ARG(ctx, k, 10, nb);
    RT_ARG(ctx, k, 11, in->buf);
    RT_ARG(ctx, k, 12, scratch);
    RT_ARG(ctx, k, 13, zero);
    size_t global[2] = {(size_t)g->k, (size_t)nb};
    return nn_launch_rows(ctx, k, "im2col", 2, global);
}

static int launch_col2im(rt_context *ctx, const nn_conv2d *conv, const conv_geometry *g,
                         rt_tensor *din, int n0, int nb)
{
    cl_mem scratch = scratch_buffer(conv);
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "conv", "col2im", &k));
    cl_int zero = 0;
    RT_ARG(ctx, k, 0, conv->in_channels);
    RT_ARG(ctx, k, 1, g->h);
    RT_ARG(ctx, k, 2, g->w);
    RT_ARG(ctx, k, 3, conv->kernel_h);
    RT_ARG(ctx, k, 4, conv->kernel_w);
    RT_ARG(ctx, k, 5, conv->stride);
    RT_ARG(ctx, k, 6, conv->padding);
    RT_ARG(ctx, k, 7, g->oh);
    RT_ARG(ctx, k, 8, g->ow);
    RT_ARG(ctx, k, 9, n0);
    RT_ARG(ctx, k, 10, nb);
    RT_ARG(ctx, k, 11, scratch);
    RT_ARG(ctx, k, 12, zero);
    RT_ARG(ctx, k, 13, din->buf);
    size_t global[2] = {(size_t)conv->in_channels, (size_t)nb};
    return nn_launch_rows(ctx, k, "col2im", 2, global);
}

/* Moves a chunk between NCHW (nchw) and the scratch's [Cout, nb * P] result area. */
static int launch_layout(rt_context *ctx, const nn_conv2d *conv, const conv_geometry *g,
                         bool to_nchw, const rt_tensor *nchw, int n0, int nb, cl_int tmp_off)
{
    cl_mem scratch = scratch_buffer(conv);
    cl_kernel k;
    const char *name = to_nchw ? "cols_to_nchw" : "nchw_to_cols";
    RT_TRY(rt_kernel_get(ctx, "conv", name, &k));
    RT_ARG(ctx, k, 0, conv->out_channels);
    RT_ARG(ctx, k, 1, g->p);
    RT_ARG(ctx, k, 2, n0);
    RT_ARG(ctx, k, 3, nb);
    if (to_nchw) {
        cl_int has_bias = conv->has_bias;
        cl_mem bias = conv->has_bias ? conv->bias.value.buf : conv->weight.value.buf;
        RT_ARG(ctx, k, 4, scratch);
        RT_ARG(ctx, k, 5, tmp_off);
        RT_ARG(ctx, k, 6, has_bias);
        RT_ARG(ctx, k, 7, bias);
        RT_ARG(ctx, k, 8, nchw->buf);
    } else {
        RT_ARG(ctx, k, 4, nchw->buf);
        RT_ARG(ctx, k, 5, scratch);
        RT_ARG(ctx, k, 6, tmp_off);
    }
    size_t global[2] = {(size_t)conv->out_channels, (size_t)nb};
    return nn_launch_rows(ctx, k, name, 2, global);
}

static int launch_channel_bias_add(rt_context *ctx, const nn_conv2d *conv, const conv_geometry *g,
                                   rt_tensor *out)
{
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "channel_bias_add", &k));
    cl_int rows = g->n * conv->out_channels;
    RT_ARG(ctx, k, 0, rows);
    RT_ARG(ctx, k, 1, conv->out_channels);
    RT_ARG(ctx, k, 2, g->p);
    RT_ARG(ctx, k, 3, conv->bias.value.buf);
    RT_ARG(ctx, k, 4, out->buf);
    size_t global = (size_t)rows;
    return nn_launch_rows(ctx, k, "channel_bias_add", 1, &global);
}

static int launch_channel_sum(rt_context *ctx, const nn_conv2d *conv, const conv_geometry *g,
                              const rt_tensor *dout)
{
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "channel_sum", &k));
    RT_ARG(ctx, k, 0, g->n);
    RT_ARG(ctx, k, 1, conv->out_channels);
    RT_ARG(ctx, k, 2, g->p);
    RT_ARG(ctx, k, 3, dout->buf);
    RT_ARG(ctx, k, 4, conv->bias.grad.buf);
    size_t global = (size_t)conv->out_channels;
    return nn_launch_rows(ctx, k, "channel_sum", 1, &global);
}

/* out_n [Cout, P] = W [Cout, Cin] x in_n [Cin, P] for every image n in one batched GEMM. */
static int pointwise_forward(rt_context *ctx, nn_conv2d *conv, const conv_geometry *g,
                             const rt_tensor *in, rt_tensor *out)
{
    rt_gemm_args a = {
        .m = conv->out_channels,
        .n = g->p,
        .k = conv->in_channels,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = conv->weight.value.buf,
        .lda = conv->in_channels,
        .b = in->buf,
        .ldb = g->p,
        .c = out->buf,
        .ldc = g->p,
    };
    return rt_gemm_strided_batched(ctx, &a, g->n, 0, (size_t)conv->in_channels * g->p,
                                   (size_t)conv->out_channels * g->p);
}

static int pointwise_backward(rt_context *ctx, nn_conv2d *conv, const conv_geometry *g,
                              const rt_tensor *in, const rt_tensor *dout, rt_tensor *din)
{
    size_t in_stride = (size_t)conv->in_channels * g->p;
    size_t out_stride = (size_t)conv->out_channels * g->p;

    /* dW [Cout, Cin] = sum over n of dout_n [Cout, P] x in_n^T [P, Cin] */
    for (int n = 0; n < g->n; n++) {
        rt_gemm_args a = {
            .trans_b = true,
            .m = conv->out_channels,
            .n = conv->in_channels,
            .k = g->p,
            .alpha = 1.0f,
            .beta = n == 0 ? 0.0f : 1.0f,
            .a = dout->buf,
            .a_offset = n * out_stride,
            .lda = g->p,
            .b = in->buf,
            .b_offset = n * in_stride,
            .ldb = g->p,
            .c = conv->weight.grad.buf,
            .ldc = conv->in_channels,
        };
        RT_TRY(rt_gemm(ctx, &a));
    }
    if (!din)
        return RT_OK;

    /* din_n [Cin, P] = W^T [Cin, Cout] x dout_n [Cout, P] */
    rt_gemm_args a = {
        .trans_a = true,
        .m = conv->in_channels,
        .n = g->p,
        .k = conv->out_channels,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = conv->weight.value.buf,
        .lda = conv->in_channels,
        .b = dout->buf,
        .ldb = g->p,
        .c = din->buf,
        .ldc = g->p,
    };
    return rt_gemm_strided_batched(ctx, &a, g->n, 0, out_stride, in_stride);
}

int nn_conv2d_forward(rt_context *ctx, nn_conv2d *conv, const rt_tensor *in, rt_tensor *out)
{
    conv_geometry g;
    RT_TRY(check_shapes(conv, "conv2d forward", in, out, "output", &g));

    if (is_pointwise(conv)) {
        RT_TRY(pointwise_forward(ctx, conv, &g, in, out));
        return conv->has_bias ? launch_channel_bias_add(ctx, conv, &g, out) : RT_OK;
    }

    int nb_max;
    RT_TRY(prepare_scratch(ctx, conv, &g, &nb_max));
    cl_int tmp_off = (cl_int)((size_t)g.k * nb_max * g.p);
    for (int n0 = 0; n0 < g.n; n0 += nb_max) {
        int nb = g.n - n0 < nb_max ? g.n - n0 : nb_max;
        int cols = nb * g.p;
        RT_TRY(launch_im2col(ctx, conv, &g, in, n0, nb));

        /* tmp [Cout, nb * P] = W [Cout, K] x cols [K, nb * P] */
        rt_gemm_args a = {
            .m = conv->out_channels,
            .n = cols,
            .k = g.k,
            .alpha = 1.0f,
            .beta = 0.0f,
            .a = conv->weight.value.buf,
            .lda = g.k,
            .b = scratch_buffer(conv),
            .ldb = cols,
            .c = scratch_buffer(conv),
            .c_offset = (size_t)tmp_off,
            .ldc = cols,
        };
        RT_TRY(rt_gemm(ctx, &a));
        RT_TRY(launch_layout(ctx, conv, &g, true, out, n0, nb, tmp_off));
    }
    return RT_OK;
}

int nn_conv2d_backward(rt_context *ctx, nn_conv2d *conv, const rt_tensor *in, const rt_tensor *dout,
                       rt_tensor *din)
{
    conv_geometry g;
    RT_TRY(check_shapes(conv, "conv2d backward", in, dout, "output gradient", &g));
    if (din) {
        int din_shape[4] = {g.n, conv->in_channels, g.h, g.w};
        RT_TRY(nn_check_tensor(din, "conv2d backward", "input gradient", RT_F32, 4, din_shape));
    }
    if (conv->has_bias)
        RT_TRY(launch_channel_sum(ctx, conv, &g, dout));

    if (is_pointwise(conv))
        return pointwise_backward(ctx, conv, &g, in, dout, din);

    int nb_max;
    RT_TRY(prepare_scratch(ctx, conv, &g, &nb_max));
    cl_int tmp_off = (cl_int)((size_t)g.k * nb_max * g.p);
    for (int n0 = 0; n0 < g.n; n0 += nb_max) {
        int nb = g.n - n0 < nb_max ? g.n - n0 : nb_max;
        int cols = nb * g.p;
        RT_TRY(launch_im2col(ctx, conv, &g, in, n0, nb));
        RT_TRY(launch_layout(ctx, conv, &g, false, dout, n0, nb, tmp_off));

        /* dW [Cout, K] (+)= tmp [Cout, nb * P] x cols^T [nb * P, K] */
        rt_gemm_args dw = {
            .trans_b = true,
            .m = conv->out_channels,
            .n = g.k,
            .k = cols,
            .alpha = 1.0f,
            .beta = n0 == 0 ? 0.0f : 1.0f,
            .a = scratch_buffer(conv),
            .a_offset = (size_t)tmp_off,
            .lda = cols,
            .b = scratch_buffer(conv),
            .ldb = cols,
            .c = conv->weight.grad.buf,
            .ldc = g.k,
        };
        RT_TRY(rt_gemm(ctx, &dw));
        if (!din)
            continue;

        /* dcols [K, nb * P] = W^T [K, Cout] x tmp [Cout, nb * P], written over cols */
        rt_gemm_args dc = {
            .trans_a = true,
            .m = g.k,
            .n = cols,
            .k = conv->out_channels,
            .alpha = 1.0f,
            .beta = 0.0f,
            .a = conv->weight.value.buf,
            .lda = g.k,
            .b = scratch_buffer(conv),
            .b_offset = (size_t)tmp_off,
            .ldb = cols,
            .c = scratch_buffer(conv),
            .ldc = cols,
        };
        RT_TRY(rt_gemm(ctx, &dc));
        RT_TRY(launch_col2im(ctx, conv, &g, din, n0, nb));
    }
    return RT_OK;
}
