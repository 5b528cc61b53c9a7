#include "nn/nn_block.h"

#include <string.h>

/* Propagates a failing status with the block and step prepended to the message. */
#define BLOCK_TRY(expr, ...)                                                                       \
    do {                                                                                           \
        int block_status_ = (expr);                                                                \
        if (block_status_ != RT_OK)                                                                \
            return rt_wrap_error(block_status_, __VA_ARGS__);                                      \
    } while (0)

int nn_block_init(rt_context *ctx, nn_block *blk, const char *prefix, bool bottleneck,
                  int in_channels, int channels, int stride)
{
    memset(blk, 0, sizeof *blk);
    snprintf(blk->name, sizeof blk->name, "%s", prefix);
    blk->bottleneck = bottleneck;
    blk->in_channels = in_channels;
    blk->out_channels = bottleneck ? 4 * channels : channels;
    blk->stride = stride;
    blk->layer_count = bottleneck ? 3 : 2;
    blk->has_downsample = stride != 1 || in_channels != blk->out_channels;

    char name[96];
    if (bottleneck) {
        int kernel[3] = {1, 3, 1};
        int layer_stride[3] = {1, stride, 1};
        int inputs[3] = {in_channels, channels, channels};
        int outputs[3] = {channels, channels, blk->out_channels};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "%s.conv%d", prefix, i + 1);
            RT_TRY(nn_conv2d_init(ctx, &blk->conv[i], name, inputs[i], outputs[i], kernel[i],
                                  layer_stride[i], kernel[i] / 2, false));
            snprintf(name, sizeof name, "%s.bn%d", prefix, i + 1);
            RT_TRY(nn_batchnorm2d_init(ctx, &blk->bn[i], name, outputs[i], i < 2));
        }
    } else {
        int inputs[2] = {in_channels, channels};
        int layer_stride[2] = {stride, 1};
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "%s.conv%d", prefix, i + 1);
            RT_TRY(nn_conv2d_init(ctx, &blk->conv[i], name, inputs[i], channels, 3, layer_stride[i],
                                  1, false));
            snprintf(name, sizeof name, "%s.bn%d", prefix, i + 1);
            RT_TRY(nn_batchnorm2d_init(ctx, &blk->bn[i], name, channels, i == 0));
        }
    }

    if (blk->has_downsample) {
        snprintf(name, sizeof name, "%s.downsample.0", prefix);
        RT_TRY(nn_conv2d_init(ctx, &blk->down_conv, name, in_channels, blk->out_channels, 1, stride,
                              0, false));
        snprintf(name, sizeof name, "%s.downsample.1", prefix);
        RT_TRY(nn_batchnorm2d_init(ctx, &blk->down_bn, name, blk->out_channels, false));
    }
    return RT_OK;
}

void nn_block_free(nn_block *blk)
{
    nn_block_free_activations(blk);
    for (int i = 0; i < blk->layer_count; i++) {
        nn_conv2d_free(&blk->conv[i]);
        nn_batchnorm2d_free(&blk->bn[i]);
    }
    if (blk->has_downsample) {
        nn_conv2d_free(&blk->down_conv);
        nn_batchnorm2d_free(&blk->down_bn);
    }
    memset(blk, 0, sizeof *blk);
}

int nn_block_add_batchnorm(nn_batchnorm2d *bn, const char *prefix, nn_param_list *list)
{
    char name[128];
    RT_TRY(nn_param_list_add(list, &bn->weight));
    RT_TRY(nn_param_list_add(list, &bn->bias));
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    RT_TRY(nn_param_list_add_buffer(list, name, &bn->running_mean));
    snprintf(name, sizeof name, "%s.running_var", prefix);
    return nn_param_list_add_buffer(list, name, &bn->running_var);
}

int nn_block_add_params(nn_block *blk, nn_param_list *list)
{
    char prefix[64];
    for (int i = 0; i < blk->layer_count; i++) {
        RT_TRY(nn_param_list_add(list, &blk->conv[i].weight));
        snprintf(prefix, sizeof prefix, "%s.bn%d", blk->name, i + 1);
        RT_TRY(nn_block_add_batchnorm(&blk->bn[i], prefix, list));
    }
    if (blk->has_downsample) {
        RT_TRY(nn_param_list_add(list, &blk->down_conv.weight));
        snprintf(prefix, sizeof prefix, "%s.downsample.1", blk->name);
        RT_TRY(nn_block_add_batchnorm(&blk->down_bn, prefix, list));
    }
    return RT_OK;
}

void nn_block_free_activations(nn_block *blk)
{
    for (int i = 0; i < 3; i++)
        rt_tensor_free(&blk->conv_out[i]);
    for (int i = 0; i < 2; i++)
        rt_tensor_free(&blk->relu_out[i]);
    rt_tensor_free(&blk->down_out);
    rt_tensor_free(&blk->out);
    blk->input = NULL;
}

static int alloc_activation(rt_context *ctx, rt_tensor *t, const char *prefix, const char *what,
                            int n, int c, int h, int w, size_t *max_numel)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, what);
    RT_TRY(rt_tensor_alloc4(ctx, t, name, n, c, h, w));
    if (t->numel > *max_numel)
        *max_numel = t->numel;
    return RT_OK;
}

int nn_block_alloc(rt_context *ctx, nn_block *blk, int n, int h, int w, int *out_h, int *out_w,
                   size_t *max_numel)
{
    const char *prefix = blk->name;
    static const char *const conv_names[3] = {"conv1.out", "conv2.out", "conv3.out"};
    static const char *const relu_names[2] = {"relu1.out", "relu2.out"};
    int cur_h = h, cur_w = w;
    for (int i = 0; i < blk->layer_count; i++) {
        int next_h, next_w;
        nn_conv2d_output_shape(&blk->conv[i], cur_h, cur_w, &next_h, &next_w);
        RT_TRY(alloc_activation(ctx, &blk->conv_out[i], prefix, conv_names[i], n,
                                blk->conv[i].out_channels, next_h, next_w, max_numel));
        if (i + 1 < blk->layer_count)
            RT_TRY(alloc_activation(ctx, &blk->relu_out[i], prefix, relu_names[i], n,
                                    blk->conv[i].out_channels, next_h, next_w, max_numel));
        cur_h = next_h;
        cur_w = next_w;
    }
    RT_TRY(alloc_activation(ctx, &blk->out, prefix, "out", n, blk->out_channels, cur_h, cur_w,
                            max_numel));
    if (blk->has_downsample)
        RT_TRY(alloc_activation(ctx, &blk->down_out, prefix, "downsample.out", n, blk->out_channels,
                                cur_h, cur_w, max_numel));
    *out_h = cur_h;
    *out_w = cur_w;
    return RT_OK;
}

rt_tensor nn_block_view(const rt_tensor *buffer, const rt_tensor *like)
{
    rt_tensor view = *buffer;
    view.ndim = like->ndim;
    memcpy(view.shape, like->shape, sizeof view.shape);
    view.numel = like->numel;
    snprintf(view.name, sizeof view.name, "grad(%.56s)", like->name);
    return view;
}

int nn_block_forward(rt_context *ctx, nn_block *blk, const rt_tensor *x,
                     rt_tensor *shortcut_scratch, bool training)
{
    const char *name = blk->name;
    blk->input = x;

    /* main path: conv, then BN fused with ReLU, except the last BN which writes into out */
    const rt_tensor *cur = x;
    int last = blk->layer_count - 1;
    for (int i = 0; i <= last; i++) {
        BLOCK_TRY(nn_conv2d_forward(ctx, &blk->conv[i], cur, &blk->conv_out[i]),
                  "forward of %s, convolution %d", name, i + 1);
        rt_tensor *bn_out = i < last ? &blk->relu_out[i] : &blk->out;
        BLOCK_TRY(nn_batchnorm2d_forward(ctx, &blk->bn[i], &blk->conv_out[i], bn_out, training),
                  "forward of %s, batch norm %d", name, i + 1);
        cur = bn_out;
    }

    /* out = relu(out + shortcut) */
    const rt_tensor *shortcut = x;
    rt_tensor down_bn_out = nn_block_view(shortcut_scratch, &blk->out);
    if (blk->has_downsample) {
        BLOCK_TRY(nn_conv2d_forward(ctx, &blk->down_conv, x, &blk->down_out),
                  "forward of %s, downsample convolution", name);
        BLOCK_TRY(
            nn_batchnorm2d_forward(ctx, &blk->down_bn, &blk->down_out, &down_bn_out, training),
            "forward of %s, downsample batch norm", name);
        shortcut = &down_bn_out;
    }
    BLOCK_TRY(nn_add_forward(ctx, &blk->out, shortcut, &blk->out, true),
              "forward of %s, residual addition", name);
    return RT_OK;
}

int nn_block_backward(rt_context *ctx, nn_block *blk, rt_tensor grad[3], int dy_index,
                      const rt_tensor *shortcut_scratch, int *dx_index)
{
    const char *name = blk->name;
    if (!blk->input)
        return rt_set_error(RT_ERR_INVALID,
                            "backward of %s called before forward; run a training forward first",
                            name);

    /*
     * Buffer use: grad[o] contains dy, then dz = d(last BN output + shortcut),
     * which the shortcut needs at the end. Each main-path step writes the BN
     * input gradient to grad[a] and the convolution input gradient to grad[b],
     * so dx ends in grad[b] and grad[a] is free for the downsample branch.
     */
    int o = dy_index, a = (dy_index + 1) % 3, b = (dy_index + 2) % 3;
    rt_tensor dz = nn_block_view(&grad[o], &blk->out);
    BLOCK_TRY(nn_relu_backward(ctx, &blk->out, &dz, &dz), "backward of %s, final ReLU", name);

    rt_tensor dout = dz;
    int last = blk->layer_count - 1;
    for (int i = last; i >= 0; i--) {
        const rt_tensor *bn_out = i < last ? &blk->relu_out[i] : &blk->out;
        const rt_tensor *conv_in = i > 0 ? &blk->relu_out[i - 1] : blk->input;
        rt_tensor dconv = nn_block_view(&grad[a], &blk->conv_out[i]);
        BLOCK_TRY(
            nn_batchnorm2d_backward(ctx, &blk->bn[i], &blk->conv_out[i], bn_out, &dout, &dconv),
            "backward of %s, batch norm %d", name, i + 1);
        rt_tensor dinput = nn_block_view(&grad[b], conv_in);
        BLOCK_TRY(nn_conv2d_backward(ctx, &blk->conv[i], conv_in, &dconv, &dinput),
                  "backward of %s, convolution %d", name, i + 1);
        dout = dinput;
    }
    rt_tensor dx = dout;

    if (blk->has_downsample) {
        rt_tensor down_bn_out = nn_block_view(shortcut_scratch, &blk->out);
        rt_tensor ddown = nn_block_view(&grad[a], &blk->down_out);
        BLOCK_TRY(
            nn_batchnorm2d_backward(ctx, &blk->down_bn, &blk->down_out, &down_bn_out, &dz, &ddown),
            "backward of %s, downsample batch norm", name);
        rt_tensor dx_shortcut = nn_block_view(&grad[o], blk->input);
        BLOCK_TRY(nn_conv2d_backward(ctx, &blk->down_conv, blk->input, &ddown, &dx_shortcut),
                  "backward of %s, downsample convolution", name);
        BLOCK_TRY(nn_axpy(ctx, 1.0f, &dx_shortcut, &dx), "backward of %s, shortcut sum", name);
    } else {
        BLOCK_TRY(nn_axpy(ctx, 1.0f, &dz, &dx), "backward of %s, shortcut sum", name);
    }
    *dx_index = b;
    return RT_OK;
}
