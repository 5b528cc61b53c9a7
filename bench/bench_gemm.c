/*
 * GEMM throughput of every backend at a few sizes, next to numpy with
 * OpenBLAS measured in the same run.
 *
 * Usage: bench_gemm [--backends cpu,tiled,clblast,reference] [--no-numpy]
 *                   [--min-seconds S] [--cpu-time]
 * Each product runs once to warm up (kernel builds), then repeatedly until
 * S seconds (default 1.0) have passed; the table shows GFLOP/s = 2mnk / time.
 * The numpy column runs /usr/bin/python3 with OPENBLAS_NUM_THREADS=2 and
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset.
 */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shape {
    const char *label;
    int m, n, k;
    bool trans_a, trans_b;
} shape;

/* Square sizes plus the three im2col products of a 3x3 convolution (forward, weight gradient,
 * input-column gradient) on 32x32 and 16x16 inputs at batch 16. */
static const shape shapes[] = {
    {"256^3", 256, 256, 256, false, false},
    {"512^3", 512, 512, 512, false, false},
    {"1024^3", 1024, 1024, 1024, false, false},
    {"conv 64x576x16384", 64, 16384, 576, false, false},
    {"conv 128x1152x4096", 128, 4096, 1152, false, false},
    {"conv grad 64x16384x576 (B^T)", 64, 576, 16384, false, true},
    {"conv dcols 576x64x16384 (A^T)", 576, 16384, 64, true, false},
};

#define SHAPE_COUNT ((int)(sizeof shapes / sizeof shapes[0]))

/* With --cpu-time, rates are per second of process CPU time (all PoCL worker
 * threads together), which is steadier than wall time on a shared machine. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int alloc_filled(rt_context *ctx, rt_tensor *t, const char *name, size_t count)
{
    int shape1[1] = {(int)count};
    RT_TRY(rt_tensor_alloc(ctx, t, name, RT_F32, 1, shape1));
    return rt_tensor_fill(t, 0.5f);
}

/* Returns GFLOP/s of one backend on one shape, or a negative value on failure. */
static double time_backend(rt_context *ctx, rt_gemm_backend backend, const shape *s,
                           double min_seconds)
{
    rt_tensor a, b, c;
    size_t m = (size_t)s->m, n = (size_t)s->n, k = (size_t)s->k;
    if (alloc_filled(ctx, &a, "bench_a", m * k) != RT_OK ||
        alloc_filled(ctx, &b, "bench_b", k * n) != RT_OK ||
        alloc_filled(ctx, &c, "bench_c", m * n) != RT_OK) {
        fprintf(stderr, "bench_gemm: %s\n", rt_last_error());
        return -1.0;
    }
    rt_gemm_args args = {.trans_a = s->trans_a,
                         .trans_b = s->trans_b,
                         .m = s->m,
                         .n = s->n,
                         .k = s->k,
                         .alpha = 1.0f,
                         .beta = 0.0f,
                         .a = a.buf,
                         .lda = s->trans_a ? s->m : s->k,
                         .b = b.buf,
                         .ldb = s->trans_b ? s->k : s->n,
                         .c = c.buf,
                         .ldc = s->n};
    double gflops = -1.0;
    if (rt_gemm_set_backend(ctx, backend) != RT_OK || rt_gemm(ctx, &args) != RT_OK ||
        rt_finish(ctx) != RT_OK) {
        fprintf(stderr, "bench_gemm: %s on %s: %s\n", rt_gemm_backend_name(backend), s->label,
                rt_last_error());
        goto done;
    }
    int reps = 0;
    double start = now_seconds(), elapsed = 0.0;
    while (elapsed < min_seconds) {
        if (rt_gemm(ctx, &args) != RT_OK || rt_finish(ctx) != RT_OK) {
            fprintf(stderr, "bench_gemm: %s\n", rt_last_error());
            goto done;
        }
        reps++;
        elapsed = now_seconds() - start;
    }
    gflops = 2.0 * (double)m * (double)n * (double)k * reps / elapsed / 1e9;
done:
    rt_tensor_free(&a);
    rt_tensor_free(&b);
    rt_tensor_free(&c);
    return gflops;
}

/* Runs numpy's matmul on the same shape; returns GFLOP/s or a negative value. */
static double time_numpy(const shape *s, double min_seconds)
{
    char command[1024];
    snprintf(command, sizeof command,
             "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 "
             "/usr/bin/python3 -c '\n"
             "import time, numpy as np\n"
             "m, n, k, ta, tb, t, cpu = %d, %d, %d, %d, %d, %g, %d\n"
             "clock = time.process_time if cpu else time.perf_counter\n"
             "a = np.full((k, m) if ta else (m, k), 0.5, np.float32)\n"
             "a = a.T if ta else a\n"
             "b = np.full((n, k) if tb else (k, n), 0.5, np.float32)\n"
             "f = (lambda: a @ b.T) if tb else (lambda: a @ b)\n"
             "f(); reps = 0; start = clock()\n"
             "while clock() - start < t:\n"
             "    f(); reps += 1\n"
             "print(2.0 * m * n * k * reps / (clock() - start) / 1e9)\n"
             "' 2>/dev/null",
             s->m, s->n, s->k, s->trans_a ? 1 : 0, s->trans_b ? 1 : 0, min_seconds,
             bench_clock == CLOCK_MONOTONIC ? 0 : 1);
    FILE *pipe = popen(command, "r");
    if (!pipe)
        return -1.0;
    double gflops = -1.0;
    if (fscanf(pipe, "%lf", &gflops) != 1)
        gflops = -1.0;
    pclose(pipe);
    return gflops;
}

static void print_cell(double gflops)
{
    if (gflops < 0.0)
        printf(" %10s", "failed");
    else
        printf(" %10.1f", gflops);
}

int main(int argc, char **argv)
{
    const char *backend_list = "cpu,tiled,clblast,reference";
    bool numpy = true;
    double min_seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc)
            backend_list = argv[++i];
        else if (strcmp(argv[i], "--no-numpy") == 0)
            numpy = false;
        else if (strcmp(argv[i], "--cpu-time") == 0)
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc)
            min_seconds = atof(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s [--backends cpu,tiled,clblast,reference] [--no-numpy] "
                    "[--min-seconds S] [--cpu-time]\n",
                    argv[0]);
            return 2;
        }
    }
    rt_gemm_backend backends[RT_GEMM_BACKEND_COUNT];
    int nbackends = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", backend_list);
    for (char *tok = strtok(list, ","); tok && nbackends < RT_GEMM_BACKEND_COUNT;
         tok = strtok(NULL, ",")) {
        if (rt_gemm_backend_parse(tok, &backends[nbackends]) != RT_OK) {
            fprintf(stderr, "bench_gemm: %s\n", rt_last_error());
            return 2;
        }
        nbackends++;
    }

    rt_context *ctx;
    if (rt_context_create(&ctx, NULL) != RT_OK) {
        fprintf(stderr, "bench_gemm: %s\n", rt_last_error());
        return 1;
    }
    char device[512];
    rt_context_describe(ctx, device, sizeof device);
    printf("device: %s\nGFLOP/s (2mnk / %s), row-major C = A * op(B)\n", device,
           bench_clock == CLOCK_MONOTONIC ? "wall time" : "process CPU time");
    printf("%-30s", "shape (m x k x n)");
    for (int b = 0; b < nbackends; b++)
        printf(" %10s", rt_gemm_backend_name(backends[b]));
    if (numpy)
        printf(" %10s", "numpy");
    printf("\n");
    for (int s = 0; s < SHAPE_COUNT; s++) {
        printf("%-30s", shapes[s].label);
        fflush(stdout);
        for (int b = 0; b < nbackends; b++) {
            print_cell(time_backend(ctx, backends[b], &shapes[s], min_seconds));
            fflush(stdout);
        }
        if (numpy)
            print_cell(time_numpy(&shapes[s], min_seconds));
        printf("\n");
    }
    rt_context_free(ctx);
    return 0;
}
