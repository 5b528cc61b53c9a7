/*
 * Checks of the repository's config files and config docs: every config under
 * configs/ validates and survives a YAML round trip, the recipe configs carry
 * their recipe, and docs/config.md contains the current key reference.
 */
#define _XOPEN_SOURCE 700
#include "apps/app_config.h"
#include "tests/common/test_common.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_configs_checked;

/* Writes cfg as YAML, loads it back and fails the test when any key differs. */
static void check_round_trip(const app_config *cfg, const char *name)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(out);
    ck_assert_rt(app_config_write_yaml(cfg, out));
    fclose(out);

    app_config reloaded;
    char *errors = NULL;
    int status = app_config_load_buffer(&reloaded, name, text, size, NULL, 0, &errors);
    ck_assert_msg(status == RT_OK, "%s: resolved YAML does not load: %s", name,
                  errors ? errors : "");
    char diff[1024];
    int n_diff = app_config_compare(cfg, &reloaded, diff, sizeof diff);
    ck_assert_msg(n_diff == 0, "%s: keys differ after the round trip: %s", name, diff);
    free(text);
}

static int check_config_file(const char *path, const struct stat *info, int type, struct FTW *ftw)
{
    (void)info;
    (void)ftw;
    size_t len = strlen(path);
    if (type != FTW_F || len < 5 || strcmp(path + len - 5, ".yaml") != 0)
        return 0;
    /* fragments under base/ are checked through the configs that extend them */
    if (strstr(path, "/configs/base/"))
        return 0;

    app_config cfg;
    char *errors = NULL;
    int status = app_config_load(&cfg, path, NULL, 0, &errors);
    ck_assert_msg(status == RT_OK, "%s does not validate:\n%s", path, errors ? errors : "");
    check_round_trip(&cfg, path);
    n_configs_checked++;
    return 0;
}

START_TEST(every_config_validates)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/configs", test_source_root());
    n_configs_checked = 0;
    ck_assert_int_eq(nftw(root, check_config_file, 16, FTW_PHYS), 0);
    /* 9 CIFAR-10N + 3 CIFAR-100N + 9 RAF-DB + 12 PACS + 12 Office-Home + 8 ablation + 6 small */
    ck_assert_int_ge(n_configs_checked, 59);
}
END_TEST

/* Loads configs/<name> and fails the test with the error text when it does not validate. */
static void load_config(app_config *cfg, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/%s", test_source_root(), name);
    char *errors = NULL;
    int status = app_config_load(cfg, path, NULL, 0, &errors);
    ck_assert_msg(status == RT_OK, "%s:\n%s", name, errors ? errors : "");
}

START_TEST(cifar10n_recipe_values)
{
    app_config cfg;
    load_config(&cfg, "cifar10n/worst-alum.yaml");
    ck_assert_str_eq(cfg.run.name, "worst-alum");
    ck_assert_str_eq(cfg.run.output_dir, "runs/cifar10n/worst-alum");
    ck_assert_int_eq(cfg.run.epochs, 100);
    ck_assert_int_eq(cfg.data.dataset, APP_DATASET_CIFAR10N);
    ck_assert_str_eq(cfg.data.label_set, "worst");
    ck_assert_str_eq(cfg.data.label_file, "../shared/data/cifar-n/CIFAR-10_human.pt");
    ck_assert_int_eq(cfg.model.arch, APP_ARCH_RESNET34);
    ck_assert_int_eq(cfg.model.stem, APP_STEM_CIFAR);
    ck_assert_double_eq(cfg.optim.lr, 0.1);
    ck_assert_int_eq(cfg.schedule.n_milestones, 1);
    ck_assert_int_eq(cfg.schedule.milestones[0], 60);
    ck_assert_int_eq(cfg.method.name, APP_METHOD_ALUM);

    load_config(&cfg, "cifar100n/noisy-erm.yaml");
    ck_assert_int_eq(cfg.data.num_classes, 100);
    ck_assert_str_eq(cfg.data.label_set, "noisy");
    ck_assert_int_eq(cfg.method.name, APP_METHOD_ERM);
}
END_TEST

START_TEST(rafdb_recipe_values)
{
    app_config cfg;
    load_config(&cfg, "rafdb/noise30-dsu.yaml");
    ck_assert_int_eq(cfg.data.noise.type, APP_NOISE_SYMMETRIC);
    ck_assert_double_eq(cfg.data.noise.rate, 0.3);
    ck_assert_int_eq(cfg.data.num_classes, 7);
    ck_assert_int_eq(cfg.optim.name, APP_OPTIM_ADAM);
    ck_assert_double_eq(cfg.optim.lr, 2e-4);
    ck_assert_double_eq(cfg.optim.classifier_lr_mult, 10.0);
    ck_assert_int_eq(cfg.schedule.type, APP_SCHEDULE_EXPONENTIAL);
    ck_assert_double_eq(cfg.schedule.gamma, 0.9);
    ck_assert_int_eq(cfg.method.name, APP_METHOD_DSU);
}
END_TEST

START_TEST(domain_recipe_values)
{
    app_config cfg;
    load_config(&cfg, "pacs/photo-erm.yaml");
    ck_assert_str_eq(cfg.data.target_domain, "photo");
    ck_assert_str_eq(cfg.data.root, "../shared/data/pacs/pacs128");
    ck_assert_str_eq(cfg.data.split_dir, "../shared/data/pacs/splits");
    ck_assert_int_eq(cfg.schedule.type, APP_SCHEDULE_COSINE);
    ck_assert_int_eq(cfg.run.epochs, 50);

    load_config(&cfg, "officehome/real_world-alum.yaml");
    ck_assert_str_eq(cfg.data.target_domain, "Real World");
    ck_assert_int_eq(cfg.data.num_classes, 65);
    ck_assert_str_eq(cfg.data.split_dir, "");
}
END_TEST

START_TEST(ablation_switches_parts)
{
    static const struct {
        const char *file;
        bool ap, an, triplet;
        app_variance_mode mode;
    } cases[] = {
        {"ablation/cifar10n-worse/lc.yaml", false, false, false, APP_VARIANCE_BATCH_UNION},
        {"ablation/cifar10n-worse/lc-ap.yaml", true, false, false, APP_VARIANCE_BATCH_UNION},
        {"ablation/cifar10n-worse/lc-an.yaml", false, true, false, APP_VARIANCE_BATCH_UNION},
        {"ablation/cifar10n-worse/lc-ap-an.yaml", true, true, false, APP_VARIANCE_BATCH_UNION},
        {"ablation/cifar10n-worse/full.yaml", true, true, true, APP_VARIANCE_BATCH_UNION},
        {"ablation/cifar10n-worse/per-anchor.yaml", true, true, true, APP_VARIANCE_PER_ANCHOR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        app_config cfg;
        load_config(&cfg, cases[i].file);
        ck_assert_msg(cfg.method.name == APP_METHOD_ALUM, "%s: method", cases[i].file);
        ck_assert_msg(cfg.method.ap == cases[i].ap, "%s: ap", cases[i].file);
        ck_assert_msg(cfg.method.an == cases[i].an, "%s: an", cases[i].file);
        ck_assert_msg(cfg.method.triplet == cases[i].triplet, "%s: triplet", cases[i].file);
        ck_assert_msg(cfg.method.variance_mode == cases[i].mode, "%s: variance_mode",
                      cases[i].file);
        ck_assert_msg(strcmp(cfg.data.label_set, "worse") == 0, "%s: label_set", cases[i].file);
    }
}
END_TEST

START_TEST(small_configs_are_small)
{
    static const char *const files[] = {
        "small/cifar10n-worse-erm.yaml",  "small/cifar10n-worse-dsu.yaml",
        "small/cifar10n-worse-alum.yaml", "small/pacs-sketch-erm.yaml",
        "small/pacs-sketch-dsu.yaml",     "small/pacs-sketch-alum.yaml",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        app_config cfg;
        load_config(&cfg, files[i]);
        ck_assert_msg(cfg.model.width <= 0.25, "%s: width %g", files[i], cfg.model.width);
        ck_assert_msg(cfg.data.train_subset > 0 && cfg.data.train_subset <= 2000,
                      "%s: train_subset %d", files[i], cfg.data.train_subset);
        ck_assert_msg(cfg.data.test_subset > 0, "%s: test_subset %d", files[i],
                      cfg.data.test_subset);
        ck_assert_msg(cfg.run.epochs <= 3, "%s: epochs %d", files[i], cfg.run.epochs);
        ck_assert_msg(cfg.model.pretrained[0] == '\0', "%s: pretrained", files[i]);
    }
}
END_TEST

/* Returns the contents of a file (caller frees) or NULL. */
static char *read_file(const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
        fwrite(chunk, 1, n, out);
    fclose(in);
    fclose(out);
    return text;
}

START_TEST(docs_key_reference_current)
{
    static const char begin[] = "<!-- keys:begin -->\n";
    static const char end[] = "<!-- keys:end -->";
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/config.md", test_source_root());
    char *doc = read_file(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    char *start = strstr(doc, begin);
    ck_assert_msg(start != NULL, "%s has no '%s' line", path, "<!-- keys:begin -->");
    start += strlen(begin);
    char *stop = strstr(start, end);
    ck_assert_msg(stop != NULL, "%s has no '%s' line", path, end);
    *stop = '\0';

    char *expected = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&expected, &size);
    app_config_print_help(out, true);
    fclose(out);
    if (strcmp(start, expected) != 0) {
        FILE *dump = fopen("config-keys.md", "w");
        if (dump) {
            fputs(expected, dump);
            fclose(dump);
        }
        ck_abort_msg("the key reference in %s is out of date: replace the lines between the "
                     "markers with config-keys.md, written to the test's working directory",
                     path);
    }
    free(expected);
    free(doc);
}
END_TEST

static Suite *config_files_suite(void)
{
    Suite *suite = suite_create("config_files");
    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 120);
    tcase_add_test(files, every_config_validates);
    tcase_add_test(files, cifar10n_recipe_values);
    tcase_add_test(files, rafdb_recipe_values);
    tcase_add_test(files, domain_recipe_values);
    tcase_add_test(files, ablation_switches_parts);
    tcase_add_test(files, small_configs_are_small);
    tcase_add_test(files, docs_key_reference_current);
    suite_add_tcase(suite, files);
    return suite;
}

int main(void)
{
    return test_run_suite(config_files_suite());
}
