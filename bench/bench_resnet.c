/*
 * Times the ResNet-18 CIFAR training step on the selected OpenCL device.
 *
 * Usage: bench_resnet [--device SELECTOR] [--batches B1,B2,...] [--min-seconds S] [--no-torch]
 *
 * One step is forward, softmax cross-entropy, backward and an SGD update
 * (lr 0.1, momentum 0.9, weight decay 5e-4) of a ResNet-18 with the CIFAR
 * stem, width 1 and 10 classes, on random 3 x 32 x 32 images. For each batch
 * size (default 64 and 128) the bench runs one warm-up step, then whole steps
 * lasting at least S seconds (default 3, at least two steps), and prints
 * images/s, wall and process CPU ms per step, and the peak device memory of
 * that batch size (ctx->bytes_peak: parameters, gradients, optimiser state,
 * activations and layer scratch). On a shared machine the CPU time, which
 * includes PoCL's device threads, is the steadier figure.
 * Unless --no-torch is given, it then runs tools/bench_resnet_torch.py with
 * /usr/bin/python3 (PyTorch on the CPU, 2 threads) for the same batch sizes,
 * so run it from the repository root. ALUMCL_PROFILE=1 adds the per-kernel
 * time table at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/nn_optim.h"
#include "nn/nn_resnet.h"

#define MAX_BATCHES 8

typedef struct step_result {
    double images_per_second;
    double ms_per_step;
    double cpu_ms_per_step; /* process CPU time, PoCL's device threads included */
    size_t peak_bytes;
    float last_loss;
} step_result;

typedef struct bench_options {
    const char *device;
    int batches[MAX_BATCHES];
    int batch_count;
    double min_seconds;
    bool torch;
} bench_options;

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tensors of one batch size: random images and labels, the loss outputs. */
typedef struct batch_tensors {
    rt_tensor images, labels, dlogits, stats;
} batch_tensors;

static int alloc_batch(rt_context *ctx, batch_tensors *t, int batch)
{
    memset(t, 0, sizeof *t);
    int n = batch, logits_shape[2] = {batch, 10}, two = 2;
    RT_TRY(rt_tensor_alloc4(ctx, &t->images, "images", batch, 3, 32, 32));
    RT_TRY(rt_tensor_alloc(ctx, &t->labels, "labels", RT_I32, 1, &n));
    RT_TRY(rt_tensor_alloc(ctx, &t->dlogits, "dlogits", RT_F32, 2, logits_shape));
    RT_TRY(rt_tensor_alloc(ctx, &t->stats, "stats", RT_F32, 1, &two));

    float *pixels = malloc(t->images.numel * sizeof *pixels);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    if (!pixels || !labels) {
        free(pixels);
        free(labels);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for a batch of %d images", batch);
    }
    uint64_t state = 12345;
    for (size_t i = 0; i < t->images.numel; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        pixels[i] = (float)((double)(state >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
    }
    for (int i = 0; i < batch; i++)
        labels[i] = i % 10;
    int st = rt_tensor_write(&t->images, pixels);
    if (st == RT_OK)
        st = rt_tensor_write(&t->labels, labels);
    free(pixels);
    free(labels);
    return st;
}

static void free_batch(batch_tensors *t)
{
    rt_tensor_free(&t->images);
    rt_tensor_free(&t->labels);
    rt_tensor_free(&t->dlogits);
    rt_tensor_free(&t->stats);
}

static int train_step(rt_context *ctx, nn_resnet *net, nn_optim *opt, batch_tensors *t)
{
    RT_TRY(nn_resnet_forward(ctx, net, &t->images, true));
    RT_TRY(nn_softmax_xent(ctx, nn_resnet_logits(net), &t->labels, 0.0f, 1.0f, NULL, &t->dlogits,
                           &t->stats));
    RT_TRY(nn_resnet_backward(ctx, net, &t->dlogits, NULL));
    return nn_optim_step(ctx, opt, 0.1f);
}

static int time_steps(rt_context *ctx, nn_resnet *net, nn_optim *opt, batch_tensors *t, int batch,
                      double min_seconds, step_result *result)
{
    /* warm-up: builds kernels and sizes the activation arena and layer scratch */
    RT_TRY(train_step(ctx, net, opt, t));
    RT_TRY(rt_finish(ctx));

    int steps = 0;
    double start = clock_seconds(CLOCK_MONOTONIC), elapsed = 0.0;
    double cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    while (elapsed < min_seconds || steps < 2) {
        RT_TRY(train_step(ctx, net, opt, t));
        RT_TRY(rt_finish(ctx));
        steps++;
        elapsed = clock_seconds(CLOCK_MONOTONIC) - start;
    }
    double cpu_elapsed = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    float stats[2];
    RT_TRY(rt_tensor_read(&t->stats, stats));
    result->images_per_second = (double)batch * steps / elapsed;
    result->ms_per_step = 1e3 * elapsed / steps;
    result->cpu_ms_per_step = 1e3 * cpu_elapsed / steps;
    result->last_loss = stats[0];
    return RT_OK;
}

/* Builds a fresh network and optimiser for one batch size, so the peak covers only that size. */
static int bench_batch(rt_context *ctx, int batch, double min_seconds, step_result *result)
{
    nn_resnet *net = NULL;
    nn_optim *opt = NULL;
    batch_tensors t;
    memset(&t, 0, sizeof t);
    ctx->bytes_peak = ctx->bytes_current;
    size_t base = ctx->bytes_current;

    nn_resnet_config cfg = {
        .depth = 18, .stem = NN_STEM_CIFAR, .width = 1.0f, .num_classes = 10, .in_channels = 3};
    nn_optim_config ocfg = nn_optim_config_default(NN_OPTIM_SGD);
    ocfg.momentum = 0.9f;
    ocfg.weight_decay = 5e-4f;
    int st = nn_resnet_create(ctx, &cfg, &net);
    if (st == RT_OK)
        st = nn_optim_create(ctx, nn_resnet_params(net), &ocfg, &opt);
    if (st == RT_OK)
        st = alloc_batch(ctx, &t, batch);
    if (st == RT_OK)
        st = time_steps(ctx, net, opt, &t, batch, min_seconds, result);
    result->peak_bytes = ctx->bytes_peak - base;
    free_batch(&t);
    nn_optim_free(opt);
    nn_resnet_free(net);
    return st;
}

typedef struct torch_result {
    int batch;
    double images_per_second, ms_per_step, cpu_ms_per_step, max_rss_mib;
} torch_result;

/* Runs the PyTorch script; returns the number of batch lines parsed, or -1 if it failed. */
static int run_torch(const bench_options *opt, torch_result *results)
{
    char command[512];
    int len = snprintf(command, sizeof command, "/usr/bin/python3 tools/bench_resnet_torch.py %g",
                       opt->min_seconds);
    for (int i = 0; i < opt->batch_count; i++)
        len += snprintf(command + len, sizeof command - (size_t)len, " %d", opt->batches[i]);
    FILE *pipe = popen(command, "r");
    if (!pipe)
        return -1;
    int count = 0;
    char line[256];
    while (count < opt->batch_count && fgets(line, sizeof line, pipe)) {
        torch_result *r = &results[count];
        if (sscanf(line, "%d %lf %lf %lf %lf", &r->batch, &r->images_per_second, &r->ms_per_step,
                   &r->cpu_ms_per_step, &r->max_rss_mib) == 5)
            count++;
    }
    int status = pclose(pipe);
    return status == 0 ? count : -1;
}

static bool parse_batches(const char *text, bench_options *opt)
{
    opt->batch_count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long b = strtol(p, &end, 10);
        if (end == p || b < 1 || b > 65536 || opt->batch_count == MAX_BATCHES)
            return false;
        opt->batches[opt->batch_count++] = (int)b;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return false;
    }
    return opt->batch_count > 0;
}

static bool parse_options(int argc, char **argv, bench_options *opt)
{
    *opt =
        (bench_options){.batches = {64, 128}, .batch_count = 2, .min_seconds = 3.0, .torch = true};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            opt->device = argv[++i];
        } else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) {
            if (!parse_batches(argv[++i], opt))
                return false;
        } else if (strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
            opt->min_seconds = atof(argv[++i]);
            if (!(opt->min_seconds >= 0.0))
                return false;
        } else if (strcmp(argv[i], "--no-torch") == 0) {
            opt->torch = false;
        } else {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    bench_options opt;
    if (!parse_options(argc, argv, &opt)) {
        fprintf(stderr,
                "usage: %s [--device SELECTOR] [--batches B1,B2,...] [--min-seconds S] "
                "[--no-torch]\n"
                "  --device       OpenCL device: P:D, gpu, cpu or a name substring\n"
                "  --batches      comma-separated batch sizes, 1 to 65536 (default 64,128)\n"
                "  --min-seconds  minimum timed seconds per batch size (default 3)\n"
                "  --no-torch     skip the PyTorch comparison\n",
                argv[0]);
        return 2;
    }

    rt_context *ctx;
    if (rt_context_create(&ctx, opt.device) != RT_OK) {
        fprintf(stderr, "bench_resnet: %s\n", rt_last_error());
        return 1;
    }
    char description[1024];
    rt_context_describe(ctx, description, sizeof description);
    printf("device: %s\n", description);
    printf("model: ResNet-18, CIFAR stem, width 1, 10 classes, 3x32x32 images\n");
    printf("step: forward, cross-entropy, backward, SGD (momentum 0.9, weight decay 5e-4)\n\n");

    step_result results[MAX_BATCHES];
    for (int i = 0; i < opt.batch_count; i++) {
        if (bench_batch(ctx, opt.batches[i], opt.min_seconds, &results[i]) != RT_OK) {
            fprintf(stderr, "bench_resnet: batch %d failed: %s\n", opt.batches[i], rt_last_error());
            rt_context_free(ctx);
            return 1;
        }
    }

    torch_result torch[MAX_BATCHES];
    int torch_count = 0;
    if (opt.torch) {
        torch_count = run_torch(&opt, torch);
        if (torch_count < 0)
            fprintf(stderr, "bench_resnet: tools/bench_resnet_torch.py failed; run from the "
                            "repository root with torch installed for /usr/bin/python3\n");
    }

    printf("%6s %11s %9s %9s %9s %8s | %11s %9s %9s %9s\n", "batch", "alumcl im/s", "ms/step",
           "cpu ms", "peak MiB", "loss", "torch im/s", "ms/step", "cpu ms", "RSS MiB");
    for (int i = 0; i < opt.batch_count; i++) {
        const step_result *r = &results[i];
        printf("%6d %11.2f %9.1f %9.1f %9.1f %8.4f |", opt.batches[i], r->images_per_second,
               r->ms_per_step, r->cpu_ms_per_step, (double)r->peak_bytes / (1024.0 * 1024.0),
               (double)r->last_loss);
        if (i < torch_count && torch[i].batch == opt.batches[i])
            printf(" %11.2f %9.1f %9.1f %9.0f\n", torch[i].images_per_second, torch[i].ms_per_step,
                   torch[i].cpu_ms_per_step, torch[i].max_rss_mib);
        else
            printf(" %11s %9s %9s %9s\n", "-", "-", "-", "-");
    }
    rt_context_free(ctx);
    return 0;
}
