/*
 * Residual blocks of the ResNets in nn_resnet.c (internal to nn/).
 *
 * A basic block is conv3x3(stride) - BN - ReLU - conv3x3 - BN. A bottleneck
 * is conv1x1 - BN - ReLU - conv3x3(stride) - BN - ReLU - conv1x1(4x) - BN,
 * with the stride on the 3x3 convolution as in torchvision's v1.5. Either adds a
 * shortcut (the input, or a 1x1 strided convolution and BN when the shape
 * changes) and applies a final ReLU.
 *
 * Activation gradients are not owned by a block: backward works in three
 * caller-owned buffers of the network's largest activation size and reads
 * them through views with each activation's shape.
 */
#ifndef ALUMCL_NN_BLOCK_H
#define ALUMCL_NN_BLOCK_H

#include "nn/nn_layers.h"

typedef struct nn_block {
    char name[32]; /* module prefix, "layer2.0" */
    bool bottleneck;
    bool has_downsample;
    int in_channels, out_channels, stride;
    int layer_count;        /* 2 (basic) or 3 (bottleneck) convolutions on the main path */
    nn_conv2d conv[3];      /* conv1..conv3 */
    nn_batchnorm2d bn[3];   /* bn1..bn3; all but the last fuse the ReLU */
    nn_conv2d down_conv;    /* downsample.0 */
    nn_batchnorm2d down_bn; /* downsample.1 */

    /* activations for the current batch shape, owned by the block */
    rt_tensor conv_out[3];  /* outputs of conv1..conv3, the BN inputs */
    rt_tensor relu_out[2];  /* relu(bn1), relu(bn2): inputs of the next convolution */
    rt_tensor down_out;     /* output of the downsample convolution */
    rt_tensor out;          /* relu(last BN + shortcut) */
    const rt_tensor *input; /* input of the last forward, needed by backward */
} nn_block;

/*
 * Creates the layers of block prefix ("layer2.0") with in_channels inputs,
 * channels in the inner convolutions and channels (basic) or 4 * channels
 * (bottleneck) outputs.
 */
int nn_block_init(rt_context *ctx, nn_block *blk, const char *prefix, bool bottleneck,
                  int in_channels, int channels, int stride);
void nn_block_free(nn_block *blk);

/* Adds weight and bias of a batch norm, and its running statistics as "<prefix>.running_mean/var".
 */
int nn_block_add_batchnorm(nn_batchnorm2d *bn, const char *prefix, nn_param_list *list);

/* Adds the parameters and running statistics in torchvision order. */
int nn_block_add_params(nn_block *blk, nn_param_list *list);

/*
 * Allocates the activations for input [n, in_channels, h, w] and returns the
 * output size. *max_numel is raised to the largest activation of the block.
 */
int nn_block_alloc(rt_context *ctx, nn_block *blk, int n, int h, int w, int *out_h, int *out_w,
                   size_t *max_numel);
void nn_block_free_activations(nn_block *blk);

/*
 * Runs the block on x into blk->out. shortcut_scratch receives the
 * downsample BN output and must have at least blk->out.numel elements.
 */
int nn_block_forward(rt_context *ctx, nn_block *blk, const rt_tensor *x,
                     rt_tensor *shortcut_scratch, bool training);

/*
 * Backpropagates the gradient of blk->out, stored in grad[dy_index], and
 * leaves the gradient of the block input in grad[*dx_index]. Each of the
 * three grad buffers must fit the largest activation, and all three are
 * overwritten.
 * shortcut_scratch is the tensor passed to forward.
 */
int nn_block_backward(rt_context *ctx, nn_block *blk, rt_tensor grad[3], int dy_index,
                      const rt_tensor *shortcut_scratch, int *dx_index);

/* Returns a non-owning tensor on buffer's memory with the shape of like (never free it). */
rt_tensor nn_block_view(const rt_tensor *buffer, const rt_tensor *like);

#endif
