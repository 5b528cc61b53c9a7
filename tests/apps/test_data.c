/*
 * Dataset readers and image codecs: tiny fixtures written in each test, plus
 * real-data checks when the shared data folder exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "apps/app_augment.h"
#include "apps/app_data.h"
#include "apps/app_data_internal.h"
#include "apps/app_image.h"
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

/* ---- images ---- */

START_TEST(png_round_trip_rgb_and_gray)
{
    for (int channels = 1; channels <= 3; channels += 2) {
        app_image img = {0}, back = {0};
        fixture_pattern(&img, 13, 7, channels, 3);
        const char *path = fixture_path(channels == 1 ? "gray.png" : "rgb.png");
        ck_assert_rt(app_image_write_png(path, &img));
        ck_assert_rt(app_image_load(path, &back));
        ck_assert_int_eq(back.width, 13);
        ck_assert_int_eq(back.height, 7);
        ck_assert_int_eq(back.channels, channels);
        ck_assert_mem_eq(back.data, img.data, (size_t)13 * 7 * channels);
        app_image_free(&img);
        app_image_free(&back);
    }
}
END_TEST

START_TEST(jpeg_decodes_close_to_source)
{
    app_image img = {0}, back = {0};
    ck_assert_rt(app_image_alloc(&img, 16, 16, 3));
    /* A smooth gradient survives JPEG at quality 95 within a few levels. */
    for (int i = 0; i < 16 * 16 * 3; i++)
        img.data[i] = (uint8_t)(60 + (i / 3) % 16 * 4 + (i % 3) * 20);
    const char *path = fixture_path("smooth.jpg");
    ck_assert_rt(app_image_write_jpeg(path, &img, 95));
    ck_assert_rt(app_image_load(path, &back));
    ck_assert_int_eq(back.width, 16);
    ck_assert_int_eq(back.channels, 3);
    int worst = 0;
    for (int i = 0; i < 16 * 16 * 3; i++) {
        int d = abs((int)back.data[i] - (int)img.data[i]);
        worst = d > worst ? d : worst;
    }
    ck_assert_int_le(worst, 12);
    app_image_free(&img);
    app_image_free(&back);
}
END_TEST

START_TEST(gray_to_rgb_copies_channel)
{
    app_image img = {0};
    fixture_pattern(&img, 5, 4, 1, 1);
    uint8_t first = img.data[0], last = img.data[19];
    ck_assert_rt(app_image_to_rgb(&img));
    ck_assert_int_eq(img.channels, 3);
    ck_assert_int_eq(img.data[0], first);
    ck_assert_int_eq(img.data[2], first);
    ck_assert_int_eq(img.data[19 * 3 + 1], last);
    app_image_free(&img);
}
END_TEST

START_TEST(corrupt_images_rejected)
{
    app_image img = {0}, out = {0};
    fixture_pattern(&img, 24, 24, 3, 2);
    const char *jpg = fixture_path("full.jpg");
    const char *png = fixture_path("full.png");
    ck_assert_rt(app_image_write_jpeg(jpg, &img, 90));
    ck_assert_rt(app_image_write_png(png, &img));
    uint8_t *bytes;
    size_t size;

    /* Truncated JPEG: libjpeg warns and pads; the reader must report corruption. */
    ck_assert_rt(app_read_file(jpg, &bytes, &size));
    ck_assert_int_eq(app_image_decode(bytes, size / 2, "half.jpg", &out), RT_ERR_FORMAT);
    ck_assert_error_mentions("half.jpg");
    ck_assert_ptr_null(out.data);
    /* A JPEG header followed by garbage. */
    memset(bytes + 20, 0x55, size - 20);
    ck_assert_int_eq(app_image_decode(bytes, size, "garbage.jpg", &out), RT_ERR_FORMAT);
    ck_assert_error_mentions("garbage.jpg");
    free(bytes);

    ck_assert_rt(app_read_file(png, &bytes, &size));
    ck_assert_int_eq(app_image_decode(bytes, size - 30, "cut.png", &out), RT_ERR_FORMAT);
    ck_assert_error_mentions("cut.png");
    free(bytes);

    const char *text = fixture_write_text("notes.jpg", "plain text, not an image\n");
    ck_assert_int_eq(app_image_load(text, &out), RT_ERR_FORMAT);
    ck_assert_error_mentions("not a JPEG or PNG");
    ck_assert_int_eq(app_image_load(fixture_path("absent.png"), &out), RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("absent.png");
    app_image_free(&img);
}
END_TEST

START_TEST(resize_bilinear_reference)
{
    /* 2x1 -> 4x1 with half-pixel centres: 10, 30 -> 10, 15, 25, 30. */
    app_image src = {0}, dst = {0};
    ck_assert_rt(app_image_alloc(&src, 2, 1, 1));
    src.data[0] = 10;
    src.data[1] = 30;
    ck_assert_rt(app_image_resize(&src, 4, 1, &dst));
    ck_assert_int_eq(dst.data[0], 10);
    ck_assert_int_eq(dst.data[1], 15);
    ck_assert_int_eq(dst.data[2], 25);
    ck_assert_int_eq(dst.data[3], 30);
    app_image_free(&src);
    app_image_free(&dst);
}
END_TEST

/* ---- CIFAR binary ---- */

static void write_cifar10(int32_t per_batch)
{
    uint8_t labels[64];
    for (int i = 0; i < 64; i++)
        labels[i] = (uint8_t)(i % 10);
    char name[64];
    for (int b = 1; b <= 5; b++) {
        snprintf(name, sizeof(name), "c10/data_batch_%d.bin", b);
        fixture_cifar_batch(name, per_batch, 1, labels);
    }
    fixture_cifar_batch("c10/test_batch.bin", 3, 1, labels);
}

START_TEST(cifar10_reads_hwc_pixels)
{
    write_cifar10(4);
    app_dataset *ds = NULL;
    ck_assert_rt(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds));
    ck_assert_int_eq(ds->count, 20);
    ck_assert_int_eq(ds->num_classes, 10);
    ck_assert_ptr_null(ds->clean_labels);
    ck_assert_int_eq(ds->labels[5], 1); /* record 1 of batch 2 */
    app_image img = {0};
    ck_assert_rt(app_dataset_load(ds, 6, &img));
    ck_assert_int_eq(img.width, 32);
    ck_assert_int_eq(img.channels, 3);
    /* Sample 6 is record 2 of data_batch_2; pixel (y 5, x 9), channel 2. */
    ck_assert_int_eq(img.data[(5 * 32 + 9) * 3 + 2], fixture_cifar_pixel(2, 2, 5, 9));
    app_image_free(&img);
    char where[256];
    app_dataset_describe(ds, 6, where, sizeof(where));
    ck_assert_msg(strstr(where, "data_batch_2.bin record 2") != NULL, "describe: %s", where);
    app_dataset_free(ds);

    ck_assert_rt(app_cifar_open_flags(fixture_path("c10"), 10, 0, APP_CIFAR_ALLOW_PARTIAL, &ds));
    ck_assert_int_eq(ds->count, 3);
    app_dataset_free(ds);
}
END_TEST

START_TEST(cifar_missing_file_named)
{
    write_cifar10(2);
    remove(fixture_path("c10/data_batch_4.bin"));
    app_dataset *ds = NULL;
    ck_assert_int_eq(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds),
                     RT_ERR_NOT_FOUND);
    ck_assert_ptr_null(ds);
    ck_assert_error_mentions("data_batch_4.bin");
    ck_assert_error_mentions("CIFAR-10 training file missing");
}
END_TEST

START_TEST(cifar_truncated_batch_rejected)
{
    write_cifar10(2);
    /* Chop the last record in half. */
    uint8_t *bytes;
    size_t size;
    ck_assert_rt(app_read_file(fixture_path("c10/data_batch_3.bin"), &bytes, &size));
    fixture_write("c10/data_batch_3.bin", bytes, size - 1500);
    free(bytes);
    app_dataset *ds = NULL;
    ck_assert_int_eq(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds),
                     RT_ERR_FORMAT);
    ck_assert_error_mentions("data_batch_3.bin");
    ck_assert_error_mentions("4646 bytes");
    ck_assert_error_mentions("truncated");
}
END_TEST

START_TEST(cifar_record_count_checked)
{
    write_cifar10(2);
    app_dataset *ds = NULL;
    ck_assert_int_eq(app_cifar_open(fixture_path("c10"), 10, 1, &ds), RT_ERR_FORMAT);
    ck_assert_ptr_null(ds);
    ck_assert_error_mentions("data_batch_1.bin");
    ck_assert_error_mentions("has 2 records");
    ck_assert_error_mentions("has 10000");
    ck_assert_error_mentions("data.allow_partial_cifar");
    ck_assert_int_eq(app_cifar_open(fixture_path("c10"), 10, 0, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("test_batch.bin");
    ck_assert_int_eq(app_cifar100_coarse_open(fixture_path("c10"), 1, &ds), RT_ERR_NOT_FOUND);
    ck_assert_int_eq(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_COARSE, &ds),
                     RT_ERR_INVALID);
    ck_assert_rt(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds));
    ck_assert_int_eq(ds->count, 10);
    app_dataset_free(ds);
}
END_TEST

START_TEST(cifar_label_out_of_range)
{
    write_cifar10(2);
    uint8_t labels[2] = {3, 10};
    fixture_cifar_batch("c10/data_batch_5.bin", 2, 1, labels);
    app_dataset *ds = NULL;
    ck_assert_int_eq(app_cifar_open_flags(fixture_path("c10"), 10, 1, APP_CIFAR_ALLOW_PARTIAL, &ds),
                     RT_ERR_FORMAT);
    ck_assert_error_mentions("label 10");
    ck_assert_error_mentions("data_batch_5.bin record 1");
}
END_TEST

START_TEST(cifar100_fine_and_coarse)
{
    uint8_t labels[6] = {4, 55, 19, 99, 0, 1}; /* (coarse, fine) pairs */
    fixture_cifar_batch("c100/train.bin", 3, 2, labels);
    app_dataset *fine = NULL, *coarse = NULL;
    ck_assert_rt(
        app_cifar_open_flags(fixture_path("c100"), 100, 1, APP_CIFAR_ALLOW_PARTIAL, &fine));
    ck_assert_rt(app_cifar_open_flags(fixture_path("c100"), 100, 1,
                                      APP_CIFAR_COARSE | APP_CIFAR_ALLOW_PARTIAL, &coarse));
    ck_assert_int_eq(fine->num_classes, 100);
    ck_assert_int_eq(fine->labels[1], 99);
    ck_assert_int_eq(coarse->num_classes, 20);
    ck_assert_int_eq(coarse->labels[1], 19);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(fine, 2, &img));
    ck_assert_int_eq(img.data[0], fixture_cifar_pixel(2, 0, 0, 0));
    app_image_free(&img);
    app_dataset_free(fine);
    app_dataset_free(coarse);
}
END_TEST

/* ---- JPEG pack ---- */

START_TEST(jpgpack_reads_offsets)
{
    char index[512] = "index,label,offset,length,source_path\n";
    FILE *pack = fopen(fixture_path("pack.bin"), "wb");
    ck_assert_ptr_nonnull(pack);
    size_t offset = 0;
    for (int i = 0; i < 3; i++) {
        app_image img = {0};
        fixture_pattern(&img, 8 + i, 8, 3, (uint32_t)i);
        ck_assert_rt(app_image_write_jpeg(fixture_path("one.jpg"), &img, 90));
        uint8_t *bytes;
        size_t size;
        ck_assert_rt(app_read_file(fixture_path("one.jpg"), &bytes, &size));
        fwrite(bytes, 1, size, pack);
        snprintf(index + strlen(index), sizeof(index) - strlen(index), "%d,%d,%zu,%zu,x/%d.jpg\n",
                 i, 2 * i, offset, size, i);
        offset += size;
        free(bytes);
        app_image_free(&img);
    }
    fclose(pack);
    const char *csv = fixture_write_text("pack.csv", index);
    app_dataset *ds = NULL;
    ck_assert_rt(app_jpgpack_open(fixture_path("pack.bin"), csv, 10, &ds));
    ck_assert_int_eq(ds->count, 3);
    ck_assert_int_eq(ds->labels[2], 4);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(ds, 2, &img));
    ck_assert_int_eq(img.width, 10);
    app_image_free(&img);
    app_dataset_free(ds);

    /* An offset past the end of the pack is rejected with the line. */
    char *row = strstr(index, "\n2,4,");
    snprintf(row + 1, 40, "2,4,%zu,10,x\n", offset);
    csv = fixture_write_text("bad.csv", index);
    ck_assert_int_eq(app_jpgpack_open(fixture_path("pack.bin"), csv, 10, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("line 4");
    ck_assert_error_mentions("beyond the end");
}
END_TEST

/* ---- list files (PACS) ---- */

static void write_pacs_fixture(void)
{
    app_image rgb = {0}, gray = {0};
    fixture_pattern(&rgb, 20, 20, 3, 1);
    fixture_pattern(&gray, 20, 20, 1, 2);
    /* Empty placeholder files create the folders; the writers then replace them. */
    fixture_write("pacs/art_painting/dog/pic_001.jpg", "", 0);
    fixture_write("pacs/sketch/person/s1.png", "", 0);
    ck_assert_rt(app_image_write_jpeg(fixture_path("pacs/art_painting/dog/pic_001.jpg"), &rgb, 90));
    ck_assert_rt(app_image_write_png(fixture_path("pacs/sketch/person/s1.png"), &gray));
    app_image_free(&rgb);
    app_image_free(&gray);
}

START_TEST(pacs_list_loads_rgb)
{
    write_pacs_fixture();
    const char *list = fixture_write_text("list.txt", "art_painting/dog/pic_001.jpg 1\r\n"
                                                      "\n"
                                                      "sketch/person/s1.png 7\n");
    app_dataset *ds = NULL;
    ck_assert_rt(app_pacs_open(fixture_path("pacs"), list, &ds));
    ck_assert_int_eq(ds->count, 2);
    ck_assert_int_eq(ds->num_classes, 7);
    ck_assert_int_eq(ds->labels[0], 0);
    ck_assert_int_eq(ds->labels[1], 6);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(ds, 1, &img));
    ck_assert_int_eq(img.channels, 3); /* gray sketch expanded */
    ck_assert_int_eq(img.width, 20);
    app_image_free(&img);
    char where[256];
    app_dataset_describe(ds, 1, where, sizeof(where));
    ck_assert_msg(strstr(where, "pacs/sketch/person/s1.png") != NULL, "describe: %s", where);
    app_dataset_free(ds);
}
END_TEST

START_TEST(list_bad_files_rejected)
{
    app_dataset *ds = NULL;
    const char *empty = fixture_write_text("empty.txt", "\n  \n");
    ck_assert_int_eq(app_pacs_open(fixture_path("pacs"), empty, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("no entries");

    const char *no_label = fixture_write_text("nolabel.txt", "a/b.jpg 1\nc/d.jpg\n");
    ck_assert_int_eq(app_pacs_open(fixture_path("pacs"), no_label, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("line 2");
    ck_assert_error_mentions("malformed");

    const char *word = fixture_write_text("word.txt", "a/b.jpg dog\n");
    ck_assert_int_eq(app_pacs_open(fixture_path("pacs"), word, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("not an integer");

    const char *range = fixture_write_text("range.txt", "a/b.jpg 1\na/c.jpg 0\n");
    ck_assert_int_eq(app_pacs_open(fixture_path("pacs"), range, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("label 0 is out of range 1..7");

    ck_assert_int_eq(app_pacs_open(fixture_path("pacs"), fixture_path("nope.txt"), &ds),
                     RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("nope.txt");
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(list_missing_image_named)
{
    const char *list = fixture_write_text("list.txt", "photo/dog/missing.jpg 1\n");
    app_dataset *ds = NULL;
    ck_assert_rt(app_pacs_open(fixture_path("pacs"), list, &ds));
    app_image img = {0};
    ck_assert_int_eq(app_dataset_load(ds, 0, &img), RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("photo/dog/missing.jpg");
    ck_assert_int_eq(app_dataset_load(ds, 1, &img), RT_ERR_INVALID);
    ck_assert_error_mentions("index 1 is out of range");
    app_dataset_free(ds);
}
END_TEST

static void write_rafdb_fixture(void);

START_TEST(check_files_names_missing_lines)
{
    write_pacs_fixture();
    char text[1024] = "art_painting/dog/pic_001.jpg 1\n\n";
    for (int i = 0; i < 7; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "photo/dog/gone_%d.jpg 1\n", i);
    const char *list = fixture_write_text("list.txt", text);
    app_dataset *ds = NULL;
    ck_assert_rt(app_pacs_open(fixture_path("pacs"), list, &ds));
    ck_assert_int_eq(app_dataset_check_files(ds), RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("7 of 8 images");
    ck_assert_error_mentions("list.txt");
    ck_assert_error_mentions("line 3: ");
    ck_assert_error_mentions("photo/dog/gone_0.jpg (not found)");
    ck_assert_error_mentions("line 7: ");
    ck_assert_msg(strstr(rt_last_error(), "gone_5.jpg") == NULL, "only 5 are named: %s",
                  rt_last_error());
    app_dataset_free(ds);

    list = fixture_write_text("good.txt", "art_painting/dog/pic_001.jpg 1\n");
    ck_assert_rt(app_pacs_open(fixture_path("pacs"), list, &ds));
    ck_assert_rt(app_dataset_check_files(ds));
    app_dataset_free(ds);

    write_rafdb_fixture();
    remove(fixture_path("raf/Image/aligned/train_00003_aligned.jpg"));
    ck_assert_rt(app_rafdb_open(fixture_path("raf"), 1, NULL, &ds));
    ck_assert_int_eq(app_dataset_check_files(ds), RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("1 of 3 images");
    ck_assert_error_mentions("line 4: ");
    ck_assert_error_mentions("train_00003_aligned.jpg");
    app_dataset_free(ds);
}
END_TEST

/* ---- RAF-DB ---- */

static void write_rafdb_fixture(void)
{
    fixture_write_text("raf/EmoLabel/list_patition_label.txt", "train_00001.jpg 5\n"
                                                               "train_00002.jpg 1\n"
                                                               "test_0001.jpg 7\n"
                                                               "train_00003.jpg 4\n");
    const char *names[] = {"train_00001", "train_00002", "train_00003", "test_0001"};
    for (int i = 0; i < 4; i++) {
        app_image img = {0};
        fixture_pattern(&img, 12, 12, 3, (uint32_t)i);
        char rel[128];
        snprintf(rel, sizeof(rel), "raf/Image/aligned/%s_aligned.jpg", names[i]);
        fixture_write(rel, "", 0);
        ck_assert_rt(app_image_write_jpeg(fixture_path(rel), &img, 90));
        app_image_free(&img);
    }
}

START_TEST(rafdb_splits_and_paths)
{
    write_rafdb_fixture();
    app_dataset *train = NULL, *test = NULL;
    ck_assert_rt(app_rafdb_open(fixture_path("raf"), 1, NULL, &train));
    ck_assert_rt(app_rafdb_open(fixture_path("raf"), 0, NULL, &test));
    ck_assert_int_eq(train->count, 3);
    ck_assert_int_eq(test->count, 1);
    ck_assert_int_eq(train->labels[0], 4);
    ck_assert_int_eq(train->labels[2], 3);
    ck_assert_int_eq(test->labels[0], 6);
    char where[256];
    app_dataset_describe(train, 2, where, sizeof(where));
    ck_assert_msg(strstr(where, "Image/aligned/train_00003_aligned.jpg") != NULL, "describe: %s",
                  where);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(test, 0, &img));
    ck_assert_int_eq(img.width, 12);
    app_image_free(&img);
    app_dataset_free(train);
    app_dataset_free(test);
}
END_TEST

START_TEST(rafdb_noisy_labels)
{
    write_rafdb_fixture();
    const char *noisy = fixture_write_text("noisy10.txt", "train_00003.jpg 2\n"
                                                          "train_00001.jpg 5\n"
                                                          "train_00002.jpg 6\n");
    app_dataset *ds = NULL;
    ck_assert_rt(app_rafdb_open(fixture_path("raf"), 1, noisy, &ds));
    ck_assert_ptr_nonnull(ds->clean_labels);
    ck_assert_int_eq(ds->labels[1], 5);
    ck_assert_int_eq(ds->clean_labels[1], 0);
    ck_assert_int_eq(ds->labels[2], 1);
    ck_assert_double_eq_tol(app_dataset_noise_rate(ds), 2.0 / 3.0, 1e-12);
    app_dataset_free(ds);

    const char *partial = fixture_write_text("partial.txt", "train_00001.jpg 5\n");
    ck_assert_int_eq(app_rafdb_open(fixture_path("raf"), 1, partial, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("no line for 'train_00002.jpg'");

    const char *range = fixture_write_text("range.txt", "train_00001.jpg 8\n");
    ck_assert_int_eq(app_rafdb_open(fixture_path("raf"), 1, range, &ds), RT_ERR_FORMAT);
    ck_assert_error_mentions("range.txt line 1");
}
END_TEST

/* ---- Office-Home ---- */

START_TEST(officehome_sorted_classes)
{
    const char *files[] = {"oh/Art/Mug/b.jpg", "oh/Art/Mug/a.png", "oh/Art/Alarm_Clock/x.jpg",
                           "oh/Art/Bike/y.jpg"};
    for (int i = 0; i < 4; i++) {
        app_image img = {0};
        fixture_pattern(&img, 6, 6, 3, (uint32_t)i);
        fixture_write(files[i], "", 0);
        if (strstr(files[i], ".png"))
            ck_assert_rt(app_image_write_png(fixture_path(files[i]), &img));
        else
            ck_assert_rt(app_image_write_jpeg(fixture_path(files[i]), &img, 90));
        app_image_free(&img);
    }
    fixture_write_text("oh/Art/Mug/readme.txt", "not an image\n");
    app_dataset *ds = NULL;
    ck_assert_rt(app_officehome_open(fixture_path("oh"), "Art", &ds));
    ck_assert_int_eq(ds->num_classes, 3);
    ck_assert_int_eq(ds->count, 4);
    /* Classes sorted: Alarm_Clock 0, Bike 1, Mug 2; files sorted within a class. */
    ck_assert_int_eq(ds->labels[0], 0);
    ck_assert_int_eq(ds->labels[1], 1);
    ck_assert_int_eq(ds->labels[2], 2);
    ck_assert_int_eq(ds->labels[3], 2);
    char where[256];
    app_dataset_describe(ds, 2, where, sizeof(where));
    ck_assert_msg(strstr(where, "Art/Mug/a.png") != NULL, "describe: %s", where);
    app_dataset_free(ds);

    ck_assert_int_eq(app_officehome_open(fixture_path("oh"), "Clipart", &ds), RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("oh/Clipart");
}
END_TEST

/* Writes one small JPEG to dir/name under the fixture folder. */
static void write_small_jpeg(const char *name, uint32_t seed)
{
    app_image img = {0};
    fixture_pattern(&img, 6, 6, 3, seed);
    fixture_write(name, "", 0);
    ck_assert_rt(app_image_write_jpeg(fixture_path(name), &img, 90));
    app_image_free(&img);
}

START_TEST(officehome_domains_share_labels)
{
    /* Clipart lacks the Bike folder, so per-domain numbering would shift Mug from 2 to 1. */
    write_small_jpeg("oh/Art/Alarm_Clock/a.jpg", 1);
    write_small_jpeg("oh/Art/Bike/b.jpg", 2);
    write_small_jpeg("oh/Art/Mug/c.jpg", 3);
    write_small_jpeg("oh/Clipart/Alarm_Clock/d.jpg", 4);
    write_small_jpeg("oh/Clipart/Mug/e.jpg", 5);
    app_dataset *art = NULL, *clip = NULL;
    ck_assert_rt(app_officehome_open(fixture_path("oh"), "Art", &art));
    ck_assert_rt(app_officehome_open(fixture_path("oh"), "Clipart", &clip));
    ck_assert_int_eq(app_officehome_check_classes(art, clip), RT_ERR_FORMAT);
    ck_assert_error_mentions("'Bike'");
    ck_assert_error_mentions("missing from officehome:Clipart");
    ck_assert_int_eq(app_officehome_check_classes(clip, art), RT_ERR_FORMAT);
    ck_assert_error_mentions("'Bike'");
    ck_assert_rt(app_officehome_check_classes(art, art));
    ck_assert_int_eq(app_officehome_check_classes(art, NULL), RT_ERR_INVALID);
    app_dataset_free(clip);

    const char *const domains[] = {"Art", "Clipart"};
    ck_assert_rt(app_officehome_open_domains(fixture_path("oh"), "Clipart", domains, 2, &clip));
    ck_assert_int_eq(clip->num_classes, 3);
    ck_assert_int_eq(clip->count, 2);
    ck_assert_int_eq(clip->labels[0], 0); /* Alarm_Clock */
    ck_assert_int_eq(clip->labels[1], 2); /* Mug keeps label 2 */
    ck_assert_rt(app_dataset_check_files(clip));
    app_dataset_free(clip);

    /* A class folder outside the listed domains' class list is rejected by name. */
    write_small_jpeg("oh/Product/Lamp/f.jpg", 6);
    app_dataset *product = NULL;
    ck_assert_int_eq(
        app_officehome_open_domains(fixture_path("oh"), "Product", domains, 2, &product),
        RT_ERR_FORMAT);
    ck_assert_error_mentions("'Lamp'");
    ck_assert_ptr_null(product);
    app_dataset_free(art);
}
END_TEST

/* ---- IDX and digits ---- */

static size_t make_idx(uint8_t *images, uint8_t *labels, uint32_t n, uint8_t bad_label)
{
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)n, 0, 0, 0, 4, 0, 0, 0, 3};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)n};
    memcpy(images, ih, 16);
    memcpy(labels, lh, 8);
    for (uint32_t i = 0; i < n * 12; i++)
        images[16 + i] = (uint8_t)(i * 5);
    for (uint32_t i = 0; i < n; i++)
        labels[8 + i] = (uint8_t)(i % 10);
    if (bad_label)
        labels[8 + n - 1] = bad_label;
    return 16 + n * 12;
}

START_TEST(idx_reads_plain_and_gzip)
{
    uint8_t images[16 + 5 * 12], labels[8 + 5];
    size_t isize = make_idx(images, labels, 5, 0);
    fixture_write("train-images-idx3-ubyte", images, isize);
    fixture_write("train-labels-idx1-ubyte", labels, sizeof(labels));
    gzFile gz = gzopen(fixture_path("images.gz"), "wb");
    gzwrite(gz, images, (unsigned)isize);
    gzclose(gz);
    app_dataset *ds = NULL, *dz = NULL;
    ck_assert_rt(app_idx_open(fixture_path("train-images-idx3-ubyte"),
                              fixture_path("train-labels-idx1-ubyte"), &ds));
    ck_assert_rt(
        app_idx_open(fixture_path("images.gz"), fixture_path("train-labels-idx1-ubyte"), &dz));
    ck_assert_int_eq(ds->count, 5);
    ck_assert_int_eq(ds->channels, 1);
    ck_assert_int_eq(ds->labels[3], 3);
    app_image a = {0}, b = {0};
    ck_assert_rt(app_dataset_load(ds, 2, &a));
    ck_assert_rt(app_dataset_load(dz, 2, &b));
    ck_assert_int_eq(a.width, 3);
    ck_assert_int_eq(a.height, 4);
    ck_assert_int_eq(a.data[1], (uint8_t)((2 * 12 + 1) * 5));
    ck_assert_mem_eq(a.data, b.data, 12);
    app_image_free(&a);
    app_image_free(&b);
    app_dataset_free(ds);
    app_dataset_free(dz);
}
END_TEST

START_TEST(idx_falls_back_to_gz_name)
{
    uint8_t images[16 + 5 * 12], labels[8 + 5];
    size_t isize = make_idx(images, labels, 5, 0);
    gzFile gz = gzopen(fixture_path("train-images-idx3-ubyte.gz"), "wb");
    gzwrite(gz, images, (unsigned)isize);
    gzclose(gz);
    gz = gzopen(fixture_path("train-labels-idx1-ubyte.gz"), "wb");
    gzwrite(gz, labels, (unsigned)sizeof(labels));
    gzclose(gz);
    app_dataset *ds = NULL;
    ck_assert_rt(app_idx_open(fixture_path("train-images-idx3-ubyte"),
                              fixture_path("train-labels-idx1-ubyte"), &ds));
    ck_assert_int_eq(ds->count, 5);
    ck_assert_int_eq(ds->labels[3], 3);
    char where[512];
    app_dataset_describe(ds, 1, where, sizeof(where));
    ck_assert_msg(strstr(where, "train-images-idx3-ubyte.gz") != NULL, "describe: %s", where);
    app_dataset_free(ds);

    ck_assert_int_eq(app_idx_open(fixture_path("t10k-images-idx3-ubyte"),
                                  fixture_path("train-labels-idx1-ubyte"), &ds),
                     RT_ERR_NOT_FOUND);
    ck_assert_error_mentions("t10k-images-idx3-ubyte.gz");
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(idx_bad_files_rejected)
{
    uint8_t images[16 + 5 * 12], labels[8 + 5];
    size_t isize = make_idx(images, labels, 5, 0);
    app_dataset *ds = NULL;
    ck_assert_int_eq(app_idx_from_memory(images, isize - 1, "img", labels, 13, "lab", &ds),
                     RT_ERR_FORMAT);
    ck_assert_error_mentions("truncated");
    ck_assert_int_eq(app_idx_from_memory(labels, 13, "lab", images, isize, "img", &ds),
                     RT_ERR_FORMAT);
    ck_assert_error_mentions("magic 0x00000803");
    ck_assert_int_eq(app_idx_from_memory(images, isize, "img", labels, 12, "lab", &ds),
                     RT_ERR_FORMAT);
    ck_assert_error_mentions("use matching files");
    make_idx(images, labels, 5, 12);
    ck_assert_int_eq(app_idx_from_memory(images, isize, "img", labels, 13, "lab", &ds),
                     RT_ERR_FORMAT);
    ck_assert_error_mentions("label 12 of entry 4");
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(directory_path_rejected)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    ck_assert_int_eq(app_read_file(fixture_dir(), &bytes, &size), RT_ERR_INVALID);
    ck_assert_ptr_null(bytes);
    ck_assert_error_mentions("is a directory, expected a file");
    ck_assert_int_eq(app_read_maybe_gzip(fixture_dir(), &bytes, &size), RT_ERR_INVALID);
    ck_assert_error_mentions("is a directory, expected a file");
    app_dataset *ds = NULL;
    ck_assert_int_eq(app_digits_open(fixture_dir(), &ds), RT_ERR_INVALID);
    ck_assert_error_mentions("is a directory, expected a file");
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(real_digits_csv)
{
    const char *data = test_data_dir();
    if (!data) {
        fprintf(stderr, "real_digits_csv: skipped, no shared data folder\n");
        return;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/sklearn-digits/digits.csv.gz", data);
    app_dataset *ds = NULL;
    ck_assert_rt(app_digits_open(path, &ds));
    ck_assert_int_eq(ds->count, 1797);
    ck_assert_int_eq(ds->labels[0], 0);
    ck_assert_int_eq(ds->labels[1], 1);
    int counts[10] = {0};
    for (int i = 0; i < ds->count; i++)
        counts[ds->labels[i]]++;
    for (int c = 0; c < 10; c++)
        ck_assert_msg(counts[c] >= 174 && counts[c] <= 183, "class %d has %d rows", c, counts[c]);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(ds, 0, &img));
    ck_assert_int_eq(img.width, 8);
    ck_assert_int_eq(img.data[2], (5 * 255 + 8) / 16); /* first row: 0,0,5,13,... */
    ck_assert_int_eq(img.data[3], (13 * 255 + 8) / 16);
    app_image_free(&img);
    app_dataset_free(ds);
}
END_TEST

/* ---- real data ---- */

START_TEST(real_fashion_mnist_idx)
{
    /* Debian's dataset-fashion-mnist package installs the original gzip'd IDX files here. */
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char images[256], labels[256];
    snprintf(images, sizeof(images), "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof(labels), "%s/t10k-labels-idx1-ubyte.gz", dir);
    FILE *probe = fopen(images, "rb");
    if (!probe) {
        fprintf(stderr,
                "real_fashion_mnist_idx: skipped, %s is missing (apt-get install "
                "dataset-fashion-mnist)\n",
                images);
        return;
    }
    fclose(probe);
    app_dataset *ds = NULL;
    ck_assert_rt(app_idx_open(images, labels, &ds));
    ck_assert_int_eq(ds->count, 10000);
    static const int32_t first[5] = {9, 2, 1, 1, 6};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(ds->labels[i], first[i]);
    int counts[10] = {0};
    for (int i = 0; i < ds->count; i++)
        counts[ds->labels[i]]++;
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(counts[c], 1000);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(ds, 0, &img));
    ck_assert_int_eq(img.width, 28);
    ck_assert_int_eq(img.height, 28);
    ck_assert_int_eq(img.channels, 1);
    long sum = 0;
    for (int i = 0; i < 28 * 28; i++)
        sum += img.data[i];
    ck_assert_int_eq(sum, 33456);
    app_image_free(&img);
    app_dataset_free(ds);
}
END_TEST

START_TEST(real_pacs_first_image)
{
    const char *data = test_data_dir();
    if (!data) {
        fprintf(stderr, "real_pacs_first_image: skipped, no shared data folder\n");
        return;
    }
    char root[1024], list[1024];
    snprintf(root, sizeof(root), "%s/pacs/pacs128", data);
    snprintf(list, sizeof(list), "%s/pacs/splits/art_painting_train_kfold.txt", data);
    app_dataset *ds = NULL;
    ck_assert_rt(app_pacs_open(root, list, &ds));
    ck_assert_int_eq(ds->count, 1840);
    app_image img = {0};
    ck_assert_rt(app_dataset_load(ds, 0, &img));
    ck_assert_int_eq(img.width, 128);
    ck_assert_int_eq(img.height, 128);
    ck_assert_int_eq(img.channels, 3);
    app_image_free(&img);
    app_dataset_free(ds);

    /* Sketches are 8-bit gray PNGs and come out as RGB. */
    snprintf(list, sizeof(list), "%s/pacs/splits/sketch_crossval_kfold.txt", data);
    ck_assert_rt(app_pacs_open(root, list, &ds));
    ck_assert_int_eq(ds->count, 398);
    ck_assert_rt(app_dataset_load(ds, 0, &img));
    ck_assert_int_eq(img.channels, 3);
    ck_assert_int_eq(img.width, 128);
    app_image_free(&img);
    app_dataset_free(ds);

    /* The 227x227 originals: every file of the subset list decodes at full size. */
    snprintf(root, sizeof(root), "%s/pacs/original_subset", data);
    snprintf(list, sizeof(list), "%s/pacs/original_subset/list.txt", data);
    ck_assert_rt(app_pacs_open(root, list, &ds));
    ck_assert_int_eq(ds->count, 1400);
    for (int i = 0; i < ds->count; i += 7) {
        ck_assert_rt(app_dataset_load(ds, i, &img));
        ck_assert_int_eq(img.width, 227);
        ck_assert_int_eq(img.height, 227);
        ck_assert_int_eq(img.channels, 3);
        app_image_free(&img);
    }
    app_dataset_free(ds);
}
END_TEST

START_TEST(real_cifar10_jpgpack)
{
    const char *data = test_data_dir();
    if (!data) {
        fprintf(stderr, "real_cifar10_jpgpack: skipped, no shared data folder\n");
        return;
    }
    char bin[1024], csv[1024];
    snprintf(bin, sizeof(bin), "%s/cifar10/cifar10_train_jpg.bin", data);
    snprintf(csv, sizeof(csv), "%s/cifar10/cifar10_train_index.csv", data);
    app_dataset *ds = NULL;
    ck_assert_rt(app_jpgpack_open(bin, csv, 10, &ds));
    ck_assert_int_eq(ds->count, 50000);
    static const int32_t first[10] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(ds->labels[i], first[i]);
    for (int i = 0; i < 50000; i += 4999) {
        app_image img = {0};
        ck_assert_rt(app_dataset_load(ds, i, &img));
        ck_assert_int_eq(img.width, 32);
        ck_assert_int_eq(img.height, 32);
        ck_assert_int_eq(img.channels, 3);
        app_image_free(&img);
    }
    app_dataset_free(ds);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("readers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, png_round_trip_rgb_and_gray);
    tcase_add_test(tc, jpeg_decodes_close_to_source);
    tcase_add_test(tc, gray_to_rgb_copies_channel);
    tcase_add_test(tc, corrupt_images_rejected);
    tcase_add_test(tc, resize_bilinear_reference);
    tcase_add_test(tc, cifar10_reads_hwc_pixels);
    tcase_add_test(tc, cifar_missing_file_named);
    tcase_add_test(tc, cifar_truncated_batch_rejected);
    tcase_add_test(tc, cifar_record_count_checked);
    tcase_add_test(tc, cifar_label_out_of_range);
    tcase_add_test(tc, cifar100_fine_and_coarse);
    tcase_add_test(tc, jpgpack_reads_offsets);
    tcase_add_test(tc, pacs_list_loads_rgb);
    tcase_add_test(tc, list_bad_files_rejected);
    tcase_add_test(tc, list_missing_image_named);
    tcase_add_test(tc, check_files_names_missing_lines);
    tcase_add_test(tc, rafdb_splits_and_paths);
    tcase_add_test(tc, rafdb_noisy_labels);
    tcase_add_test(tc, officehome_sorted_classes);
    tcase_add_test(tc, officehome_domains_share_labels);
    tcase_add_test(tc, idx_reads_plain_and_gzip);
    tcase_add_test(tc, idx_falls_back_to_gz_name);
    tcase_add_test(tc, idx_bad_files_rejected);
    tcase_add_test(tc, directory_path_rejected);
    tcase_add_test(tc, real_digits_csv);
    tcase_add_test(tc, real_pacs_first_image);
    tcase_add_test(tc, real_cifar10_jpgpack);
    tcase_add_test(tc, real_fashion_mnist_idx);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(data_suite());
}
