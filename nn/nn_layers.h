/*
 * Layers with forward and backward passes on the device.
 *
 * Shape legend: N batch, C channels, H height, W width, K classes or
 * features. Feature maps are float NCHW tensors; labels are int32 [N].
 *
 * Conventions:
 * - A layer owns its parameters (nn_param) and any state its backward pass
 *   needs beyond its input and output (saved batch statistics, pooling
 *   argmax indices, scratch for im2col). The caller owns activations and
 *   passes the forward input (and, where stated, output) back to backward.
 * - Output tensors are allocated by the caller with the shape given by the
 *   layer's *_output_shape function.
 * - Backward overwrites parameter gradients. A NULL din skips the input
 *   gradient (for the first layer).
 * - Scratch buffers grow on demand and are kept between calls.
 */
#ifndef ALUMCL_NN_LAYERS_H
#define ALUMCL_NN_LAYERS_H

#include <stdint.h>

#include "nn/nn_param.h"

/* ---- 2-D convolution: weight [Cout, Cin, KH, KW], optional bias [Cout] ---- */

typedef struct nn_conv2d {
    int in_channels, out_channels, kernel_h, kernel_w, stride, padding;
    bool has_bias;
    nn_param weight;
    nn_param bias;
    rt_tensor scratch; /* im2col columns or other workspace, grown on demand */
    size_t scratch_limit_bytes; /* im2col scratch bound per batch chunk; 0 means 4 MiB */
    /* Optional im2col workspace that several layers use in place of scratch, so that a network
     * needs one buffer. It may start unallocated (zeroed). Layers grow it, the caller frees it. */
    rt_tensor *workspace;
} nn_conv2d;

int nn_conv2d_init(rt_context *ctx, nn_conv2d *conv, const char *name, int in_channels,
                   int out_channels, int kernel_size, int stride, int padding, bool bias);
void nn_conv2d_free(nn_conv2d *conv);
void nn_conv2d_output_shape(const nn_conv2d *conv, int h, int w, int *out_h, int *out_w);
int nn_conv2d_forward(rt_context *ctx, nn_conv2d *conv, const rt_tensor *in, rt_tensor *out);
int nn_conv2d_backward(rt_context *ctx, nn_conv2d *conv, const rt_tensor *in,
                       const rt_tensor *dout, rt_tensor *din);

/* ---- batch norm 2-D, optionally fused with a following ReLU ---- */

typedef struct nn_batchnorm2d {
    int channels;
    float momentum; /* running = (1 - momentum) * running + momentum * batch, as PyTorch */
    float eps;
    bool fuse_relu; /* y = max(0, bn(x)); backward then needs the forward output */
    nn_param weight; /* gamma [C] */
    nn_param bias;   /* beta [C] */
    rt_tensor running_mean, running_var; /* [C]; running_var is unbiased, as PyTorch */
    rt_tensor save_mean, save_invstd;    /* [C] batch statistics of the last training forward */
    rt_tensor scratch;                   /* unused: the reductions need no workspace */
    bool saved_batch_stats; /* true when save_* are batch statistics (last forward trained) */
} nn_batchnorm2d;

int nn_batchnorm2d_init(rt_context *ctx, nn_batchnorm2d *bn, const char *name, int channels,
                        bool fuse_relu);
void nn_batchnorm2d_free(nn_batchnorm2d *bn);
/* training: normalise with batch statistics and update running averages; else use running. */
int nn_batchnorm2d_forward(rt_context *ctx, nn_batchnorm2d *bn, const rt_tensor *in,
                           rt_tensor *out, bool training);
/* out is the forward output (needed when fuse_relu); in and out may not alias. */
int nn_batchnorm2d_backward(rt_context *ctx, nn_batchnorm2d *bn, const rt_tensor *in,
                            const rt_tensor *out, const rt_tensor *dout, rt_tensor *din);

/* ---- ReLU (in place allowed: out == in) ---- */

int nn_relu_forward(rt_context *ctx, const rt_tensor *in, rt_tensor *out);
/* out is the forward output; din may alias dout. */
int nn_relu_backward(rt_context *ctx, const rt_tensor *out, const rt_tensor *dout,
                     rt_tensor *din);

/* ---- max-pool 2-D (kernel, stride, padding) with saved argmax ---- */

typedef struct nn_maxpool2d {
    int kernel, stride, padding;
    rt_tensor argmax; /* int32, same shape as the output, grown on demand */
} nn_maxpool2d;

void nn_maxpool2d_init(nn_maxpool2d *pool, int kernel, int stride, int padding);
void nn_maxpool2d_free(nn_maxpool2d *pool);
void nn_maxpool2d_output_shape(const nn_maxpool2d *pool, int h, int w, int *out_h, int *out_w);
int nn_maxpool2d_forward(rt_context *ctx, nn_maxpool2d *pool, const rt_tensor *in,
                         rt_tensor *out);
int nn_maxpool2d_backward(rt_context *ctx, nn_maxpool2d *pool, const rt_tensor *dout,
                          rt_tensor *din);

/* ---- global average pool: [N, C, H, W] -> [N, C] ---- */

int nn_global_avgpool_forward(rt_context *ctx, const rt_tensor *in, rt_tensor *out);
int nn_global_avgpool_backward(rt_context *ctx, const rt_tensor *dout, rt_tensor *din);

/* ---- linear: weight [K_out, K_in], bias [K_out]; in [N, K_in] -> out [N, K_out] ---- */

typedef struct nn_linear {
    int in_features, out_features;
    nn_param weight;
    nn_param bias;
} nn_linear;

int nn_linear_init(rt_context *ctx, nn_linear *fc, const char *name, int in_features,
                   int out_features);
void nn_linear_free(nn_linear *fc);
int nn_linear_forward(rt_context *ctx, nn_linear *fc, const rt_tensor *in, rt_tensor *out);
int nn_linear_backward(rt_context *ctx, nn_linear *fc, const rt_tensor *in,
                       const rt_tensor *dout, rt_tensor *din);

/* ---- element-wise helpers ---- */

/* out = a + b (out may alias a or b); with relu, out = max(0, a + b). */
int nn_add_forward(rt_context *ctx, const rt_tensor *a, const rt_tensor *b, rt_tensor *out,
                   bool relu);
/* y += alpha * x */
int nn_axpy(rt_context *ctx, float alpha, const rt_tensor *x, rt_tensor *y);
/* y *= alpha */
int nn_scale(rt_context *ctx, float alpha, rt_tensor *y);

/* ---- softmax cross-entropy with optional label smoothing ---- */

/*
 * logits [N, K], labels int32 [N] in 0..K-1. Writes per-sample losses [N]
 * (loss_per_sample, may be NULL), dlogits [N, K] = d(mean loss)/d(logits)
 * scaled by grad_scale (may be NULL for evaluation), and stats [2] (may be NULL):
 * stats[0] = mean loss, stats[1] = number of correct argmax predictions, so
 * the host reads back two floats per step at most.
 */
int nn_softmax_xent(rt_context *ctx, const rt_tensor *logits, const rt_tensor *labels,
                    float label_smoothing, float grad_scale, rt_tensor *loss_per_sample,
                    rt_tensor *dlogits, rt_tensor *stats);

/*
 * Label range checks. The loss kernel clamps out-of-range labels to 0..K-1 so
 * that it cannot read out of bounds, and callers use these checks to reject
 * such labels with a message instead. nn_labels_check validates host labels.
 * nn_labels_check_tensor reads the labels back from the device (a blocking
 * read). Both return RT_ERR_INVALID naming the first bad index and value.
 */
int nn_labels_check(const int32_t *labels, int count, int num_classes);
int nn_labels_check_tensor(const rt_tensor *labels, int num_classes);

#endif
