/*
 * ResNet-18/34/50: construction, torchvision initialisation, the activation
 * arena, and forward and backward passes with feature hooks.
 *
 * Activations live in an arena: every forward and gradient tensor is
 * allocated on the first forward for a batch shape N, H, W and reused until
 * the shape changes. Activation gradients share three buffers of the largest
 * activation size (see nn_block_backward), so gradient memory does not grow
 * with depth. Nothing is read back to the host in forward or backward.
 */
#include "nn/nn_resnet.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_block.h"

#define NUM_STAGES 4

/* Propagates a failing status with the step prepended to the message. */
#define RESNET_TRY(expr, ...)                                                                      \
    do {                                                                                           \
        int resnet_status_ = (expr);                                                               \
        if (resnet_status_ != RT_OK)                                                               \
            return rt_wrap_error(resnet_status_, __VA_ARGS__);                                     \
    } while (0)

struct nn_resnet {
    rt_context *ctx;
    nn_resnet_config config;
    int feature_dim;

    nn_conv2d conv1;
    nn_batchnorm2d bn1; /* fused with the stem ReLU */
    nn_maxpool2d maxpool;
    nn_block *blocks;
    int block_count;
    int stage_end[NUM_STAGES]; /* one past the last block of each stage */
    nn_linear fc;
    nn_param_list params;
    rt_tensor conv_workspace; /* im2col columns shared by every convolution, grown on demand */

    nn_hook hooks[NN_NUM_POINTS];
    nn_hook active_hooks[NN_NUM_POINTS]; /* hooks as of the last forward, used by backward */

    /* arena for the batch shape n x in_channels x h x w; n == 0 when empty */
    int n, h, w;
    rt_tensor stem_conv;          /* conv1 output, hooked in place at P0 */
    rt_tensor stem_relu;          /* relu(bn1(stem_conv)) */
    rt_tensor pool_out;           /* ImageNet stem: max-pool output, hooked in place at P1 */
    rt_tensor hooked[NUM_STAGES]; /* P2..P5: copies of layer outputs that a hook transforms */
    rt_tensor shortcut_scratch;   /* downsample BN output, consumed by the residual sum */
    rt_tensor embedding, logits;  /* [n, feature_dim], [n, num_classes] */
    rt_tensor dembedding;         /* [n, feature_dim] */
    rt_tensor grad[3];            /* activation gradients, each of the largest activation */
    const rt_tensor *stage_out[NUM_STAGES]; /* stage outputs as fed onward, after any hook */
    /* NOTE: the caller's images tensor, which must stay unchanged until backward (conv1's weight
     * gradient reads it) */
    const rt_tensor *images;
    bool have_forward;  /* a forward ran on the current arena */
    bool last_training; /* the last forward ran in training mode */
};

/* Base widths of the stages; the stem has the width of the first stage. */
static const int stage_base_channels[NUM_STAGES] = {64, 128, 256, 512};

static int scaled_channels(int base, float width)
{
    long c = lroundf((float)base * width);
    return c < 1 ? 1 : (int)c;
}

static int validate_config(const nn_resnet_config *config)
{
    if (config->depth != 18 && config->depth != 34 && config->depth != 50)
        return rt_set_error(RT_ERR_INVALID, "ResNet depth %d is not supported; use 18, 34 or 50",
                            config->depth);
    if (config->stem != NN_STEM_IMAGENET && config->stem != NN_STEM_CIFAR)
        return rt_set_error(RT_ERR_INVALID,
                            "ResNet stem %d is invalid; use NN_STEM_IMAGENET or NN_STEM_CIFAR",
                            (int)config->stem);
    if (!(config->width > 0.0f) || config->width > 64.0f)
        return rt_set_error(RT_ERR_INVALID,
                            "ResNet width multiplier %g is invalid; use a value in (0, 64]",
                            (double)config->width);
    if (config->num_classes < 1)
        return rt_set_error(RT_ERR_INVALID, "ResNet num_classes %d is invalid; use 1 or more",
                            config->num_classes);
    if (config->in_channels < 1)
        return rt_set_error(RT_ERR_INVALID, "ResNet in_channels %d is invalid; use 1 or more",
                            config->in_channels);
    return RT_OK;
}

static int build_layers(rt_context *ctx, nn_resnet *net)
{
    const nn_resnet_config *cfg = &net->config;
    int stem_channels = scaled_channels(stage_base_channels[0], cfg->width);
    if (cfg->stem == NN_STEM_IMAGENET)
        RT_TRY(nn_conv2d_init(ctx, &net->conv1, "conv1", cfg->in_channels, stem_channels, 7, 2, 3,
                              false));
    else
        RT_TRY(nn_conv2d_init(ctx, &net->conv1, "conv1", cfg->in_channels, stem_channels, 3, 1, 1,
                              false));
    RT_TRY(nn_batchnorm2d_init(ctx, &net->bn1, "bn1", stem_channels, true));
    nn_maxpool2d_init(&net->maxpool, 3, 2, 1);

    static const int counts18[NUM_STAGES] = {2, 2, 2, 2};
    static const int counts34[NUM_STAGES] = {3, 4, 6, 3};
    const int *counts = cfg->depth == 18 ? counts18 : counts34; /* ResNet-50 has 34's counts */
    bool bottleneck = cfg->depth == 50;

    int total = 0;
    for (int s = 0; s < NUM_STAGES; s++)
        total += counts[s];
    net->blocks = calloc((size_t)total, sizeof *net->blocks);
    if (!net->blocks)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory allocating %d ResNet blocks", total);

    int in_channels = stem_channels;
    for (int s = 0; s < NUM_STAGES; s++) {
        int channels = scaled_channels(stage_base_channels[s], cfg->width);
        for (int b = 0; b < counts[s]; b++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d", s + 1, b);
            int stride = (s > 0 && b == 0) ? 2 : 1;
            /* counted first, so nn_resnet_free also releases a block whose init failed */
            nn_block *blk = &net->blocks[net->block_count++];
            RT_TRY(nn_block_init(ctx, blk, prefix, bottleneck, in_channels, channels, stride));
            in_channels = blk->out_channels;
        }
        net->stage_end[s] = net->block_count;
    }
    net->feature_dim = in_channels;
    RT_TRY(nn_linear_init(ctx, &net->fc, "fc", net->feature_dim, cfg->num_classes));
    net->fc.weight.group = 1;
    net->fc.bias.group = 1;

    /* the queue is in order, so convolutions can take turns on one im2col buffer */
    net->conv1.workspace = &net->conv_workspace;
    for (int i = 0; i < net->block_count; i++) {
        nn_block *blk = &net->blocks[i];
        for (int j = 0; j < blk->layer_count; j++)
            blk->conv[j].workspace = &net->conv_workspace;
        if (blk->has_downsample)
            blk->down_conv.workspace = &net->conv_workspace;
    }
    return RT_OK;
}

static int build_param_list(nn_resnet *net)
{
    nn_param_list *list = &net->params;
    RT_TRY(nn_param_list_add(list, &net->conv1.weight));
    RT_TRY(nn_block_add_batchnorm(&net->bn1, "bn1", list));
    for (int i = 0; i < net->block_count; i++)
        RT_TRY(nn_block_add_params(&net->blocks[i], list));
    RT_TRY(nn_param_list_add(list, &net->fc.weight));
    return nn_param_list_add(list, &net->fc.bias);
}

int nn_resnet_create(rt_context *ctx, const nn_resnet_config *config, nn_resnet **out)
{
    *out = NULL;
    RT_TRY(validate_config(config));
    nn_resnet *net = calloc(1, sizeof *net);
    if (!net)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory allocating a ResNet");
    net->ctx = ctx;
    net->config = *config;

    int st = build_layers(ctx, net);
    if (st == RT_OK)
        st = build_param_list(net);
    if (st == RT_OK)
        st = nn_resnet_init_weights(net, 0);
    if (st != RT_OK) {
        nn_resnet_free(net);
        return rt_wrap_error(st, "creating ResNet-%d", config->depth);
    }
    *out = net;
    return RT_OK;
}

static void free_arena(nn_resnet *net)
{
    for (int i = 0; i < net->block_count; i++)
        nn_block_free_activations(&net->blocks[i]);
    rt_tensor_free(&net->stem_conv);
    rt_tensor_free(&net->stem_relu);
    rt_tensor_free(&net->pool_out);
    for (int s = 0; s < NUM_STAGES; s++) {
        rt_tensor_free(&net->hooked[s]);
        net->stage_out[s] = NULL;
    }
    rt_tensor_free(&net->shortcut_scratch);
    rt_tensor_free(&net->embedding);
    rt_tensor_free(&net->logits);
    rt_tensor_free(&net->dembedding);
    for (int i = 0; i < 3; i++)
        rt_tensor_free(&net->grad[i]);
    net->n = net->h = net->w = 0;
    net->images = NULL;
    net->have_forward = false;
}

void nn_resnet_free(nn_resnet *net)
{
    if (!net)
        return;
    free_arena(net);
    if (net->blocks) {
        for (int i = 0; i < net->block_count; i++)
            nn_block_free(&net->blocks[i]);
        free(net->blocks);
    }
    nn_conv2d_free(&net->conv1);
    nn_batchnorm2d_free(&net->bn1);
    nn_maxpool2d_free(&net->maxpool);
    nn_linear_free(&net->fc);
    nn_param_list_free(&net->params);
    rt_tensor_free(&net->conv_workspace);
    free(net);
}

/* ---- initialisation ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Returns a uniform double in (0, 1), never 0 so that log() in Box-Muller stays finite. */
static double uniform_open(uint64_t *state)
{
    return ((double)(splitmix64(state) >> 11) + 0.5) / 9007199254740992.0;
}

static void fill_normal(float *x, size_t n, double std, uint64_t *state)
{
    for (size_t i = 0; i < n; i += 2) {
        /* Box-Muller: two independent standard normals per pair of uniforms */
        double radius = sqrt(-2.0 * log(uniform_open(state)));
        double angle = 2.0 * M_PI * uniform_open(state);
        x[i] = (float)(std * radius * cos(angle));
        if (i + 1 < n)
            x[i + 1] = (float)(std * radius * sin(angle));
    }
}

static void fill_uniform(float *x, size_t n, double bound, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * uniform_open(state) - 1.0) * bound);
}

/* Kaiming normal with mode fan_out and the ReLU gain: std = sqrt(2 / (Cout * KH * KW)). */
static int init_conv(nn_conv2d *conv, float *host, uint64_t *state)
{
    const rt_tensor *w = &conv->weight.value;
    double fan_out = (double)conv->out_channels * conv->kernel_h * conv->kernel_w;
    fill_normal(host, w->numel, sqrt(2.0 / fan_out), state);
    return rt_tensor_write(&conv->weight.value, host);
}

static int init_batchnorm(nn_batchnorm2d *bn)
{
    RT_TRY(rt_tensor_fill(&bn->weight.value, 1.0f));
    RT_TRY(rt_tensor_zero(&bn->bias.value));
    RT_TRY(rt_tensor_zero(&bn->running_mean));
    return rt_tensor_fill(&bn->running_var, 1.0f);
}

static size_t max_param_numel(const nn_resnet *net)
{
    size_t n = 0;
    for (int i = 0; i < net->params.count; i++)
        if (net->params.params[i]->value.numel > n)
            n = net->params.params[i]->value.numel;
    return n;
}

static int init_all(nn_resnet *net, float *host, uint64_t *state)
{
    RT_TRY(init_conv(&net->conv1, host, state));
    RT_TRY(init_batchnorm(&net->bn1));
    for (int i = 0; i < net->block_count; i++) {
        nn_block *blk = &net->blocks[i];
        for (int j = 0; j < blk->layer_count; j++) {
            RT_TRY(init_conv(&blk->conv[j], host, state));
            RT_TRY(init_batchnorm(&blk->bn[j]));
        }
        if (blk->has_downsample) {
            RT_TRY(init_conv(&blk->down_conv, host, state));
            RT_TRY(init_batchnorm(&blk->down_bn));
        }
    }

    /* PyTorch's nn.Linear default: weight and bias uniform in +-1/sqrt(fan_in) */
    double bound = 1.0 / sqrt((double)net->fc.in_features);
    fill_uniform(host, net->fc.weight.value.numel, bound, state);
    RT_TRY(rt_tensor_write(&net->fc.weight.value, host));
    fill_uniform(host, net->fc.bias.value.numel, bound, state);
    return rt_tensor_write(&net->fc.bias.value, host);
}

int nn_resnet_init_weights(nn_resnet *net, uint64_t seed)
{
    float *host = malloc(max_param_numel(net) * sizeof *host);
    if (!host)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory initialising ResNet weights");
    uint64_t state = seed;
    int st = init_all(net, host, &state);
    free(host);
    return st;
}

nn_param_list *nn_resnet_params(nn_resnet *net)
{
    return &net->params;
}

void nn_resnet_set_hook(nn_resnet *net, int point, const nn_hook *hook)
{
    if (point < 0 || point >= NN_NUM_POINTS)
        return;
    if (hook)
        net->hooks[point] = *hook;
    else
        memset(&net->hooks[point], 0, sizeof net->hooks[point]);
}

/* ---- activation arena ---- */

static void track(const rt_tensor *t, size_t *max_numel)
{
    if (t->numel > *max_numel)
        *max_numel = t->numel;
}

static int alloc_arena(rt_context *ctx, nn_resnet *net, int n, int h, int w)
{
    size_t max_numel = 0;
    int c = net->conv1.out_channels;
    int oh, ow;
    nn_conv2d_output_shape(&net->conv1, h, w, &oh, &ow);
    RT_TRY(rt_tensor_alloc4(ctx, &net->stem_conv, "conv1.out", n, c, oh, ow));
    RT_TRY(rt_tensor_alloc4(ctx, &net->stem_relu, "bn1.relu.out", n, c, oh, ow));
    track(&net->stem_conv, &max_numel);
    if (net->config.stem == NN_STEM_IMAGENET) {
        int ph, pw;
        nn_maxpool2d_output_shape(&net->maxpool, oh, ow, &ph, &pw);
        RT_TRY(rt_tensor_alloc4(ctx, &net->pool_out, "maxpool.out", n, c, ph, pw));
        track(&net->pool_out, &max_numel);
        oh = ph;
        ow = pw;
    }

    size_t max_block_out = 0;
    for (int i = 0; i < net->block_count; i++) {
        nn_block *blk = &net->blocks[i];
        RT_TRY(nn_block_alloc(ctx, blk, n, oh, ow, &oh, &ow, &max_numel));
        if (blk->has_downsample && blk->out.numel > max_block_out)
            max_block_out = blk->out.numel;
    }
    if (max_block_out > 0) {
        int shape[1] = {(int)max_block_out};
        RT_TRY(rt_tensor_alloc(ctx, &net->shortcut_scratch, "downsample.bn.out", RT_F32, 1, shape));
    }
    int fshape[2] = {n, net->feature_dim};
    int lshape[2] = {n, net->config.num_classes};
    RT_TRY(rt_tensor_alloc(ctx, &net->embedding, "embedding", RT_F32, 2, fshape));
    RT_TRY(rt_tensor_alloc(ctx, &net->dembedding, "embedding.grad", RT_F32, 2, fshape));
    RT_TRY(rt_tensor_alloc(ctx, &net->logits, "logits", RT_F32, 2, lshape));

    if (max_numel > INT_MAX)
        return rt_set_error(RT_ERR_INVALID,
                            "the largest ResNet activation has %zu elements, above the %d a "
                            "tensor dimension can hold; use a smaller batch or image size",
                            max_numel, INT_MAX);
    int gshape[1] = {(int)max_numel};
    static const char *const grad_names[3] = {"activation.grad0", "activation.grad1",
                                              "activation.grad2"};
    for (int i = 0; i < 3; i++)
        RT_TRY(rt_tensor_alloc(ctx, &net->grad[i], grad_names[i], RT_F32, 1, gshape));
    net->n = n;
    net->h = h;
    net->w = w;
    return RT_OK;
}

static int ensure_arena(rt_context *ctx, nn_resnet *net, int n, int h, int w)
{
    if (net->n == n && net->h == h && net->w == w)
        return RT_OK;
    free_arena(net);
    int st = alloc_arena(ctx, net, n, h, w);
    if (st != RT_OK) {
        free_arena(net);
        return rt_wrap_error(st, "allocating ResNet activations for %d x %d x %d x %d images", n,
                             net->config.in_channels, h, w);
    }
    return RT_OK;
}

/* ---- forward ---- */

static int hook_forward(rt_context *ctx, nn_resnet *net, int point, rt_tensor *x, bool training)
{
    const nn_hook *hook = &net->active_hooks[point];
    if (!hook->forward)
        return RT_OK;
    RESNET_TRY(hook->forward(hook->state, ctx, point, x, training), "hook forward at P%d", point);
    return RT_OK;
}

static int hook_backward(rt_context *ctx, nn_resnet *net, int point, rt_tensor *dx)
{
    const nn_hook *hook = &net->active_hooks[point];
    if (!hook->backward)
        return RT_OK;
    RESNET_TRY(hook->backward(hook->state, ctx, point, dx), "hook backward at P%d", point);
    return RT_OK;
}

/* Runs conv1, P0, bn1 + ReLU, and for the ImageNet stem the max-pool and P1. */
static int stem_forward(rt_context *ctx, nn_resnet *net, const rt_tensor *images, bool training,
                        const rt_tensor **out)
{
    RESNET_TRY(nn_conv2d_forward(ctx, &net->conv1, images, &net->stem_conv), "forward of conv1");
    RT_TRY(hook_forward(ctx, net, NN_P0, &net->stem_conv, training));
    RESNET_TRY(nn_batchnorm2d_forward(ctx, &net->bn1, &net->stem_conv, &net->stem_relu, training),
               "forward of bn1");
    *out = &net->stem_relu;
    if (net->config.stem == NN_STEM_IMAGENET) {
        RESNET_TRY(nn_maxpool2d_forward(ctx, &net->maxpool, &net->stem_relu, &net->pool_out),
                   "forward of maxpool");
        RT_TRY(hook_forward(ctx, net, NN_P1, &net->pool_out, training));
        *out = &net->pool_out;
    }
    return RT_OK;
}

/*
 * Hands a stage output to the hook at its point. The block output itself is
 * kept for the ReLU backward, so a hook that transforms values works on a copy.
 */
static int stage_hook_forward(rt_context *ctx, nn_resnet *net, int stage, const rt_tensor *x,
                              bool training, const rt_tensor **out)
{
    int point = NN_P2 + stage;
    *out = x;
    if (!net->active_hooks[point].forward)
        return RT_OK;
    rt_tensor *copy = &net->hooked[stage];
    if (!copy->buf) {
        char name[32];
        snprintf(name, sizeof name, "P%d.hook.in", point);
        RT_TRY(rt_tensor_alloc(ctx, copy, name, RT_F32, x->ndim, x->shape));
    }
    RT_TRY(rt_tensor_copy(copy, x));
    RT_TRY(hook_forward(ctx, net, point, copy, training));
    *out = copy;
    return RT_OK;
}

static int check_images(const nn_resnet *net, const rt_tensor *images)
{
    char shape[64];
    rt_tensor_shape_string(images, shape, sizeof shape);
    if (images->dtype != RT_F32 || images->ndim != 4 || images->shape[1] != net->config.in_channels)
        return rt_set_error(RT_ERR_INVALID,
                            "ResNet input %s has shape %s; expected float N x %d x H x W images",
                            images->name, shape, net->config.in_channels);
    return RT_OK;
}

int nn_resnet_forward(rt_context *ctx, nn_resnet *net, const rt_tensor *images, bool training)
{
    RT_TRY(check_images(net, images));
    net->have_forward = false;
    int n = images->shape[0], h = images->shape[2], w = images->shape[3];
    RT_TRY(ensure_arena(ctx, net, n, h, w));

    /* batch norm in training mode needs two values per channel to estimate a variance */
    const rt_tensor *last = &net->blocks[net->block_count - 1].out;
    if (training && (size_t)n * (size_t)last->shape[2] * (size_t)last->shape[3] < 2)
        return rt_set_error(RT_ERR_INVALID,
                            "training a ResNet on %d image(s) of %dx%d leaves layer4 with %dx%d "
                            "features per channel, too few for batch statistics; use a batch of "
                            "2 or more, or larger images",
                            n, h, w, last->shape[2], last->shape[3]);
    memcpy(net->active_hooks, net->hooks, sizeof net->hooks);

    const rt_tensor *x = images;
    RT_TRY(stem_forward(ctx, net, images, training, &x));
    int block = 0;
    for (int s = 0; s < NUM_STAGES; s++) {
        for (; block < net->stage_end[s]; block++) {
            nn_block *blk = &net->blocks[block];
            RT_TRY(nn_block_forward(ctx, blk, x, &net->shortcut_scratch, training));
            x = &blk->out;
        }
        RT_TRY(stage_hook_forward(ctx, net, s, x, training, &x));
        net->stage_out[s] = x;
    }

    RESNET_TRY(nn_global_avgpool_forward(ctx, x, &net->embedding), "forward of avgpool");
    RESNET_TRY(nn_linear_forward(ctx, &net->fc, &net->embedding, &net->logits), "forward of fc");
    net->images = images;
    net->have_forward = true;
    net->last_training = training;
    return RT_OK;
}

rt_tensor *nn_resnet_logits(nn_resnet *net)
{
    return net->logits.buf ? &net->logits : NULL;
}

rt_tensor *nn_resnet_embedding(nn_resnet *net)
{
    return net->embedding.buf ? &net->embedding : NULL;
}

int nn_resnet_feature_dim(const nn_resnet *net)
{
    return net->feature_dim;
}

/* ---- backward ---- */

static int check_matrix(const rt_tensor *t, const char *what, int rows, int cols)
{
    if (t->dtype == RT_F32 && t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
        return RT_OK;
    char shape[64];
    rt_tensor_shape_string(t, shape, sizeof shape);
    return rt_set_error(RT_ERR_INVALID, "ResNet backward: %s %s has shape %s; expected float %dx%d",
                        what, t->name, shape, rows, cols);
}

/* Backpropagates from the gradient of the stem output in grad[index] to the conv1 weights. */
static int stem_backward(rt_context *ctx, nn_resnet *net, int index)
{
    rt_tensor *grad = net->grad;
    rt_tensor drelu;
    if (net->config.stem == NN_STEM_IMAGENET) {
        rt_tensor dpool = nn_block_view(&grad[index], &net->pool_out);
        RT_TRY(hook_backward(ctx, net, NN_P1, &dpool));
        drelu = nn_block_view(&grad[(index + 1) % 3], &net->stem_relu);
        RESNET_TRY(nn_maxpool2d_backward(ctx, &net->maxpool, &dpool, &drelu),
                   "backward of maxpool");
        index = (index + 1) % 3;
    } else {
        drelu = nn_block_view(&grad[index], &net->stem_relu);
    }
    rt_tensor dconv = nn_block_view(&grad[(index + 1) % 3], &net->stem_conv);
    RESNET_TRY(
        nn_batchnorm2d_backward(ctx, &net->bn1, &net->stem_conv, &net->stem_relu, &drelu, &dconv),
        "backward of bn1");
    RT_TRY(hook_backward(ctx, net, NN_P0, &dconv));
    RESNET_TRY(nn_conv2d_backward(ctx, &net->conv1, net->images, &dconv, NULL),
               "backward of conv1");
    return RT_OK;
}

int nn_resnet_backward(rt_context *ctx, nn_resnet *net, const rt_tensor *dlogits,
                       const rt_tensor *dembedding)
{
    if (!net->have_forward || !net->last_training)
        return rt_set_error(RT_ERR_INVALID,
                            "ResNet backward needs a successful training-mode forward first (the "
                            "last forward %s)",
                            !net->have_forward ? "failed or never ran" : "ran in evaluation mode");
    RT_TRY(check_matrix(dlogits, "dlogits", net->n, net->config.num_classes));
    if (dembedding)
        RT_TRY(check_matrix(dembedding, "dembedding", net->n, net->feature_dim));

    /* classifier and pooled embedding */
    RESNET_TRY(nn_linear_backward(ctx, &net->fc, &net->embedding, dlogits, &net->dembedding),
               "backward of fc");
    if (dembedding)
        RESNET_TRY(nn_axpy(ctx, 1.0f, dembedding, &net->dembedding),
                   "adding the embedding gradient");
    int index = 0;
    rt_tensor dfeatures = nn_block_view(&net->grad[index], net->stage_out[NUM_STAGES - 1]);
    RESNET_TRY(nn_global_avgpool_backward(ctx, &net->dembedding, &dfeatures),
               "backward of avgpool");

    /* stages in reverse, each preceded by the backward of the hook at its output */
    for (int s = NUM_STAGES - 1; s >= 0; s--) {
        rt_tensor dstage = nn_block_view(&net->grad[index], net->stage_out[s]);
        RT_TRY(hook_backward(ctx, net, NN_P2 + s, &dstage));
        int first = s > 0 ? net->stage_end[s - 1] : 0;
        for (int b = net->stage_end[s] - 1; b >= first; b--)
            RT_TRY(nn_block_backward(ctx, &net->blocks[b], net->grad, index, &net->shortcut_scratch,
                                     &index));
    }
    return stem_backward(ctx, net, index);
}
