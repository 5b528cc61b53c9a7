/*
 * Training-step time of ALUM next to ERM on the same network and batch.
 *
 * Usage: bench_alum [--depth 18] [--width 1.0] [--batch 32] [--size 32]
 *                   [--classes 10] [--steps 5]
 * Uses the CIFAR stem. After one warm-up step per row (kernel builds), each
 * of --steps rounds runs one training step per row in turn: forward,
 * cross-entropy, the triplet step and backward, ending with a queue finish.
 * The table shows the median wall time and the median process CPU time,
 * which includes the OpenCL device threads of a CPU device and varies less
 * than wall time when other processes load the machine.
 * Rows: ERM (no hooks), ALUM with the default configuration (each module
 * perturbs with probability 0.5, drawn per step) and ALUM with probability 1
 * (every module perturbs every step, the most expensive case).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alum/alum.h"

typedef struct options {
    int depth, batch, size, classes, steps;
    float width;
} options;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct batch_tensors {
    rt_tensor images, labels, dlogits, stats;
} batch_tensors;

static int make_batch(rt_context *ctx, const options *opt, batch_tensors *t)
{
    size_t pixels = (size_t)opt->batch * 3 * (size_t)opt->size * (size_t)opt->size;
    float *host = malloc(pixels * sizeof *host);
    int *labels = malloc((size_t)opt->batch * sizeof *labels);
    if (!host || !labels) {
        free(host);
        free(labels);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for the benchmark batch");
    }
    uint64_t state = 12345;
    for (size_t i = 0; i < pixels; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        host[i] = (float)(state >> 40) * 0x1.0p-24f * 2.0f - 1.0f;
    }
    for (int i = 0; i < opt->batch; i++)
        labels[i] = i % opt->classes;
    int image_shape[4] = {opt->batch, 3, opt->size, opt->size};
    int label_shape[1] = {opt->batch}, logit_shape[2] = {opt->batch, opt->classes};
    int stats_shape[1] = {2};
    int st = rt_tensor_alloc(ctx, &t->images, "bench_images", RT_F32, 4, image_shape);
    if (st == RT_OK)
        st = rt_tensor_write(&t->images, host);
    if (st == RT_OK)
        st = rt_tensor_alloc(ctx, &t->labels, "bench_labels", RT_I32, 1, label_shape);
    if (st == RT_OK)
        st = rt_tensor_write(&t->labels, labels);
    if (st == RT_OK)
        st = rt_tensor_alloc(ctx, &t->dlogits, "bench_dlogits", RT_F32, 2, logit_shape);
    if (st == RT_OK)
        st = rt_tensor_alloc(ctx, &t->stats, "bench_xent_stats", RT_F32, 1, stats_shape);
    free(host);
    free(labels);
    return st;
}

/* One training step; a is NULL for ERM. */
static int train_step(rt_context *ctx, nn_resnet *net, alum *a, batch_tensors *t, uint64_t step)
{
    const rt_tensor *dembedding = NULL, *loss = NULL;
    if (a) {
        alum_set_step(a, 1, step);
        alum_set_labels(a, &t->labels, NULL);
    }
    RT_TRY(nn_resnet_forward(ctx, net, &t->images, true));
    if (a)
        RT_TRY(alum_triplet_step(ctx, a, nn_resnet_embedding(net), &dembedding, &loss));
    RT_TRY(nn_softmax_xent(ctx, nn_resnet_logits(net), &t->labels, 0.0f, 1.0f, NULL, &t->dlogits,
                           &t->stats));
    RT_TRY(nn_resnet_backward(ctx, net, &t->dlogits, dembedding));
    return rt_finish(ctx);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { ROWS = 3 };

/*
 * Times every row in turn within each step, so a change in machine load hits
 * all rows alike, and stores the median wall and process CPU seconds per row.
 * A NULL row is ERM.
 */
static int time_rows(rt_context *ctx, nn_resnet *net, alum **rows, batch_tensors *t, int steps,
                     double *wall_median, double *cpu_median)
{
    double *wall = malloc((size_t)(ROWS * steps) * sizeof *wall);
    double *cpu = malloc((size_t)(ROWS * steps) * sizeof *cpu);
    int st = wall && cpu ? RT_OK : rt_set_error(RT_ERR_NOMEM, "out of host memory for timings");
    for (int s = -1; s < steps && st == RT_OK; s++) {
        for (int r = 0; r < ROWS && st == RT_OK; r++) {
            for (int other = 0; other < ROWS; other++)
                if (rows[other])
                    alum_detach(rows[other]);
            if (rows[r])
                st = alum_attach(rows[r], net);
            double wall_start = now_seconds(), cpu_start = cpu_seconds();
            if (st == RT_OK)
                st = train_step(ctx, net, rows[r], t, (uint64_t)(s + 1));
            /* step -1 is the warm-up that builds the kernels */
            if (s >= 0) {
                wall[r * steps + s] = now_seconds() - wall_start;
                cpu[r * steps + s] = cpu_seconds() - cpu_start;
            }
        }
    }
    for (int r = 0; r < ROWS && st == RT_OK; r++) {
        qsort(wall + r * steps, (size_t)steps, sizeof *wall, compare_doubles);
        qsort(cpu + r * steps, (size_t)steps, sizeof *cpu, compare_doubles);
        wall_median[r] = wall[r * steps + steps / 2];
        cpu_median[r] = cpu[r * steps + steps / 2];
    }
    free(wall);
    free(cpu);
    return st;
}

static int parse_options(int argc, char **argv, options *opt)
{
    *opt = (options){18, 32, 32, 10, 5, 1.0f};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value && strcmp(arg, "--depth") == 0)
            opt->depth = atoi(value);
        else if (value && strcmp(arg, "--width") == 0)
            opt->width = (float)atof(value);
        else if (value && strcmp(arg, "--batch") == 0)
            opt->batch = atoi(value);
        else if (value && strcmp(arg, "--size") == 0)
            opt->size = atoi(value);
        else if (value && strcmp(arg, "--classes") == 0)
            opt->classes = atoi(value);
        else if (value && strcmp(arg, "--steps") == 0)
            opt->steps = atoi(value);
        else {
            fprintf(stderr,
                    "usage: %s [--depth 18|34|50] [--width W] [--batch N] [--size PIXELS] "
                    "[--classes K] [--steps S]\n",
                    argv[0]);
            return 2;
        }
        i++;
    }
    if (opt->batch < 2 || opt->steps < 1 || opt->classes < 2 || opt->size < 8) {
        fprintf(stderr, "bench_alum: invalid options: batch >= 2, steps >= 1, classes >= 2 and "
                        "size >= 8 are required\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options opt;
    int usage = parse_options(argc, argv, &opt);
    if (usage)
        return usage;

    rt_context *ctx = NULL;
    nn_resnet *net = NULL;
    batch_tensors t = {0};
    nn_resnet_config config = {opt.depth, NN_STEM_CIFAR, opt.width, opt.classes, 3};
    int st = rt_context_create(&ctx, NULL);
    if (st == RT_OK)
        st = nn_resnet_create(ctx, &config, &net);
    if (st == RT_OK)
        st = nn_resnet_init_weights(net, 1);
    if (st == RT_OK)
        st = make_batch(ctx, &opt, &t);
    if (st != RT_OK) {
        fprintf(stderr, "bench_alum: %s\n", rt_last_error());
        return 1;
    }

    char device[512];
    rt_context_describe(ctx, device, sizeof device);
    printf("device: %s\n", device);
    printf(
        "ResNet-%d (CIFAR stem, width %g), batch %d of %dx%d, %d classes, median of %d steps\n\n",
        opt.depth, (double)opt.width, opt.batch, opt.size, opt.size, opt.classes, opt.steps);
    alum *rows[ROWS] = {NULL, NULL, NULL};
    float probabilities[ROWS] = {0.0f, 0.5f, 1.0f};
    const char *names[ROWS] = {"ERM", "ALUM (p 0.5, default)", "ALUM (p 1)"};
    for (int r = 1; r < ROWS && st == RT_OK; r++) {
        alum_config c;
        alum_config_default(&c);
        c.probability = probabilities[r];
        st = alum_create(ctx, &c, &rows[r]);
    }
    double wall[ROWS], cpu[ROWS];
    if (st == RT_OK)
        st = time_rows(ctx, net, rows, &t, opt.steps, wall, cpu);
    if (st == RT_OK) {
        printf("| method | wall ms/step | vs ERM | CPU ms/step | vs ERM |\n");
        printf("|---|---|---|---|---|\n");
        for (int r = 0; r < ROWS; r++)
            printf("| %s | %.1f | %.2fx | %.1f | %.2fx |\n", names[r], wall[r] * 1e3,
                   wall[r] / wall[0], cpu[r] * 1e3, cpu[r] / cpu[0]);
    }
    for (int r = 1; r < ROWS; r++)
        alum_free(rows[r]);
    if (st != RT_OK)
        fprintf(stderr, "bench_alum: %s\n", rt_last_error());

    rt_tensor_free(&t.images);
    rt_tensor_free(&t.labels);
    rt_tensor_free(&t.dlogits);
    rt_tensor_free(&t.stats);
    nn_resnet_free(net);
    rt_context_free(ctx);
    return st == RT_OK ? 0 : 1;
}
