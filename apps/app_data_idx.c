/*
 * In-memory grayscale datasets: IDX files (MNIST, Fashion-MNIST) and the
 * scikit-learn digits CSV.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "apps/app_data.h"
#include "apps/app_data_internal.h"
#include "runtime/rt_error.h"

/* MNIST-family IDX files have 10 classes; labels of 10 or more are rejected. */
#define APP_IDX_CLASSES 10

/* Images stored in memory as [count][height][width] uint8. */
typedef struct {
    uint8_t *pixels;
    int32_t width, height;
    char source[256];
} gray_impl;

static int gray_load(const app_dataset *ds, int32_t index, app_image *out)
{
    const gray_impl *g = ds->impl;
    RT_TRY(app_image_alloc(out, g->width, g->height, 1));
    size_t n = (size_t)g->width * g->height;
    memcpy(out->data, g->pixels + (size_t)index * n, n);
    return RT_OK;
}

static void gray_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    const gray_impl *g = ds->impl;
    snprintf(buf, size, "%s image %d", g->source, index);
}

static void gray_destroy(app_dataset *ds)
{
    gray_impl *g = ds->impl;
    free(g->pixels);
    free(g);
}

static const app_dataset_ops gray_ops = {gray_load, gray_describe, gray_destroy};

int app_read_maybe_gzip(const char *path, uint8_t **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    RT_TRY(app_check_regular_file(path));
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return rt_set_error(errno == ENOENT ? RT_ERR_NOT_FOUND : RT_ERR_IO,
                            "cannot open '%s': %s; check the path", path, strerror(errno));
    fclose(probe);
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return rt_set_error(RT_ERR_IO, "gzopen of '%s' failed", path);
    size_t cap = 1 << 16, used = 0;
    uint8_t *buf = malloc(cap);
    int status = RT_OK;
    while (buf) {
        if (used == cap) {
            uint8_t *grown = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                status = rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
                break;
            }
            buf = grown;
            cap *= 2;
        }
        int got =
            gzread(gz, buf + used, (unsigned)(cap - used > (1u << 30) ? (1u << 30) : cap - used));
        if (got < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            status = rt_set_error(RT_ERR_FORMAT,
                                  "reading '%s' failed: %s; the gzip stream is corrupt, replace "
                                  "the file",
                                  path, msg);
            break;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    if (!buf && status == RT_OK)
        status = rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
    gzclose(gz);
    if (status != RT_OK) {
        free(buf);
        return status;
    }
    *bytes = buf;
    *size = used;
    return RT_OK;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int app_idx_from_memory(const uint8_t *images, size_t images_size, const char *images_name,
                        const uint8_t *labels, size_t labels_size, const char *labels_name,
                        app_dataset **out)
{
    *out = NULL;
    if (images_size < 16 || read_be32(images) != 0x00000803)
        return rt_set_error(RT_ERR_FORMAT,
                            "'%s' is not an IDX image file: expected magic 0x00000803 (uint8, 3 "
                            "dimensions) in a header of 16 bytes; check the path",
                            images_name);
    if (labels_size < 8 || read_be32(labels) != 0x00000801)
        return rt_set_error(RT_ERR_FORMAT,
                            "'%s' is not an IDX label file: expected magic 0x00000801 (uint8, 1 "
                            "dimension) in a header of 8 bytes; check the path",
                            labels_name);
    uint32_t count = read_be32(images + 4), rows = read_be32(images + 8);
    uint32_t cols = read_be32(images + 12), label_count = read_be32(labels + 4);
    if (count == 0 || count > INT32_MAX || rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
        return rt_set_error(RT_ERR_FORMAT,
                            "IDX image file '%s' has invalid dimensions %u x %u x %u; the file "
                            "is corrupt",
                            images_name, count, rows, cols);
    size_t pixels = (size_t)count * rows * cols;
    if (images_size - 16 != pixels)
        return rt_set_error(RT_ERR_FORMAT,
                            "IDX image file '%s' has %zu data bytes but its header promises %u x "
                            "%u x %u = %zu; the file is truncated or corrupt",
                            images_name, images_size - 16, count, rows, cols, pixels);
    if (label_count != count || labels_size - 8 != count)
        return rt_set_error(RT_ERR_FORMAT,
                            "IDX label file '%s' has %u labels in its header and %zu data bytes, "
                            "but '%s' has %u images; use matching files",
                            labels_name, label_count, labels_size - 8, images_name, count);
    for (uint32_t i = 0; i < count; i++)
        if (labels[8 + i] >= APP_IDX_CLASSES)
            return rt_set_error(RT_ERR_FORMAT,
                                "label %u of entry %u in '%s' is out of range 0..%d; the file is "
                                "corrupt",
                                labels[8 + i], i, labels_name, APP_IDX_CLASSES - 1);
    gray_impl *g = calloc(1, sizeof(*g));
    uint8_t *copy = malloc(pixels);
    if (!g || !copy) {
        free(g);
        free(copy);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", images_name);
    }
    memcpy(copy, images + 16, pixels);
    g->pixels = copy;
    g->width = (int32_t)cols;
    g->height = (int32_t)rows;
    snprintf(g->source, sizeof(g->source), "%s", images_name);
    char name[64];
    snprintf(name, sizeof(name), "idx:%.58s", app_path_base(images_name));
    app_dataset *ds;
    int status = app_dataset_new(name, (int32_t)count, APP_IDX_CLASSES, 1, &gray_ops, g, &ds);
    if (status != RT_OK) {
        gray_destroy(&(app_dataset){.impl = g});
        return status;
    }
    for (uint32_t i = 0; i < count; i++)
        ds->labels[i] = labels[8 + i];
    *out = ds;
    return RT_OK;
}

/*
 * Reads path, or path.gz when path does not exist, as distributions such as
 * Debian's dataset-fashion-mnist ship only the .gz files. *used is set to a
 * malloc'd copy of the path that was read.
 */
static int read_idx_file(const char *path, uint8_t **bytes, size_t *size, char **used)
{
    *used = NULL;
    int status = app_read_maybe_gzip(path, bytes, size);
    if (status != RT_ERR_NOT_FOUND) {
        if (status == RT_OK && !(*used = strdup(path))) {
            free(*bytes);
            *bytes = NULL;
            return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
        }
        return status;
    }
    size_t n = strlen(path) + 4;
    char *gz_path = malloc(n);
    if (!gz_path)
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
    snprintf(gz_path, n, "%s.gz", path);
    status = app_read_maybe_gzip(gz_path, bytes, size);
    if (status == RT_ERR_NOT_FOUND)
        status = rt_set_error(RT_ERR_NOT_FOUND,
                              "IDX file '%s' not found, and neither is '%s'; check data.root", path,
                              gz_path);
    if (status != RT_OK) {
        free(gz_path);
        return status;
    }
    *used = gz_path;
    return RT_OK;
}

int app_idx_open(const char *images_path, const char *labels_path, app_dataset **out)
{
    *out = NULL;
    uint8_t *images, *labels;
    size_t images_size, labels_size;
    char *images_used, *labels_used;
    RT_TRY(read_idx_file(images_path, &images, &images_size, &images_used));
    int status = read_idx_file(labels_path, &labels, &labels_size, &labels_used);
    if (status != RT_OK) {
        free(images);
        free(images_used);
        return status;
    }
    status = app_idx_from_memory(images, images_size, images_used, labels, labels_size, labels_used,
                                 out);
    free(images);
    free(labels);
    free(images_used);
    free(labels_used);
    return status;
}

int app_digits_open(const char *csv_gz_path, app_dataset **out)
{
    *out = NULL;
    uint8_t *bytes;
    size_t size;
    RT_TRY(app_read_maybe_gzip(csv_gz_path, &bytes, &size));
    int32_t rows = 0;
    for (size_t i = 0; i < size; i++)
        rows += bytes[i] == '\n';
    if (size > 0 && bytes[size - 1] != '\n')
        rows++;
    gray_impl *g = calloc(1, sizeof(*g));
    int32_t *labels = malloc(((size_t)rows + 1) * sizeof(int32_t));
    uint8_t *pixels = malloc(((size_t)rows + 1) * 64);
    if (!g || !labels || !pixels) {
        free(bytes);
        free(g);
        free(labels);
        free(pixels);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", csv_gz_path);
    }
    const char *p = (const char *)bytes, *end = p + size;
    int32_t count = 0, line = 0;
    int status = RT_OK;
    while (p < end && status == RT_OK) {
        line++;
        if (*p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        for (int v = 0; v < 65 && status == RT_OK; v++) {
            long long value;
            /* Accept an optional ".0" fraction, as in CSVs written from float arrays. */
            int bad = app_parse_int(&p, end, 0, v < 64 ? 16 : 9, &value) != 0;
            if (!bad && p < end && *p == '.') {
                p++;
                while (p < end && *p == '0')
                    p++;
            }
            char want = v < 64 ? ',' : '\n';
            if (!bad && v < 64)
                bad = p >= end || *p++ != want;
            else if (!bad && p < end && *p == '\r')
                p++;
            if (!bad && v == 64 && p < end)
                bad = *p++ != '\n';
            if (bad) {
                status = rt_set_error(RT_ERR_FORMAT,
                                      "'%s' line %d, value %d is invalid: expected 64 pixels "
                                      "0..16 and a label 0..9 separated by commas; the file is "
                                      "corrupt",
                                      csv_gz_path, line, v + 1);
                break;
            }
            if (v < 64)
                pixels[(size_t)count * 64 + v] = (uint8_t)((value * 255 + 8) / 16);
            else
                labels[count] = (int32_t)value;
        }
        if (status == RT_OK)
            count++;
    }
    free(bytes);
    if (status == RT_OK && count == 0)
        status = rt_set_error(RT_ERR_FORMAT, "'%s' has no rows", csv_gz_path);
    app_dataset *ds = NULL;
    if (status == RT_OK) {
        g->pixels = pixels;
        g->width = 8;
        g->height = 8;
        snprintf(g->source, sizeof(g->source), "%s", csv_gz_path);
        pixels = NULL;
        status = app_dataset_new("sklearn-digits", count, 10, 1, &gray_ops, g, &ds);
        if (status != RT_OK) {
            gray_destroy(&(app_dataset){.impl = g});
            g = NULL;
        }
    }
    if (status != RT_OK) {
        free(pixels);
        free(g);
        free(labels);
        return status;
    }
    memcpy(ds->labels, labels, (size_t)count * sizeof(int32_t));
    free(labels);
    *out = ds;
    return RT_OK;
}
