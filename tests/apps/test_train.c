/*
 * End-to-end checks of the train, eval and uncertainty commands on a tiny
 * CIFAR-10 binary fixture: outputs, resume matching an uninterrupted run,
 * divergence handling and bad output directories.
 *
 * The fixture holds 64 training and 32 test images. With the shared data
 * present they are real CIFAR-10 images (from its JPEG pack); without it the
 * test writes class-coloured noise images so the commands still run.
 */
#include "apps/app_config.h"
#include "apps/app_data.h"
#include "apps/app_train.h"
#include "tests/common/test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRAIN_PER_BATCH 16 /* 5 batches of 16 = 80 training images */
#define TEST_IMAGES 32

static char fixture_dir[128];
static char run_root[256];

/* Writes one CIFAR-10 binary file of count records starting at image first of src. */
static void write_batch(const char *path, const app_dataset *src, int first, int count,
                        uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char record[3073];
    for (int i = 0; i < count; i++) {
        int label = (first + i) % 10;
        if (src) {
            app_image img = {0};
            ck_assert_rt(app_dataset_load(src, first + i, &img));
            label = src->labels[first + i];
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 1024; p++)
                    record[1 + c * 1024 + p] = img.data[p * 3 + c];
            app_image_free(&img);
        } else {
            float noise[3072];
            test_fill_uniform(noise, 3072, 0.0f, 60.0f, seed + (uint64_t)i);
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 1024; p++)
                    record[1 + c * 1024 + p] =
                        (unsigned char)(noise[c * 1024 + p] + 20.0f * ((label + c) % 10));
        }
        record[0] = (unsigned char)label;
        ck_assert_uint_eq(fwrite(record, 1, sizeof record, f), sizeof record);
    }
    fclose(f);
}

static void make_fixture(void)
{
    snprintf(fixture_dir, sizeof fixture_dir, "/tmp/alumcl-train-fixture-%d", (int)getpid());
    snprintf(run_root, sizeof run_root, "%s/runs", fixture_dir);
    mkdir(fixture_dir, 0777);
    app_dataset *train = NULL, *test = NULL;
    const char *data = test_data_dir();
    if (data) {
        char bin[1024], csv[1024];
        snprintf(bin, sizeof bin, "%s/cifar10/cifar10_train_jpg.bin", data);
        snprintf(csv, sizeof csv, "%s/cifar10/cifar10_train_index.csv", data);
        ck_assert_rt(app_jpgpack_open(bin, csv, 10, &train));
        snprintf(bin, sizeof bin, "%s/cifar10/cifar10_test_jpg.bin", data);
        snprintf(csv, sizeof csv, "%s/cifar10/cifar10_test_index.csv", data);
        ck_assert_rt(app_jpgpack_open(bin, csv, 10, &test));
    }
    for (int b = 1; b <= 5; b++) {
        char path[512];
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", fixture_dir, b);
        write_batch(path, train, (b - 1) * TRAIN_PER_BATCH, TRAIN_PER_BATCH, 100u * b);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/test_batch.bin", fixture_dir);
    /* the test pack is class-major; take images spread over all classes */
    FILE *f = fopen(path, "wb");
    fclose(f);
    if (test) {
        app_dataset *spread = NULL;
        ck_assert_rt(app_dataset_subset(test, TEST_IMAGES, APP_SUBSET_STRATIFIED, 1, &spread));
        write_batch(path, spread, 0, TEST_IMAGES, 0);
        app_dataset_free(spread);
    } else {
        write_batch(path, NULL, 0, TEST_IMAGES, 9000);
    }
    app_dataset_free(train);
    app_dataset_free(test);
}

static void remove_fixture(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixture_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Loads the tiny run config plus extra overrides (NULL-terminated). */
static void tiny_config(app_config *cfg, const char *name, const char *const *extra)
{
    char root[400], out[400], resname[100];
    snprintf(root, sizeof root, "data.root=%s", fixture_dir);
    snprintf(out, sizeof out, "run.output_dir=%s/%s", run_root, name);
    snprintf(resname, sizeof resname, "run.name=%s", name);
    const char *overrides[32] = {root,
                                 out,
                                 resname,
                                 "data.dataset=cifar10",
                                 "data.allow_partial_cifar=true",
                                 "data.noise.type=symmetric",
                                 "data.noise.rate=0.4",
                                 "data.noise.seed=3",
                                 "data.batch_size=16",
                                 "data.workers=2",
                                 "model.width=0.0625",
                                 "run.epochs=2",
                                 "run.log_every=2",
                                 "run.seed=5",
                                 "schedule.type=constant",
                                 "optim.lr=0.05",
                                 "method.name=alum",
                                 "method.lc_points=[P0,P2,P3,P4]",
                                 "uncertainty.mc_passes=2"};
    int n = 19;
    for (int i = 0; extra && extra[i]; i++)
        overrides[n++] = extra[i];
    char *errors = NULL;
    int st = app_config_load(cfg, NULL, overrides, n, &errors);
    ck_assert_msg(st == RT_OK, "config: %s", errors ? errors : rt_last_error());
    free(errors);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* Returns metrics.csv without the seconds and data_wait columns (timing differs). */
static char *metrics_without_timing(const char *run)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", run_root, run);
    char *text = read_text(path);
    char *out = calloc(1, strlen(text) + 1);
    char *line = strtok(text, "\n");
    while (line) {
        int commas = 0;
        size_t len = 0;
        while (line[len] && commas < 10) {
            if (line[len] == ',')
                commas++;
            len++;
        }
        strncat(out, line, len);
        strcat(out, "\n");
        line = strtok(NULL, "\n");
    }
    free(text);
    return out;
}

static bool file_exists(const char *run, const char *file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s", run_root, run, file);
    return access(path, F_OK) == 0;
}

START_TEST(train_writes_outputs)
{
    app_config cfg;
    tiny_config(&cfg, "full", NULL);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), 0);
    ck_assert(file_exists("full", "config.yaml"));
    ck_assert(file_exists("full", "metrics.jsonl"));
    ck_assert(file_exists("full", "summary.json"));
    ck_assert(file_exists("full", "samples.csv"));
    ck_assert(file_exists("full", "checkpoints/best.ckpt"));
    char *metrics = metrics_without_timing("full");
    int lines = 0;
    for (char *c = metrics; *c; c++)
        lines += *c == '\n';
    ck_assert_int_eq(lines, 3); /* header + 2 epochs */
    free(metrics);

    /* eval and uncertainty on the written checkpoint */
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/full/checkpoints/best.ckpt", run_root);
    opt.checkpoint = ckpt;
    ck_assert_int_eq(app_eval(&cfg, &opt), 0);
    ck_assert_int_eq(app_uncertainty(&cfg, &opt), 0);
    ck_assert(file_exists("full", "uncertainty.csv"));
    char path[600];
    snprintf(path, sizeof path, "%s/full/uncertainty.json", run_root);
    char *json = read_text(path);
    ck_assert_ptr_nonnull(strstr(json, "\"data_uncertainty\""));
    ck_assert_ptr_nonnull(strstr(json, "\"model_mutual_info\""));
    free(json);
}
END_TEST

START_TEST(resumed_run_matches_uninterrupted)
{
    app_config cfg;
    tiny_config(&cfg, "straight", NULL);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), 0);

    const char *one_epoch[] = {"run.epochs=1", NULL};
    tiny_config(&cfg, "resumed", one_epoch);
    ck_assert_int_eq(app_train(&cfg, &opt), 0);
    tiny_config(&cfg, "resumed", NULL);
    opt.resume = "auto";
    ck_assert_int_eq(app_train(&cfg, &opt), 0);

    char *a = metrics_without_timing("straight");
    char *b = metrics_without_timing("resumed");
    ck_assert_str_eq(b, a);
    free(a);
    free(b);
}
END_TEST

START_TEST(reused_run_dir_rejected)
{
    app_config cfg;
    const char *one_epoch[] = {"run.epochs=1", NULL};
    tiny_config(&cfg, "reused", one_epoch);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), 0);
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_FAILURE);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "already contains a run"));
}
END_TEST

START_TEST(resume_with_other_data_rejected)
{
    app_config cfg;
    const char *one_epoch[] = {"run.epochs=1", NULL};
    tiny_config(&cfg, "otherdata", one_epoch);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), 0);
    const char *other_noise[] = {"data.noise.seed=4", NULL};
    tiny_config(&cfg, "otherdata", other_noise);
    opt.resume = "auto";
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_FAILURE);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "other samples or labels"));
}
END_TEST

START_TEST(resume_with_other_method_rejected)
{
    app_config cfg;
    const char *one_epoch[] = {"run.epochs=1", NULL};
    tiny_config(&cfg, "othermethod", one_epoch);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), 0);
    const char *erm[] = {"method.name=erm", NULL};
    tiny_config(&cfg, "othermethod", erm);
    opt.resume = "auto";
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_FAILURE);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "method.name=alum"));
}
END_TEST

START_TEST(failed_start_leaves_dir_reusable)
{
    /* the run directory exists when resuming a missing checkpoint fails */
    app_config cfg;
    const char *one_epoch[] = {"run.epochs=1", NULL};
    tiny_config(&cfg, "retry", one_epoch);
    app_run_options opt = {0};
    opt.resume = "/nonexistent/ckpt-0000000001.ckpt";
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_FAILURE);
    ck_assert(file_exists("retry", "config.yaml"));
    opt.resume = NULL;
    ck_assert_int_eq(app_train(&cfg, &opt), 0);
}
END_TEST

START_TEST(divergence_stops_with_status)
{
    app_config cfg;
    const char *huge_lr[] = {"optim.lr=1e12", "run.log_every=1", NULL};
    tiny_config(&cfg, "diverged", huge_lr);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_DIVERGED);
    ck_assert(!file_exists("diverged", "summary.json"));
}
END_TEST

START_TEST(unwritable_output_fails_cleanly)
{
    app_config cfg;
    tiny_config(&cfg, "x", NULL);
    snprintf(cfg.run.output_dir, sizeof cfg.run.output_dir, "/proc/alumcl-not-writable/run");
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_FAILURE);
}
END_TEST

START_TEST(missing_dataset_fails_cleanly)
{
    app_config cfg;
    const char *missing[] = {"data.root=/nonexistent/cifar-10-batches-bin", NULL};
    tiny_config(&cfg, "missing", missing);
    app_run_options opt = {0};
    ck_assert_int_eq(app_train(&cfg, &opt), APP_EXIT_FAILURE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("commands");
    tcase_add_checked_fixture(tc, make_fixture, remove_fixture);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, train_writes_outputs);
    tcase_add_test(tc, resumed_run_matches_uninterrupted);
    tcase_add_test(tc, reused_run_dir_rejected);
    tcase_add_test(tc, resume_with_other_data_rejected);
    tcase_add_test(tc, resume_with_other_method_rejected);
    tcase_add_test(tc, failed_start_leaves_dir_reusable);
    tcase_add_test(tc, divergence_stops_with_status);
    tcase_add_test(tc, unwritable_output_fails_cleanly);
    tcase_add_test(tc, missing_dataset_fails_cleanly);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
