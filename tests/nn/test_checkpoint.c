/*
 * Checkpoint checks: round trip with optimizer state, truncated and
 * corrupted files, shape and name mismatches, weights-only loading with a
 * skipped classifier, and atomic replacement when a save fails.
 */
#include "tests/common/test_common.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/nn_checkpoint.h"

enum { MAX_PARAMS = 4 };

/* A tiny model: conv1.weight, fc.weight [classes x 2], fc.bias [classes], bn1.running_mean. */
typedef struct tiny_model {
    nn_param params[MAX_PARAMS];
    int count;
    rt_tensor running_mean;
    nn_param_list list;
} tiny_model;

static void add_param(tiny_model *m, const char *name, int ndim, const int *shape, uint64_t seed)
{
    nn_param *p = &m->params[m->count++];
    ck_assert_rt(nn_param_init(test_ctx, p, name, ndim, shape));
    float values[64];
    ck_assert_uint_le(p->value.numel, 64);
    test_fill_uniform(values, p->value.numel, -1.0f, 1.0f, seed);
    ck_assert_rt(rt_tensor_write(&p->value, values));
    test_fill_uniform(values, p->value.numel, -1.0f, 1.0f, seed + 1000);
    ck_assert_rt(rt_tensor_write(&p->grad, values));
    ck_assert_rt(nn_param_list_add(&m->list, p));
}

/* Builds the tiny model with values that depend on seed. */
static void tiny_model_create(tiny_model *m, int classes, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    int conv_shape[4] = {2, 1, 2, 2}, fc_shape[2] = {classes, 2}, bias_shape[1] = {classes};
    add_param(m, "conv1.weight", 4, conv_shape, seed);
    add_param(m, "fc.weight", 2, fc_shape, seed + 1);
    add_param(m, "fc.bias", 1, bias_shape, seed + 2);
    m->params[2].group = 1;
    m->params[1].group = 1;
    int mean_shape[1] = {2};
    ck_assert_rt(
        rt_tensor_alloc(test_ctx, &m->running_mean, "bn1.running_mean", RT_F32, 1, mean_shape));
    float mean[2] = {0.25f * (float)seed, -1.5f};
    ck_assert_rt(rt_tensor_write(&m->running_mean, mean));
    ck_assert_rt(nn_param_list_add_buffer(&m->list, "bn1.running_mean", &m->running_mean));
}

static void tiny_model_free(tiny_model *m)
{
    for (int i = 0; i < m->count; i++)
        nn_param_free(&m->params[i]);
    rt_tensor_free(&m->running_mean);
    nn_param_list_free(&m->list);
}

static void read_tensor(const rt_tensor *t, float *out)
{
    ck_assert_uint_le(t->numel, 64);
    ck_assert_rt(rt_tensor_read(t, out));
}

static void assert_tensors_equal(const rt_tensor *a, const rt_tensor *b, const char *label)
{
    float x[64], y[64];
    ck_assert_uint_eq(a->numel, b->numel);
    read_tensor(a, x);
    read_tensor(b, y);
    ck_assert_msg(memcmp(x, y, a->numel * sizeof(float)) == 0, "%s differs after loading", label);
}

/* Per-test scratch directory and the checkpoint path inside it. */
static char test_dir[64];
static char ckpt_path[128];

static void make_test_dir(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/alumcl-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_dir));
    snprintf(ckpt_path, sizeof ckpt_path, "%s/model.ckpt", test_dir);
}

static void remove_test_dir(void)
{
    DIR *dir = opendir(test_dir);
    if (!dir)
        return;
    struct dirent *entry;
    char path[512];
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", test_dir, entry->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(test_dir);
}

static int count_dir_entries(void)
{
    DIR *dir = opendir(test_dir);
    ck_assert_ptr_nonnull(dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            count++;
    closedir(dir);
    return count;
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(*size);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_uint_eq(fread(bytes, 1, *size, f), *size);
    fclose(f);
    return bytes;
}

static void write_file(const char *path, const unsigned char *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    fclose(f);
}

/* Saves the tiny model (3 classes) with an Adam state after two steps. */
static void save_reference_checkpoint(tiny_model *m, nn_optim **opt)
{
    tiny_model_create(m, 3, 1);
    nn_optim_config config = nn_optim_config_default(NN_OPTIM_ADAM);
    ck_assert_rt(nn_optim_create(test_ctx, &m->list, &config, opt));
    ck_assert_rt(nn_optim_step(test_ctx, *opt, 0.01f));
    ck_assert_rt(nn_optim_step(test_ctx, *opt, 0.01f));
    unsigned char rng[17];
    for (int i = 0; i < 17; i++)
        rng[i] = (unsigned char)(i * 13 + 1);
    nn_checkpoint_header header = {123, 4, "model:\n  depth: 18\n", rng, sizeof rng};
    ck_assert_rt(nn_checkpoint_save(test_ctx, ckpt_path, &header, &m->list, *opt));
}

START_TEST(round_trip_restores_everything)
{
    make_test_dir();
    tiny_model saved, loaded;
    nn_optim *saved_opt, *loaded_opt;
    save_reference_checkpoint(&saved, &saved_opt);

    tiny_model_create(&loaded, 3, 50);
    nn_optim_config config = nn_optim_config_default(NN_OPTIM_ADAM);
    ck_assert_rt(nn_optim_create(test_ctx, &loaded.list, &config, &loaded_opt));
    nn_checkpoint_header header;
    ck_assert_rt(nn_checkpoint_load(test_ctx, ckpt_path, &loaded.list, loaded_opt, &header));

    ck_assert_int_eq(header.step, 123);
    ck_assert_int_eq(header.epoch, 4);
    ck_assert_str_eq(header.metadata, "model:\n  depth: 18\n");
    ck_assert_uint_eq(header.rng_state_size, 17);
    ck_assert_int_eq(((unsigned char *)header.rng_state)[16], 16 * 13 + 1);
    ck_assert_int_eq(nn_optim_step_count(loaded_opt), 2);
    for (int i = 0; i < saved.count; i++)
        assert_tensors_equal(&saved.params[i].value, &loaded.params[i].value, saved.params[i].name);
    assert_tensors_equal(&saved.running_mean, &loaded.running_mean, "bn1.running_mean");
    const nn_param_list *saved_state = nn_optim_state_list(saved_opt);
    const nn_param_list *loaded_state = nn_optim_state_list(loaded_opt);
    ck_assert_int_eq(saved_state->buffer_count, loaded_state->buffer_count);
    for (int i = 1; i < saved_state->buffer_count; i++)
        assert_tensors_equal(saved_state->buffers[i].tensor, loaded_state->buffers[i].tensor,
                             saved_state->buffers[i].name);

    /* with the same gradients, one more step on both gives the same parameters */
    for (int i = 0; i < saved.count; i++)
        ck_assert_rt(rt_tensor_copy(&loaded.params[i].grad, &saved.params[i].grad));
    ck_assert_rt(nn_optim_step(test_ctx, saved_opt, 0.01f));
    ck_assert_rt(nn_optim_step(test_ctx, loaded_opt, 0.01f));
    for (int i = 0; i < saved.count; i++)
        assert_tensors_equal(&saved.params[i].value, &loaded.params[i].value, saved.params[i].name);

    nn_checkpoint_header_free(&header);
    nn_optim_free(saved_opt);
    nn_optim_free(loaded_opt);
    tiny_model_free(&saved);
    tiny_model_free(&loaded);
    remove_test_dir();
}
END_TEST

START_TEST(truncated_file_rejected)
{
    make_test_dir();
    tiny_model m;
    nn_optim *opt;
    save_reference_checkpoint(&m, &opt);
    size_t size;
    unsigned char *bytes = read_file(ckpt_path, &size);
    size_t lengths[] = {0, 5, 10, 40, size / 2, size - 5, size - 1};
    char cut_path[160];
    snprintf(cut_path, sizeof cut_path, "%s/cut.ckpt", test_dir);
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        write_file(cut_path, bytes, lengths[i]);
        int st = nn_checkpoint_load(test_ctx, cut_path, &m.list, opt, NULL);
        ck_assert_msg(st == RT_ERR_FORMAT, "load of %zu of %zu bytes returned %s", lengths[i], size,
                      rt_status_name(st));
        ck_assert_msg(strstr(rt_last_error(), "truncated") != NULL,
                      "message for %zu bytes does not say truncated: %s", lengths[i],
                      rt_last_error());
    }
    free(bytes);
    nn_optim_free(opt);
    tiny_model_free(&m);
    remove_test_dir();
}
END_TEST

START_TEST(flipped_byte_fails_checksum)
{
    make_test_dir();
    tiny_model m;
    nn_optim *opt;
    save_reference_checkpoint(&m, &opt);
    size_t size;
    unsigned char *bytes = read_file(ckpt_path, &size);
    /* a byte inside the metadata text and one in the last tensor's data */
    size_t offsets[] = {45, size - 8};
    for (size_t i = 0; i < 2; i++) {
        bytes[offsets[i]] ^= 0x10;
        write_file(ckpt_path, bytes, size);
        ck_assert_int_eq(nn_checkpoint_load(test_ctx, ckpt_path, &m.list, opt, NULL),
                         RT_ERR_FORMAT);
        ck_assert_msg(strstr(rt_last_error(), "CRC-32") != NULL,
                      "message for a flipped byte at %zu: %s", offsets[i], rt_last_error());
        bytes[offsets[i]] ^= 0x10;
    }
    write_file(ckpt_path, bytes, size);
    ck_assert_rt(nn_checkpoint_load(test_ctx, ckpt_path, &m.list, opt, NULL));
    free(bytes);
    nn_optim_free(opt);
    tiny_model_free(&m);
    remove_test_dir();
}
END_TEST

START_TEST(wrong_shape_names_tensor)
{
    make_test_dir();
    tiny_model saved, other;
    nn_optim *opt;
    save_reference_checkpoint(&saved, &opt);
    tiny_model_create(&other, 5, 9);
    float before[64], after[64];
    read_tensor(&other.params[0].value, before);

    ck_assert_int_eq(nn_checkpoint_load(test_ctx, ckpt_path, &other.list, NULL, NULL),
                     RT_ERR_INVALID);
    const char *message = rt_last_error();
    ck_assert_ptr_nonnull(strstr(message, "'fc.weight'"));
    ck_assert_ptr_nonnull(strstr(message, "3x2"));
    ck_assert_ptr_nonnull(strstr(message, "5x2"));
    /* validation runs before any write, so conv1.weight keeps its values */
    read_tensor(&other.params[0].value, after);
    ck_assert_mem_eq(before, after, other.params[0].value.numel * sizeof(float));

    nn_optim_free(opt);
    tiny_model_free(&saved);
    tiny_model_free(&other);
    remove_test_dir();
}
END_TEST

START_TEST(missing_tensor_named)
{
    make_test_dir();
    tiny_model saved, bigger;
    nn_optim *opt;
    save_reference_checkpoint(&saved, &opt);

    tiny_model_create(&bigger, 3, 2);
    int shape[1] = {3};
    add_param(&bigger, "layer1.0.conv1.weight", 1, shape, 7);
    ck_assert_int_eq(nn_checkpoint_load(test_ctx, ckpt_path, &bigger.list, NULL, NULL),
                     RT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "'layer1.0.conv1.weight'"));

    /* the same model without an optimizer meets the saved optimizer state */
    ck_assert_int_eq(nn_checkpoint_load(test_ctx, ckpt_path, &saved.list, NULL, NULL),
                     RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "'optimizer.step'"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "load weights only"));

    nn_optim_free(opt);
    tiny_model_free(&saved);
    tiny_model_free(&bigger);
    remove_test_dir();
}
END_TEST

START_TEST(weights_only_skips_classifier)
{
    make_test_dir();
    tiny_model saved, target;
    nn_optim *opt;
    save_reference_checkpoint(&saved, &opt);
    tiny_model_create(&target, 7, 20);
    float fc_before[64], fc_after[64];
    read_tensor(&target.params[1].value, fc_before);

    nn_weights_report report;
    ck_assert_int_eq(nn_checkpoint_load_weights(test_ctx, ckpt_path, &target.list, NULL, &report),
                     RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "'fc.weight'"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "7x2"));
    ck_assert_int_eq(report.skipped_count, 0);

    nn_weights_options options = {"fc."};
    ck_assert_rt(nn_checkpoint_load_weights(test_ctx, ckpt_path, &target.list, &options, &report));
    ck_assert_int_eq(report.skipped_count, 2);
    ck_assert_str_eq(report.skipped[0], "fc.weight");
    ck_assert_str_eq(report.skipped[1], "fc.bias");
    assert_tensors_equal(&saved.params[0].value, &target.params[0].value, "conv1.weight");
    assert_tensors_equal(&saved.running_mean, &target.running_mean, "bn1.running_mean");
    read_tensor(&target.params[1].value, fc_after);
    ck_assert_mem_eq(fc_before, fc_after, target.params[1].value.numel * sizeof(float));
    nn_weights_report_free(&report);

    /* with matching classes nothing is skipped and fc loads too */
    ck_assert_rt(nn_checkpoint_load_weights(test_ctx, ckpt_path, &saved.list, &options, &report));
    ck_assert_int_eq(report.skipped_count, 0);
    nn_weights_report_free(&report);

    nn_optim_free(opt);
    tiny_model_free(&saved);
    tiny_model_free(&target);
    remove_test_dir();
}
END_TEST

START_TEST(failed_save_keeps_old_file)
{
    make_test_dir();
    tiny_model m;
    nn_optim *opt;
    save_reference_checkpoint(&m, &opt);
    size_t old_size;
    unsigned char *old_bytes = read_file(ckpt_path, &old_size);

    /* a parameter without a device buffer makes the save fail after the first tensors */
    nn_param broken;
    memset(&broken, 0, sizeof broken);
    snprintf(broken.name, sizeof broken.name, "zz.broken");
    broken.value.ctx = test_ctx;
    broken.value.dtype = RT_F32;
    broken.value.ndim = 1;
    broken.value.shape[0] = 4;
    broken.value.numel = 4;
    ck_assert_rt(nn_param_list_add(&m.list, &broken));
    nn_checkpoint_header header = {999, 9, "other", NULL, 0};
    int st = nn_checkpoint_save(test_ctx, ckpt_path, &header, &m.list, opt);
    ck_assert_int_ne(st, RT_OK);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "was not written"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "zz.broken"));

    size_t new_size;
    unsigned char *new_bytes = read_file(ckpt_path, &new_size);
    ck_assert_uint_eq(new_size, old_size);
    ck_assert_mem_eq(new_bytes, old_bytes, old_size);
    ck_assert_int_eq(count_dir_entries(), 1); /* no temporary file left behind */

    char missing_dir_path[192];
    snprintf(missing_dir_path, sizeof missing_dir_path, "%s/no-such-dir/model.ckpt", test_dir);
    m.list.count--; /* drop the broken parameter */
    ck_assert_int_eq(nn_checkpoint_save(test_ctx, missing_dir_path, &header, &m.list, opt),
                     RT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "no-such-dir"));

    free(old_bytes);
    free(new_bytes);
    nn_optim_free(opt);
    tiny_model_free(&m);
    remove_test_dir();
}
END_TEST

START_TEST(non_checkpoint_rejected)
{
    make_test_dir();
    tiny_model m;
    tiny_model_create(&m, 3, 1);
    const unsigned char text[] = "PK\003\004 this is a zip archive, not a checkpoint";
    write_file(ckpt_path, text, sizeof text);
    ck_assert_int_eq(nn_checkpoint_load_weights(test_ctx, ckpt_path, &m.list, NULL, NULL),
                     RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "not an alumcl checkpoint"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "convert_torchvision.py"));

    ck_assert_int_eq(nn_checkpoint_load(test_ctx, "/nonexistent/x.ckpt", &m.list, NULL, NULL),
                     RT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "/nonexistent/x.ckpt"));
    tiny_model_free(&m);
    remove_test_dir();
}
END_TEST

START_TEST(duplicate_names_rejected)
{
    make_test_dir();
    tiny_model m;
    tiny_model_create(&m, 3, 1);
    ck_assert_rt(nn_param_list_add_buffer(&m.list, "fc.bias", &m.running_mean));
    ck_assert_int_eq(nn_checkpoint_save(test_ctx, ckpt_path, NULL, &m.list, NULL), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "'fc.bias' occurs twice"));
    ck_assert_int_eq(count_dir_entries(), 0);
    tiny_model_free(&m);
    remove_test_dir();
}
END_TEST

START_TEST(null_header_writes_defaults)
{
    make_test_dir();
    tiny_model m;
    tiny_model_create(&m, 3, 1);
    ck_assert_rt(nn_checkpoint_save(test_ctx, ckpt_path, NULL, &m.list, NULL));
    nn_checkpoint_header header;
    ck_assert_rt(nn_checkpoint_load(test_ctx, ckpt_path, &m.list, NULL, &header));
    ck_assert_int_eq(header.step, 0);
    ck_assert_int_eq(header.epoch, 0);
    ck_assert_str_eq(header.metadata, "");
    ck_assert_uint_eq(header.rng_state_size, 0);
    nn_checkpoint_header_free(&header);
    tiny_model_free(&m);
    remove_test_dir();
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, round_trip_restores_everything);
    tcase_add_test(tc, truncated_file_rejected);
    tcase_add_test(tc, flipped_byte_fails_checksum);
    tcase_add_test(tc, wrong_shape_names_tensor);
    tcase_add_test(tc, missing_tensor_named);
    tcase_add_test(tc, weights_only_skips_classifier);
    tcase_add_test(tc, failed_save_keeps_old_file);
    tcase_add_test(tc, non_checkpoint_rejected);
    tcase_add_test(tc, duplicate_names_rejected);
    tcase_add_test(tc, null_header_writes_defaults);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(checkpoint_suite());
}
