/* Core runtime checks: a kernel launch, a buffer round trip and a reference GEMM. */
#include "tests/common/test_common.h"

#include <stdlib.h>
#include <string.h>

START_TEST(buffer_round_trip)
{
    float host[37], back[37];
    test_fill_uniform(host, 37, -1.0f, 1.0f, 1);
    rt_tensor t;
    int shape[1] = {37};
    ck_assert_rt(rt_tensor_alloc(test_ctx, &t, "round_trip", RT_F32, 1, shape));
    ck_assert_rt(rt_tensor_write(&t, host));
    ck_assert_rt(rt_tensor_read(&t, back));
    ck_assert_mem_eq(host, back, sizeof host);
    rt_tensor_free(&t);
}
END_TEST

START_TEST(kernel_launch_adds_one)
{
    float host[100];
    for (int i = 0; i < 100; i++)
        host[i] = (float)i;
    rt_tensor t;
    int shape[1] = {100};
    ck_assert_rt(rt_tensor_alloc(test_ctx, &t, "x", RT_F32, 1, shape));
    ck_assert_rt(rt_tensor_write(&t, host));
    cl_kernel k;
    ck_assert_rt(rt_kernel_get(test_ctx, "test_kernels", "add_one", &k));
    cl_int n = 100;
    ck_assert_int_eq(clSetKernelArg(k, 0, sizeof t.buf, &t.buf), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 1, sizeof n, &n), CL_SUCCESS);
    size_t global = 100, local = 16;
    ck_assert_rt(rt_launch(test_ctx, k, "add_one", 1, &global, &local));
    ck_assert_rt(rt_tensor_read(&t, host));
    for (int i = 0; i < 100; i++)
        ck_assert_float_eq(host[i], (float)i + 1.0f);
    rt_tensor_free(&t);
}
END_TEST

START_TEST(memory_counters_track_peak)
{
    size_t before = test_ctx->bytes_current;
    rt_tensor a, b;
    ck_assert_rt(rt_tensor_alloc4(test_ctx, &a, "a", 1, 1, 1, 256));
    ck_assert_rt(rt_tensor_alloc4(test_ctx, &b, "b", 1, 1, 1, 256));
    ck_assert_uint_eq(test_ctx->bytes_current, before + 2048);
    rt_tensor_free(&a);
    rt_tensor_free(&b);
    ck_assert_uint_eq(test_ctx->bytes_current, before);
    ck_assert_uint_ge(test_ctx->bytes_peak, before + 2048);
}
END_TEST

START_TEST(oversized_allocation_names_tensor)
{
    rt_tensor t;
    size_t elems = (size_t)(test_ctx->info.max_alloc_bytes / 4) + 1024;
    int shape[2] = {(int)(elems / 1024) + 1, 1024};
    int st = rt_tensor_alloc(test_ctx, &t, "huge_activation", RT_F32, 2, shape);
    ck_assert_int_eq(st, RT_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "huge_activation"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "bytes"));
}
END_TEST

Suite *runtime_core_suite(void)
{
    Suite *s = suite_create("runtime_core");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, buffer_round_trip);
    tcase_add_test(tc, kernel_launch_adds_one);
    tcase_add_test(tc, memory_counters_track_peak);
    tcase_add_test(tc, oversized_allocation_names_tensor);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(runtime_core_suite());
}
