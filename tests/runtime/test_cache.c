/*
 * On-disk kernel cache (miss, hit, corrupt and truncated entries, disabling)
 * and the CLBlast tuning file (parsing a tuner JSON, storing and applying it).
 * Each test points ALUMCL_CACHE_DIR at a fresh temporary directory.
 */
#include "tests/common/test_common.h"

#include "runtime/rt_cache.h"
#include "runtime/rt_clblast.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char cache_dir[64];

static const char *probe_source = "__kernel void cache_probe(__global float *x, int n)\n"
                                  "{\n"
                                  "    int i = get_global_id(0);\n"
                                  "    if (i < n)\n"
                                  "        x[i] = 2.0f * x[i] + 3.0f;\n"
                                  "}\n";

static void cache_setup(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/alumcl-cache-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cache_dir));
    setenv("ALUMCL_CACHE_DIR", cache_dir, 1);
    unsetenv("ALUMCL_CACHE");
}

static void cache_teardown(void)
{
    char command[128];
    snprintf(command, sizeof command, "/bin/rm -rf '%s'", cache_dir);
    ck_assert_int_eq(system(command), 0);
}

/* Builds the probe program in a fresh context and runs it; returns the context's counters. */
static void build_probe(unsigned long *compiled, unsigned long *from_cache)
{
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    cl_program program = NULL;
    ck_assert_rt(rt_program_build_source(ctx, "cache_probe", probe_source, NULL, &program));
    cl_int err;
    cl_kernel kernel = clCreateKernel(program, "cache_probe", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    float host[19];
    for (int i = 0; i < 19; i++)
        host[i] = (float)i;
    rt_tensor t;
    int shape[1] = {19};
    ck_assert_rt(rt_tensor_alloc(ctx, &t, "probe", RT_F32, 1, shape));
    ck_assert_rt(rt_tensor_write(&t, host));
    cl_int n = 19;
    ck_assert_int_eq(clSetKernelArg(kernel, 0, sizeof t.buf, &t.buf), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(kernel, 1, sizeof n, &n), CL_SUCCESS);
    size_t global = 19;
    ck_assert_rt(rt_launch(ctx, kernel, "cache_probe", 1, &global, NULL));
    ck_assert_rt(rt_tensor_read(&t, host));
    for (int i = 0; i < 19; i++)
        ck_assert_float_eq(host[i], 2.0f * (float)i + 3.0f);
    rt_tensor_free(&t);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    *compiled = ctx->programs_compiled;
    *from_cache = ctx->programs_from_cache;
    rt_context_free(ctx);
}

static void probe_entry_path(char *path, size_t size)
{
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    char options[1024];
    snprintf(options, sizeof options, "%s", ctx->build_options);
    ck_assert_rt(rt_cache_entry_path(ctx, "cache_probe", probe_source, options, path, size));
    rt_context_free(ctx);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Runs build_probe with stderr captured into buf. */
static void build_probe_capturing_stderr(unsigned long *compiled, unsigned long *from_cache,
                                         char *buf, size_t size)
{
    char log_path[96];
    snprintf(log_path, sizeof log_path, "%s/stderr.txt", cache_dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    build_probe(compiled, from_cache);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t got = fread(buf, 1, size - 1, f);
    buf[got] = '\0';
    fclose(f);
    unlink(log_path);
}

START_TEST(cache_miss_then_hit)
{
    unsigned long compiled, from_cache;
    build_probe(&compiled, &from_cache);
    ck_assert_uint_eq(compiled, 1);
    ck_assert_uint_eq(from_cache, 0);
    char path[4352];
    probe_entry_path(path, sizeof path);
    ck_assert_msg(file_size(path) > 0, "no cache entry at %s", path);
    ck_assert_ptr_nonnull(strstr(path, cache_dir));

    build_probe(&compiled, &from_cache);
    ck_assert_uint_eq(compiled, 0);
    ck_assert_uint_eq(from_cache, 1);
}
END_TEST

START_TEST(cache_entry_holds_full_key)
{
    unsigned long compiled, from_cache;
    build_probe(&compiled, &from_cache);
    char path[4352];
    probe_entry_path(path, sizeof path);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *data = calloc(1, 1 << 20);
    size_t got = fread(data, 1, (1 << 20) - 1, f);
    fclose(f);
    ck_assert_uint_gt(got, 64);
    /* The key is plain text after the 28-byte header. */
    const char *key = data + 28;
    ck_assert_ptr_nonnull(strstr(key, "alumcl version: " ALUMCL_VERSION));
    ck_assert_ptr_nonnull(strstr(key, "options: -cl-std=CL1.2"));
    ck_assert_ptr_nonnull(strstr(key, "x[i] = 2.0f * x[i] + 3.0f;"));
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    ck_assert_ptr_nonnull(strstr(key, ctx->info.name));
    ck_assert_ptr_nonnull(strstr(key, ctx->info.driver_version));
    ck_assert_ptr_nonnull(strstr(key, ctx->info.platform_version));
    rt_context_free(ctx);
    free(data);
}
END_TEST

START_TEST(cache_corrupt_entry_rebuilt)
{
    unsigned long compiled, from_cache;
    build_probe(&compiled, &from_cache);
    char path[4352];
    probe_entry_path(path, sizeof path);
    long size = file_size(path);
    ck_assert_int_gt(size, 100);
    /* Flip one byte in the binary, past the header and key. */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, size - 10, SEEK_SET), 0);
    int byte = fgetc(f);
    ck_assert_int_eq(fseek(f, size - 10, SEEK_SET), 0);
    fputc(byte ^ 0x5a, f);
    fclose(f);

    char log[4096];
    build_probe_capturing_stderr(&compiled, &from_cache, log, sizeof log);
    ck_assert_uint_eq(compiled, 1);
    ck_assert_uint_eq(from_cache, 0);
    ck_assert_msg(strstr(log, "warning") && strstr(log, "checksum mismatch"),
                  "no corruption warning in: %s", log);
    ck_assert_ptr_nonnull(strstr(log, path));

    /* The rebuild overwrote the entry, so the next context hits. */
    build_probe(&compiled, &from_cache);
    ck_assert_uint_eq(compiled, 0);
    ck_assert_uint_eq(from_cache, 1);
}
END_TEST

START_TEST(cache_truncated_entry_rebuilt)
{
    unsigned long compiled, from_cache;
    build_probe(&compiled, &from_cache);
    char path[4352];
    probe_entry_path(path, sizeof path);
    long size = file_size(path);
    ck_assert_int_eq(truncate(path, size / 2), 0);

    char log[4096];
    build_probe_capturing_stderr(&compiled, &from_cache, log, sizeof log);
    ck_assert_uint_eq(compiled, 1);
    ck_assert_uint_eq(from_cache, 0);
    ck_assert_msg(strstr(log, "truncated"), "no truncation warning in: %s", log);
    ck_assert_int_eq(file_size(path), size);

    ck_assert_int_eq(truncate(path, 5), 0); /* shorter than the header */
    build_probe_capturing_stderr(&compiled, &from_cache, log, sizeof log);
    ck_assert_uint_eq(compiled, 1);
    ck_assert_msg(strstr(log, "truncated header"), "no truncation warning in: %s", log);
}
END_TEST

START_TEST(cache_disabled_by_env)
{
    setenv("ALUMCL_CACHE", "0", 1);
    unsigned long compiled, from_cache;
    build_probe(&compiled, &from_cache);
    ck_assert_uint_eq(compiled, 1);
    build_probe(&compiled, &from_cache);
    ck_assert_uint_eq(compiled, 1);
    ck_assert_uint_eq(from_cache, 0);
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    char path[4352];
    ck_assert_int_eq(rt_cache_entry_path(ctx, "cache_probe", probe_source, "", path, sizeof path),
                     RT_ERR_NOT_FOUND);
    rt_context_free(ctx);
    unsetenv("ALUMCL_CACHE");
    /* Nothing was written, so the directory is empty. */
    char command[160];
    snprintf(command, sizeof command, "test -z \"$(ls -A '%s')\"", cache_dir);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

START_TEST(cache_dir_fallbacks)
{
    char dir[4096];
    setenv("ALUMCL_CACHE_DIR", "/tmp/explicit-dir", 1);
    ck_assert_rt(rt_cache_dir(dir, sizeof dir));
    ck_assert_str_eq(dir, "/tmp/explicit-dir");
    unsetenv("ALUMCL_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
    ck_assert_rt(rt_cache_dir(dir, sizeof dir));
    ck_assert_str_eq(dir, "/tmp/xdg/alumcl");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/tmp/home", 1);
    ck_assert_rt(rt_cache_dir(dir, sizeof dir));
    ck_assert_str_eq(dir, "/tmp/home/.cache/alumcl");
    setenv("ALUMCL_CACHE", "0", 1);
    ck_assert_int_eq(rt_cache_dir(dir, sizeof dir), RT_ERR_NOT_FOUND);
}
END_TEST

static char *read_sample_json(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/runtime/clblast_xgemm_sample.json", test_source_root());
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *text = calloc(1, 65536);
    size_t got = fread(text, 1, 65535, f);
    fclose(f);
    ck_assert_uint_gt(got, 100);
    return text;
}

static size_t param_value(const rt_clblast_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->values[i];
    ck_abort_msg("parameter %s missing", name);
    return 0;
}

START_TEST(clblast_parses_tuner_json)
{
    char *json = read_sample_json();
    rt_clblast_params params;
    ck_assert_rt(rt_clblast_parse_tuner_json(json, &params));
    ck_assert_str_eq(params.kernel, "Xgemm");
    ck_assert_int_eq(params.count, 16); /* 17 in best_parameters minus PRECISION */
    ck_assert_uint_eq(param_value(&params, "GEMMK"), 0);
    ck_assert_uint_eq(param_value(&params, "KWG"), 32);
    ck_assert_uint_eq(param_value(&params, "MWG"), 64);
    ck_assert_uint_eq(param_value(&params, "VWM"), 4);
    ck_assert_uint_eq(param_value(&params, "VWN"), 1);
    for (int i = 0; i < params.count; i++)
        ck_assert_str_ne(params.names[i], "PRECISION");
    free(json);
}
END_TEST

START_TEST(clblast_rejects_malformed_json)
{
    rt_clblast_params params;
    ck_assert_int_eq(rt_clblast_parse_tuner_json("{\"kernel_family\": \"xgemm_1\"}", &params),
                     RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "best_parameters"));
    ck_assert_int_eq(rt_clblast_parse_tuner_json("{\"kernel_family\": \"xaxpy_1\", "
                                                 "\"best_parameters\": \"WGS=64\"}",
                                                 &params),
                     RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "xaxpy_1"));
    ck_assert_int_eq(rt_clblast_parse_tuner_json("{\"kernel_family\": \"xgemm_1\", "
                                                 "\"best_parameters\": \"KWG=abc MWG=64\"}",
                                                 &params),
                     RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "KWG"));
    ck_assert_int_eq(rt_clblast_parse_tuner_json("{\"kernel_family\": \"xgemm_1\", "
                                                 "\"best_parameters\": \"KWG\"}",
                                                 &params),
                     RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "=VALUE"));
}
END_TEST

START_TEST(clblast_stored_params_applied)
{
    char *json = read_sample_json();
    rt_clblast_params params;
    ck_assert_rt(rt_clblast_parse_tuner_json(json, &params));
    free(json);
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    ck_assert_rt(rt_clblast_store_params(ctx, &params));
    char path[4352];
    ck_assert_rt(rt_clblast_params_path(ctx, path, sizeof path));
    ck_assert_ptr_nonnull(strstr(path, cache_dir));
    ck_assert_int_gt(file_size(path), 0);
    ck_assert_rt(rt_clblast_apply_stored(ctx));

    /* A product through CLBlast with the overridden parameters is still correct. */
    enum { M = 37, N = 29, K = 41 };
    float a[M * K], b[K * N], c[M * N], expected[M * N];
    test_fill_uniform(a, M * K, -1.0f, 1.0f, 21);
    test_fill_uniform(b, K * N, -1.0f, 1.0f, 22);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int p = 0; p < K; p++)
                acc += (double)a[i * K + p] * b[p * N + j];
            expected[i * N + j] = (float)acc;
        }
    rt_tensor ta, tb, tc;
    int sa[1] = {M * K}, sb[1] = {K * N}, sc[1] = {M * N};
    ck_assert_rt(rt_tensor_alloc(ctx, &ta, "a", RT_F32, 1, sa));
    ck_assert_rt(rt_tensor_alloc(ctx, &tb, "b", RT_F32, 1, sb));
    ck_assert_rt(rt_tensor_alloc(ctx, &tc, "c", RT_F32, 1, sc));
    ck_assert_rt(rt_tensor_write(&ta, a));
    ck_assert_rt(rt_tensor_write(&tb, b));
    rt_gemm_args args = {.m = M,
                         .n = N,
                         .k = K,
                         .alpha = 1.0f,
                         .a = ta.buf,
                         .lda = K,
                         .b = tb.buf,
                         .ldb = N,
                         .c = tc.buf,
                         .ldc = N};
    ck_assert_rt(rt_gemm_set_backend(ctx, RT_GEMM_CLBLAST));
    ck_assert_rt(rt_gemm(ctx, &args));
    ck_assert_rt(rt_tensor_read(&tc, c));
    ck_assert_close(c, expected, M * N, 1e-5, 1e-4, "CLBlast with stored parameters");
    rt_tensor_free(&ta);
    rt_tensor_free(&tb);
    rt_tensor_free(&tc);

    /* A damaged file is rejected with its path in the message. */
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("not a parameter line\n", f);
    fclose(f);
    ck_assert_int_eq(rt_clblast_apply_stored(ctx), RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), path));
    rt_context_free(ctx);
}
END_TEST

START_TEST(clblast_status_names)
{
    ck_assert_str_eq(rt_clblast_status_name(0), "CLBlastSuccess");
    ck_assert_str_eq(rt_clblast_status_name(-1016), "CLBlastInvalidLeadDimA");
    ck_assert_str_eq(rt_clblast_status_name(-2047), "CLBlastMissingOverrideParameter");
    ck_assert_str_eq(rt_clblast_status_name(12345), "unknown CLBlast status");
}
END_TEST

START_TEST(clblast_tune_rejects_bad_fraction)
{
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    ck_assert_int_eq(rt_clblast_tune(ctx, 0.0, NULL), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "fraction"));
    ck_assert_int_eq(rt_clblast_tune(ctx, 1.5, NULL), RT_ERR_INVALID);
    rt_context_free(ctx);
}
END_TEST

/*
 * Runs rt_clblast_tune against a stand-in clblast_tuner_xgemm placed first on
 * PATH: a shell script that records its arguments and writes two result files
 * (the committed sample and a slower copy), as the real tuner does in its
 * working directory. The real tuner takes many minutes on PoCL.
 */
START_TEST(clblast_tune_stores_best_result)
{
    char bin_dir[96], script[160], args_log[160];
    snprintf(bin_dir, sizeof bin_dir, "%s/bin", cache_dir);
    ck_assert_int_eq(mkdir(bin_dir, 0755), 0);
    snprintf(script, sizeof script, "%s/clblast_tuner_xgemm", bin_dir);
    snprintf(args_log, sizeof args_log, "%s/tuner-args.txt", cache_dir);
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "#!/bin/sh\n"
            "echo \"$@\" > '%s'\n"
            "cp '%s/tests/runtime/clblast_xgemm_sample.json' clblast_xgemm_1_32.json\n"
            "sed -e 's/\"best_time\": \"0.46\"/\"best_time\": \"9.5\"/' "
            "-e 's/KWG=32/KWG=16/' clblast_xgemm_1_32.json > clblast_xgemm_2_32.json\n"
            "echo tuner finished\n",
            args_log, test_source_root());
    fclose(f);
    ck_assert_int_eq(chmod(script, 0755), 0);
    char path_env[4096];
    snprintf(path_env, sizeof path_env, "%s:%s", bin_dir, getenv("PATH"));
    setenv("PATH", path_env, 1);

    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    char *log_text = NULL;
    size_t log_size = 0;
    FILE *log = open_memstream(&log_text, &log_size);
    ck_assert_ptr_nonnull(log);
    ck_assert_rt(rt_clblast_tune(ctx, 0.02, log));
    fclose(log);
    ck_assert_ptr_nonnull(strstr(log_text, "tuner finished"));
    ck_assert_ptr_nonnull(strstr(log_text, "stored 16 Xgemm parameters"));
    free(log_text);

    char args[512] = "";
    f = fopen(args_log, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(args, sizeof args, f));
    fclose(f);
    ck_assert_ptr_nonnull(strstr(args, "-precision 32"));
    ck_assert_ptr_nonnull(strstr(args, "-fraction 0.02"));
    char device_args[64];
    snprintf(device_args, sizeof device_args, "-platform %d -device %d", ctx->info.platform_index,
             ctx->info.device_index);
    ck_assert_ptr_nonnull(strstr(args, device_args));

    /* The faster of the two results (KWG=32) was stored. */
    char params_path[4352];
    ck_assert_rt(rt_clblast_params_path(ctx, params_path, sizeof params_path));
    f = fopen(params_path, "r");
    ck_assert_ptr_nonnull(f);
    char stored[4096];
    size_t got = fread(stored, 1, sizeof stored - 1, f);
    stored[got] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(stored, "kernel: Xgemm\n"));
    ck_assert_ptr_nonnull(strstr(stored, "\nKWG=32\n"));
    ck_assert_ptr_null(strstr(stored, "PRECISION"));
    ck_assert_ptr_nonnull(strstr(stored, ctx->info.name));
    rt_context_free(ctx);
}
END_TEST

START_TEST(clblast_tune_missing_tuner)
{
    setenv("PATH", "/nonexistent", 1);
    rt_context *ctx = NULL;
    ck_assert_rt(rt_context_create(&ctx, NULL));
    ck_assert_int_eq(rt_clblast_tune(ctx, 0.02, NULL), RT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "clblast-utils"));
    rt_context_free(ctx);
}
END_TEST

Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("kernel_cache");
    tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
    tcase_add_test(tc, cache_miss_then_hit);
    tcase_add_test(tc, cache_entry_holds_full_key);
    tcase_add_test(tc, cache_corrupt_entry_rebuilt);
    tcase_add_test(tc, cache_truncated_entry_rebuilt);
    tcase_add_test(tc, cache_disabled_by_env);
    tcase_add_test(tc, cache_dir_fallbacks);
    suite_add_tcase(s, tc);
    TCase *clblast = tcase_create("clblast");
    tcase_add_checked_fixture(clblast, cache_setup, cache_teardown);
    tcase_add_test(clblast, clblast_parses_tuner_json);
    tcase_add_test(clblast, clblast_rejects_malformed_json);
    tcase_add_test(clblast, clblast_stored_params_applied);
    tcase_add_test(clblast, clblast_status_names);
    tcase_add_test(clblast, clblast_tune_rejects_bad_fraction);
    tcase_add_test(clblast, clblast_tune_stores_best_result);
    tcase_add_test(clblast, clblast_tune_missing_tuner);
    suite_add_tcase(s, clblast);
    return s;
}

int main(void)
{
    return test_run_suite(cache_suite());
}
