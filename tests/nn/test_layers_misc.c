/*
 * Pooling, linear, element-wise layers and softmax cross-entropy against CPU
 * references, with finite-difference gradient checks.
 */
#include "tests/nn/test_layers_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- max pool ---- */

typedef struct pool_case {
    int n, c, h, w, kernel, stride, pad;
} pool_case;

static const pool_case pool_cases[] = {
    {2, 2, 7, 7, 3, 2, 1}, /* the ResNet stem pool, padded edges on every side */
    {1, 3, 8, 8, 3, 2, 1}, /* even size: the last window hangs over the bottom-right edge */
    {1, 3, 6, 5, 2, 2, 0}, {2, 1, 5, 6, 3, 1, 1}, {1, 2, 9, 7, 4, 3, 2},
};

typedef struct pool_ref {
    const pool_case *c;
    int oh, ow;
    double *x, *out_weight, *y;
} pool_ref;

static void pool_ref_forward(const pool_ref *r, double *y, int *argmax)
{
    const pool_case *c = r->c;
    for (int plane = 0; plane < c->n * c->c; plane++)
        for (int oh = 0; oh < r->oh; oh++)
            for (int ow = 0; ow < r->ow; ow++) {
                double best = -INFINITY;
                int best_index = -1;
                for (int kh = 0; kh < c->kernel; kh++)
                    for (int kw = 0; kw < c->kernel; kw++) {
                        int h = oh * c->stride - c->pad + kh, w = ow * c->stride - c->pad + kw;
                        if (h < 0 || h >= c->h || w < 0 || w >= c->w)
                            continue;
                        double v = r->x[(plane * c->h + h) * c->w + w];
                        if (v > best) {
                            best = v;
                            best_index = h * c->w + w;
                        }
                    }
                int o = (plane * r->oh + oh) * r->ow + ow;
                y[o] = best;
                if (argmax)
                    argmax[o] = best_index;
            }
}

static double pool_ref_loss(void *state)
{
    pool_ref *r = state;
    pool_ref_forward(r, r->y, NULL);
    return test_weighted_sum(r->out_weight, r->y, (size_t)r->c->n * r->c->c * r->oh * r->ow);
}

START_TEST(maxpool_matches_reference)
{
    const pool_case *c = &pool_cases[_i];
    char what[128];
    snprintf(what, sizeof what, "case %d (N%d C%d %dx%d k%d s%d p%d)", _i, c->n, c->c, c->h, c->w,
             c->kernel, c->stride, c->pad);
    nn_maxpool2d pool;
    nn_maxpool2d_init(&pool, c->kernel, c->stride, c->pad);
    int oh, ow;
    nn_maxpool2d_output_shape(&pool, c->h, c->w, &oh, &ow);
    size_t nx = (size_t)c->n * c->c * c->h * c->w, ny = (size_t)c->n * c->c * oh * ow;
    float *x = test_random(nx, -1.0f, 1.0f, 40 + _i);
    float *dy = test_random(ny, -1.0f, 1.0f, 50 + _i);
    rt_tensor in, out, dout, din;
    int in_shape[4] = {c->n, c->c, c->h, c->w}, out_shape[4] = {c->n, c->c, oh, ow};
    test_upload(&in, "x", 4, in_shape, x);
    test_upload(&out, "y", 4, out_shape, NULL);
    test_upload(&dout, "dy", 4, out_shape, dy);
    test_upload(&din, "dx", 4, in_shape, NULL);
    ck_assert_rt(nn_maxpool2d_forward(test_ctx, &pool, &in, &out));
    ck_assert_rt(nn_maxpool2d_backward(test_ctx, &pool, &dout, &din));
    float *y_dev = test_download(&out), *dx_dev = test_download(&din);
    int *argmax_dev = malloc(ny * sizeof *argmax_dev);
    ck_assert_rt(rt_tensor_read_range(&pool.argmax, 0, ny, argmax_dev));

    pool_ref r = {.c = c,
                  .oh = oh,
                  .ow = ow,
                  .x = test_to_double(x, nx),
                  .out_weight = test_to_double(dy, ny),
                  .y = malloc(ny * sizeof(double))};
    int *argmax_ref = malloc(ny * sizeof *argmax_ref);
    pool_ref_forward(&r, r.y, argmax_ref);
    float *y_ref = test_to_float(r.y, ny);
    ck_assert_mem_eq(y_dev, y_ref, ny * sizeof(float));
    ck_assert_mem_eq(argmax_dev, argmax_ref, ny * sizeof(int));
    float *dx_fd = test_fd_gradient(pool_ref_loss, &r, r.x, nx);
    ck_assert_close(dx_dev, dx_fd, nx, 1e-4, 1e-3, what);

    free(dx_fd);
    free(y_ref);
    free(argmax_ref);
    free(argmax_dev);
    free(r.x);
    free(r.out_weight);
    free(r.y);
    free(x);
    free(dy);
    free(y_dev);
    free(dx_dev);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_maxpool2d_free(&pool);
}
END_TEST

START_TEST(maxpool_ties_pick_first_maximum)
{
    /* a constant plane: every window ties, and PyTorch picks the first maximum in it */
    nn_maxpool2d pool;
    nn_maxpool2d_init(&pool, 3, 2, 1);
    float x[25], dy[9];
    for (int i = 0; i < 25; i++)
        x[i] = 0.5f;
    for (int i = 0; i < 9; i++)
        dy[i] = (float)(i + 1);
    rt_tensor in, out, dout, din;
    int in_shape[4] = {1, 1, 5, 5}, out_shape[4] = {1, 1, 3, 3};
    test_upload(&in, "x", 4, in_shape, x);
    test_upload(&out, "y", 4, out_shape, NULL);
    test_upload(&dout, "dy", 4, out_shape, dy);
    test_upload(&din, "dx", 4, in_shape, NULL);
    ck_assert_rt(nn_maxpool2d_forward(test_ctx, &pool, &in, &out));
    ck_assert_rt(nn_maxpool2d_backward(test_ctx, &pool, &dout, &din));
    int argmax[9];
    ck_assert_rt(rt_tensor_read_range(&pool.argmax, 0, 9, argmax));
    for (int oh = 0; oh < 3; oh++)
        for (int ow = 0; ow < 3; ow++) {
            int h = oh * 2 - 1 < 0 ? 0 : oh * 2 - 1, w = ow * 2 - 1 < 0 ? 0 : ow * 2 - 1;
            ck_assert_int_eq(argmax[oh * 3 + ow], h * 5 + w);
        }
    float *dx = test_download(&din);
    ck_assert_float_eq(dx[0], 1.0f);         /* window (0, 0) starts in the padding */
    ck_assert_float_eq(dx[1 * 5 + 1], 5.0f); /* (1, 1) is first in window (1, 1) only */
    ck_assert_float_eq(dx[2 * 5 + 2], 0.0f);
    free(dx);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_maxpool2d_free(&pool);
}
END_TEST

START_TEST(maxpool_rejects_large_padding)
{
    nn_maxpool2d pool;
    nn_maxpool2d_init(&pool, 3, 2, 2);
    rt_tensor in, out;
    int shape[4] = {1, 1, 6, 6};
    test_upload(&in, "x", 4, shape, NULL);
    test_upload(&out, "y", 4, shape, NULL);
    ck_assert_int_eq(nn_maxpool2d_forward(test_ctx, &pool, &in, &out), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "padding=2"));
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    nn_maxpool2d_free(&pool);
}
END_TEST

/* ---- global average pool ---- */

START_TEST(global_avgpool_matches_reference)
{
    enum { N = 2, C = 3, H = 3, W = 5 };
    size_t nx = N * C * H * W, ny = N * C;
    float *x = test_random(nx, -1.0f, 1.0f, 60), *dy = test_random(ny, -1.0f, 1.0f, 61);
    rt_tensor in, out, dout, din;
    int in_shape[4] = {N, C, H, W}, out_shape[2] = {N, C};
    test_upload(&in, "x", 4, in_shape, x);
    test_upload(&out, "y", 2, out_shape, NULL);
    test_upload(&dout, "dy", 2, out_shape, dy);
    test_upload(&din, "dx", 4, in_shape, NULL);
    ck_assert_rt(nn_global_avgpool_forward(test_ctx, &in, &out));
    ck_assert_rt(nn_global_avgpool_backward(test_ctx, &dout, &din));
    float *y_dev = test_download(&out), *dx_dev = test_download(&din);
    float y_ref[N * C], dx_ref[N * C * H * W];
    for (size_t plane = 0; plane < ny; plane++) {
        double s = 0.0;
        for (int p = 0; p < H * W; p++) {
            s += x[plane * H * W + p];
            dx_ref[plane * H * W + p] = dy[plane] / (H * W);
        }
        y_ref[plane] = (float)(s / (H * W));
    }
    ck_assert_close(y_dev, y_ref, ny, 1e-6, 1e-5, "global avgpool output");
    ck_assert_close(dx_dev, dx_ref, nx, 1e-7, 1e-6, "global avgpool input gradient");
    free(x);
    free(dy);
    free(y_dev);
    free(dx_dev);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
}
END_TEST

/* ---- linear ---- */

typedef struct linear_ref {
    int n, in_features, out_features;
    double *x, *weight, *bias, *out_weight, *y;
} linear_ref;

static double linear_ref_loss(void *state)
{
    linear_ref *r = state;
    for (int n = 0; n < r->n; n++)
        for (int o = 0; o < r->out_features; o++) {
            double s = r->bias[o];
            for (int i = 0; i < r->in_features; i++)
                s += r->x[n * r->in_features + i] * r->weight[o * r->in_features + i];
            r->y[n * r->out_features + o] = s;
        }
    return test_weighted_sum(r->out_weight, r->y, (size_t)r->n * r->out_features);
}

START_TEST(linear_matches_reference)
{
    enum { N = 3, IN = 7, OUT = 5 };
    nn_linear fc;
    ck_assert_rt(nn_linear_init(test_ctx, &fc, "fc", IN, OUT));
    float *x = test_random(N * IN, -1.0f, 1.0f, 70), *dy = test_random(N * OUT, -1.0f, 1.0f, 71);
    float *weight = test_download(&fc.weight.value), *bias = test_download(&fc.bias.value);
    rt_tensor in, out, dout, din;
    int in_shape[2] = {N, IN}, out_shape[2] = {N, OUT};
    test_upload(&in, "x", 2, in_shape, x);
    test_upload(&out, "y", 2, out_shape, NULL);
    test_upload(&dout, "dy", 2, out_shape, dy);
    test_upload(&din, "dx", 2, in_shape, NULL);
    ck_assert_rt(nn_linear_forward(test_ctx, &fc, &in, &out));
    ck_assert_rt(nn_linear_backward(test_ctx, &fc, &in, &dout, &din));
    float *y_dev = test_download(&out), *dx_dev = test_download(&din);
    float *dw_dev = test_download(&fc.weight.grad), *db_dev = test_download(&fc.bias.grad);

    double y[N * OUT];
    linear_ref r = {N,
                    IN,
                    OUT,
                    test_to_double(x, N * IN),
                    test_to_double(weight, IN * OUT),
                    test_to_double(bias, OUT),
                    test_to_double(dy, N * OUT),
                    y};
    linear_ref_loss(&r);
    float *y_ref = test_to_float(y, N * OUT);
    ck_assert_close(y_dev, y_ref, N * OUT, 1e-6, 1e-5, "linear output");
    float *dx_fd = test_fd_gradient(linear_ref_loss, &r, r.x, N * IN);
    float *dw_fd = test_fd_gradient(linear_ref_loss, &r, r.weight, IN * OUT);
    float *db_fd = test_fd_gradient(linear_ref_loss, &r, r.bias, OUT);
    ck_assert_close(dx_dev, dx_fd, N * IN, 1e-4, 1e-3, "linear input gradient");
    ck_assert_close(dw_dev, dw_fd, IN * OUT, 1e-4, 1e-3, "linear weight gradient");
    ck_assert_close(db_dev, db_fd, OUT, 1e-4, 1e-3, "linear bias gradient");

    free(dx_fd);
    free(dw_fd);
    free(db_fd);
    free(y_ref);
    free(r.x);
    free(r.weight);
    free(r.bias);
    free(r.out_weight);
    free(x);
    free(dy);
    free(weight);
    free(bias);
    free(y_dev);
    free(dx_dev);
    free(dw_dev);
    free(db_dev);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_linear_free(&fc);
}
END_TEST

/* ---- element-wise ---- */

START_TEST(relu_forward_backward_in_place)
{
    enum { N = 101 };
    float *x = test_random(N, -1.0f, 1.0f, 80), *dy = test_random(N, -1.0f, 1.0f, 81);
    rt_tensor t, g;
    int shape[1] = {N};
    test_upload(&t, "x", 1, shape, x);
    test_upload(&g, "dy", 1, shape, dy);
    ck_assert_rt(nn_relu_forward(test_ctx, &t, &t));
    ck_assert_rt(nn_relu_backward(test_ctx, &t, &g, &g));
    float *y = test_download(&t), *dx = test_download(&g);
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(y[i], x[i] > 0.0f ? x[i] : 0.0f);
        ck_assert_float_eq(dx[i], x[i] > 0.0f ? dy[i] : 0.0f);
    }
    free(x);
    free(dy);
    free(y);
    free(dx);
    rt_tensor_free(&t);
    rt_tensor_free(&g);
}
END_TEST

START_TEST(add_axpy_scale_match_reference)
{
    enum { N = 77 };
    float *a = test_random(N, -1.0f, 1.0f, 90), *b = test_random(N, -1.0f, 1.0f, 91);
    rt_tensor ta, tb, out;
    int shape[2] = {7, 11};
    test_upload(&ta, "a", 2, shape, a);
    test_upload(&tb, "b", 2, shape, b);
    test_upload(&out, "out", 2, shape, NULL);

    ck_assert_rt(nn_add_forward(test_ctx, &ta, &tb, &out, false));
    float *sum = test_download(&out);
    ck_assert_rt(nn_add_forward(test_ctx, &ta, &tb, &out, true));
    float *sum_relu = test_download(&out);
    ck_assert_rt(nn_axpy(test_ctx, -0.5f, &ta, &tb));
    float *axpy = test_download(&tb);
    ck_assert_rt(nn_scale(test_ctx, 3.0f, &ta));
    float *scaled = test_download(&ta);
    for (int i = 0; i < N; i++) {
        float s = a[i] + b[i];
        ck_assert_float_eq(sum[i], s);
        ck_assert_float_eq(sum_relu[i], s > 0.0f ? s : 0.0f);
        ck_assert_float_eq_tol(axpy[i], b[i] - 0.5f * a[i], 1e-6f);
        ck_assert_float_eq(scaled[i], 3.0f * a[i]);
    }

    /* out may alias an operand, as a residual connection adds in place */
    ck_assert_rt(nn_add_forward(test_ctx, &ta, &ta, &ta, false));
    float *doubled = test_download(&ta);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(doubled[i], 6.0f * a[i]);

    free(a);
    free(b);
    free(sum);
    free(sum_relu);
    free(axpy);
    free(scaled);
    free(doubled);
    rt_tensor_free(&ta);
    rt_tensor_free(&tb);
    rt_tensor_free(&out);
}
END_TEST

START_TEST(add_rejects_shape_mismatch)
{
    rt_tensor a, b;
    int sa[2] = {3, 4}, sb[2] = {4, 3};
    test_upload(&a, "a", 2, sa, NULL);
    test_upload(&b, "b", 2, sb, NULL);
    ck_assert_int_eq(nn_add_forward(test_ctx, &a, &b, &a, false), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "4x3"));
    rt_tensor_free(&a);
    rt_tensor_free(&b);
}
END_TEST

/* ---- softmax cross-entropy ---- */

/* Returns the label the loss kernel uses: the nearest class in 0..k-1. */
static int clamp_label(int label, int k)
{
    if (label < 0)
        return 0;
    if (label >= k)
        return k - 1;
    return label;
}

typedef struct xent_ref {
    int n, k;
    double smoothing;
    const int *labels;
    double *logits;
    double *loss; /* per sample */
} xent_ref;

/* Returns the mean loss by PyTorch's definition with label smoothing; fills r->loss. */
static double xent_ref_mean(void *state)
{
    xent_ref *r = state;
    double total = 0.0;
    for (int i = 0; i < r->n; i++) {
        const double *z = r->logits + (size_t)i * r->k;
        double zmax = z[0];
        for (int k = 1; k < r->k; k++)
            zmax = z[k] > zmax ? z[k] : zmax;
        double e = 0.0;
        for (int k = 0; k < r->k; k++)
            e += exp(z[k] - zmax);
        double lse = zmax + log(e);
        int y = clamp_label(r->labels[i], r->k);
        double uniform = 0.0;
        for (int k = 0; k < r->k; k++)
            uniform += lse - z[k];
        r->loss[i] = (1.0 - r->smoothing) * (lse - z[y]) + r->smoothing / r->k * uniform;
        total += r->loss[i];
    }
    return total / r->n;
}

typedef struct xent_case {
    int n, k;
    float smoothing, grad_scale;
    bool bad_labels;
} xent_case;

static const xent_case xent_cases[] = {
    {5, 4, 0.0f, 1.0f, false},
    {6, 10, 0.1f, 1.0f, false},
    {300, 7, 0.2f, 0.5f, false}, /* more rows than work-items */
    {4, 3, 0.0f, 1.0f, true},    /* out-of-range labels are clamped, not read out of bounds */
};

START_TEST(softmax_xent_matches_reference)
{
    const xent_case *c = &xent_cases[_i];
    char what[96];
    snprintf(what, sizeof what, "case %d (N%d K%d smoothing %.2f)", _i, c->n, c->k,
             (double)c->smoothing);
    size_t nz = (size_t)c->n * c->k;
    float *z = test_random(nz, -3.0f, 3.0f, 120 + _i);
    int *labels = malloc((size_t)c->n * sizeof *labels);
    for (int i = 0; i < c->n; i++)
        labels[i] = (i * 7 + 3) % c->k;
    if (c->bad_labels) {
        labels[0] = -5;
        labels[1] = c->k + 2;
    }
    /* make sample 2's argmax its label so at least one prediction is correct */
    z[2 * c->k + labels[2]] = 10.0f;

    rt_tensor logits, tlabels, loss, dz, stats;
    int zshape[2] = {c->n, c->k}, nshape[1] = {c->n}, two[1] = {2};
    test_upload(&logits, "logits", 2, zshape, z);
    ck_assert_rt(rt_tensor_alloc(test_ctx, &tlabels, "labels", RT_I32, 1, nshape));
    ck_assert_rt(rt_tensor_write(&tlabels, labels));
    test_upload(&loss, "loss", 1, nshape, NULL);
    test_upload(&dz, "dlogits", 2, zshape, NULL);
    test_upload(&stats, "stats", 1, two, NULL);
    ck_assert_rt(nn_softmax_xent(test_ctx, &logits, &tlabels, c->smoothing, c->grad_scale, &loss,
                                 &dz, &stats));
    float *loss_dev = test_download(&loss), *dz_dev = test_download(&dz);
    float *stats_dev = test_download(&stats);

    xent_ref r = {c->n,
                  c->k,
                  c->smoothing,
                  labels,
                  test_to_double(z, nz),
                  malloc((size_t)c->n * sizeof(double))};
    double mean = xent_ref_mean(&r);
    float *loss_ref = test_to_float(r.loss, (size_t)c->n);
    int correct = 0;
    for (int i = 0; i < c->n; i++) {
        int best = 0;
        for (int k = 1; k < c->k; k++)
            if (z[i * c->k + k] > z[i * c->k + best])
                best = k;
        int y = clamp_label(labels[i], c->k);
        correct += best == y;
    }
    ck_assert_close(loss_dev, loss_ref, (size_t)c->n, 1e-5, 1e-5, what);
    ck_assert_float_eq_tol(stats_dev[0], (float)mean, 1e-5f * (float)(1.0 + fabs(mean)));
    ck_assert_float_eq(stats_dev[1], (float)correct);

    float *dz_fd = test_fd_gradient(xent_ref_mean, &r, r.logits, nz);
    for (size_t i = 0; i < nz; i++)
        dz_fd[i] *= c->grad_scale;
    ck_assert_close(dz_dev, dz_fd, nz, 1e-5, 1e-3, what);

    free(dz_fd);
    free(loss_ref);
    free(r.logits);
    free(r.loss);
    free(z);
    free(labels);
    free(loss_dev);
    free(dz_dev);
    free(stats_dev);
    rt_tensor_free(&logits);
    rt_tensor_free(&tlabels);
    rt_tensor_free(&loss);
    rt_tensor_free(&dz);
    rt_tensor_free(&stats);
}
END_TEST

START_TEST(softmax_xent_stats_only)
{
    /* evaluation: no per-sample losses, no gradient, only the two stats */
    float z[6] = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f, 0.0f};
    int labels[2] = {1, 2};
    rt_tensor logits, tlabels, stats;
    int zshape[2] = {2, 3}, nshape[1] = {2}, two[1] = {2};
    test_upload(&logits, "logits", 2, zshape, z);
    ck_assert_rt(rt_tensor_alloc(test_ctx, &tlabels, "labels", RT_I32, 1, nshape));
    ck_assert_rt(rt_tensor_write(&tlabels, labels));
    test_upload(&stats, "stats", 1, two, NULL);
    ck_assert_rt(nn_softmax_xent(test_ctx, &logits, &tlabels, 0.0f, 1.0f, NULL, NULL, &stats));
    float *s = test_download(&stats);
    double l0 = log(exp(1.0) + exp(2.0) + exp(0.5)) - 2.0;
    double l1 = log(exp(3.0) + exp(-1.0) + exp(0.0)) - 0.0;
    ck_assert_float_eq_tol(s[0], (float)((l0 + l1) / 2), 1e-5f);
    ck_assert_float_eq(s[1], 1.0f);
    free(s);
    rt_tensor_free(&logits);
    rt_tensor_free(&tlabels);
    rt_tensor_free(&stats);
}
END_TEST

START_TEST(labels_check_names_bad_label)
{
    int32_t good[4] = {0, 3, 9, 2}, bad[4] = {0, 3, 10, 2};
    ck_assert_rt(nn_labels_check(good, 4, 10));
    ck_assert_int_eq(nn_labels_check(bad, 4, 10), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "label 10 at index 2"));

    rt_tensor t;
    int shape[1] = {4};
    ck_assert_rt(rt_tensor_alloc(test_ctx, &t, "labels", RT_I32, 1, shape));
    ck_assert_rt(rt_tensor_write(&t, good));
    ck_assert_rt(nn_labels_check_tensor(&t, 10));
    ck_assert_rt(rt_tensor_write(&t, bad));
    ck_assert_int_eq(nn_labels_check_tensor(&t, 10), RT_ERR_INVALID);
    rt_tensor_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers_misc");
    TCase *tc = tcase_create("misc");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_loop_test(tc, maxpool_matches_reference, 0,
                        (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_test(tc, maxpool_ties_pick_first_maximum);
    tcase_add_test(tc, maxpool_rejects_large_padding);
    tcase_add_test(tc, global_avgpool_matches_reference);
    tcase_add_test(tc, linear_matches_reference);
    tcase_add_test(tc, relu_forward_backward_in_place);
    tcase_add_test(tc, add_axpy_scale_match_reference);
    tcase_add_test(tc, add_rejects_shape_mismatch);
    tcase_add_loop_test(tc, softmax_xent_matches_reference, 0,
                        (int)(sizeof xent_cases / sizeof xent_cases[0]));
    tcase_add_test(tc, softmax_xent_stats_only);
    tcase_add_test(tc, labels_check_names_bad_label);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
