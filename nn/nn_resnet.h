/*
 * ResNet-18, -34 (basic blocks) and -50 (bottlenecks) with ImageNet or CIFAR
 * stems, a width multiplier, any number of classes, and feature hooks.
 *
 * Feature points, where a hook may transform the feature map:
 *   P0 after the stem convolution (before its batch norm)
 *   P1 after the stem max-pool (ImageNet stem only; never called with the CIFAR stem)
 *   P2..P5 after layer1..layer4 (P5 feeds global average pooling)
 *
 * Parameter names follow torchvision ("conv1.weight", "layer1.0.bn2.bias",
 * "fc.weight"), so PyTorch state dicts convert by name. The classifier
 * ("fc.*") is in parameter group 1, everything else in group 0.
 */
#ifndef ALUMCL_NN_RESNET_H
#define ALUMCL_NN_RESNET_H

#include <stdint.h>

#include "nn/nn_layers.h"

enum { NN_P0 = 0, NN_P1, NN_P2, NN_P3, NN_P4, NN_P5, NN_NUM_POINTS };

/*
 * A caller-supplied module at a feature point. forward transforms x in place
 * (shape N x C x H x W) and must save whatever its backward needs; backward
 * receives d(loss)/d(hook output) in dx and replaces it, in place, with
 * d(loss)/d(hook input). Either callback may be NULL (identity).
 */
typedef struct nn_hook {
    void *state;
    int (*forward)(void *state, rt_context *ctx, int point, rt_tensor *x, bool training);
    int (*backward)(void *state, rt_context *ctx, int point, rt_tensor *dx);
} nn_hook;

typedef enum nn_stem { NN_STEM_IMAGENET = 0, NN_STEM_CIFAR = 1 } nn_stem;

typedef struct nn_resnet_config {
    int depth;         /* 18, 34 or 50 */
    nn_stem stem;
    float width;       /* multiplier of the base widths 64/128/256/512; 1.0 = standard */
    int num_classes;
    int in_channels;   /* 3 for RGB */
} nn_resnet_config;

typedef struct nn_resnet nn_resnet;

int nn_resnet_create(rt_context *ctx, const nn_resnet_config *config, nn_resnet **out);
void nn_resnet_free(nn_resnet *net);

/* Kaiming normal (fan-out, ReLU gain) for convolutions, batch norm weight 1 and bias 0,
 * and PyTorch's default uniform init for the classifier; deterministic in seed. */
int nn_resnet_init_weights(nn_resnet *net, uint64_t seed);

/* Trainable parameters and running-statistics buffers, in torchvision order. */
nn_param_list *nn_resnet_params(nn_resnet *net);

void nn_resnet_set_hook(nn_resnet *net, int point, const nn_hook *hook);

/*
 * Runs the network on images [N, in_channels, H, W]. Activations are sized
 * for N, H, W on first use and reallocated when the shape changes.
 */
int nn_resnet_forward(rt_context *ctx, nn_resnet *net, const rt_tensor *images, bool training);

/* Logits [N, num_classes] and pooled embedding [N, feature_dim] of the last forward. */
rt_tensor *nn_resnet_logits(nn_resnet *net);
rt_tensor *nn_resnet_embedding(nn_resnet *net);
int nn_resnet_feature_dim(const nn_resnet *net);

/*
 * Backpropagates d(loss)/d(logits) [N, num_classes]. dembedding, when not
 * NULL, is an extra gradient [N, feature_dim] added at the pooled embedding
 * (for losses on the embedding such as a triplet loss). Writes every
 * parameter gradient; the image gradient is not computed.
 */
int nn_resnet_backward(rt_context *ctx, nn_resnet *net, const rt_tensor *dlogits,
                       const rt_tensor *dembedding);

#endif
