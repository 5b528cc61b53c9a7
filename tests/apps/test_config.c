/*
 * Config loader checks: the key table, every kind of bad config and its
 * message, extends chains, overrides and the YAML round trip. Bad-config
 * fixtures live in tests/apps/configs/.
 */
#include "apps/app_config.h"
#include "apps/app_schema.h"
#include "tests/common/test_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Returns the path of a fixture under tests/apps/configs (static buffer). */
static const char *fixture(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/apps/configs/%s", test_source_root(), name);
    return path;
}

static int count_lines(const char *text)
{
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    return lines;
}

/* Loads a fixture that must fail and returns its error text (caller frees). */
static char *load_failing(const char *name, const char *const *overrides, int n_overrides)
{
    app_config cfg;
    char *errors = NULL;
    int status = app_config_load(&cfg, fixture(name), overrides, n_overrides, &errors);
    ck_assert_msg(status == RT_ERR_FORMAT, "%s: expected RT_ERR_FORMAT, got %s", name,
                  rt_status_name(status));
    ck_assert_ptr_nonnull(errors);
    return errors;
}

#define ck_assert_contains(text, part)                                                             \
    ck_assert_msg(strstr((text), (part)) != NULL, "expected '%s' in:\n%s", (part), (text))

START_TEST(defaults_have_documented_values)
{
    app_config cfg;
    app_config_defaults(&cfg);
    ck_assert_int_eq(cfg.run.epochs, 1);
    ck_assert_int_eq(cfg.run.log_every, 20);
    ck_assert_str_eq(cfg.run.output_dir, "runs/<name>");
    ck_assert_int_eq(cfg.data.dataset, APP_DATASET_CIFAR10N);
    ck_assert_int_eq(cfg.data.batch_size, 128);
    ck_assert_int_eq(cfg.data.augment.n_mean, 3);
    ck_assert_double_eq(cfg.data.augment.mean[0], 0.4914);
    ck_assert_double_eq(cfg.data.augment.std[2], 0.2616);
    ck_assert_int_eq(cfg.model.stem, APP_STEM_CIFAR);
    ck_assert_double_eq(cfg.optim.lr, 0.1);
    ck_assert_double_eq(cfg.optim.weight_decay, 5e-4);
    ck_assert_int_eq(cfg.optim.n_betas, 2);
    ck_assert_double_eq(cfg.optim.betas[1], 0.999);
    ck_assert_int_eq(cfg.schedule.type, APP_SCHEDULE_MULTISTEP);
    ck_assert_int_eq(cfg.schedule.n_milestones, 0);
    ck_assert_int_eq(cfg.method.n_lc_points, 5);
    ck_assert_str_eq(cfg.method.lc_points[4], "P4");
    ck_assert_double_eq(cfg.method.eps, 1e-6);
    ck_assert_int_eq(cfg.uncertainty.mc_passes, 10);
}
END_TEST

START_TEST(load_without_file_resolves_names)
{
    app_config cfg;
    char *errors = NULL;
    ck_assert_rt(app_config_load(&cfg, NULL, NULL, 0, &errors));
    ck_assert_ptr_null(errors);
    ck_assert_str_eq(cfg.run.name, "default");
    ck_assert_str_eq(cfg.run.output_dir, "runs/default");
}
END_TEST

START_TEST(table_keys_unique_and_grouped)
{
    for (size_t i = 0; i < app_key_count; i++) {
        const app_key *key = &app_keys[i];
        ck_assert_msg(strchr(key->path, '.') != NULL, "%s has no section", key->path);
        ck_assert_msg(key->description[0] != '\0', "%s has no description", key->path);
        ck_assert_msg(app_key_find(key->path) == key, "%s is listed twice", key->path);
        if (key->type == APP_KEY_INT_LIST || key->type == APP_KEY_FLOAT_LIST ||
            key->type == APP_KEY_STRING_LIST)
            ck_assert_msg((size_t)key->max_count <= key->capacity &&
                              key->min_count <= key->max_count,
                          "%s: list counts do not fit the array", key->path);

        /* a section, once left, never comes back, so the YAML writer opens it once */
        size_t section_len = (size_t)(strrchr(key->path, '.') - key->path);
        for (size_t j = i + 1; j + 1 < app_key_count; j++) {
            bool same = strncmp(app_keys[j].path, key->path, section_len + 1) == 0;
            bool next_same = strncmp(app_keys[j + 1].path, key->path, section_len + 1) == 0;
            ck_assert_msg(same || !next_same, "section of %s is split by %s", key->path,
                          app_keys[j].path);
        }
    }
}
END_TEST

START_TEST(every_default_valid_as_override)
{
    for (size_t i = 0; i < app_key_count; i++) {
        char override[1024];
        snprintf(override, sizeof override, "%s=%s", app_keys[i].path, app_keys[i].default_text);
        const char *overrides[1] = {override};
        app_config cfg;
        char *errors = NULL;
        int status = app_config_load(&cfg, NULL, overrides, 1, &errors);
        ck_assert_msg(status == RT_OK, "default of %s rejected: %s", app_keys[i].path,
                      errors ? errors : "");
        free(errors);
    }
}
END_TEST

START_TEST(unknown_key_suggests_name)
{
    char *errors = load_failing("unknown_key.yaml", NULL, 0);
    ck_assert_contains(errors, "unknown_key.yaml:3:3: optim.lrr: unknown key (did you mean "
                               "'optim.lr'?)");
    ck_assert_int_eq(count_lines(errors), 1);
    free(errors);
}
END_TEST

START_TEST(key_in_wrong_section_suggests_section)
{
    char *errors = load_failing("wrong_section.yaml", NULL, 0);
    ck_assert_contains(errors, "wrong_section.yaml:2:3: model.lr: unknown key (did you mean "
                               "'optim.lr'?)");
    free(errors);
}
END_TEST

START_TEST(wrong_type_names_expected_type)
{
    char *errors = load_failing("wrong_type.yaml", NULL, 0);
    ck_assert_contains(errors, "wrong_type.yaml:2:11: run.epochs: expected an integer, got 'ten'");
    free(errors);
}
END_TEST

START_TEST(out_of_range_names_range)
{
    char *errors = load_failing("out_of_range.yaml", NULL, 0);
    ck_assert_contains(errors, "out_of_range.yaml:2:10: model.width: value 5 is out of range: "
                               "expected a float in (0, 4]");
    free(errors);
}
END_TEST

START_TEST(malformed_yaml_gives_position)
{
    char *errors = load_failing("malformed.yaml", NULL, 0);
    ck_assert_contains(errors, "malformed.yaml:3:2: malformed YAML: did not find expected key");
    free(errors);
}
END_TEST

START_TEST(missing_extends_file_reported)
{
    char *errors = load_failing("missing_extends.yaml", NULL, 0);
    ck_assert_contains(errors, "missing_extends.yaml:1:10: extends: file ");
    ck_assert_contains(errors, "does_not_exist.yaml' not found");
    free(errors);
}
END_TEST

START_TEST(extends_cycle_detected)
{
    char *errors = load_failing("cycle_a.yaml", NULL, 0);
    ck_assert_contains(errors, "cycle_b.yaml:1:10: extends: cycle ");
    ck_assert_contains(errors, "cycle_a.yaml -> ");
    ck_assert_contains(errors, "cycle_b.yaml -> ");
    ck_assert_int_eq(count_lines(errors), 1);
    free(errors);
}
END_TEST

START_TEST(several_errors_all_listed)
{
    char *errors = load_failing("several_errors.yaml", NULL, 0);
    ck_assert_contains(errors, "several_errors.yaml:3:11: run.epochs: value 0 is out of range");
    ck_assert_contains(errors, "several_errors.yaml:4:3: run.sed: unknown key (did you mean "
                               "'run.seed'?)");
    ck_assert_contains(errors, "several_errors.yaml:6:9: optim.name: expected one of sgd, adam, "
                               "adamw, got 'sgdd' (did you mean 'sgd'?)");
    ck_assert_contains(errors, "several_errors.yaml:9:11: data.augment.mean: expected a float "
                               "list of exactly 3 elements, got 2 elements");
    ck_assert_int_eq(count_lines(errors), 4);
    free(errors);
}
END_TEST

START_TEST(first_error_in_last_error)
{
    app_config cfg;
    int status = app_config_load(&cfg, fixture("several_errors.yaml"), NULL, 0, NULL);
    ck_assert_int_eq(status, RT_ERR_FORMAT);
    ck_assert_contains(rt_last_error(), "run.epochs: value 0 is out of range");
    ck_assert_contains(rt_last_error(), "run.sed: unknown key");
}
END_TEST

START_TEST(structural_errors_reported)
{
    static const struct {
        const char *file;
        const char *message;
    } cases[] = {
        {"duplicate_key.yaml", "duplicate_key.yaml:3:3: run.epochs: duplicate key"},
        {"quoted_number.yaml", "optim.lr: expected a float, got the quoted string '0.1'"},
        {"two_documents.yaml", "two_documents.yaml:4:1: expected one YAML document"},
        {"not_a_mapping.yaml", "not_a_mapping.yaml:1:1: expected a mapping of sections"},
        {"section_scalar.yaml", "optim: expected a mapping of the keys of section 'optim'"},
        {"nul_in_string.yaml", "data.root: value contains a NUL character"},
        {"pk_mismatch.yaml", "pk_mismatch.yaml:5:15: data.batch_size: the pk sampler needs "
                             "batch_size = pk_classes x pk_samples (4 x 4 = 16), got 64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *errors = load_failing(cases[i].file, NULL, 0);
        ck_assert_contains(errors, cases[i].message);
        free(errors);
    }
}
END_TEST

START_TEST(missing_file_is_io_error)
{
    app_config cfg;
    char *errors = NULL;
    int status = app_config_load(&cfg, fixture("no_such_file.yaml"), NULL, 0, &errors);
    ck_assert_int_eq(status, RT_ERR_IO);
    ck_assert_contains(errors, "no_such_file.yaml: cannot open config file");
    free(errors);
}
END_TEST

START_TEST(data_keys_match_readers)
{
    app_config cfg;
    char *errors = NULL;
    app_config_defaults(&cfg);
    ck_assert(!cfg.data.allow_partial_cifar);
    const char *const partial[] = {"data.allow_partial_cifar=true", "data.workers=31"};
    ck_assert_rt(app_config_load(&cfg, NULL, partial, 2, &errors));
    ck_assert(cfg.data.allow_partial_cifar);
    ck_assert_int_eq(cfg.data.workers, 31);

    /* The trainer queues 2 * workers + 2 batches and the loader takes at most 64. */
    const char *const too_many[] = {"data.workers=32"};
    ck_assert_int_eq(app_config_load(&cfg, NULL, too_many, 1, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "data.workers");
    free(errors);
    errors = NULL;

    /* --resume on the command line replaces the old run.resume key. */
    const char *const resume[] = {"run.resume=auto"};
    ck_assert_int_eq(app_config_load(&cfg, NULL, resume, 1, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "run.resume");
    free(errors);

    char *help = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&help, &size);
    app_config_print_help(out, false);
    fclose(out);
    ck_assert_contains(help, "a stratified subset (the same number per class, seed 0)");
    ck_assert_msg(strstr(help, "(the first ones); 0 uses all") == NULL,
                  "data.test_subset help still says the first ones:\n%s", help);
    free(help);
}
END_TEST

START_TEST(directory_is_io_error)
{
    app_config cfg;
    char *errors = NULL;
    int status = app_config_load(&cfg, fixture(""), NULL, 0, &errors);
    ck_assert_int_eq(status, RT_ERR_IO);
    ck_assert_contains(errors, "is a directory, expected a YAML config file");
    free(errors);
}
END_TEST

START_TEST(extends_chain_applies_in_order)
{
    app_config cfg;
    char *errors = NULL;
    ck_assert_rt(app_config_load(&cfg, fixture("chain_top.yaml"), NULL, 0, &errors));
    ck_assert_int_eq(cfg.run.epochs, 10); /* from the base */
    ck_assert_int_eq(cfg.run.seed, 2);    /* the middle file beats the base */
    ck_assert_int_eq(cfg.optim.name, APP_OPTIM_ADAM);
    ck_assert_double_eq(cfg.optim.lr, 0.25); /* the top file beats both */
    ck_assert_str_eq(cfg.run.name, "chained");
    ck_assert_str_eq(cfg.run.output_dir, "runs/chained");
}
END_TEST

/* Writes text to dir/name and fails the test when that is not possible. */
static void write_text_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *out = fopen(path, "w");
    ck_assert_msg(out != NULL, "cannot create %s", path);
    fputs(text, out);
    fclose(out);
}

/* Removes a flat directory of test files. */
static void remove_flat_dir(const char *dir)
{
    DIR *handle = opendir(dir);
    if (!handle)
        return;
    struct dirent *entry;
    while ((entry = readdir(handle)) != NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (entry->d_name[0] != '.')
            unlink(path);
    }
    closedir(handle);
    rmdir(dir);
}

START_TEST(extends_list_later_base_wins)
{
    char dir[] = "/tmp/alumcl-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_text_file(dir, "first.yaml", "run:\n  epochs: 5\n  seed: 1\n");
    write_text_file(dir, "second.yaml", "run:\n  seed: 2\n");
    write_text_file(dir, "top.yaml", "extends: [first.yaml, second.yaml]\n");

    char path[4096];
    snprintf(path, sizeof path, "%s/top.yaml", dir);
    app_config cfg;
    ck_assert_rt(app_config_load(&cfg, path, NULL, 0, NULL));
    ck_assert_int_eq(cfg.run.epochs, 5);
    ck_assert_int_eq(cfg.run.seed, 2);
    remove_flat_dir(dir);
}
END_TEST

START_TEST(extends_depth_limited)
{
    char dir[] = "/tmp/alumcl-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* level0.yaml extends level1.yaml ... up to level20.yaml: 20 files below the top */
    for (int level = 0; level <= 20; level++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "level%d.yaml", level);
        if (level < 20)
            snprintf(text, sizeof text, "extends: level%d.yaml\n", level + 1);
        else
            snprintf(text, sizeof text, "run:\n  epochs: 3\n");
        write_text_file(dir, name, text);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/level4.yaml", dir);
    app_config cfg;
    ck_assert_rt(app_config_load(&cfg, path, NULL, 0, NULL)); /* 16 files below: allowed */
    ck_assert_int_eq(cfg.run.epochs, 3);

    snprintf(path, sizeof path, "%s/level0.yaml", dir);
    char *errors = NULL;
    ck_assert_int_eq(app_config_load(&cfg, path, NULL, 0, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "extends: chain deeper than 16 files");
    free(errors);
    remove_flat_dir(dir);
}
END_TEST

START_TEST(overrides_beat_file)
{
    const char *overrides[] = {"optim.lr=0.01",
                               "run.seed=7",
                               "data.domains=[photo, cartoon]",
                               "schedule.milestones=30,60",
                               "data.root='a path'",
                               "method.lc_points=[]"};
    app_config cfg;
    ck_assert_rt(app_config_load(&cfg, fixture("chain_top.yaml"), overrides, 6, NULL));
    ck_assert_double_eq(cfg.optim.lr, 0.01);
    ck_assert_int_eq(cfg.run.seed, 7);
    ck_assert_int_eq(cfg.data.n_domains, 2);
    ck_assert_str_eq(cfg.data.domains[1], "cartoon");
    ck_assert_int_eq(cfg.schedule.n_milestones, 2);
    ck_assert_int_eq(cfg.schedule.milestones[1], 60);
    ck_assert_str_eq(cfg.data.root, "a path");
    ck_assert_int_eq(cfg.method.n_lc_points, 0);
}
END_TEST

START_TEST(bad_overrides_all_listed)
{
    const char *overrides[] = {"optim.lr=abc", "optim.lrr=1", "optim=3", "no_equals_sign",
                               "optim.betas=[0.9]"};
    app_config cfg;
    char *errors = NULL;
    ck_assert_int_eq(app_config_load(&cfg, NULL, overrides, 5, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "override optim.lr: expected a float, got 'abc'\n");
    ck_assert_contains(errors, "override optim.lrr: unknown key (did you mean 'optim.lr'?)\n");
    ck_assert_contains(errors, "override optim: 'optim' is a section");
    ck_assert_contains(errors, "override 'no_equals_sign': expected section.key=value");
    ck_assert_contains(errors, "override optim.betas: expected a float list of exactly 2 elements");
    ck_assert_int_eq(count_lines(errors), 5);
    free(errors);
}
END_TEST

START_TEST(error_list_capped_with_summary)
{
    enum { N_BAD = 105 };
    static char texts[N_BAD][32];
    const char *overrides[N_BAD];
    for (int i = 0; i < N_BAD; i++) {
        snprintf(texts[i], sizeof texts[i], "run.epochs=bad%d", i);
        overrides[i] = texts[i];
    }
    app_config cfg;
    char *errors = NULL;
    ck_assert_int_eq(app_config_load(&cfg, NULL, overrides, N_BAD, &errors), RT_ERR_FORMAT);
    ck_assert_int_eq(count_lines(errors), 101);
    ck_assert_contains(errors, "override run.epochs: expected an integer, got 'bad99'\n");
    ck_assert_ptr_null(strstr(errors, "'bad100'"));
    ck_assert_contains(errors, "... and 5 more problems\n");
    free(errors);
}
END_TEST

START_TEST(consistency_error_names_override)
{
    const char *overrides[] = {"data.noise.rate=0.2"};
    app_config cfg;
    char *errors = NULL;
    ck_assert_int_eq(app_config_load(&cfg, NULL, overrides, 1, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "override data.noise.rate: rate 0.2 has no effect with type none");
    free(errors);
}
END_TEST

START_TEST(multi_domain_needs_target)
{
    const char *overrides[] = {"data.dataset=pacs", "data.domains=[photo, sketch]",
                               "data.label_set=aggre"};
    app_config cfg;
    char *errors = NULL;
    ck_assert_int_eq(app_config_load(&cfg, NULL, overrides, 3, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "data.target_domain: missing (dataset pacs needs the held-out");
    ck_assert_contains(errors, "label set 'aggre' does not exist for dataset pacs");
    free(errors);

    const char *with_target[] = {"data.dataset=pacs", "data.domains=[photo, sketch]",
                                 "data.target_domain=sketch"};
    ck_assert_int_eq(app_config_load(&cfg, NULL, with_target, 3, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "target domain 'sketch' is also a training domain");
    free(errors);
}
END_TEST

START_TEST(buffer_load_names_source)
{
    static const char text[] = "run:\n  epochs: 4\ndata:\n  dataset: pacss\n";
    app_config cfg;
    char *errors = NULL;
    int status =
        app_config_load_buffer(&cfg, "inline.yaml", text, sizeof text - 1, NULL, 0, &errors);
    ck_assert_int_eq(status, RT_ERR_FORMAT);
    ck_assert_contains(errors, "inline.yaml:4:12: data.dataset: expected one of cifar10");
    ck_assert_contains(errors, "(did you mean 'pacs'?)");
    ck_assert_int_eq(cfg.run.epochs, 4);
    free(errors);
}
END_TEST

START_TEST(dotted_keys_set_nested_values)
{
    static const char text[] = "optim.lr: 0.2\ndata:\n  noise.type: symmetric\n  noise.rate: 0.1\n";
    app_config cfg;
    char *errors = NULL;
    int status =
        app_config_load_buffer(&cfg, "dotted.yaml", text, sizeof text - 1, NULL, 0, &errors);
    ck_assert_msg(status == RT_OK, "%s", errors ? errors : "");
    ck_assert_double_eq(cfg.optim.lr, 0.2);
    ck_assert_int_eq(cfg.data.noise.type, APP_NOISE_SYMMETRIC);
    ck_assert_double_eq(cfg.data.noise.rate, 0.1);
}
END_TEST

START_TEST(name_defaults_to_file_stem)
{
    app_config cfg;
    ck_assert_rt(app_config_load(&cfg, fixture("chain_base.yaml"), NULL, 0, NULL));
    ck_assert_str_eq(cfg.run.name, "chain_base");
    ck_assert_str_eq(cfg.run.output_dir, "runs/chain_base");
}
END_TEST

START_TEST(overlong_string_rejected)
{
    char override[APP_CONFIG_PATH_MAX + 32];
    int prefix = snprintf(override, sizeof override, "data.root=");
    memset(override + prefix, 'x', APP_CONFIG_PATH_MAX);
    override[prefix + APP_CONFIG_PATH_MAX] = '\0';
    const char *overrides[] = {override};
    app_config cfg;
    char *errors = NULL;
    ck_assert_int_eq(app_config_load(&cfg, NULL, overrides, 1, &errors), RT_ERR_FORMAT);
    ck_assert_contains(errors, "override data.root: string of 512 bytes is too long: the "
                               "maximum is 511");
    ck_assert_str_eq(cfg.data.root, "");
    free(errors);
}
END_TEST

START_TEST(round_trip_preserves_values)
{
    /* strings with quotes, backslashes, a tab and non-ASCII text exercise the YAML escaping */
    const char *overrides[] = {"run.name=trip \"quoted\" \\ back",
                               "data.root=/tmp/d\xc3\xa9j\xc3\xa0\tvu",
                               "optim.lr=0.1234567890123",
                               "optim.betas=[0.5, 0.75]",
                               "data.augment.std=[1e-3, 2.5, 3]",
                               "run.seed=9007199254740993",
                               "schedule.milestones=[1, 2, 3]",
                               "method.lc_points=[P5, P0]",
                               "data.domains=[\"with space\", 'x,y']",
                               "uncertainty.ranking=loss"};
    int n = (int)(sizeof overrides / sizeof overrides[0]);
    app_config original;
    char *errors = NULL;
    int status = app_config_load(&original, fixture("chain_top.yaml"), overrides, n, &errors);
    ck_assert_msg(status == RT_OK, "%s", errors ? errors : "");

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(out);
    ck_assert_rt(app_config_write_yaml(&original, out));
    fclose(out);

    app_config reloaded;
    status = app_config_load_buffer(&reloaded, "resolved.yaml", text, size, NULL, 0, &errors);
    ck_assert_msg(status == RT_OK, "%s\n%s", errors ? errors : "", text);
    char diff[1024];
    int n_diff = app_config_compare(&original, &reloaded, diff, sizeof diff);
    ck_assert_msg(n_diff == 0, "keys differ after the round trip: %s\n%s", diff, text);
    free(text);
}
END_TEST

START_TEST(list_override_keeps_quoted_commas)
{
    const char *overrides[] = {"data.domains=[a, 'x,y', \"z\"]"};
    app_config cfg;
    ck_assert_rt(app_config_load(&cfg, NULL, overrides, 1, NULL));
    ck_assert_int_eq(cfg.data.n_domains, 3);
    ck_assert_str_eq(cfg.data.domains[0], "a");
    ck_assert_str_eq(cfg.data.domains[1], "x,y");
    ck_assert_str_eq(cfg.data.domains[2], "z");
}
END_TEST

START_TEST(noise_names_match_noise_module)
{
    /* data.noise.type stores app_noise_kind, so the YAML names must follow its values */
    for (int kind = APP_NOISE_NONE; kind <= APP_NOISE_PAIRFLIP; kind++)
        ck_assert_str_eq(app_config_enum_name("data.noise.type", kind),
                         app_noise_name((app_noise_kind)kind));
}
END_TEST

START_TEST(compare_names_differences)
{
    app_config a, b;
    app_config_defaults(&a);
    app_config_defaults(&b);
    ck_assert_int_eq(app_config_compare(&a, &b, NULL, 0), 0);
    b.optim.lr = 0.2;
    b.method.n_lc_points = 2;
    char diff[256];
    ck_assert_int_eq(app_config_compare(&a, &b, diff, sizeof diff), 2);
    ck_assert_str_eq(diff, "optim.lr, method.lc_points");
}
END_TEST

START_TEST(enum_names_and_lc_mask)
{
    ck_assert_str_eq(app_config_enum_name("data.dataset", APP_DATASET_OFFICEHOME), "officehome");
    ck_assert_str_eq(app_config_enum_name("method.variance_mode", APP_VARIANCE_BATCH_UNION),
                     "batch_union");
    ck_assert_str_eq(app_config_enum_name("data.dataset", 99), "?");
    ck_assert_str_eq(app_config_enum_name("optim.lr", 0), "?");
    app_config cfg;
    app_config_defaults(&cfg);
    ck_assert_uint_eq(app_config_lc_mask(&cfg), 0x1fu);
}
END_TEST

START_TEST(help_lists_every_key)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    app_config_print_help(out, false);
    fclose(out);
    for (size_t i = 0; i < app_key_count; i++) {
        char line[300];
        snprintf(line, sizeof line, "  %s (%s, default ", app_keys[i].path,
                 app_key_type_name(&app_keys[i]));
        ck_assert_contains(text, line);
    }
    ck_assert_contains(text, "model.width (float, default 1.0, in (0, 4])");
    free(text);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *suite = suite_create("config");
    TCase *table = tcase_create("table");
    tcase_add_test(table, defaults_have_documented_values);
    tcase_add_test(table, load_without_file_resolves_names);
    tcase_add_test(table, table_keys_unique_and_grouped);
    tcase_add_test(table, every_default_valid_as_override);
    tcase_add_test(table, noise_names_match_noise_module);
    tcase_add_test(table, compare_names_differences);
    tcase_add_test(table, enum_names_and_lc_mask);
    tcase_add_test(table, help_lists_every_key);
    suite_add_tcase(suite, table);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, unknown_key_suggests_name);
    tcase_add_test(errors, key_in_wrong_section_suggests_section);
    tcase_add_test(errors, wrong_type_names_expected_type);
    tcase_add_test(errors, out_of_range_names_range);
    tcase_add_test(errors, malformed_yaml_gives_position);
    tcase_add_test(errors, missing_extends_file_reported);
    tcase_add_test(errors, extends_cycle_detected);
    tcase_add_test(errors, several_errors_all_listed);
    tcase_add_test(errors, first_error_in_last_error);
    tcase_add_test(errors, structural_errors_reported);
    tcase_add_test(errors, missing_file_is_io_error);
    tcase_add_test(errors, directory_is_io_error);
    tcase_add_test(errors, data_keys_match_readers);
    tcase_add_test(errors, error_list_capped_with_summary);
    tcase_add_test(errors, consistency_error_names_override);
    tcase_add_test(errors, multi_domain_needs_target);
    tcase_add_test(errors, buffer_load_names_source);
    suite_add_tcase(suite, errors);

    TCase *loading = tcase_create("loading");
    tcase_add_test(loading, extends_chain_applies_in_order);
    tcase_add_test(loading, extends_list_later_base_wins);
    tcase_add_test(loading, extends_depth_limited);
    tcase_add_test(loading, overrides_beat_file);
    tcase_add_test(loading, bad_overrides_all_listed);
    tcase_add_test(loading, dotted_keys_set_nested_values);
    tcase_add_test(loading, name_defaults_to_file_stem);
    tcase_add_test(loading, overlong_string_rejected);
    tcase_add_test(loading, round_trip_preserves_values);
    tcase_add_test(loading, list_override_keeps_quoted_commas);
    suite_add_tcase(suite, loading);
    return suite;
}

int main(void)
{
    return test_run_suite(config_suite());
}
