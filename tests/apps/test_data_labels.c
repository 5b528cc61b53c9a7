/*
 * CIFAR-N label files (.pt and CSV), synthetic label noise and training subsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_data.h"
#include "apps/app_image.h"
#include "apps/app_noise.h"
#include "apps/app_pickle.h"
#include "tests/apps/test_data_fixtures.h"
#include "tests/common/test_common.h"

static void setup(void)
{
    fixture_dir();
}

static void teardown(void)
{
    fixture_cleanup();
}

/* Deterministic labels in [0, classes). */
static int64_t *make_labels(size_t n, int classes, int salt)
{
    int64_t *v = malloc(n * sizeof(int64_t));
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)((i * 7 + (size_t)salt * 3 + i / 13) % (size_t)classes);
    return v;
}

START_TEST(pt_fixture_reads_every_set)
{
    int64_t *clean = make_labels(APP_CIFARN_COUNT, 10, 0);
    int64_t *worse = make_labels(APP_CIFARN_COUNT, 10, 5);
    fixture_pt_entry entries[] = {
        {"clean_label", clean, APP_CIFARN_COUNT, 0},
        {"worse_label", worse, APP_CIFARN_COUNT, 0},
    };
    const char *path = fixture_pt("c10.pt", entries, 2);
    int32_t *labels = NULL;
    ck_assert_rt(app_cifarn_read(path, "worst", 10, &labels));
    for (size_t i = 0; i < APP_CIFARN_COUNT; i++)
        ck_assert_int_eq(labels[i], (int32_t)worse[i]);
    free(labels);
    ck_assert_rt(app_cifarn_read(path, "clean_label", 10, &labels));
    for (size_t i = 0; i < APP_CIFARN_COUNT; i++)
        ck_assert_int_eq(labels[i], (int32_t)clean[i]);
    free(labels);
    free(clean);
    free(worse);
}
END_TEST

START_TEST(pt_fixture_reads_int_lists)
{
    /* CIFAR-100 .pt files store fine labels as an array and coarse labels as a plain list. */
    int64_t *fine = make_labels(APP_CIFARN_COUNT, 100, 1);
    int64_t *coarse = make_labels(APP_CIFARN_COUNT, 20, 2);
    fixture_pt_entry entries[] = {
        {"noisy_label", fine, APP_CIFARN_COUNT, 0},
        {"noisy_coarse_label", coarse, APP_CIFARN_COUNT, 1},
    };
    const char *path = fixture_pt("c100.pt", entries, 2);
    int32_t *labels = NULL;
    ck_assert_rt(app_cifarn_read(path, "noisy_coarse", 20, &labels));
    for (size_t i = 0; i < APP_CIFARN_COUNT; i++)
        ck_assert_int_eq(labels[i], (int32_t)coarse[i]);
    free(labels);
    ck_assert_rt(app_cifarn_read(path, "noisy", 100, &labels));
    for (size_t i = 0; i < APP_CIFARN_COUNT; i++)
        ck_assert_int_eq(labels[i], (int32_t)fine[i]);
    free(labels);
    free(fine);
    free(coarse);
}
END_TEST

START_TEST(pickle_keeps_bytes_above_127)
{
    int64_t values[4] = {200, -1, 1LL << 40, 0};
    fixture_pt_entry entry = {"clean_label", values, 4, 0};
    size_t size;
    uint8_t *pickle = fixture_pickle(&entry, 1, &size);
    int64_t *out = NULL;
    size_t count = 0;
    ck_assert_rt(app_pickle_extract(pickle, size, "fixture", "clean_label", &out, &count));
    ck_assert_uint_eq(count, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(out[i], values[i]);
    free(out);
    free(pickle);
}
END_TEST

START_TEST(numpy_pickle_fixture_parses)
{
    /* Written by numpy's own pickling (tests/apps/fixtures/make_fuzz_seeds.py), not by our writer.
     */
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/apps/fixtures/fuzz-seeds/pickle/labels.pt",
             test_source_root());
    uint8_t *bytes;
    size_t size;
    ck_assert_rt(app_read_file(path, &bytes, &size));
    int64_t *out = NULL;
    size_t count = 0;
    static const int64_t clean[11] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 200};
    ck_assert_rt(app_pt_extract(bytes, size, path, "clean_label", &out, &count));
    ck_assert_uint_eq(count, 11);
    for (int i = 0; i < 11; i++)
        ck_assert_int_eq(out[i], clean[i]);
    free(out);
    static const int64_t coarse[5] = {1, 2, 3, 300, 70000};
    ck_assert_rt(app_pt_extract(bytes, size, path, "clean_coarse_label", &out, &count));
    ck_assert_uint_eq(count, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(out[i], coarse[i]);
    free(out);
    free(bytes);
}
END_TEST

START_TEST(pt_wrong_length_rejected)
{
    int64_t *clean = make_labels(1000, 10, 0);
    fixture_pt_entry entry = {"clean_label", clean, 1000, 0};
    const char *path = fixture_pt("short.pt", &entry, 1);
    int32_t *labels = NULL;
    ck_assert_int_eq(app_cifarn_read(path, "clean", 10, &labels), RT_ERR_FORMAT);
    ck_assert_ptr_null(labels);
    ck_assert_msg(strstr(rt_last_error(), "1000 labels") != NULL, "message: %s", rt_last_error());
    ck_assert_msg(strstr(rt_last_error(), "expected 50000") != NULL, "message: %s",
                  rt_last_error());
    free(clean);
}
END_TEST

START_TEST(pt_missing_key_lists_keys)
{
    int64_t *clean = make_labels(APP_CIFARN_COUNT, 10, 0);
    fixture_pt_entry entry = {"clean_label", clean, APP_CIFARN_COUNT, 0};
    const char *path = fixture_pt("clean_only.pt", &entry, 1);
    int32_t *labels = NULL;
    ck_assert_int_eq(app_cifarn_read(path, "aggre", 10, &labels), RT_ERR_NOT_FOUND);
    ck_assert_msg(strstr(rt_last_error(), "aggre_label") != NULL, "message: %s", rt_last_error());
    ck_assert_msg(strstr(rt_last_error(), "keys: clean_label") != NULL, "message: %s",
                  rt_last_error());
    free(clean);
}
END_TEST

START_TEST(pt_label_out_of_range)
{
    int64_t *clean = make_labels(APP_CIFARN_COUNT, 10, 0);
    clean[123] = 10;
    fixture_pt_entry entry = {"clean_label", clean, APP_CIFARN_COUNT, 0};
    const char *path = fixture_pt("bad_label.pt", &entry, 1);
    int32_t *labels = NULL;
    ck_assert_int_eq(app_cifarn_read(path, "clean", 10, &labels), RT_ERR_FORMAT);
    ck_assert_msg(strstr(rt_last_error(), "label 10 at row 123") != NULL, "message: %s",
                  rt_last_error());
    free(clean);
}
END_TEST

START_TEST(pt_truncated_and_garbage_rejected)
{
    int64_t *clean = make_labels(APP_CIFARN_COUNT, 10, 0);
    fixture_pt_entry entry = {"clean_label", clean, APP_CIFARN_COUNT, 0};
    size_t pickle_size, zip_size;
    uint8_t *pickle = fixture_pickle(&entry, 1, &pickle_size);
    uint8_t *zip = fixture_zip(pickle, pickle_size, &zip_size);
    int64_t *out = NULL;
    size_t count = 0;
    /* Every prefix of the pickle must fail cleanly; test a spread of cut points. */
    for (size_t cut = 0; cut < pickle_size; cut += pickle_size / 97 + 1) {
        ck_assert_int_eq(app_pickle_extract(pickle, cut, "cut", "clean_label", &out, &count),
                         RT_ERR_FORMAT);
        ck_assert_ptr_null(out);
    }
    /* A zip cut in half has no end record, so it is not a zip. */
    ck_assert_int_eq(app_pt_extract(zip, zip_size / 2, "half.pt", "clean_label", &out, &count),
                     RT_ERR_FORMAT);
    ck_assert_msg(strstr(rt_last_error(), "not a zip") != NULL, "message: %s", rt_last_error());
    const char *path = fixture_write_text("text.pt", "this is not a torch file\n");
    int32_t *labels = NULL;
    ck_assert_int_eq(app_cifarn_read(path, "clean", 10, &labels), RT_ERR_FORMAT);
    free(pickle);
    free(zip);
    free(clean);
}
END_TEST

START_TEST(pickle_rejects_unknown_global)
{
    /* {"a": os.system("ls")}; string breaks stop \x escapes from eating the next letter. */
    static const uint8_t evil[] = "\x80\x02}q\x00(X\x01\x00\x00\x00"
                                  "aq\x01"
                                  "cos\nsystem\nq\x02X\x02\x00\x00\x00"
                                  "lsq\x03\x85R"
                                  "u.";
    int64_t *out = NULL;
    size_t count = 0;
    ck_assert_int_eq(app_pickle_extract(evil, sizeof(evil) - 1, "evil", "a", &out, &count),
                     RT_ERR_FORMAT);
    ck_assert_msg(strstr(rt_last_error(), "unsupported callable") != NULL, "message: %s",
                  rt_last_error());
}
END_TEST

START_TEST(csv_reads_and_checks)
{
    size_t n = APP_CIFARN_COUNT;
    char *text = malloc(n * 16 + 64);
    size_t used = (size_t)sprintf(text, "index,clean_label,aggre_label\n");
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(text + used, "%zu,%zu,%zu\n", i, i % 10, (i * 3) % 10);
    const char *path = fixture_write_text("labels.csv", text);
    int32_t *labels = NULL;
    ck_assert_rt(app_cifarn_read(path, "aggre", 10, &labels));
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(labels[i], (int32_t)((i * 3) % 10));
    free(labels);
    ck_assert_int_eq(app_cifarn_read(path, "worse", 10, &labels), RT_ERR_NOT_FOUND);
    ck_assert_msg(strstr(rt_last_error(), "no column 'worse_label'") != NULL, "message: %s",
                  rt_last_error());
    ck_assert_int_eq(app_cifarn_read(path, "nonsense", 10, &labels), RT_ERR_INVALID);
    ck_assert_msg(strstr(rt_last_error(), "unknown CIFAR-N label set 'nonsense'") != NULL,
                  "message: %s", rt_last_error());

    /* A row with a wrong index is malformed. */
    char *bad = strstr(text, "\n17,");
    bad[2] = '9';
    path = fixture_write_text("bad.csv", text);
    ck_assert_int_eq(app_cifarn_read(path, "clean", 10, &labels), RT_ERR_FORMAT);
    ck_assert_msg(strstr(rt_last_error(), "line 19") != NULL, "message: %s", rt_last_error());
    bad[2] = '7';

    /* A row missing a column that is not in use is still rejected. */
    char *short_row = strstr(text, "\n30,");
    char *row_end = strchr(short_row + 1, '\n');
    char *last_comma = short_row + 1;
    while (strchr(last_comma + 1, ',') < row_end)
        last_comma = strchr(last_comma + 1, ',');
    memmove(last_comma, row_end, strlen(row_end) + 1);
    path = fixture_write_text("short.csv", text);
    ck_assert_int_eq(app_cifarn_read(path, "clean", 10, &labels), RT_ERR_FORMAT);
    ck_assert_msg(strstr(rt_last_error(), "line 32") != NULL, "message: %s", rt_last_error());
    ck_assert_msg(strstr(rt_last_error(), "has 2 fields but the header has 3") != NULL,
                  "message: %s", rt_last_error());
    free(text);
}
END_TEST

START_TEST(missing_label_file)
{
    int32_t *labels = NULL;
    ck_assert_int_eq(app_cifarn_read(fixture_path("absent.pt"), "clean", 10, &labels),
                     RT_ERR_NOT_FOUND);
    ck_assert_msg(strstr(rt_last_error(), "absent.pt") != NULL, "message: %s", rt_last_error());
}
END_TEST

/* Fraction of rows where a and b differ. */
static double disagreement(const int32_t *a, const int32_t *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return (double)d / (double)n;
}

START_TEST(real_cifar10n_pt_and_csv)
{
    const char *data = test_data_dir();
    if (!data) {
        fprintf(stderr, "real_cifar10n_pt_and_csv: skipped, no shared data folder\n");
        return;
    }
    char pt[1024], csv[1024];
    snprintf(pt, sizeof(pt), "%s/cifar-n/CIFAR-10_human.pt", data);
    snprintf(csv, sizeof(csv), "%s/cifar-n/cifar10n_labels.csv", data);
    static const char *sets[] = {"clean", "aggre", "worse", "random1", "random2", "random3"};
    static const double rates[] = {0.0, 0.0901, 0.4021, 0.1723, 0.1812, 0.1764};
    int32_t *clean = NULL;
    ck_assert_rt(app_cifarn_read(pt, "clean", 10, &clean));
    static const int32_t first[10] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(clean[i], first[i]);
    for (int s = 0; s < 6; s++) {
        int32_t *from_pt = NULL, *from_csv = NULL;
        ck_assert_rt(app_cifarn_read(pt, sets[s], 10, &from_pt));
        ck_assert_rt(app_cifarn_read(csv, sets[s], 10, &from_csv));
        ck_assert_mem_eq(from_pt, from_csv, APP_CIFARN_COUNT * sizeof(int32_t));
        double rate = disagreement(from_pt, clean, APP_CIFARN_COUNT);
        ck_assert_msg(rate > rates[s] - 0.00005 && rate < rates[s] + 0.00005,
                      "%s disagrees with clean on %.4f%% of rows, expected %.2f%%", sets[s],
                      100 * rate, 100 * rates[s]);
        free(from_pt);
        free(from_csv);
    }
    free(clean);
}
END_TEST

START_TEST(real_cifar100n_pt_and_csv)
{
    const char *data = test_data_dir();
    if (!data) {
        fprintf(stderr, "real_cifar100n_pt_and_csv: skipped, no shared data folder\n");
        return;
    }
    char pt[1024], csv[1024];
    snprintf(pt, sizeof(pt), "%s/cifar-n/CIFAR-100_human.pt", data);
    snprintf(csv, sizeof(csv), "%s/cifar-n/cifar100n_labels.csv", data);
    int32_t *clean = NULL, *noisy = NULL, *coarse_pt = NULL, *coarse_csv = NULL;
    ck_assert_rt(app_cifarn_read(pt, "clean", 100, &clean));
    ck_assert_rt(app_cifarn_read(pt, "noisy", 100, &noisy));
    double rate = disagreement(noisy, clean, APP_CIFARN_COUNT);
    ck_assert_msg(rate > 0.40195 && rate < 0.40205, "noisy rate %.4f%%, expected 40.20%%",
                  100 * rate);
    ck_assert_rt(app_cifarn_read(pt, "noisy_coarse", 20, &coarse_pt));
    ck_assert_rt(app_cifarn_read(csv, "noisy_coarse", 20, &coarse_csv));
    ck_assert_mem_eq(coarse_pt, coarse_csv, APP_CIFARN_COUNT * sizeof(int32_t));
    free(clean);
    free(noisy);
    free(coarse_pt);
    free(coarse_csv);
}
END_TEST

/* ---- noise ---- */

START_TEST(noise_symmetric_exact_rate)
{
    enum { N = 1000, C = 7 };
    int32_t labels[N], original[N];
    uint8_t changed[N];
    for (int i = 0; i < N; i++)
        original[i] = labels[i] = i % C;
    double realised = -1;
    ck_assert_rt(app_noise_apply(labels, N, C, APP_NOISE_SYMMETRIC, 0.3, 42, changed, &realised));
    ck_assert_double_eq_tol(realised, 0.3, 1e-12);
    int flips = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_ge(labels[i], 0);
        ck_assert_int_lt(labels[i], C);
        ck_assert_int_eq(changed[i], labels[i] != original[i]);
        flips += changed[i];
    }
    ck_assert_int_eq(flips, 300);

    /* The same seed gives the same labels; another seed gives different ones. */
    int32_t again[N], other[N];
    for (int i = 0; i < N; i++)
        again[i] = other[i] = original[i];
    ck_assert_rt(app_noise_apply(again, N, C, APP_NOISE_SYMMETRIC, 0.3, 42, NULL, NULL));
    ck_assert_rt(app_noise_apply(other, N, C, APP_NOISE_SYMMETRIC, 0.3, 43, NULL, NULL));
    ck_assert_mem_eq(again, labels, sizeof(labels));
    ck_assert_int_ne(memcmp(other, labels, sizeof(labels)), 0);
}
END_TEST

START_TEST(noise_symmetric_spreads_targets)
{
    enum { N = 7000, C = 7 };
    int32_t labels[N];
    int counts[C] = {0};
    for (int i = 0; i < N; i++)
        labels[i] = 0;
    ck_assert_rt(app_noise_apply(labels, N, C, APP_NOISE_SYMMETRIC, 0.6, 1, NULL, NULL));
    for (int i = 0; i < N; i++)
        counts[labels[i]]++;
    ck_assert_int_eq(counts[0], N - 4200);
    /* 4200 flips over 6 targets: 700 each, within a loose binomial bound. */
    for (int c = 1; c < C; c++)
        ck_assert_msg(counts[c] > 600 && counts[c] < 800, "class %d got %d flips", c, counts[c]);
}
END_TEST

START_TEST(noise_pairflip_next_class)
{
    enum { N = 500, C = 10 };
    int32_t labels[N];
    uint8_t changed[N];
    for (int i = 0; i < N; i++)
        labels[i] = i % C;
    double realised;
    ck_assert_rt(app_noise_apply(labels, N, C, APP_NOISE_PAIRFLIP, 0.2, 9, changed, &realised));
    ck_assert_double_eq_tol(realised, 0.2, 1e-12);
    for (int i = 0; i < N; i++) {
        int32_t expected = changed[i] ? (i % C + 1) % C : i % C;
        ck_assert_int_eq(labels[i], expected);
    }
}
END_TEST

START_TEST(noise_rejects_bad_arguments)
{
    int32_t labels[4] = {0, 1, 2, 3};
    ck_assert_int_eq(app_noise_apply(labels, 4, 4, APP_NOISE_SYMMETRIC, 1.5, 1, NULL, NULL),
                     RT_ERR_INVALID);
    ck_assert_msg(strstr(rt_last_error(), "rate 1.5") != NULL, "message: %s", rt_last_error());
    ck_assert_int_eq(app_noise_apply(labels, 4, 3, APP_NOISE_SYMMETRIC, 0.5, 1, NULL, NULL),
                     RT_ERR_INVALID);
    ck_assert_msg(strstr(rt_last_error(), "label 3") != NULL, "message: %s", rt_last_error());
    app_noise_kind kind;
    ck_assert_rt(app_noise_parse("pair", &kind));
    ck_assert_int_eq(kind, APP_NOISE_PAIRFLIP);
    ck_assert_int_eq(app_noise_parse("gaussian", &kind), RT_ERR_INVALID);
    ck_assert_str_eq(app_noise_name(APP_NOISE_SYMMETRIC), "symmetric");
}
END_TEST

/* ---- subsets ---- */

/*
 * A CIFAR-10 fixture: n records in data_batch_1 with labels i % 10 (or labels[i]),
 * plus one record with the first label in each of data_batch_2..5.
 */
static app_dataset *open_cifar_fixture(int32_t n, const uint8_t *labels)
{
    uint8_t *l = malloc((size_t)n);
    for (int32_t i = 0; i < n; i++)
        l[i] = labels ? labels[i] : (uint8_t)(i % 10);
    char name[64];
    for (int b = 1; b <= 5; b++) {
        snprintf(name, sizeof(name), "cifar/data_batch_%d.bin", b);
        fixture_cifar_batch(name, b == 1 ? n : 1, 1, l);
    }
    free(l);
    app_dataset *ds = NULL;
    ck_assert_rt(app_cifar_open_flags(fixture_path("cifar"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds));
    return ds;
}

START_TEST(subset_first_random_stratified)
{
    app_dataset *base = open_cifar_fixture(96, NULL);
    ck_assert_int_eq(base->count, 100);
    app_dataset *first = NULL, *random = NULL, *random2 = NULL, *strat = NULL;
    ck_assert_rt(app_dataset_subset(base, 15, APP_SUBSET_FIRST, 0, &first));
    ck_assert_int_eq(first->count, 15);
    for (int i = 0; i < 15; i++)
        ck_assert_int_eq(first->labels[i], base->labels[i]);

    ck_assert_rt(app_dataset_subset(base, 20, APP_SUBSET_RANDOM, 5, &random));
    ck_assert_rt(app_dataset_subset(base, 20, APP_SUBSET_RANDOM, 5, &random2));
    ck_assert_mem_eq(random->labels, random2->labels, 20 * sizeof(int32_t));

    ck_assert_rt(app_dataset_subset(base, 25, APP_SUBSET_STRATIFIED, 5, &strat));
    int per_class[10] = {0};
    for (int i = 0; i < 25; i++)
        per_class[strat->labels[i]]++;
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(per_class[c], c < 5 ? 3 : 2);

    /* A subset image is the base image it maps to. */
    app_image a = {0}, b = {0};
    ck_assert_rt(app_dataset_load(first, 7, &a));
    ck_assert_rt(app_dataset_load(base, 7, &b));
    ck_assert_mem_eq(a.data, b.data, 32 * 32 * 3);
    app_image_free(&a);
    app_image_free(&b);

    app_dataset *too_big = NULL;
    ck_assert_int_eq(app_dataset_subset(base, 101, APP_SUBSET_FIRST, 0, &too_big), RT_ERR_INVALID);
    ck_assert_ptr_null(too_big);
    ck_assert_msg(strstr(rt_last_error(), "subset size 101") != NULL, "message: %s",
                  rt_last_error());
    app_dataset_free(first);
    app_dataset_free(random);
    app_dataset_free(random2);
    app_dataset_free(strat);
    app_dataset_free(base);
}
END_TEST

START_TEST(range_views_contiguous_slice)
{
    app_dataset *base = open_cifar_fixture(96, NULL);
    int32_t *clean = malloc((size_t)base->count * sizeof(int32_t));
    for (int32_t i = 0; i < base->count; i++)
        clean[i] = (base->labels[i] + 1) % 10;
    ck_assert_rt(app_dataset_set_labels(base, clean, base->count, "shifted labels"));
    free(clean);

    app_dataset *head = NULL, *tail = NULL;
    ck_assert_rt(app_dataset_range(base, 0, 60, &head));
    ck_assert_rt(app_dataset_range(base, 60, 40, &tail));
    ck_assert_int_eq(head->count, 60);
    ck_assert_int_eq(tail->count, 40);
    ck_assert_int_eq(tail->num_classes, 10);
    for (int32_t i = 0; i < 40; i++) {
        ck_assert_int_eq(tail->labels[i], base->labels[60 + i]);
        ck_assert_int_eq(tail->clean_labels[i], base->clean_labels[60 + i]);
    }
    app_image a = {0}, b = {0};
    ck_assert_rt(app_dataset_load(tail, 5, &a));
    ck_assert_rt(app_dataset_load(base, 65, &b));
    ck_assert_mem_eq(a.data, b.data, 32 * 32 * 3);
    app_image_free(&a);
    app_image_free(&b);

    app_dataset *bad = NULL;
    ck_assert_int_eq(app_dataset_range(base, 60, 41, &bad), RT_ERR_INVALID);
    ck_assert_ptr_null(bad);
    ck_assert_msg(strstr(rt_last_error(), "first + count <= 100") != NULL, "message: %s",
                  rt_last_error());
    ck_assert_int_eq(app_dataset_range(base, -1, 5, &bad), RT_ERR_INVALID);
    ck_assert_int_eq(app_dataset_range(base, 0, 0, &bad), RT_ERR_INVALID);
    app_dataset_free(head);
    app_dataset_free(tail);
    app_dataset_free(base);
}
END_TEST

START_TEST(set_labels_keeps_clean)
{
    app_dataset *ds = open_cifar_fixture(16, NULL);
    ck_assert_ptr_null(ds->clean_labels);
    ck_assert_double_eq(app_dataset_noise_rate(ds), -1.0);
    int32_t *noisy = malloc((size_t)ds->count * sizeof(int32_t));
    memcpy(noisy, ds->labels, (size_t)ds->count * sizeof(int32_t));
    ck_assert_rt(app_noise_apply(noisy, ds->count, 10, APP_NOISE_SYMMETRIC, 0.25, 3, NULL, NULL));
    ck_assert_rt(app_dataset_set_labels(ds, noisy, ds->count, "test noise"));
    ck_assert_ptr_nonnull(ds->clean_labels);
    ck_assert_double_eq_tol(app_dataset_noise_rate(ds), 0.25, 1e-12);
    ck_assert_int_eq(app_dataset_set_labels(ds, noisy, ds->count - 1, "short"), RT_ERR_INVALID);
    noisy[0] = 10;
    ck_assert_int_eq(app_dataset_set_labels(ds, noisy, ds->count, "bad"), RT_ERR_FORMAT);
    free(noisy);
    app_dataset_free(ds);
}
END_TEST

static Suite *labels_suite(void)
{
    Suite *s = suite_create("data_labels");
    TCase *tc = tcase_create("labels");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pt_fixture_reads_every_set);
    tcase_add_test(tc, pt_fixture_reads_int_lists);
    tcase_add_test(tc, pickle_keeps_bytes_above_127);
    tcase_add_test(tc, numpy_pickle_fixture_parses);
    tcase_add_test(tc, pt_wrong_length_rejected);
    tcase_add_test(tc, pt_missing_key_lists_keys);
    tcase_add_test(tc, pt_label_out_of_range);
    tcase_add_test(tc, pt_truncated_and_garbage_rejected);
    tcase_add_test(tc, pickle_rejects_unknown_global);
    tcase_add_test(tc, csv_reads_and_checks);
    tcase_add_test(tc, missing_label_file);
    tcase_add_test(tc, real_cifar10n_pt_and_csv);
    tcase_add_test(tc, real_cifar100n_pt_and_csv);
    tcase_add_test(tc, noise_symmetric_exact_rate);
    tcase_add_test(tc, noise_symmetric_spreads_targets);
    tcase_add_test(tc, noise_pairflip_next_class);
    tcase_add_test(tc, noise_rejects_bad_arguments);
    tcase_add_test(tc, subset_first_random_stratified);
    tcase_add_test(tc, range_views_contiguous_slice);
    tcase_add_test(tc, set_labels_keeps_clean);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(labels_suite());
}
