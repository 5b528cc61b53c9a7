/*
 * Augmentation, samplers and the threaded loader.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_augment.h"
#include "apps/app_data.h"
#include "apps/app_loader.h"
#include "apps/app_sampler.h"
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

#define ck_assert_error_mentions(text)                                                             \
    ck_assert_msg(strstr(rt_last_error(), (text)) != NULL, "message lacks '%s': %s", (text),       \
                  rt_last_error())

/* Pixel (x, y, c) of an HWC image as the [0, 1] float the identity pipeline produces. */
static float unit(const app_image *img, int32_t x, int32_t y, int32_t c)
{
    return img->data[((size_t)y * img->width + x) * img->channels + c] / 255.0f;
}

/* Returns 1 when out (CHW, w x h) equals img shifted so out(x, y) = img(x + dx, y + dy), zero
 * outside. */
static int matches_shift(const float *out, const app_image *img, int32_t w, int32_t h, int32_t dx,
                         int32_t dy)
{
    for (int32_t c = 0; c < 3; c++)
        for (int32_t y = 0; y < h; y++)
            for (int32_t x = 0; x < w; x++) {
                int32_t sx = x + dx, sy = y + dy;
                float expected = sx >= 0 && sy >= 0 && sx < img->width && sy < img->height
                                     ? unit(img, sx, sy, c)
                                     : 0.0f;
                if (fabsf(out[((size_t)c * h + y) * w + x] - expected) > 1e-6f)
                    return 0;
            }
    return 1;
}

/* ---- augmentation ---- */

START_TEST(augment_identity_is_chw_unit)
{
    app_image img = {0};
    fixture_pattern(&img, 6, 5, 3, 1);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 6, 5);
    float out[3 * 5 * 6];
    ck_assert_rt(app_augment_apply(&cfg, &img, 1, 0, 0, out));
    ck_assert(matches_shift(out, &img, 6, 5, 0, 0));
    app_image_free(&img);
}
END_TEST

START_TEST(augment_normalises_per_channel)
{
    app_image img = {0};
    fixture_pattern(&img, 4, 4, 3, 2);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 4, 4);
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.247f, 0.243f, 0.261f};
    memcpy(cfg.mean, mean, sizeof(mean));
    memcpy(cfg.std, std, sizeof(std));
    float out[3 * 16];
    ck_assert_rt(app_augment_apply(&cfg, &img, 1, 0, 0, out));
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 16; i++) {
            float expected = (unit(&img, i % 4, i / 4, c) - mean[c]) / std[c];
            ck_assert_float_eq_tol(out[c * 16 + i], expected, 1e-5f);
        }
    app_image_free(&img);
}
END_TEST

START_TEST(augment_gray_input_to_rgb)
{
    app_image img = {0};
    fixture_pattern(&img, 3, 3, 1, 4);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 3, 3);
    float out[27];
    ck_assert_rt(app_augment_apply(&cfg, &img, 1, 0, 0, out));
    for (int i = 0; i < 9; i++) {
        ck_assert_float_eq_tol(out[i], img.data[i] / 255.0f, 1e-6f);
        ck_assert_float_eq(out[9 + i], out[i]);
        ck_assert_float_eq(out[18 + i], out[i]);
    }
    app_image_free(&img);
}
END_TEST

START_TEST(augment_crop_is_padded_window)
{
    app_image img = {0};
    fixture_pattern(&img, 12, 12, 3, 3);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 12, 12);
    cfg.random_crop = 1;
    cfg.crop_pad = 3;
    float out[3 * 144], again[3 * 144];
    int moved = 0;
    for (int index = 0; index < 12; index++) {
        ck_assert_rt(app_augment_apply(&cfg, &img, 77, 2, index, out));
        ck_assert_rt(app_augment_apply(&cfg, &img, 77, 2, index, again));
        ck_assert_mem_eq(out, again, sizeof(out));
        int found = 0;
        for (int dy = -3; dy <= 3 && !found; dy++)
            for (int dx = -3; dx <= 3 && !found; dx++)
                if (matches_shift(out, &img, 12, 12, dx, dy)) {
                    found = 1;
                    moved += dx != 0 || dy != 0;
                }
        ck_assert_msg(found, "sample %d is not a window of the padded image", index);
    }
    ck_assert_int_gt(moved, 6);
    app_image_free(&img);
}
END_TEST

START_TEST(augment_flip_mirrors)
{
    app_image img = {0};
    fixture_pattern(&img, 5, 2, 3, 5);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 5, 2);
    cfg.flip_prob = 1.0f;
    float out[30];
    ck_assert_rt(app_augment_apply(&cfg, &img, 1, 0, 0, out));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 5; x++)
                ck_assert_float_eq_tol(out[(c * 2 + y) * 5 + x], unit(&img, 4 - x, y, c), 1e-6f);
    app_image_free(&img);
}
END_TEST

START_TEST(augment_translation_bounded)
{
    app_image img = {0};
    fixture_pattern(&img, 10, 10, 3, 6);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 10, 10);
    cfg.translate_frac = 0.2f;
    float out[300];
    for (int index = 0; index < 10; index++) {
        ck_assert_rt(app_augment_apply(&cfg, &img, 5, 0, index, out));
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++)
                found = matches_shift(out, &img, 10, 10, dx, dy);
        ck_assert_msg(found, "sample %d is not a shift within 2 pixels", index);
    }
    app_image_free(&img);
}
END_TEST

START_TEST(augment_resized_crop_full_is_resize)
{
    app_image img = {0}, ref = {0};
    fixture_pattern(&img, 16, 16, 3, 7);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 8, 8);
    cfg.random_resized_crop = 1;
    cfg.rrc_scale_min = cfg.rrc_scale_max = 1.0f;
    cfg.rrc_ratio_min = cfg.rrc_ratio_max = 1.0f;
    float out[3 * 64];
    ck_assert_rt(app_augment_apply(&cfg, &img, 3, 0, 0, out));
    ck_assert_rt(app_image_resize(&img, 8, 8, &ref));
    ck_assert(matches_shift(out, &ref, 8, 8, 0, 0));

    /* With the default ranges the output differs across epochs but not across calls. */
    app_augment_defaults(&cfg, 8, 8);
    cfg.random_resized_crop = 1;
    float a[3 * 64], b[3 * 64], c[3 * 64];
    ck_assert_rt(app_augment_apply(&cfg, &img, 3, 0, 4, a));
    ck_assert_rt(app_augment_apply(&cfg, &img, 3, 0, 4, b));
    ck_assert_rt(app_augment_apply(&cfg, &img, 3, 1, 4, c));
    ck_assert_mem_eq(a, b, sizeof(a));
    ck_assert_int_ne(memcmp(a, c, sizeof(a)), 0);
    app_image_free(&img);
    app_image_free(&ref);
}
END_TEST

START_TEST(augment_erasing_one_box)
{
    app_image img = {0};
    ck_assert_rt(app_image_alloc(&img, 20, 20, 3));
    memset(img.data, 200, 20 * 20 * 3);
    app_augment_config cfg;
    app_augment_defaults(&cfg, 20, 20);
    cfg.erase_prob = 1.0f;
    cfg.erase_value = -5.0f;
    float out[3 * 400];
    ck_assert_rt(app_augment_apply(&cfg, &img, 9, 0, 1, out));
    int erased = 0, x0 = 20, x1 = -1, y0 = 20, y1 = -1;
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 20; x++) {
            float v = out[y * 20 + x];
            ck_assert(v == -5.0f || fabsf(v - 200 / 255.0f) < 1e-6f);
            if (v == -5.0f) {
                erased++;
                x0 = x < x0 ? x : x0;
                x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0;
                y1 = y > y1 ? y : y1;
                ck_assert_float_eq(out[400 + y * 20 + x], -5.0f);
            }
        }
    ck_assert_int_gt(erased, 0);
    /* The erased pixels form one rectangle of at most about a third of the image. */
    ck_assert_int_eq(erased, (x1 - x0 + 1) * (y1 - y0 + 1));
    ck_assert_int_le(erased, 140);
    app_image_free(&img);
}
END_TEST

START_TEST(augment_rejects_bad_config)
{
    app_image img = {0};
    fixture_pattern(&img, 4, 4, 3, 1);
    app_augment_config cfg;
    float out[48];
    app_augment_defaults(&cfg, 0, 4);
    ck_assert_int_eq(app_augment_apply(&cfg, &img, 1, 0, 0, out), RT_ERR_INVALID);
    ck_assert_error_mentions("out_w = 0");
    app_augment_defaults(&cfg, 4, 4);
    cfg.std[1] = 0.0f;
    ck_assert_int_eq(app_augment_validate(&cfg), RT_ERR_INVALID);
    ck_assert_error_mentions("std");
    app_augment_defaults(&cfg, 8, 8);
    cfg.random_crop = 1;
    ck_assert_int_eq(app_augment_apply(&cfg, &img, 1, 0, 0, out), RT_ERR_INVALID);
    ck_assert_error_mentions("does not fit");
    app_augment_defaults(&cfg, 4, 4);
    cfg.out_channels = 1;
    ck_assert_int_eq(app_augment_apply(&cfg, &img, 1, 0, 0, out), RT_ERR_INVALID);
    ck_assert_error_mentions("out_channels");
    app_image_free(&img);
}
END_TEST

/* ---- samplers ---- */

static int is_permutation(const int32_t *x, int32_t n)
{
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int32_t i = 0; i < n && ok; i++) {
        ok = x[i] >= 0 && x[i] < n && !seen[x[i]];
        if (ok)
            seen[x[i]] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(shuffle_sampler_seeded_permutation)
{
    enum { N = 257 };
    app_sampler *s = NULL, *t = NULL;
    ck_assert_rt(app_sampler_create_shuffle(N, 11, &s));
    ck_assert_rt(app_sampler_create_shuffle(N, 11, &t));
    int32_t a[N], b[N], c[N];
    ck_assert_int_eq(app_sampler_epoch_length(s), N);
    ck_assert_rt(app_sampler_epoch_indices(s, 3, a));
    ck_assert_rt(app_sampler_epoch_indices(t, 3, b));
    ck_assert_rt(app_sampler_epoch_indices(s, 4, c));
    ck_assert(is_permutation(a, N));
    ck_assert(is_permutation(c, N));
    ck_assert_mem_eq(a, b, sizeof(a));
    ck_assert_int_ne(memcmp(a, c, sizeof(a)), 0);
    app_sampler_free(s);
    app_sampler_free(t);

    ck_assert_rt(app_sampler_create_sequential(5, &s));
    int32_t seq[5];
    ck_assert_rt(app_sampler_epoch_indices(s, 7, seq));
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(seq[i], i);
    app_sampler_free(s);
}
END_TEST

START_TEST(sampler_state_round_trip)
{
    app_sampler *s = NULL, *t = NULL, *pk = NULL;
    int32_t labels[40];
    for (int i = 0; i < 40; i++)
        labels[i] = i % 4;
    ck_assert_rt(app_sampler_create_shuffle(40, 5, &s));
    ck_assert_rt(app_sampler_create_shuffle(40, 0, &t));
    ck_assert_rt(app_sampler_create_pk(labels, 40, 4, 2, 3, 5, &pk));
    app_sampler_set_epoch(s, 6);
    app_sampler_advance(s, 17);
    app_sampler_state saved = app_sampler_get_state(s);
    ck_assert_int_eq(saved.epoch, 6);
    ck_assert_int_eq(saved.position, 17);
    ck_assert_rt(app_sampler_set_state(t, &saved));
    app_sampler_state restored = app_sampler_get_state(t);
    ck_assert_mem_eq(&restored, &saved, sizeof(saved));
    int32_t a[40], b[40];
    ck_assert_rt(app_sampler_epoch_indices(s, 6, a));
    ck_assert_rt(app_sampler_epoch_indices(t, 6, b));
    ck_assert_mem_eq(a, b, sizeof(a));

    ck_assert_int_eq(app_sampler_set_state(pk, &saved), RT_ERR_INVALID);
    ck_assert_error_mentions("same sampler setting");
    saved.position = 41;
    ck_assert_int_eq(app_sampler_set_state(t, &saved), RT_ERR_INVALID);
    ck_assert_error_mentions("position 41");
    app_sampler_free(s);
    app_sampler_free(t);
    app_sampler_free(pk);
}
END_TEST

START_TEST(pk_sampler_balanced_batches)
{
    enum { N = 103, C = 6, P = 3, K = 4 };
    int32_t labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = (i * 5) % C;
    labels[0] = 5; /* class 5 stays small but non-empty */
    app_sampler *s = NULL;
    ck_assert_rt(app_sampler_create_pk(labels, N, C, P, K, 21, &s));
    ck_assert_int_eq(app_sampler_batch_size(s), P * K);
    int64_t len = app_sampler_epoch_length(s);
    ck_assert_int_eq(len, (N / (P * K)) * P * K);
    int32_t *idx = malloc((size_t)len * sizeof(int32_t));
    ck_assert_rt(app_sampler_epoch_indices(s, 0, idx));
    for (int64_t b = 0; b < len / (P * K); b++) {
        const int32_t *batch = idx + b * P * K;
        for (int p = 0; p < P; p++) {
            int32_t cls = labels[batch[p * K]];
            for (int k = 0; k < K; k++)
                ck_assert_int_eq(labels[batch[p * K + k]], cls);
            for (int q = 0; q < p; q++)
                ck_assert_int_ne(labels[batch[q * K]], cls);
        }
    }
    free(idx);
    app_sampler_free(s);

    ck_assert_int_eq(app_sampler_create_pk(labels, N, 10, 11, 2, 1, &s), RT_ERR_INVALID);
    ck_assert_int_eq(app_sampler_create_pk(labels, N, C, 7, 2, 1, &s), RT_ERR_INVALID);
    ck_assert_error_mentions("needs 7 classes");
}
END_TEST

/* ---- loader ---- */

/* A CIFAR-10 fixture with n training records (all in data_batch_1 plus one per other batch). */
static app_dataset *open_cifar(int32_t n)
{
    uint8_t *labels = malloc((size_t)n);
    for (int32_t i = 0; i < n; i++)
        labels[i] = (uint8_t)((i * 3) % 10);
    char name[64];
    for (int b = 1; b <= 5; b++) {
        snprintf(name, sizeof(name), "c10/data_batch_%d.bin", b);
        fixture_cifar_batch(name, b == 1 ? n - 4 : 1, 1, labels);
    }
    free(labels);
    app_dataset *ds = NULL;
    ck_assert_rt(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds));
    ck_assert_int_eq(ds->count, n);
    return ds;
}

static app_loader_config train_config(int32_t batch, int32_t threads, int32_t depth)
{
    app_loader_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.batch_size = batch;
    cfg.num_threads = threads;
    cfg.queue_depth = depth;
    cfg.seed = 1234;
    app_augment_defaults(&cfg.augment, 32, 32);
    cfg.augment.random_crop = 1;
    cfg.augment.crop_pad = 4;
    cfg.augment.flip_prob = 0.5f;
    return cfg;
}

/* Runs one epoch and returns all images, labels and indices concatenated (malloc'd). */
static int64_t run_epoch(app_loader *ld, float **images, int32_t **labels, int32_t **indices)
{
    size_t floats = 3 * 32 * 32, cap = 1024, n = 0;
    *images = malloc(cap * floats * sizeof(float));
    *labels = malloc(cap * sizeof(int32_t));
    *indices = malloc(cap * sizeof(int32_t));
    ck_assert_rt(app_loader_start_epoch(ld));
    const app_batch *b;
    double wait;
    for (;;) {
        ck_assert_rt(app_loader_next(ld, &b, &wait));
        if (!b)
            break;
        ck_assert(wait >= 0.0);
        ck_assert_int_eq(b->channels, 3);
        ck_assert_int_eq(b->height, 32);
        ck_assert_uint_le(n + (size_t)b->size, cap);
        memcpy(*images + n * floats, b->images, (size_t)b->size * floats * sizeof(float));
        memcpy(*labels + n, b->labels, (size_t)b->size * sizeof(int32_t));
        memcpy(*indices + n, b->indices, (size_t)b->size * sizeof(int32_t));
        n += (size_t)b->size;
    }
    return (int64_t)n;
}

START_TEST(loader_matches_direct_augment)
{
    app_dataset *ds = open_cifar(45);
    app_sampler *s = NULL;
    ck_assert_rt(app_sampler_create_shuffle(ds->count, 8, &s));
    app_loader_config cfg = train_config(8, 3, 2);
    app_loader *ld = NULL;
    ck_assert_rt(app_loader_create(ds, s, &cfg, &ld));
    float *images;
    int32_t *labels, *indices;
    app_sampler_set_epoch(s, 2);
    int64_t n = run_epoch(ld, &images, &labels, &indices);
    ck_assert_int_eq(n, 45);
    ck_assert_int_eq(app_loader_epoch_batches(ld), 6);
    int32_t order[45];
    ck_assert_rt(app_sampler_epoch_indices(s, 2, order));
    ck_assert_mem_eq(indices, order, sizeof(order));
    /* The epoch ended, so the sampler moved on. */
    ck_assert_int_eq(app_sampler_get_state(s).epoch, 3);
    ck_assert_int_eq(app_sampler_get_state(s).position, 0);
    float expected[3 * 32 * 32];
    for (int i = 0; i < 45; i++) {
        ck_assert_int_eq(labels[i], ds->labels[indices[i]]);
        app_image img = {0};
        ck_assert_rt(app_dataset_load(ds, indices[i], &img));
        ck_assert_rt(app_augment_apply(&cfg.augment, &img, cfg.seed, 2, indices[i], expected));
        ck_assert_mem_eq(images + (size_t)i * 3072, expected, sizeof(expected));
        app_image_free(&img);
    }
    free(images);
    free(labels);
    free(indices);
    app_loader_destroy(ld);
    app_sampler_free(s);
    app_dataset_free(ds);
}
END_TEST

START_TEST(loader_same_batches_any_threads)
{
    app_dataset *ds = open_cifar(40);
    float *img1, *img4;
    int32_t *lab1, *lab4, *idx1, *idx4;
    app_sampler *s1 = NULL, *s4 = NULL;
    ck_assert_rt(app_sampler_create_shuffle(ds->count, 3, &s1));
    ck_assert_rt(app_sampler_create_shuffle(ds->count, 3, &s4));
    app_loader_config c1 = train_config(7, 1, 1), c4 = train_config(7, 4, 3);
    app_loader *l1 = NULL, *l4 = NULL;
    ck_assert_rt(app_loader_create(ds, s1, &c1, &l1));
    ck_assert_rt(app_loader_create(ds, s4, &c4, &l4));
    ck_assert_int_eq(run_epoch(l1, &img1, &lab1, &idx1), 40);
    ck_assert_int_eq(run_epoch(l4, &img4, &lab4, &idx4), 40);
    ck_assert_mem_eq(idx1, idx4, 40 * sizeof(int32_t));
    ck_assert_mem_eq(lab1, lab4, 40 * sizeof(int32_t));
    ck_assert_mem_eq(img1, img4, 40 * 3072 * sizeof(float));
    free(img1);
    free(img4);
    free(lab1);
    free(lab4);
    free(idx1);
    free(idx4);
    app_loader_destroy(l1);
    app_loader_destroy(l4);
    app_sampler_free(s1);
    app_sampler_free(s4);
    app_dataset_free(ds);
}
END_TEST

START_TEST(loader_resume_mid_epoch)
{
    app_dataset *ds = open_cifar(30);
    app_loader_config cfg = train_config(4, 2, 2);
    float *full_img;
    int32_t *full_lab, *full_idx;
    app_sampler *s = NULL;
    app_loader *ld = NULL;
    ck_assert_rt(app_sampler_create_shuffle(ds->count, 99, &s));
    ck_assert_rt(app_loader_create(ds, s, &cfg, &ld));
    ck_assert_int_eq(run_epoch(ld, &full_img, &full_lab, &full_idx), 30);

    /* Interrupted run: consume three batches of epoch 0, save, and stop. */
    app_sampler_set_epoch(s, 0);
    ck_assert_rt(app_loader_start_epoch(ld));
    const app_batch *b;
    for (int i = 0; i < 3; i++) {
        ck_assert_rt(app_loader_next(ld, &b, NULL));
        ck_assert_ptr_nonnull(b);
    }
    app_sampler_state saved = app_sampler_get_state(s);
    ck_assert_int_eq(saved.position, 12);
    ck_assert_int_eq(app_loader_epoch_batches(ld), 8); /* 30 samples in batches of 4 */
    ck_assert_int_eq(app_loader_batches_per_epoch(ld), 8);
    app_loader_destroy(ld);
    app_sampler_free(s);

    /* Resumed run: a fresh sampler and loader continue from the saved state. */
    ck_assert_rt(app_sampler_create_shuffle(ds->count, 0, &s));
    ck_assert_rt(app_sampler_set_state(s, &saved));
    ck_assert_rt(app_loader_create(ds, s, &cfg, &ld));
    ck_assert_int_eq(app_loader_epoch_batches(ld), 5); /* 18 samples left */
    float *rest_img;
    int32_t *rest_lab, *rest_idx;
    ck_assert_int_eq(run_epoch(ld, &rest_img, &rest_lab, &rest_idx), 18);
    ck_assert_mem_eq(rest_idx, full_idx + 12, 18 * sizeof(int32_t));
    ck_assert_mem_eq(rest_img, full_img + 12 * 3072, 18 * 3072 * sizeof(float));
    ck_assert_int_eq(app_sampler_get_state(s).epoch, 1);
    free(full_img);
    free(full_lab);
    free(full_idx);
    free(rest_img);
    free(rest_lab);
    free(rest_idx);
    app_loader_destroy(ld);
    app_sampler_free(s);
    app_dataset_free(ds);
}
END_TEST

START_TEST(loader_reports_corrupt_image)
{
    /* Six good JPEGs and one corrupt file at dataset index 4, read in order. */
    char list[512] = "";
    for (int i = 0; i < 7; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "imgs/c/%d.jpg", i);
        if (i == 4) {
            fixture_write_text(rel, "\xff\xd8\xff not really a jpeg");
        } else {
            app_image img = {0};
            fixture_pattern(&img, 32, 32, 3, (uint32_t)i);
            fixture_write(rel, "", 0);
            ck_assert_rt(app_image_write_jpeg(fixture_path(rel), &img, 90));
            app_image_free(&img);
        }
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "c/%d.jpg %d\n", i, i % 2);
    }
    const char *list_path = fixture_write_text("list.txt", list);
    app_dataset *ds = NULL;
    ck_assert_rt(app_list_open(fixture_path("imgs"), list_path, 0, 2, &ds));
    app_sampler *s = NULL;
    ck_assert_rt(app_sampler_create_sequential(ds->count, &s));
    app_loader_config cfg = train_config(2, 3, 2);
    app_loader *ld = NULL;
    ck_assert_rt(app_loader_create(ds, s, &cfg, &ld));
    ck_assert_rt(app_loader_start_epoch(ld));
    const app_batch *b;
    ck_assert_rt(app_loader_next(ld, &b, NULL));
    ck_assert_ptr_nonnull(b);
    ck_assert_rt(app_loader_next(ld, &b, NULL));
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(app_loader_next(ld, &b, NULL), RT_ERR_FORMAT);
    ck_assert_ptr_null(b);
    ck_assert_error_mentions("sample 4");
    ck_assert_error_mentions("imgs/c/4.jpg");
    /* Epochs and batches are numbered from 1, as in the trainer's progress lines. */
    ck_assert_error_mentions("epoch 1 batch 3:");
    /* The error repeats until the next epoch starts. */
    ck_assert_int_eq(app_loader_next(ld, &b, NULL), RT_ERR_FORMAT);
    app_loader_destroy(ld);
    app_sampler_free(s);
    app_dataset_free(ds);
}
END_TEST

START_TEST(loader_with_pk_sampler)
{
    app_dataset *ds = open_cifar(60);
    app_sampler *pk = NULL;
    ck_assert_rt(app_sampler_create_pk(ds->labels, ds->count, 10, 3, 2, 4, &pk));
    app_loader_config cfg = train_config(6, 2, 2);
    app_loader *ld = NULL;
    ck_assert_rt(app_loader_create(ds, pk, &cfg, &ld));
    ck_assert_int_eq(app_loader_batches_per_epoch(ld), 10);
    ck_assert_rt(app_loader_start_epoch(ld));
    const app_batch *b;
    int batches = 0;
    for (;;) {
        ck_assert_rt(app_loader_next(ld, &b, NULL));
        if (!b)
            break;
        ck_assert_int_eq(b->size, 6);
        for (int p = 0; p < 3; p++) {
            ck_assert_int_eq(b->labels[2 * p], b->labels[2 * p + 1]);
            ck_assert_int_eq(b->labels[2 * p], ds->labels[b->indices[2 * p]]);
            for (int q = 0; q < p; q++)
                ck_assert_int_ne(b->labels[2 * q], b->labels[2 * p]);
        }
        batches++;
    }
    ck_assert_int_eq(batches, 10);
    app_loader_destroy(ld);
    app_sampler_free(pk);
    app_dataset_free(ds);
}
END_TEST

START_TEST(loader_misuse_and_early_destroy)
{
    app_dataset *ds = open_cifar(24);
    app_sampler *s = NULL, *pk = NULL;
    ck_assert_rt(app_sampler_create_shuffle(ds->count, 1, &s));
    app_loader_config cfg = train_config(5, 2, 2);
    cfg.drop_last = 1;
    app_loader *ld = NULL;
    ck_assert_rt(app_loader_create(ds, s, &cfg, &ld));
    const app_batch *b;
    ck_assert_int_eq(app_loader_next(ld, &b, NULL), RT_ERR_INVALID);
    ck_assert_error_mentions("app_loader_start_epoch");
    ck_assert_int_eq(app_loader_batches_per_epoch(ld), 4);
    ck_assert_int_eq(app_loader_epoch_batches(ld), 4); /* counted before the epoch starts */
    ck_assert_rt(app_loader_start_epoch(ld));
    ck_assert_int_eq(app_loader_epoch_batches(ld), 4); /* 24 / 5 with the partial batch dropped */
    ck_assert_rt(app_loader_next(ld, &b, NULL));
    ck_assert_int_eq(b->size, 5);
    /* Destroy while workers are still filling the queue. */
    app_loader_destroy(ld);

    ck_assert_rt(app_sampler_create_pk(ds->labels, ds->count, 10, 2, 2, 1, &pk));
    ck_assert_int_eq(app_loader_create(ds, pk, &cfg, &ld), RT_ERR_INVALID);
    ck_assert_error_mentions("p * k");
    cfg.num_threads = 0;
    ck_assert_int_eq(app_loader_create(ds, s, &cfg, &ld), RT_ERR_INVALID);
    ck_assert_error_mentions("num_threads 0");
    ck_assert_error_mentions("data.workers");
    cfg.num_threads = 2;
    cfg.queue_depth = 66;
    ck_assert_int_eq(app_loader_create(ds, s, &cfg, &ld), RT_ERR_INVALID);
    ck_assert_error_mentions("queue_depth 66");
    ck_assert_error_mentions("data.workers to at most 31");
    app_sampler_free(s);
    app_sampler_free(pk);
    app_dataset_free(ds);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, augment_identity_is_chw_unit);
    tcase_add_test(tc, augment_normalises_per_channel);
    tcase_add_test(tc, augment_gray_input_to_rgb);
    tcase_add_test(tc, augment_crop_is_padded_window);
    tcase_add_test(tc, augment_flip_mirrors);
    tcase_add_test(tc, augment_translation_bounded);
    tcase_add_test(tc, augment_resized_crop_full_is_resize);
    tcase_add_test(tc, augment_erasing_one_box);
    tcase_add_test(tc, augment_rejects_bad_config);
    tcase_add_test(tc, shuffle_sampler_seeded_permutation);
    tcase_add_test(tc, sampler_state_round_trip);
    tcase_add_test(tc, pk_sampler_balanced_batches);
    tcase_add_test(tc, loader_matches_direct_augment);
    tcase_add_test(tc, loader_same_batches_any_threads);
    tcase_add_test(tc, loader_resume_mid_epoch);
    tcase_add_test(tc, loader_reports_corrupt_image);
    tcase_add_test(tc, loader_with_pk_sampler);
    tcase_add_test(tc, loader_misuse_and_early_destroy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(loader_suite());
}
