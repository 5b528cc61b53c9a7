/* Batch norm 2-D against a CPU reference: training, evaluation, running statistics, fused ReLU. */
#include "tests/nn/test_layers_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BN_EPS 1e-5

typedef struct bn_ref {
    int n, c, hw;
    bool training, relu;
    double *x, *gamma, *beta, *out_weight, *y;
    const double *run_mean, *run_var; /* used when !training */
} bn_ref;

/* Writes y and, when mean/var are non-NULL, the per-channel batch mean and biased variance. */
static void bn_ref_forward(const bn_ref *r, double *y, double *mean, double *var)
{
    for (int c = 0; c < r->c; c++) {
        double m, v;
        if (r->training) {
            double s = 0.0, sq = 0.0;
            for (int n = 0; n < r->n; n++)
                for (int p = 0; p < r->hw; p++)
                    s += r->x[(n * r->c + c) * r->hw + p];
            m = s / (r->n * r->hw);
            for (int n = 0; n < r->n; n++)
                for (int p = 0; p < r->hw; p++) {
                    double d = r->x[(n * r->c + c) * r->hw + p] - m;
                    sq += d * d;
                }
            v = sq / (r->n * r->hw);
        } else {
            m = r->run_mean[c];
            v = r->run_var[c];
        }
        if (mean)
            mean[c] = m;
        if (var)
            var[c] = v;
        for (int n = 0; n < r->n; n++)
            for (int p = 0; p < r->hw; p++) {
                int i = (n * r->c + c) * r->hw + p;
                double out = (r->x[i] - m) / sqrt(v + BN_EPS) * r->gamma[c] + r->beta[c];
                y[i] = r->relu && out < 0.0 ? 0.0 : out;
            }
    }
}

static double bn_ref_loss(void *state)
{
    bn_ref *r = state;
    bn_ref_forward(r, r->y, NULL, NULL);
    return test_weighted_sum(r->out_weight, r->y, (size_t)r->n * r->c * r->hw);
}

typedef struct bn_case {
    int n, c, h, w;
    bool training, relu;
} bn_case;

static const bn_case cases[] = {
    {3, 4, 3, 5, true, false}, {2, 3, 4, 4, true, true},   {5, 2, 1, 1, true, false},
    {1, 3, 3, 3, true, false}, {3, 4, 3, 5, false, false}, {2, 3, 4, 4, false, true},
};

START_TEST(batchnorm_matches_reference)
{
    const bn_case *bc = &cases[_i];
    char what[128];
    snprintf(what, sizeof what, "case %d (N%d C%d %dx%d training%d relu%d)", _i, bc->n, bc->c,
             bc->h, bc->w, bc->training, bc->relu);
    int hw = bc->h * bc->w;
    size_t nx = (size_t)bc->n * bc->c * hw, nc = (size_t)bc->c;

    nn_batchnorm2d bn;
    ck_assert_rt(nn_batchnorm2d_init(test_ctx, &bn, "bn1", bc->c, bc->relu));
    float *x = test_random(nx, -2.0f, 3.0f, 100 + _i);
    float *gamma = test_random(nc, 0.5f, 1.5f, 200 + _i);
    float *beta = test_random(nc, -0.5f, 0.5f, 300 + _i);
    float *dy = test_random(nx, -1.0f, 1.0f, 400 + _i);
    float *run_mean = test_random(nc, -0.5f, 0.5f, 500 + _i);
    float *run_var = test_random(nc, 0.5f, 2.0f, 600 + _i);
    ck_assert_rt(rt_tensor_write(&bn.weight.value, gamma));
    ck_assert_rt(rt_tensor_write(&bn.bias.value, beta));
    ck_assert_rt(rt_tensor_write(&bn.running_mean, run_mean));
    ck_assert_rt(rt_tensor_write(&bn.running_var, run_var));

    rt_tensor in, out, dout, din;
    int shape[4] = {bc->n, bc->c, bc->h, bc->w};
    test_upload(&in, "x", 4, shape, x);
    test_upload(&out, "y", 4, shape, NULL);
    test_upload(&dout, "dy", 4, shape, dy);
    test_upload(&din, "dx", 4, shape, NULL);
    ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &bn, &in, &out, bc->training));
    ck_assert_rt(nn_batchnorm2d_backward(test_ctx, &bn, &in, &out, &dout, &din));
    float *y_dev = test_download(&out);
    float *dx_dev = test_download(&din);
    float *dgamma_dev = test_download(&bn.weight.grad);
    float *dbeta_dev = test_download(&bn.bias.grad);
    float *rm_dev = test_download(&bn.running_mean);
    float *rv_dev = test_download(&bn.running_var);

    double *rm_ref = test_to_double(run_mean, nc), *rv_ref = test_to_double(run_var, nc);
    bn_ref r = {
        .n = bc->n,
        .c = bc->c,
        .hw = hw,
        .training = bc->training,
        .relu = bc->relu,
        .x = test_to_double(x, nx),
        .gamma = test_to_double(gamma, nc),
        .beta = test_to_double(beta, nc),
        .out_weight = test_to_double(dy, nx),
        .y = malloc(nx * sizeof(double)),
        .run_mean = rm_ref,
        .run_var = rv_ref,
    };
    double mean[16], var[16];
    bn_ref_forward(&r, r.y, mean, var);
    float *y_ref = test_to_float(r.y, nx);
    ck_assert_close(y_dev, y_ref, nx, 1e-5, 1e-4, what);

    /* PyTorch: running = 0.9 * running + 0.1 * batch, with the unbiased batch variance */
    float expect_rm[16], expect_rv[16];
    double count = (double)bc->n * hw;
    for (int c = 0; c < bc->c; c++) {
        expect_rm[c] = bc->training ? (float)(0.9 * run_mean[c] + 0.1 * mean[c]) : run_mean[c];
        expect_rv[c] = bc->training ? (float)(0.9 * run_var[c] + 0.1 * var[c] * count / (count - 1))
                                    : run_var[c];
    }
    ck_assert_close(rm_dev, expect_rm, nc, 1e-6, 1e-5, "running_mean");
    ck_assert_close(rv_dev, expect_rv, nc, 1e-6, 1e-5, "running_var");

    float *dx_fd = test_fd_gradient(bn_ref_loss, &r, r.x, nx);
    float *dgamma_fd = test_fd_gradient(bn_ref_loss, &r, r.gamma, nc);
    float *dbeta_fd = test_fd_gradient(bn_ref_loss, &r, r.beta, nc);
    ck_assert_close(dx_dev, dx_fd, nx, 2e-4, 2e-3, what);
    ck_assert_close(dgamma_dev, dgamma_fd, nc, 1e-4, 1e-3, what);
    ck_assert_close(dbeta_dev, dbeta_fd, nc, 1e-4, 1e-3, what);

    free(dx_fd);
    free(dgamma_fd);
    free(dbeta_fd);
    free(y_ref);
    free(r.x);
    free(r.gamma);
    free(r.beta);
    free(r.out_weight);
    free(r.y);
    free(rm_ref);
    free(rv_ref);
    free(x);
    free(gamma);
    free(beta);
    free(dy);
    free(run_mean);
    free(run_var);
    free(y_dev);
    free(dx_dev);
    free(dgamma_dev);
    free(dbeta_dev);
    free(rm_dev);
    free(rv_dev);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_batchnorm2d_free(&bn);
}
END_TEST

START_TEST(batchnorm_fused_relu_equals_separate)
{
    /* bn with fused ReLU must equal bn followed by nn_relu_forward, bit for bit */
    int shape[4] = {2, 3, 4, 5};
    size_t n = 120;
    float *x = test_random(n, -2.0f, 2.0f, 77);
    nn_batchnorm2d fused, plain;
    ck_assert_rt(nn_batchnorm2d_init(test_ctx, &fused, "fused", 3, true));
    ck_assert_rt(nn_batchnorm2d_init(test_ctx, &plain, "plain", 3, false));
    rt_tensor in, y1, y2;
    test_upload(&in, "x", 4, shape, x);
    test_upload(&y1, "y1", 4, shape, NULL);
    test_upload(&y2, "y2", 4, shape, NULL);
    ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &fused, &in, &y1, true));
    ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &plain, &in, &y2, true));
    ck_assert_rt(nn_relu_forward(test_ctx, &y2, &y2));
    float *a = test_download(&y1), *b = test_download(&y2);
    ck_assert_mem_eq(a, b, n * sizeof(float));
    free(a);
    free(b);
    free(x);
    rt_tensor_free(&in);
    rt_tensor_free(&y1);
    rt_tensor_free(&y2);
    nn_batchnorm2d_free(&fused);
    nn_batchnorm2d_free(&plain);
}
END_TEST

START_TEST(batchnorm_is_deterministic)
{
    int shape[4] = {4, 2, 8, 8};
    size_t n = 512;
    float *x = test_random(n, -1.0f, 1.0f, 3);
    float *dy = test_random(n, -1.0f, 1.0f, 4);
    rt_tensor in, out, dout, din;
    test_upload(&in, "x", 4, shape, x);
    test_upload(&out, "y", 4, shape, NULL);
    test_upload(&dout, "dy", 4, shape, dy);
    test_upload(&din, "dx", 4, shape, NULL);
    float *first = NULL;
    for (int run = 0; run < 2; run++) {
        nn_batchnorm2d bn;
        ck_assert_rt(nn_batchnorm2d_init(test_ctx, &bn, "bn", 2, false));
        ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &bn, &in, &out, true));
        ck_assert_rt(nn_batchnorm2d_backward(test_ctx, &bn, &in, &out, &dout, &din));
        float *dx = test_download(&din);
        if (first) {
            ck_assert_mem_eq(dx, first, n * sizeof(float));
            free(dx);
        } else {
            first = dx;
        }
        nn_batchnorm2d_free(&bn);
    }
    free(first);
    free(x);
    free(dy);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
}
END_TEST

START_TEST(batchnorm_rejects_single_value_batch)
{
    nn_batchnorm2d bn;
    ck_assert_rt(nn_batchnorm2d_init(test_ctx, &bn, "bn", 2, false));
    int shape[4] = {1, 2, 1, 1};
    rt_tensor in, out;
    test_upload(&in, "x", 4, shape, NULL);
    test_upload(&out, "y", 4, shape, NULL);
    ck_assert_int_eq(nn_batchnorm2d_forward(test_ctx, &bn, &in, &out, true), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "batch larger than 1"));
    ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &bn, &in, &out, false));
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    nn_batchnorm2d_free(&bn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers_batchnorm");
    TCase *tc = tcase_create("batchnorm");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_loop_test(tc, batchnorm_matches_reference, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, batchnorm_fused_relu_equals_separate);
    tcase_add_test(tc, batchnorm_is_deterministic);
    tcase_add_test(tc, batchnorm_rejects_single_value_batch);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
