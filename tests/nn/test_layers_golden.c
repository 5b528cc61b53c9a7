/*
 * Convolution and batch norm against PyTorch 1.13 on one small case each.
 * The reference values come from tools/make_layer_golden.py, which writes
 * tests/nn/golden/layers.txt (its docstring describes the records).
 */
#include "tests/nn/test_layers_util.h"

#include <stdio.h>
#include <string.h>

/* Returns the values of record name from the golden file, asserting its element count. */
static float *golden_record(const char *name, size_t count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/nn/golden/layers.txt", test_source_root());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s; run tools/make_layer_golden.py", path);
    char record[128];
    size_t n;
    while (fscanf(f, "%127s %zu", record, &n) == 2) {
        bool match = strcmp(record, name) == 0;
        float *values = malloc((n ? n : 1) * sizeof *values);
        ck_assert_ptr_nonnull(values);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fscanf(f, "%f", &values[i]) == 1, "%s: record %s is truncated", path,
                          record);
        if (match) {
            fclose(f);
            ck_assert_msg(n == count, "%s: record %s has %zu values, expected %zu", path, name, n,
                          count);
            return values;
        }
        free(values);
    }
    fclose(f);
    ck_abort_msg("%s: record %s not found", path, name);
    return NULL;
}

START_TEST(conv_matches_pytorch)
{
    nn_conv2d conv;
    ck_assert_rt(nn_conv2d_init(test_ctx, &conv, "conv", 3, 4, 3, 2, 1, true));
    float *x = golden_record("conv.x", 294), *dy = golden_record("conv.dy", 128);
    float *weight = golden_record("conv.weight", 108), *bias = golden_record("conv.bias", 4);
    ck_assert_rt(rt_tensor_write(&conv.weight.value, weight));
    ck_assert_rt(rt_tensor_write(&conv.bias.value, bias));
    rt_tensor in, out, dout, din;
    int in_shape[4] = {2, 3, 7, 7}, out_shape[4] = {2, 4, 4, 4};
    test_upload(&in, "x", 4, in_shape, x);
    test_upload(&out, "y", 4, out_shape, NULL);
    test_upload(&dout, "dy", 4, out_shape, dy);
    test_upload(&din, "dx", 4, in_shape, NULL);
    ck_assert_rt(nn_conv2d_forward(test_ctx, &conv, &in, &out));
    ck_assert_rt(nn_conv2d_backward(test_ctx, &conv, &in, &dout, &din));

    struct {
        const rt_tensor *t;
        const char *record;
    } checks[] = {
        {&out, "conv.y"},
        {&din, "conv.dx"},
        {&conv.weight.grad, "conv.dweight"},
        {&conv.bias.grad, "conv.dbias"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        float *got = test_download(checks[i].t);
        float *want = golden_record(checks[i].record, checks[i].t->numel);
        ck_assert_close(got, want, checks[i].t->numel, 1e-5, 1e-4, checks[i].record);
        free(got);
        free(want);
    }
    free(x);
    free(dy);
    free(weight);
    free(bias);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_conv2d_free(&conv);
}
END_TEST

/* Loop index 0: plain batch norm; 1: fused ReLU (PyTorch: BatchNorm2d then relu). */
START_TEST(batchnorm_matches_pytorch)
{
    bool relu = _i == 1;
    const char *prefix = relu ? "bnrelu" : "bn";
    nn_batchnorm2d bn;
    ck_assert_rt(nn_batchnorm2d_init(test_ctx, &bn, "bn", 4, relu));
    float *x = golden_record("bn.x", 300), *dy = golden_record("bn.dy", 300);
    float *weight = golden_record("bn.weight", 4), *bias = golden_record("bn.bias", 4);
    float *rm = golden_record("bn.running_mean", 4), *rv = golden_record("bn.running_var", 4);
    ck_assert_rt(rt_tensor_write(&bn.weight.value, weight));
    ck_assert_rt(rt_tensor_write(&bn.bias.value, bias));
    ck_assert_rt(rt_tensor_write(&bn.running_mean, rm));
    ck_assert_rt(rt_tensor_write(&bn.running_var, rv));
    rt_tensor in, out, dout, din;
    int shape[4] = {3, 4, 5, 5};
    test_upload(&in, "x", 4, shape, x);
    test_upload(&out, "y", 4, shape, NULL);
    test_upload(&dout, "dy", 4, shape, dy);
    test_upload(&din, "dx", 4, shape, NULL);

    if (!relu) {
        ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &bn, &in, &out, false));
        float *got = test_download(&out), *want = golden_record("bn.eval_y", 300);
        ck_assert_close(got, want, 300, 1e-5, 1e-4, "bn.eval_y");
        free(got);
        free(want);
    }
    ck_assert_rt(nn_batchnorm2d_forward(test_ctx, &bn, &in, &out, true));
    ck_assert_rt(nn_batchnorm2d_backward(test_ctx, &bn, &in, &out, &dout, &din));

    char names[6][64];
    const rt_tensor *tensors[6] = {
        &out, &din, &bn.weight.grad, &bn.bias.grad, &bn.running_mean, &bn.running_var};
    const char *suffixes[6] = {
        "y", "dx", "dweight", "dbias", "running_mean_after", "running_var_after"};
    int checks = relu ? 4 : 6;
    for (int i = 0; i < checks; i++) {
        snprintf(names[i], sizeof names[i], "%s.%s", prefix, suffixes[i]);
        float *got = test_download(tensors[i]);
        float *want = golden_record(names[i], tensors[i]->numel);
        ck_assert_close(got, want, tensors[i]->numel, 1e-5, 1e-4, names[i]);
        free(got);
        free(want);
    }
    free(x);
    free(dy);
    free(weight);
    free(bias);
    free(rm);
    free(rv);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    rt_tensor_free(&dout);
    rt_tensor_free(&din);
    nn_batchnorm2d_free(&bn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers_golden");
    TCase *tc = tcase_create("pytorch");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, conv_matches_pytorch);
    tcase_add_loop_test(tc, batchnorm_matches_pytorch, 0, 2);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
