/* Device enumeration, device selection strings and kernel build errors. */
#include "tests/common/test_common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static rt_device_list list;

static void list_setup(void)
{
    int st = rt_device_list_query(&list);
    ck_assert_msg(st == RT_OK, "listing OpenCL devices failed: %s", rt_last_error());
}

static void list_teardown(void)
{
    rt_device_list_free(&list);
}

static bool contains_ignoring_case(const char *text, const char *part)
{
    size_t n = strlen(part);
    for (; *text; text++)
        if (strncasecmp(text, part, n) == 0)
            return true;
    return n == 0;
}

static int first_index_of(cl_device_type type)
{
    for (int i = 0; i < list.count; i++)
        if (list.devices[i].type & type)
            return i;
    return -1;
}

/* Asserts that the last error names selector and lists every available device. */
static void assert_lists_devices(const char *selector)
{
    const char *msg = rt_last_error();
    ck_assert_ptr_nonnull(strstr(msg, selector));
    ck_assert_ptr_nonnull(strstr(msg, "Available devices"));
    for (int i = 0; i < list.count; i++) {
        char index[32];
        snprintf(index, sizeof index, "%d:%d", list.devices[i].platform_index,
                 list.devices[i].device_index);
        ck_assert_msg(strstr(msg, index) != NULL, "device %s missing from: %s", index, msg);
        ck_assert_msg(strstr(msg, list.devices[i].name) != NULL, "device %s missing from: %s",
                      list.devices[i].name, msg);
    }
}

START_TEST(devices_enumerated_with_info)
{
    ck_assert_int_ge(list.count, 1);
    for (int i = 0; i < list.count; i++) {
        const rt_device_info *d = &list.devices[i];
        ck_assert_str_ne(d->name, "");
        ck_assert_str_ne(d->platform_name, "");
        ck_assert_uint_gt(d->compute_units, 0);
        ck_assert_uint_gt(d->global_mem_bytes, 0);
        ck_assert_uint_gt(d->max_alloc_bytes, 0);
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(out);
    rt_device_list_print(&list, out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, list.devices[0].name));
    ck_assert_ptr_nonnull(strstr(text, "compute units"));
    free(text);
}
END_TEST

START_TEST(select_index_zero_zero)
{
    int idx = -1;
    ck_assert_rt(rt_device_select(&list, "0:0", &idx));
    ck_assert_int_eq(list.devices[idx].platform_index, 0);
    ck_assert_int_eq(list.devices[idx].device_index, 0);
}
END_TEST

START_TEST(select_cpu_by_type)
{
    int expected = first_index_of(CL_DEVICE_TYPE_CPU);
    if (expected < 0)
        return; /* no CPU device on this machine: covered by select_missing_type */
    int idx = -1;
    ck_assert_rt(rt_device_select(&list, "cpu", &idx));
    ck_assert_int_eq(idx, expected);
    ck_assert_rt(rt_device_select(&list, "CPU", &idx));
    ck_assert_int_eq(idx, expected);
}
END_TEST

START_TEST(select_name_substring)
{
    /* A middle slice of the name, upper-cased, must still match case-insensitively. */
    const char *name = list.devices[0].name;
    size_t len = strlen(name);
    char part[64];
    size_t from = len / 3, count = len - from < 8 ? len - from : 8;
    for (size_t i = 0; i < count; i++)
        part[i] = (char)toupper((unsigned char)name[from + i]);
    part[count] = '\0';
    int idx = -1;
    ck_assert_rt(rt_device_select(&list, part, &idx));
    ck_assert_msg(contains_ignoring_case(list.devices[idx].name, part), "'%s' selected %s", part,
                  list.devices[idx].name);
}
END_TEST

START_TEST(select_missing_index_lists_devices)
{
    int idx = -1;
    ck_assert_int_eq(rt_device_select(&list, "9:9", &idx), RT_ERR_NOT_FOUND);
    assert_lists_devices("9:9");
}
END_TEST

START_TEST(select_missing_type)
{
    /* Ask for whichever of gpu and cpu this machine lacks; PoCL-only machines lack a GPU. */
    const char *selector = NULL;
    if (first_index_of(CL_DEVICE_TYPE_GPU) < 0)
        selector = "gpu";
    else if (first_index_of(CL_DEVICE_TYPE_CPU) < 0)
        selector = "cpu";
    if (!selector)
        return; /* both types present: nothing to reject */
    int idx = -1;
    ck_assert_int_eq(rt_device_select(&list, selector, &idx), RT_ERR_NOT_FOUND);
    assert_lists_devices(selector);
}
END_TEST

START_TEST(select_garbage_lists_devices)
{
    int idx = -1;
    const char *garbage = "no-such-device-#%!";
    ck_assert_int_eq(rt_device_select(&list, garbage, &idx), RT_ERR_NOT_FOUND);
    assert_lists_devices(garbage);
    ck_assert_int_eq(rt_device_select(&list, "0:0:0", &idx), RT_ERR_NOT_FOUND);
    assert_lists_devices("0:0:0");
}
END_TEST

START_TEST(select_default_prefers_gpu)
{
    int idx = -1;
    ck_assert_rt(rt_device_select(&list, NULL, &idx));
    int gpu = first_index_of(CL_DEVICE_TYPE_GPU);
    int cpu = first_index_of(CL_DEVICE_TYPE_CPU);
    ck_assert_int_eq(idx, gpu >= 0 ? gpu : (cpu >= 0 ? cpu : 0));
}
END_TEST

START_TEST(context_rejects_bad_selector)
{
    rt_context *ctx = NULL;
    ck_assert_int_eq(rt_context_create(&ctx, "9:9"), RT_ERR_NOT_FOUND);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "Available devices"));
}
END_TEST

START_TEST(broken_kernel_reports_build_log)
{
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    const char *source = "__kernel void broken(__global float *x)\n"
                         "{\n"
                         "    x[0] = undeclared_name_42;\n"
                         "}\n";
    cl_program program = NULL;
    int st = rt_program_build_source(ctx, "broken_probe", source, "-DPROBE_OPTION=7", &program);
    ck_assert_int_eq(st, RT_ERR_BUILD);
    ck_assert_ptr_null(program);
    const char *msg = rt_last_error();
    ck_assert_msg(strstr(msg, "broken_probe.cl") != NULL, "no file name in: %s", msg);
    ck_assert_msg(strstr(msg, "-DPROBE_OPTION=7") != NULL, "no options in: %s", msg);
    ck_assert_msg(strstr(msg, "-DALUMCL_CPU=") != NULL, "no context options in: %s", msg);
    ck_assert_msg(strstr(msg, "undeclared_name_42") != NULL, "no compiler log in: %s", msg);
    rt_context_free(ctx);
}
END_TEST

START_TEST(buffer_round_trip_ranges)
{
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    float host[53], back[53];
    test_fill_uniform(host, 53, -2.0f, 2.0f, 5);
    rt_tensor t;
    int shape[2] = {1, 53};
    ck_assert_rt(rt_tensor_alloc(ctx, &t, "ranges", RT_F32, 2, shape));
    ck_assert_rt(rt_tensor_zero(&t));
    ck_assert_rt(rt_tensor_write_range(&t, 10, 20, host + 10));
    ck_assert_rt(rt_tensor_read(&t, back));
    for (int i = 0; i < 53; i++)
        ck_assert_float_eq(back[i], i >= 10 && i < 30 ? host[i] : 0.0f);
    ck_assert_int_eq(rt_tensor_write_range(&t, 50, 4, host), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "ranges"));
    ck_assert_int_eq(rt_tensor_read_range(&t, 53, 1, back), RT_ERR_INVALID);
    rt_tensor_free(&t);
    rt_context_free(ctx);
}
END_TEST

START_TEST(allocation_rejects_zero_dimension)
{
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    rt_tensor t;
    int shape[2] = {4, 0};
    ck_assert_int_eq(rt_tensor_alloc(ctx, &t, "empty_dim", RT_F32, 2, shape), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "empty_dim"));
    ck_assert_ptr_null(t.buf);
    ck_assert_uint_eq(ctx->bytes_current, 0);
    rt_context_free(ctx);
}
END_TEST

Suite *devices_suite(void)
{
    Suite *s = suite_create("devices");
    TCase *tc = tcase_create("selection");
    tcase_add_checked_fixture(tc, list_setup, list_teardown);
    tcase_add_test(tc, devices_enumerated_with_info);
    tcase_add_test(tc, select_index_zero_zero);
    tcase_add_test(tc, select_cpu_by_type);
    tcase_add_test(tc, select_name_substring);
    tcase_add_test(tc, select_missing_index_lists_devices);
    tcase_add_test(tc, select_missing_type);
    tcase_add_test(tc, select_garbage_lists_devices);
    tcase_add_test(tc, select_default_prefers_gpu);
    tcase_add_test(tc, context_rejects_bad_selector);
    suite_add_tcase(s, tc);
    TCase *programs = tcase_create("programs");
    tcase_add_test(programs, broken_kernel_reports_build_log);
    tcase_add_test(programs, buffer_round_trip_ranges);
    tcase_add_test(programs, allocation_rejects_zero_dimension);
    suite_add_tcase(s, programs);
    return s;
}

int main(void)
{
    return test_run_suite(devices_suite());
}
