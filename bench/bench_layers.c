/*
 * Forward and backward time of the nn layers at ResNet shapes, next to
 * PyTorch's CPU layers measured in the same run.
 *
 * Usage: bench_layers [--min-seconds S] [--no-torch] [--scratch-mib M]
 * Run from the repository root: the PyTorch column runs
 * tools/bench_layers_torch.py with /usr/bin/python3, 2 torch threads and
 * OPENBLAS_NUM_THREADS=2. Each pass runs once to warm up (kernel builds),
 * then repeatedly until S seconds (default 1.0) have passed. GFLOP/s counts
 * 2 flops per multiply-add of the convolution or matrix product. The backward
 * pass computes both the weight and the input gradient, so it counts twice
 * the forward flops. Memory-bound layers show times only. --scratch-mib sets
 * the convolutions' im2col scratch limit (default: the layer's default).
 */
#include "nn/nn_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum layer_kind { LAYER_CONV, LAYER_BATCHNORM, LAYER_MAXPOOL, LAYER_LINEAR } layer_kind;

typedef struct layer_shape {
    const char *label; /* must match the labels of tools/bench_layers_torch.py */
    layer_kind kind;
    int n, in_channels, out_channels, size, kernel, stride, padding;
} layer_shape;

static const layer_shape LAYERS[] = {
    {"conv3x3 64->64 32x32 b64", LAYER_CONV, 64, 64, 64, 32, 3, 1, 1},
    {"conv3x3 128->128 16x16 b64", LAYER_CONV, 64, 128, 128, 16, 3, 1, 1},
    {"conv3x3 256->256 8x8 b64", LAYER_CONV, 64, 256, 256, 8, 3, 1, 1},
    {"conv3x3 512->512 4x4 b64", LAYER_CONV, 64, 512, 512, 4, 3, 1, 1},
    {"conv3x3 s2 64->128 32x32 b64", LAYER_CONV, 64, 64, 128, 32, 3, 2, 1},
    {"conv1x1 s2 64->128 32x32 b64", LAYER_CONV, 64, 64, 128, 32, 1, 2, 0},
    {"conv3x3 3->64 32x32 b64", LAYER_CONV, 64, 3, 64, 32, 3, 1, 1},
    {"conv7x7 s2 3->64 112x112 b8", LAYER_CONV, 8, 3, 64, 112, 7, 2, 3},
    {"batchnorm 64 32x32 b64", LAYER_BATCHNORM, 64, 64, 64, 32, 0, 0, 0},
    {"maxpool3x3 s2 64 56x56 b16", LAYER_MAXPOOL, 16, 64, 64, 56, 3, 2, 1},
    {"linear 512->10 b64", LAYER_LINEAR, 64, 512, 10, 1, 0, 0, 0},
};

#define LAYER_COUNT ((int)(sizeof LAYERS / sizeof LAYERS[0]))

/* One layer instance with its activations, so one pass can be timed in a loop. */
typedef struct bench_layer {
    const layer_shape *shape;
    nn_conv2d conv;
    nn_batchnorm2d bn;
    nn_maxpool2d pool;
    nn_linear fc;
    rt_tensor in, out, dout, din;
    double forward_flops;
} bench_layer;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int alloc_filled(rt_context *ctx, rt_tensor *t, const char *name, int ndim, const int *shape,
                        float value)
{
    RT_TRY(rt_tensor_alloc(ctx, t, name, RT_F32, ndim, shape));
    return rt_tensor_fill(t, value);
}

static int bench_layer_init(rt_context *ctx, bench_layer *b, const layer_shape *s,
                            size_t scratch_limit_bytes)
{
    memset(b, 0, sizeof *b);
    b->shape = s;
    int in_shape[4] = {s->n, s->in_channels, s->size, s->size};
    int out_shape[4] = {s->n, s->out_channels, s->size, s->size};
    int ndim = 4;
    switch (s->kind) {
    case LAYER_CONV:
        RT_TRY(nn_conv2d_init(ctx, &b->conv, "conv", s->in_channels, s->out_channels, s->kernel,
                              s->stride, s->padding, false));
        b->conv.scratch_limit_bytes = scratch_limit_bytes;
        nn_conv2d_output_shape(&b->conv, s->size, s->size, &out_shape[2], &out_shape[3]);
        b->forward_flops = 2.0 * s->n * s->out_channels * out_shape[2] * out_shape[3] *
                           s->in_channels * s->kernel * s->kernel;
        break;
    case LAYER_BATCHNORM:
        RT_TRY(nn_batchnorm2d_init(ctx, &b->bn, "bn", s->in_channels, false));
        break;
    case LAYER_MAXPOOL:
        nn_maxpool2d_init(&b->pool, s->kernel, s->stride, s->padding);
        nn_maxpool2d_output_shape(&b->pool, s->size, s->size, &out_shape[2], &out_shape[3]);
        break;
    case LAYER_LINEAR:
        RT_TRY(nn_linear_init(ctx, &b->fc, "fc", s->in_channels, s->out_channels));
        ndim = 2;
        in_shape[1] = s->in_channels;
        out_shape[1] = s->out_channels;
        b->forward_flops = 2.0 * s->n * s->in_channels * s->out_channels;
        break;
    }
    RT_TRY(alloc_filled(ctx, &b->in, "in", ndim, in_shape, 0.5f));
    RT_TRY(alloc_filled(ctx, &b->out, "out", ndim, out_shape, 0.0f));
    RT_TRY(alloc_filled(ctx, &b->dout, "dout", ndim, out_shape, 0.25f));
    return alloc_filled(ctx, &b->din, "din", ndim, in_shape, 0.0f);
}

static void bench_layer_free(bench_layer *b)
{
    nn_conv2d_free(&b->conv);
    nn_batchnorm2d_free(&b->bn);
    nn_maxpool2d_free(&b->pool);
    nn_linear_free(&b->fc);
    rt_tensor_free(&b->in);
    rt_tensor_free(&b->out);
    rt_tensor_free(&b->dout);
    rt_tensor_free(&b->din);
}

static int run_pass(rt_context *ctx, bench_layer *b, bool backward)
{
    switch (b->shape->kind) {
    case LAYER_CONV:
        return backward ? nn_conv2d_backward(ctx, &b->conv, &b->in, &b->dout, &b->din)
                        : nn_conv2d_forward(ctx, &b->conv, &b->in, &b->out);
    case LAYER_BATCHNORM:
        return backward ? nn_batchnorm2d_backward(ctx, &b->bn, &b->in, &b->out, &b->dout, &b->din)
                        : nn_batchnorm2d_forward(ctx, &b->bn, &b->in, &b->out, true);
    case LAYER_MAXPOOL:
        return backward ? nn_maxpool2d_backward(ctx, &b->pool, &b->dout, &b->din)
                        : nn_maxpool2d_forward(ctx, &b->pool, &b->in, &b->out);
    case LAYER_LINEAR:
        return backward ? nn_linear_backward(ctx, &b->fc, &b->in, &b->dout, &b->din)
                        : nn_linear_forward(ctx, &b->fc, &b->in, &b->out);
    }
    return rt_set_error(RT_ERR_INVALID, "unknown layer kind %d", (int)b->shape->kind);
}

/* Stores the mean seconds of one pass, after a warm-up pass, in *seconds. */
static int time_pass(rt_context *ctx, bench_layer *b, bool backward, double min_seconds,
                     double *seconds)
{
    RT_TRY(run_pass(ctx, b, backward));
    RT_TRY(rt_finish(ctx));
    int repeats = 0;
    double start = now_seconds(), elapsed;
    do {
        RT_TRY(run_pass(ctx, b, backward));
        RT_TRY(rt_finish(ctx));
        repeats++;
        elapsed = now_seconds() - start;
    } while (elapsed < min_seconds);
    *seconds = elapsed / repeats;
    return RT_OK;
}

typedef struct torch_times {
    double forward_ms[LAYER_COUNT], backward_ms[LAYER_COUNT];
    bool found[LAYER_COUNT];
} torch_times;

/* Runs the PyTorch script and fills times for the labels it prints; returns false on failure. */
static bool run_torch(double min_seconds, torch_times *times)
{
    char command[512];
    snprintf(command, sizeof command,
             "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 "
             "/usr/bin/python3 tools/bench_layers_torch.py %g",
             min_seconds);
    FILE *pipe = popen(command, "r");
    if (!pipe)
        return false;
    char line[256];
    while (fgets(line, sizeof line, pipe)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        for (int i = 0; i < LAYER_COUNT; i++)
            if (strcmp(line, LAYERS[i].label) == 0 &&
                sscanf(tab + 1, "%lf %lf", &times->forward_ms[i], &times->backward_ms[i]) == 2)
                times->found[i] = true;
    }
    return pclose(pipe) == 0;
}

static void print_rate(double flops, double ms)
{
    if (flops > 0.0 && ms > 0.0)
        printf(" %8.1f", flops / (ms * 1e6));
    else
        printf(" %8s", "-");
}

int main(int argc, char **argv)
{
    double min_seconds = 1.0;
    bool torch = true;
    size_t scratch_limit_bytes = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
            min_seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--no-torch") == 0) {
            torch = false;
        } else if (strcmp(argv[i], "--scratch-mib") == 0 && i + 1 < argc) {
            scratch_limit_bytes = (size_t)(atof(argv[++i]) * 1048576.0);
        } else {
            fprintf(stderr, "usage: %s [--min-seconds S] [--no-torch] [--scratch-mib M]\n",
                    argv[0]);
            return 2;
        }
    }

    rt_context *ctx;
    if (rt_context_create(&ctx, NULL) != RT_OK) {
        fprintf(stderr, "bench_layers: %s\n", rt_last_error());
        return 1;
    }
    char device[512];
    rt_context_describe(ctx, device, sizeof device);
    printf("device: %s\n", device);

    double ms[LAYER_COUNT][2] = {{0}};
    double flops[LAYER_COUNT];
    int status = 0;
    for (int i = 0; i < LAYER_COUNT && status == 0; i++) {
        bench_layer b;
        double forward_s = 0.0, backward_s = 0.0;
        if (bench_layer_init(ctx, &b, &LAYERS[i], scratch_limit_bytes) != RT_OK ||
            time_pass(ctx, &b, false, min_seconds, &forward_s) != RT_OK ||
            time_pass(ctx, &b, true, min_seconds, &backward_s) != RT_OK) {
            fprintf(stderr, "bench_layers: %s: %s\n", LAYERS[i].label, rt_last_error());
            status = 1;
        }
        ms[i][0] = forward_s * 1e3;
        ms[i][1] = backward_s * 1e3;
        flops[i] = b.forward_flops;
        bench_layer_free(&b);
    }
    rt_context_free(ctx);
    if (status != 0)
        return status;

    torch_times times;
    memset(&times, 0, sizeof times);
    if (torch && !run_torch(min_seconds, &times))
        fprintf(stderr, "bench_layers: tools/bench_layers_torch.py failed; run from the "
                        "repository root with torch installed for /usr/bin/python3\n");

    printf("%-30s %9s %9s %8s %8s | %9s %9s %8s %8s\n", "layer", "fwd ms", "bwd ms", "fwd GF/s",
           "bwd GF/s", "torch fwd", "torch bwd", "fwd GF/s", "bwd GF/s");
    for (int i = 0; i < LAYER_COUNT; i++) {
        printf("%-30s %9.2f %9.2f", LAYERS[i].label, ms[i][0], ms[i][1]);
        print_rate(flops[i], ms[i][0]);
        print_rate(2.0 * flops[i], ms[i][1]);
        if (times.found[i]) {
            printf(" | %9.2f %9.2f", times.forward_ms[i], times.backward_ms[i]);
            print_rate(flops[i], times.forward_ms[i]);
            print_rate(2.0 * flops[i], times.backward_ms[i]);
        } else {
            printf(" | %9s %9s %8s %8s", "-", "-", "-", "-");
        }
        printf("\n");
    }
    return 0;
}
