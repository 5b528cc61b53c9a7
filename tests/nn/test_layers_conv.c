/* 2-D convolution against a CPU reference, with finite-difference gradient checks. */
#include "tests/nn/test_layers_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct conv_case {
    int n, cin, h, w, cout, kernel, stride, pad;
    bool bias;
    size_t scratch_limit; /* 0 = default; small values force several batch chunks */
} conv_case;

static const conv_case cases[] = {
    {2, 3, 5, 7, 4, 1, 1, 0, false, 0}, /* pointwise path, no im2col */
    {2, 3, 5, 7, 4, 1, 1, 0, true, 0},
    {3, 2, 6, 5, 2, 1, 2, 0, true, 0}, /* 1x1 stride 2 goes through im2col */
    {2, 3, 7, 6, 5, 3, 1, 1, true, 0},
    {2, 2, 9, 8, 3, 3, 2, 1, false, 0},
    {2, 3, 5, 5, 4, 3, 1, 0, false, 0},
    {1, 2, 11, 9, 3, 7, 2, 3, true, 0},
    {2, 1, 8, 8, 2, 7, 1, 3, false, 0},
    {3, 2, 7, 5, 3, 3, 2, 1, true, 600},   /* chunks of one image */
    {5, 2, 6, 6, 2, 3, 1, 1, false, 6000}, /* chunks of two images, last chunk of one */
};

typedef struct conv_ref {
    const conv_case *c;
    int oh, ow;
    double *x, *weight, *bias, *out_weight, *y;
} conv_ref;

static void conv_ref_forward(const conv_ref *r, double *y)
{
    const conv_case *c = r->c;
    for (int n = 0; n < c->n; n++)
        for (int co = 0; co < c->cout; co++)
            for (int oh = 0; oh < r->oh; oh++)
                for (int ow = 0; ow < r->ow; ow++) {
                    double s = c->bias ? r->bias[co] : 0.0;
                    for (int ci = 0; ci < c->cin; ci++)
                        for (int kh = 0; kh < c->kernel; kh++)
                            for (int kw = 0; kw < c->kernel; kw++) {
                                int h = oh * c->stride - c->pad + kh;
                                int w = ow * c->stride - c->pad + kw;
                                if (h < 0 || h >= c->h || w < 0 || w >= c->w)
                                    continue;
                                double xv = r->x[((n * c->cin + ci) * c->h + h) * c->w + w];
                                double wv =
                                    r->weight[((co * c->cin + ci) * c->kernel + kh) * c->kernel +
                                              kw];
                                s += xv * wv;
                            }
                    y[((n * c->cout + co) * r->oh + oh) * r->ow + ow] = s;
                }
}

static double conv_ref_loss(void *state)
{
    conv_ref *r = state;
    conv_ref_forward(r, r->y);
    size_t ny = (size_t)r->c->n * r->c->cout * r->oh * r->ow;
    return test_weighted_sum(r->out_weight, r->y, ny);
}

START_TEST(conv_matches_reference)
{
    const conv_case *c = &cases[_i];
    char what[160];
    snprintf(what, sizeof what, "case %d (N%d Cin%d %dx%d Cout%d k%d s%d p%d bias%d)", _i, c->n,
             c->cin, c->h, c->w, c->cout, c->kernel, c->stride, c->pad, c->bias);

    nn_conv2d conv;
    ck_assert_rt(nn_conv2d_init(test_ctx, &conv, "conv", c->cin, c->cout, c->kernel, c->stride,
                                c->pad, c->bias));
    conv.scratch_limit_bytes = c->scratch_limit;
    int oh, ow;
    nn_conv2d_output_shape(&conv, c->h, c->w, &oh, &ow);
    size_t nx = (size_t)c->n * c->cin * c->h * c->w;
    size_t nw = (size_t)c->cout * c->cin * c->kernel * c->kernel;
    size_t ny = (size_t)c->n * c->cout * oh * ow;

    float *x = test_random(nx, -1.0f, 1.0f, 11 + _i);
    float *dy = test_random(ny, -1.0f, 1.0f, 29 + _i);
    float *weight = test_download(&conv.weight.value);
    float *bias = c->bias ? test_download(&conv.bias.value) : NULL;

    rt_tensor in, out, dout, din;
    int in_shape[4] = {c->n, c->cin, c->h, c->w};
    int out_shape[4] = {c->n, c->cout, oh, ow};
    test_upload(&in, "x", 4, in_shape, x);
    test_upload(&out, "y", 4, out_shape, NULL);
    test_upload(&dout, "dy", 4, out_shape, dy);
    test_upload(&din, "dx", 4, in_shape, NULL);
    ck_assert_rt(nn_conv2d_forward(test_ctx, &conv, &in, &out));
    ck_assert_rt(nn_conv2d_backward(test_ctx, &conv, &in, &dout, &din));
    float *y_dev = test_download(&out);
    float *dx_dev = test_download(&din);
    float *dw_dev = test_download(&conv.weight.grad);
    float *db_dev = c->bias ? test_download(&conv.bias.grad) : NULL;

    conv_ref r = {
        .c = c,
        .oh = oh,
        .ow = ow,
        .x = test_to_double(x, nx),
        .weight = test_to_double(weight, nw),
        .bias = c->bias ? test_to_double(bias, (size_t)c->cout) : NULL,
        .out_weight = test_to_double(dy, ny),
        .y = malloc(ny * sizeof(double)),
    };
    conv_ref_forward(&r, r.y);
    float *y_ref = test_to_float(r.y, ny);
    ck_assert_close(y_dev, y_ref, ny, 1e-5, 1e-4, what);

    float *dx_fd = test_fd_gradient(conv_ref_loss, &r, r.x, nx);
    float *dw_fd = test_fd_gradient(conv_ref_loss, &r, r.weight, nw);
    ck_assert_close(dx_dev, dx_fd, nx, 1e-4, 1e-3, what);
    ck_assert_close(dw_dev, dw_fd, nw, 1e-4, 1e-3, what);
    if (c->bias) {
        float *db_fd = test_fd_gradient(conv_ref_loss, &r, r.bias, (size_t)c->cout);
        ck_assert_close(db_dev, db_fd, (size_t)c->cout, 1e-4, 1e-3, what);
        free(db_fd);
    }

    free(dx_fd);
    free(dw_fd);
    free(y_ref);
    free(r.x);
    free(r.weight);
    free(r.bias);
    free(r.out_weight);
    free(r.y);
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
    nn_conv2d_free(&conv);
}
END_TEST

START_TEST(conv_backward_without_input_gradient)
{
    /* a NULL din still produces the weight gradient of the full computation */
    nn_conv2d conv;
    ck_assert_rt(nn_conv2d_init(test_ctx, &conv, "stem", 2, 3, 3, 1, 1, false));
    int shape[4] = {2, 2, 5, 5}, out_shape[4] = {2, 3, 5, 5};
    float *x = test_random(100, -1.0f, 1.0f, 5);
    float *dy = test_random(150, -1.0f, 1.0f, 6);
    rt_tensor in, dout, din;
    test_upload(&in, "x", 4, shape, x);
    test_upload(&dout, "dy", 4, out_shape, dy);
    test_upload(&din, "dx", 4, shape, NULL);
    ck_assert_rt(nn_conv2d_backward(test_ctx, &conv, &in, &dout, &din));
    float *dw_full = test_download(&conv.weight.grad);
    ck_assert_rt(rt_tensor_zero(&conv.weight.grad));
    ck_assert_rt(nn_conv2d_backward(test_ctx, &conv, &in, &dout, NULL));
    float *dw_only = test_download(&conv.weight.grad);
    ck_assert_close(dw_only, dw_full, conv.weight.grad.numel, 1e-7, 0.0, "dW without din");
    free(x);
    free(dy);
    free(dw_full);
    free(dw_only);
    rt_tensor_free(&in);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_conv2d_free(&conv);
}
END_TEST

START_TEST(conv_shared_workspace_matches_own_scratch)
{
    /* two layers of different sizes share one workspace; results equal those with own scratch */
    nn_conv2d a, b;
    ck_assert_rt(nn_conv2d_init(test_ctx, &a, "a", 2, 3, 3, 1, 1, true));
    ck_assert_rt(nn_conv2d_init(test_ctx, &b, "b", 3, 4, 3, 2, 1, false));
    int x_shape[4] = {2, 2, 6, 6}, a_shape[4] = {2, 3, 6, 6}, b_shape[4] = {2, 4, 3, 3};
    float *x = test_random(144, -1.0f, 1.0f, 8), *dy = test_random(72, -1.0f, 1.0f, 9);
    rt_tensor in, mid, out, dout, dmid, din;
    test_upload(&in, "x", 4, x_shape, x);
    test_upload(&mid, "mid", 4, a_shape, NULL);
    test_upload(&out, "y", 4, b_shape, NULL);
    test_upload(&dout, "dy", 4, b_shape, dy);
    test_upload(&dmid, "dmid", 4, a_shape, NULL);
    test_upload(&din, "dx", 4, x_shape, NULL);

    rt_tensor workspace;
    memset(&workspace, 0, sizeof workspace);
    float *results[2][3];
    for (int shared = 0; shared < 2; shared++) {
        a.workspace = shared ? &workspace : NULL;
        b.workspace = shared ? &workspace : NULL;
        ck_assert_rt(nn_conv2d_forward(test_ctx, &a, &in, &mid));
        ck_assert_rt(nn_conv2d_forward(test_ctx, &b, &mid, &out));
        ck_assert_rt(nn_conv2d_backward(test_ctx, &b, &mid, &dout, &dmid));
        ck_assert_rt(nn_conv2d_backward(test_ctx, &a, &in, &dmid, &din));
        results[shared][0] = test_download(&out);
        results[shared][1] = test_download(&din);
        results[shared][2] = test_download(&a.weight.grad);
    }
    ck_assert_ptr_nonnull(workspace.buf);
    ck_assert_mem_eq(results[1][0], results[0][0], 72 * sizeof(float));
    ck_assert_mem_eq(results[1][1], results[0][1], 144 * sizeof(float));
    ck_assert_mem_eq(results[1][2], results[0][2], a.weight.grad.numel * sizeof(float));

    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            free(results[i][j]);
    free(x);
    free(dy);
    rt_tensor_free(&workspace);
    rt_tensor_free(&in);
    rt_tensor_free(&mid);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&dmid);
    rt_tensor_free(&din);
    nn_conv2d_free(&a);
    nn_conv2d_free(&b);
}
END_TEST

START_TEST(conv_rejects_wrong_channels)
{
    nn_conv2d conv;
    ck_assert_rt(nn_conv2d_init(test_ctx, &conv, "layer1.0.conv1", 4, 4, 3, 1, 1, false));
    rt_tensor in, out;
    int in_shape[4] = {1, 3, 4, 4}, out_shape[4] = {1, 4, 4, 4};
    test_upload(&in, "x", 4, in_shape, NULL);
    test_upload(&out, "y", 4, out_shape, NULL);
    ck_assert_int_eq(nn_conv2d_forward(test_ctx, &conv, &in, &out), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "1x3x4x4"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "*x4x*x*"));
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    nn_conv2d_free(&conv);
}
END_TEST

START_TEST(conv_init_is_reproducible)
{
    nn_conv2d a, b;
    ck_assert_rt(nn_conv2d_init(test_ctx, &a, "conv1", 3, 8, 3, 1, 1, false));
    ck_assert_rt(nn_conv2d_init(test_ctx, &b, "conv1", 3, 8, 3, 1, 1, false));
    float *wa = test_download(&a.weight.value);
    float *wb = test_download(&b.weight.value);
    ck_assert_mem_eq(wa, wb, a.weight.value.numel * sizeof(float));
    float bound = 1.0f / sqrtf(27.0f);
    for (size_t i = 0; i < a.weight.value.numel; i++) {
        ck_assert_float_le(wa[i], bound);
        ck_assert_float_ge(wa[i], -bound);
    }
    free(wa);
    free(wb);
    nn_conv2d_free(&a);
    nn_conv2d_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers_conv");
    TCase *tc = tcase_create("conv");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_loop_test(tc, conv_matches_reference, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, conv_backward_without_input_gradient);
    tcase_add_test(tc, conv_shared_workspace_matches_own_scratch);
    tcase_add_test(tc, conv_rejects_wrong_channels);
    tcase_add_test(tc, conv_init_is_reproducible);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
