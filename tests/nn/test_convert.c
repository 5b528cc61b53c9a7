/*
 * torchvision import: a randomly initialised ResNet-18 state dict, written by
 * test_convert_make_state.py, goes through tools/convert_torchvision.py and
 * the weights-only loader into the parameter list of nn_resnet_create, and
 * every value is compared. The suite exits with 77 (skipped)
 * when /usr/bin/python3 cannot import torch.
 */
#include "tests/common/test_common.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/nn_checkpoint.h"
#include "nn/nn_resnet.h"

#define PYTHON "/usr/bin/python3"

/* Creates an ImageNet-stem ResNet-18 whose fc.bias is -7, so a load that writes it shows. */
static nn_resnet *create_resnet18(int num_classes)
{
    nn_resnet_config config = {18, NN_STEM_IMAGENET, 1.0f, num_classes, 3};
    nn_resnet *net;
    ck_assert_rt(nn_resnet_create(test_ctx, &config, &net));
    nn_param *fc_bias = nn_param_list_find(nn_resnet_params(net), "fc.bias");
    ck_assert_ptr_nonnull(fc_bias);
    ck_assert_rt(rt_tensor_fill(&fc_bias->value, -7.0f));
    return net;
}

/*
 * main() generates the PyTorch files and runs the converter once, before Check
 * forks the tests, and records the exit statuses for the tests to assert.
 */
static char work_dir[64];
static int make_state_status = -1;
static int convert_status = -1;
static int model_convert_status = -1; /* stays -1 when torchvision is missing */

static void remove_work_dir(void)
{
    DIR *dir = opendir(work_dir);
    if (!dir)
        return;
    struct dirent *entry;
    char path[512];
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", work_dir, entry->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(work_dir);
}

/* Runs a shell command and returns its exit status (-1 if it did not exit normally). */
static int run_command(const char *command)
{
    int status = system(command);
    if (status == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int make_state(int num_classes)
{
    char command[1024];
    snprintf(command, sizeof command, PYTHON " '%s/tests/nn/test_convert_make_state.py' '%s' %d",
             test_source_root(), work_dir, num_classes);
    return run_command(command);
}

/* Converts work_dir/input to work_dir/output and returns the converter's exit status. */
static int convert(const char *input, const char *output)
{
    char command[1024];
    snprintf(command, sizeof command,
             PYTHON " '%s/tools/convert_torchvision.py' '%s/%s' '%s/%s' > /dev/null",
             test_source_root(), work_dir, input, work_dir, output);
    return run_command(command);
}

/* Compares every tensor named in reference.txt with the model's values. */
static void assert_matches_reference(const nn_param_list *list, const char *skipped_prefix)
{
    char path[256];
    snprintf(path, sizeof path, "%s/reference.txt", work_dir);
    FILE *names = fopen(path, "r");
    ck_assert_ptr_nonnull(names);
    snprintf(path, sizeof path, "%s/reference.bin", work_dir);
    FILE *values = fopen(path, "rb");
    ck_assert_ptr_nonnull(values);

    char name[128];
    size_t numel;
    int compared = 0;
    while (fscanf(names, "%127s %zu", name, &numel) == 2) {
        float *expected = malloc(numel * sizeof *expected);
        float *got = malloc(numel * sizeof *got);
        ck_assert_ptr_nonnull(expected);
        ck_assert_ptr_nonnull(got);
        ck_assert_uint_eq(fread(expected, sizeof *expected, numel, values), numel);
        nn_param *p = nn_param_list_find(list, name);
        rt_tensor *t = p ? &p->value : nn_param_list_find_buffer(list, name);
        ck_assert_msg(t != NULL, "reference tensor %s is not in the model", name);
        if (skipped_prefix && strncmp(name, skipped_prefix, strlen(skipped_prefix)) == 0) {
            free(expected);
            free(got);
            continue;
        }
        ck_assert_uint_eq(t->numel, numel);
        ck_assert_rt(rt_tensor_read(t, got));
        ck_assert_msg(memcmp(expected, got, numel * sizeof *got) == 0,
                      "%s differs from the PyTorch value", name);
        compared++;
        free(expected);
        free(got);
    }
    fclose(names);
    fclose(values);
    ck_assert_int_eq(compared, skipped_prefix ? 100 : 102);
}

START_TEST(state_dict_loads_into_resnet18)
{
    ck_assert_int_eq(make_state_status, 0);
    ck_assert_int_eq(convert_status, 0);

    nn_resnet *net = create_resnet18(10);
    nn_param_list *list = nn_resnet_params(net);
    ck_assert_int_eq(list->count + list->buffer_count, 102);
    char path[256];
    snprintf(path, sizeof path, "%s/resnet18.ckpt", work_dir);
    nn_weights_report report;
    ck_assert_rt(nn_checkpoint_load_weights(test_ctx, path, list, NULL, &report));
    ck_assert_int_eq(report.skipped_count, 0);
    assert_matches_reference(list, NULL);

    /* the file is a complete checkpoint without optimizer state */
    nn_checkpoint_header header;
    ck_assert_rt(nn_checkpoint_load(test_ctx, path, list, NULL, &header));
    ck_assert_int_eq(header.step, 0);
    ck_assert_str_eq(header.metadata, "source: resnet18.pth\n");
    nn_checkpoint_header_free(&header);

    /* a pickled torchvision module converts to the same tensors */
    snprintf(path, sizeof path, "%s/resnet18_model.pth", work_dir);
    if (access(path, F_OK) == 0) {
        ck_assert_int_eq(model_convert_status, 0);
        snprintf(path, sizeof path, "%s/model.ckpt", work_dir);
        nn_resnet *fresh = create_resnet18(10);
        ck_assert_rt(
            nn_checkpoint_load_weights(test_ctx, path, nn_resnet_params(fresh), NULL, NULL));
        assert_matches_reference(nn_resnet_params(fresh), NULL);
        nn_resnet_free(fresh);
    } else {
        printf("torchvision is not installed, so the whole-module input was not converted\n");
    }
    nn_resnet_free(net);
}
END_TEST

START_TEST(other_class_count_skips_fc)
{
    ck_assert_int_eq(make_state_status, 0);
    ck_assert_int_eq(convert_status, 0);
    nn_resnet *net = create_resnet18(7);
    nn_param_list *list = nn_resnet_params(net);
    char path[256];
    snprintf(path, sizeof path, "%s/resnet18.ckpt", work_dir);

    ck_assert_int_eq(nn_checkpoint_load_weights(test_ctx, path, list, NULL, NULL), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "'fc.weight' has shape 10x512"));
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "expects 7x512"));

    nn_weights_options options = {"fc."};
    nn_weights_report report;
    ck_assert_rt(nn_checkpoint_load_weights(test_ctx, path, list, &options, &report));
    ck_assert_int_eq(report.skipped_count, 2);
    ck_assert_str_eq(report.skipped[0], "fc.weight");
    ck_assert_str_eq(report.skipped[1], "fc.bias");
    nn_weights_report_free(&report);
    assert_matches_reference(list, "fc.");
    float fc_bias[7];
    ck_assert_rt(rt_tensor_read(&nn_param_list_find(list, "fc.bias")->value, fc_bias));
    for (int i = 0; i < 7; i++)
        ck_assert_float_eq(fc_bias[i], -7.0f);
    nn_resnet_free(net);
}
END_TEST

START_TEST(converter_rejects_non_state_dict)
{
    char command[512];
    snprintf(command, sizeof command,
             PYTHON " -c \"import torch; torch.save({'epoch': 3}, '%s/bad.pth')\"", work_dir);
    ck_assert_int_eq(run_command(command), 0);
    snprintf(command, sizeof command,
             PYTHON " '%s/tools/convert_torchvision.py' '%s/bad.pth' '%s/bad.ckpt' 2>&1",
             test_source_root(), work_dir, work_dir);
    FILE *pipe = popen(command, "r");
    ck_assert_ptr_nonnull(pipe);
    char output[1024] = "";
    size_t length = fread(output, 1, sizeof output - 1, pipe);
    output[length] = '\0';
    int status = pclose(pipe);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    ck_assert_ptr_nonnull(strstr(output, "neither a state dict nor a model"));
    char path[256];
    snprintf(path, sizeof path, "%s/bad.ckpt", work_dir);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

static Suite *convert_suite(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, state_dict_loads_into_resnet18);
    tcase_add_test(tc, other_class_count_skips_fc);
    tcase_add_test(tc, converter_rejects_non_state_dict);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (run_command(PYTHON " -c 'import torch' > /dev/null 2>&1") != 0) {
        printf("skipping the converter tests: " PYTHON " cannot import torch "
               "(install python3-torch)\n");
        return 77; /* meson's exit code for a skipped test */
    }
    snprintf(work_dir, sizeof work_dir, "/tmp/alumcl-convert-XXXXXX");
    if (!mkdtemp(work_dir)) {
        perror("creating a temporary directory for the converter tests failed");
        return 1;
    }
    make_state_status = make_state(10);
    if (make_state_status == 0)
        convert_status = convert("resnet18.pth", "resnet18.ckpt");
    char path[256];
    snprintf(path, sizeof path, "%s/resnet18_model.pth", work_dir);
    if (make_state_status == 0 && access(path, F_OK) == 0)
        model_convert_status = convert("resnet18_model.pth", "model.ckpt");
    int status = test_run_suite(convert_suite());
    remove_work_dir();
    return status;
}
