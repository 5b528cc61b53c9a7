/*
 * The dataset interface, subsets, and the CIFAR binary and JPEG-pack readers.
 */
#include "apps/app_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/app_data_internal.h"
#include "apps/app_data_rng.h"
#include "runtime/rt_error.h"

/* ---- shared helpers ---- */

int app_dataset_new(const char *name, int32_t count, int32_t num_classes, int32_t channels,
                    const app_dataset_ops *ops, void *impl, app_dataset **out)
{
    *out = NULL;
    if (count <= 0)
        return rt_set_error(RT_ERR_FORMAT, "dataset %s is empty (0 samples); check its files",
                            name);
    app_dataset *ds = calloc(1, sizeof(*ds));
    int32_t *labels = calloc((size_t)count, sizeof(int32_t));
    if (!ds || !labels) {
        free(ds);
        free(labels);
        return rt_set_error(RT_ERR_NOMEM, "out of memory for dataset %s (%d samples)", name, count);
    }
    snprintf(ds->name, sizeof(ds->name), "%s", name);
    ds->count = count;
    ds->num_classes = num_classes;
    ds->channels = channels;
    ds->labels = labels;
    ds->ops = ops;
    ds->impl = impl;
    *out = ds;
    return RT_OK;
}

char *app_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *path = malloc(a + b + 2);
    if (!path)
        return NULL;
    memcpy(path, dir, a);
    size_t n = a;
    if (a > 0 && dir[a - 1] != '/')
        path[n++] = '/';
    memcpy(path + n, name, b + 1);
    return path;
}

int app_check_regular_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return rt_set_error(errno == ENOENT ? RT_ERR_NOT_FOUND : RT_ERR_IO,
                            "cannot open '%s': %s; check the path and the permissions", path,
                            strerror(errno));
    if (S_ISDIR(st.st_mode))
        return rt_set_error(RT_ERR_INVALID, "'%s' is a directory, expected a file; check the path",
                            path);
    return RT_OK;
}

const char *app_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int app_parse_int(const char **cursor, const char *end, long long lo, long long hi,
                  long long *value)
{
    const char *p = *cursor;
    int negative = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        negative = *p == '-';
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (hi > -lo ? hi : -lo) / 10 + 1)
            return -1;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (negative)
        v = -v;
    if (v < lo || v > hi)
        return -1;
    *value = v;
    *cursor = p;
    return 0;
}

int app_text_lines_read(const char *path, app_text_lines *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t *bytes;
    size_t size;
    RT_TRY(app_read_file(path, &bytes, &size));
    char *text = realloc(bytes, size + 1);
    if (!text) {
        free(bytes);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    text[size] = '\0';
    if (memchr(text, '\0', size)) {
        free(text);
        return rt_set_error(RT_ERR_FORMAT,
                            "'%s' contains a NUL byte, so it is not a text file; check the path",
                            path);
    }
    size_t cap = 1;
    for (size_t i = 0; i < size; i++)
        cap += text[i] == '\n';
    char **lines = malloc(cap * sizeof(char *));
    int32_t *numbers = malloc(cap * sizeof(int32_t));
    if (!lines || !numbers) {
        free(text);
        free(lines);
        free(numbers);
        return rt_set_error(RT_ERR_NOMEM, "out of memory splitting '%s' into lines", path);
    }
    int32_t count = 0, number = 0;
    char *p = text;
    while (*p || p == text) {
        char *nl = strchr(p, '\n');
        char *line_end = nl ? nl : p + strlen(p);
        number++;
        char *e = line_end;
        while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = '\0';
        if (e > p) {
            lines[count] = p;
            numbers[count] = number;
            count++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    out->text = text;
    out->lines = lines;
    out->numbers = numbers;
    out->count = count;
    return RT_OK;
}

void app_text_lines_free(app_text_lines *lines)
{
    free(lines->text);
    free(lines->lines);
    free(lines->numbers);
    memset(lines, 0, sizeof(*lines));
}

/* ---- the interface ---- */

int app_dataset_load(const app_dataset *ds, int32_t index, app_image *out)
{
    memset(out, 0, sizeof(*out));
    if (!ds || index < 0 || index >= ds->count)
        return rt_set_error(RT_ERR_INVALID,
                            "sample index %d is out of range for dataset %s (%d "
                            "samples)",
                            index, ds ? ds->name : "(null)", ds ? ds->count : 0);
    RT_TRY(ds->ops->load(ds, index, out));
    if (ds->channels == 3 && out->channels == 1) {
        int status = app_image_to_rgb(out);
        if (status != RT_OK)
            app_image_free(out);
        return status;
    }
    return RT_OK;
}

void app_dataset_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (!ds || index < 0 || index >= ds->count || !ds->ops->describe) {
        snprintf(buf, size, "%s[%d]", ds ? ds->name : "(null)", index);
        return;
    }
    ds->ops->describe(ds, index, buf, size);
}

void app_dataset_free(app_dataset *ds)
{
    if (!ds)
        return;
    if (ds->ops && ds->ops->destroy)
        ds->ops->destroy(ds);
    free(ds->labels);
    free(ds->clean_labels);
    free(ds);
}

int app_dataset_set_labels(app_dataset *ds, const int32_t *labels, int32_t count,
                           const char *source)
{
    if (count != ds->count)
        return rt_set_error(RT_ERR_INVALID,
                            "labels from %s have %d entries but dataset %s has %d samples; use "
                            "a label file made for this dataset",
                            source, count, ds->name, ds->count);
    for (int32_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= ds->num_classes)
            return rt_set_error(RT_ERR_FORMAT,
                                "label %d of entry %d in %s is out of range for dataset %s "
                                "(classes 0..%d)",
                                labels[i], i, source, ds->name, ds->num_classes - 1);
    if (!ds->clean_labels) {
        int32_t *copy = malloc((size_t)count * sizeof(int32_t));
        if (!copy)
            return rt_set_error(RT_ERR_NOMEM, "out of memory for the labels of %s", ds->name);
        memcpy(copy, ds->labels, (size_t)count * sizeof(int32_t));
        ds->clean_labels = copy;
    }
    memcpy(ds->labels, labels, (size_t)count * sizeof(int32_t));
    return RT_OK;
}

double app_dataset_noise_rate(const app_dataset *ds)
{
    if (!ds->clean_labels)
        return -1.0;
    int64_t differ = 0;
    for (int32_t i = 0; i < ds->count; i++)
        differ += ds->labels[i] != ds->clean_labels[i];
    return (double)differ / ds->count;
}

/* ---- subsets ---- */

typedef struct {
    const app_dataset *base;
    int32_t *map; /* [count] base indices */
} subset_impl;

static int subset_load(const app_dataset *ds, int32_t index, app_image *out)
{
    const subset_impl *s = ds->impl;
    return app_dataset_load(s->base, s->map[index], out);
}

static void subset_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    const subset_impl *s = ds->impl;
    app_dataset_describe(s->base, s->map[index], buf, size);
}

static void subset_destroy(app_dataset *ds)
{
    subset_impl *s = ds->impl;
    free(s->map);
    free(s);
}

static const app_dataset_ops subset_ops = {subset_load, subset_describe, subset_destroy};

static int compare_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Chooses k of n indices into pick[k] by a partial Fisher-Yates shuffle of perm[n]. */
static void choose_random(int32_t *perm, int32_t n, int32_t k, app_rng *rng, int32_t *pick)
{
    for (int32_t i = 0; i < k; i++) {
        int32_t j = i + (int32_t)app_rng_below(rng, (uint64_t)(n - i));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        pick[i] = perm[i];
    }
}

static int subset_pick_stratified(const app_dataset *base, int32_t k, app_rng *rng, int32_t *pick)
{
    int32_t classes = base->num_classes, n = base->count;
    int32_t *sizes = calloc((size_t)classes, sizeof(int32_t));
    int32_t *by_class = malloc((size_t)n * sizeof(int32_t));
    int32_t *starts = malloc(((size_t)classes + 1) * sizeof(int32_t));
    int32_t *quota = calloc((size_t)classes, sizeof(int32_t));
    if (!sizes || !by_class || !starts || !quota) {
        free(sizes);
        free(by_class);
        free(starts);
        free(quota);
        return rt_set_error(RT_ERR_NOMEM, "out of memory for a stratified subset of %s",
                            base->name);
    }
    for (int32_t i = 0; i < n; i++)
        sizes[base->labels[i]]++;
    starts[0] = 0;
    for (int32_t c = 0; c < classes; c++)
        starts[c + 1] = starts[c] + sizes[c];
    int32_t *fill = calloc((size_t)classes, sizeof(int32_t));
    if (!fill) {
        free(sizes);
        free(by_class);
        free(starts);
        free(quota);
        return rt_set_error(RT_ERR_NOMEM, "out of memory for a stratified subset");
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t c = base->labels[i];
        by_class[starts[c] + fill[c]++] = i;
    }
    free(fill);

    /* Hand out k one sample at a time, round-robin over classes that still have samples. */
    int32_t assigned = 0;
    while (assigned < k) {
        int progressed = 0;
        for (int32_t c = 0; c < classes && assigned < k; c++) {
            if (quota[c] < sizes[c]) {
                quota[c]++;
                assigned++;
                progressed = 1;
            }
        }
        if (!progressed)
            break;
    }
    int32_t got = 0;
    for (int32_t c = 0; c < classes; c++) {
        choose_random(by_class + starts[c], sizes[c], quota[c], rng, pick + got);
        got += quota[c];
    }
    free(sizes);
    free(by_class);
    free(starts);
    free(quota);
    return RT_OK;
}

int app_dataset_subset(const app_dataset *base, int32_t k, app_subset_mode mode, uint64_t seed,
                       app_dataset **out)
{
    *out = NULL;
    if (k <= 0 || k > base->count)
        return rt_set_error(RT_ERR_INVALID,
                            "subset size %d is invalid for dataset %s with %d samples; use 1..%d",
                            k, base->name, base->count, base->count);
    if (mode != APP_SUBSET_FIRST && mode != APP_SUBSET_RANDOM && mode != APP_SUBSET_STRATIFIED)
        return rt_set_error(RT_ERR_INVALID,
                            "unknown subset mode %d; use first, random or "
                            "stratified",
                            (int)mode);
    subset_impl *impl = calloc(1, sizeof(*impl));
    int32_t *map = malloc((size_t)k * sizeof(int32_t));
    int32_t *perm = malloc((size_t)base->count * sizeof(int32_t));
    if (!impl || !map || !perm) {
        free(impl);
        free(map);
        free(perm);
        return rt_set_error(RT_ERR_NOMEM, "out of memory for a subset of %s", base->name);
    }
    app_rng rng = app_rng_for(seed, APP_RNG_TAG_SUBSET, 0, 0);
    int status = RT_OK;
    if (mode == APP_SUBSET_FIRST) {
        for (int32_t i = 0; i < k; i++)
            map[i] = i;
    } else if (mode == APP_SUBSET_RANDOM) {
        for (int32_t i = 0; i < base->count; i++)
            perm[i] = i;
        choose_random(perm, base->count, k, &rng, map);
    } else {
        status = subset_pick_stratified(base, k, &rng, map);
    }
    free(perm);
    if (status != RT_OK) {
        free(impl);
        free(map);
        return status;
    }
    /* Keep the base order, so a subset reads its files front to back. */
    qsort(map, (size_t)k, sizeof(int32_t), compare_int32);
    impl->base = base;
    impl->map = map;

    char name[64];
    snprintf(name, sizeof(name), "%.40s[subset %d]", base->name, k);
    app_dataset *ds;
    status = app_dataset_new(name, k, base->num_classes, base->channels, &subset_ops, impl, &ds);
    if (status != RT_OK) {
        subset_destroy(&(app_dataset){.impl = impl});
        return status;
    }
    if (base->clean_labels) {
        ds->clean_labels = malloc((size_t)k * sizeof(int32_t));
        if (!ds->clean_labels) {
            app_dataset_free(ds);
            return rt_set_error(RT_ERR_NOMEM, "out of memory for a subset of %s", base->name);
        }
    }
    for (int32_t i = 0; i < k; i++) {
        ds->labels[i] = base->labels[map[i]];
        if (base->clean_labels)
            ds->clean_labels[i] = base->clean_labels[map[i]];
    }
    *out = ds;
    return RT_OK;
}

int app_dataset_range(const app_dataset *base, int32_t first, int32_t count, app_dataset **out)
{
    *out = NULL;
    if (first < 0 || count <= 0 || first > base->count - count)
        return rt_set_error(RT_ERR_INVALID,
                            "range of %d samples from sample %d is invalid for dataset %s with %d "
                            "samples; use first >= 0, count >= 1 and first + count <= %d",
                            count, first, base->name, base->count, base->count);
    subset_impl *impl = calloc(1, sizeof(*impl));
    int32_t *map = malloc((size_t)count * sizeof(int32_t));
    if (!impl || !map) {
        free(impl);
        free(map);
        return rt_set_error(RT_ERR_NOMEM, "out of memory for a range of %s", base->name);
    }
    for (int32_t i = 0; i < count; i++)
        map[i] = first + i;
    impl->base = base;
    impl->map = map;

    char name[64];
    snprintf(name, sizeof(name), "%.36s[%d..%d]", base->name, first, first + count - 1);
    app_dataset *ds;
    int status =
        app_dataset_new(name, count, base->num_classes, base->channels, &subset_ops, impl, &ds);
    if (status != RT_OK) {
        subset_destroy(&(app_dataset){.impl = impl});
        return status;
    }
    memcpy(ds->labels, base->labels + first, (size_t)count * sizeof(int32_t));
    if (base->clean_labels) {
        ds->clean_labels = malloc((size_t)count * sizeof(int32_t));
        if (!ds->clean_labels) {
            app_dataset_free(ds);
            return rt_set_error(RT_ERR_NOMEM, "out of memory for a range of %s", base->name);
        }
        memcpy(ds->clean_labels, base->clean_labels + first, (size_t)count * sizeof(int32_t));
    }
    *out = ds;
    return RT_OK;
}

/* ---- CIFAR binary ---- */

typedef struct {
    uint8_t *records; /* count records of record_size bytes */
    size_t record_size;
    size_t label_bytes; /* 1 for CIFAR-10, 2 (coarse, fine) for CIFAR-100 */
    char dir[512];
    char **files;      /* [num_files] batch file names */
    int32_t *file_end; /* [num_files] records in this file and all before it */
    int32_t num_files;
} cifar_impl;

static int cifar_load(const app_dataset *ds, int32_t index, app_image *out)
{
    const cifar_impl *c = ds->impl;
    RT_TRY(app_image_alloc(out, 32, 32, 3));
    const uint8_t *pixels = c->records + (size_t)index * c->record_size + c->label_bytes;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int ch = 0; ch < 3; ch++)
                out->data[(y * 32 + x) * 3 + ch] = pixels[ch * 1024 + y * 32 + x];
    return RT_OK;
}

static void cifar_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    const cifar_impl *c = ds->impl;
    int32_t f = 0, first = 0;
    while (f < c->num_files - 1 && index >= c->file_end[f])
        f++;
    if (f > 0)
        first = c->file_end[f - 1];
    snprintf(buf, size, "%s/%s record %d", c->dir, c->files[f], index - first);
}

static void cifar_destroy(app_dataset *ds)
{
    cifar_impl *c = ds->impl;
    free(c->records);
    free(c->file_end);
    if (c->files)
        for (int32_t i = 0; i < c->num_files; i++)
            free(c->files[i]);
    free(c->files);
    free(c);
}

static const app_dataset_ops cifar_ops = {cifar_load, cifar_describe, cifar_destroy};

/* Records in each official CIFAR binary file: 10,000, except 50,000 in CIFAR-100's train.bin. */
static int32_t cifar_official_records(int classes, int train)
{
    return classes == 100 && train ? 50000 : 10000;
}

static int cifar_open_common(const char *dir, int classes, int train, int coarse, int allow_partial,
                             app_dataset **out)
{
    static const char *c10_train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                      "data_batch_4.bin", "data_batch_5.bin"};
    static const char *c10_test[] = {"test_batch.bin"};
    static const char *c100_train[] = {"train.bin"};
    static const char *c100_test[] = {"test.bin"};
    *out = NULL;
    if (classes != 10 && classes != 100)
        return rt_set_error(RT_ERR_INVALID, "CIFAR classes must be 10 or 100, got %d", classes);
    const char **names = train ? c10_train : c10_test;
    if (classes == 100)
        names = train ? c100_train : c100_test;
    int32_t num_files = classes == 10 && train ? 5 : 1;

    cifar_impl *c = calloc(1, sizeof(*c));
    if (!c)
        return rt_set_error(RT_ERR_NOMEM, "out of memory opening CIFAR in %s", dir);
    snprintf(c->dir, sizeof(c->dir), "%s", dir);
    c->label_bytes = classes == 10 ? 1 : 2;
    c->record_size = c->label_bytes + 3072;
    c->num_files = num_files;
    c->files = calloc((size_t)num_files, sizeof(char *));
    c->file_end = calloc((size_t)num_files, sizeof(int32_t));
    if (!c->files || !c->file_end) {
        cifar_destroy(&(app_dataset){.impl = c});
        return rt_set_error(RT_ERR_NOMEM, "out of memory opening CIFAR in %s", dir);
    }
    int status = RT_OK;
    size_t total = 0;
    for (int32_t f = 0; f < num_files && status == RT_OK; f++) {
        char *path = app_path_join(dir, names[f]);
        c->files[f] = strdup(names[f]);
        if (!path || !c->files[f]) {
            free(path);
            status = rt_set_error(RT_ERR_NOMEM, "out of memory opening CIFAR in %s", dir);
            break;
        }
        uint8_t *bytes;
        size_t size;
        status = app_read_file(path, &bytes, &size);
        if (status == RT_ERR_NOT_FOUND)
            status = rt_wrap_error(status, "CIFAR-%d %s file missing", classes,
                                   train ? "training" : "test");
        if (status == RT_OK && (size == 0 || size % c->record_size != 0)) {
            status = rt_set_error(RT_ERR_FORMAT,
                                  "CIFAR-%d file '%s' has %zu bytes, not a positive multiple of "
                                  "the %zu-byte record (a full file has 10000 records); the "
                                  "file is truncated, download it again",
                                  classes, path, size, c->record_size);
            free(bytes);
        }
        int32_t expected = cifar_official_records(classes, train);
        if (status == RT_OK && !allow_partial && size / c->record_size != (size_t)expected) {
            status = rt_set_error(RT_ERR_FORMAT,
                                  "CIFAR-%d file '%s' has %zu records but the official file has "
                                  "%d; the file is truncated or not an official batch, download "
                                  "it again (set data.allow_partial_cifar=true only for small "
                                  "test fixtures)",
                                  classes, path, size / c->record_size, expected);
            free(bytes);
        }
        if (status == RT_OK) {
            uint8_t *grown = realloc(c->records, total + size);
            if (!grown) {
                free(bytes);
                status = rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", path);
            } else {
                c->records = grown;
                memcpy(c->records + total, bytes, size);
                total += size;
                free(bytes);
                c->file_end[f] = (int32_t)(total / c->record_size);
            }
        }
        free(path);
    }
    if (status != RT_OK) {
        cifar_destroy(&(app_dataset){.impl = c});
        return status;
    }

    int32_t count = (int32_t)(total / c->record_size);
    int32_t num_classes = coarse ? 20 : classes;
    char name[64];
    snprintf(name, sizeof(name), "cifar%d%s-%s", classes, coarse ? "-coarse" : "",
             train ? "train" : "test");
    app_dataset *ds;
    status = app_dataset_new(name, count, num_classes, 3, &cifar_ops, c, &ds);
    if (status != RT_OK) {
        cifar_destroy(&(app_dataset){.impl = c});
        return status;
    }
    /* CIFAR-100 records start with the coarse label byte, then the fine one. */
    size_t label_offset = classes == 100 && !coarse ? 1 : 0;
    for (int32_t i = 0; i < count; i++) {
        int32_t label = c->records[(size_t)i * c->record_size + label_offset];
        if (label >= num_classes) {
            char where[600];
            cifar_describe(ds, i, where, sizeof(where));
            app_dataset_free(ds);
            return rt_set_error(RT_ERR_FORMAT,
                                "label %d of %s is out of range 0..%d; the file is corrupt or "
                                "is not a CIFAR-%d file",
                                label, where, num_classes - 1, classes);
        }
        ds->labels[i] = label;
    }
    *out = ds;
    return RT_OK;
}

int app_cifar_open(const char *dir, int classes, int train, app_dataset **out)
{
    return cifar_open_common(dir, classes, train, 0, 0, out);
}

int app_cifar100_coarse_open(const char *dir, int train, app_dataset **out)
{
    return cifar_open_common(dir, 100, train, 1, 0, out);
}

int app_cifar_open_flags(const char *dir, int classes, int train, unsigned flags, app_dataset **out)
{
    *out = NULL;
    int coarse = (flags & APP_CIFAR_COARSE) != 0;
    if (coarse && classes != 100)
        return rt_set_error(RT_ERR_INVALID,
                            "APP_CIFAR_COARSE needs classes 100, got %d; CIFAR-10 has no coarse "
                            "labels",
                            classes);
    return cifar_open_common(dir, classes, train, coarse, (flags & APP_CIFAR_ALLOW_PARTIAL) != 0,
                             out);
}

/* ---- JPEG pack ---- */

typedef struct {
    uint8_t *map; /* mmap'd pack, map_size bytes */
    size_t map_size;
    uint64_t *offsets; /* [count] */
    uint32_t *lengths; /* [count] */
    char path[512];
} jpgpack_impl;

static void jpgpack_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    const jpgpack_impl *p = ds->impl;
    snprintf(buf, size, "%s[%d] (bytes %llu..%llu)", p->path, index,
             (unsigned long long)p->offsets[index],
             (unsigned long long)(p->offsets[index] + p->lengths[index]));
}

static int jpgpack_load(const app_dataset *ds, int32_t index, app_image *out)
{
    const jpgpack_impl *p = ds->impl;
    char source[600];
    jpgpack_describe(ds, index, source, sizeof(source));
    return app_image_decode(p->map + p->offsets[index], p->lengths[index], source, out);
}

static void jpgpack_destroy(app_dataset *ds)
{
    jpgpack_impl *p = ds->impl;
    if (p->map)
        munmap(p->map, p->map_size);
    free(p->offsets);
    free(p->lengths);
    free(p);
}

static const app_dataset_ops jpgpack_ops = {jpgpack_load, jpgpack_describe, jpgpack_destroy};

int app_jpgpack_open(const char *bin_path, const char *index_csv, int classes, app_dataset **out)
{
    *out = NULL;
    if (classes < 2)
        return rt_set_error(RT_ERR_INVALID, "JPEG pack classes must be >= 2, got %d", classes);
    app_text_lines lines;
    RT_TRY(app_text_lines_read(index_csv, &lines));
    if (lines.count < 2 || strncmp(lines.lines[0], "index,label,offset,length", 25) != 0) {
        app_text_lines_free(&lines);
        return rt_set_error(RT_ERR_FORMAT,
                            "'%s' is not a JPEG pack index: expected the header "
                            "'index,label,offset,length,...' and at least one row",
                            index_csv);
    }
    jpgpack_impl *p = calloc(1, sizeof(*p));
    int32_t count = lines.count - 1;
    if (p) {
        p->offsets = malloc((size_t)count * sizeof(uint64_t));
        p->lengths = malloc((size_t)count * sizeof(uint32_t));
    }
    if (!p || !p->offsets || !p->lengths) {
        app_text_lines_free(&lines);
        if (p)
            jpgpack_destroy(&(app_dataset){.impl = p});
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s'", index_csv);
    }
    snprintf(p->path, sizeof(p->path), "%s", bin_path);

    int fd = open(bin_path, O_RDONLY);
    struct stat st;
    int status = RT_OK;
    if (fd < 0) {
        status = rt_set_error(errno == ENOENT ? RT_ERR_NOT_FOUND : RT_ERR_IO,
                              "cannot open JPEG pack '%s': %s; check the path", bin_path,
                              strerror(errno));
    } else if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        status = rt_set_error(RT_ERR_FORMAT, "JPEG pack '%s' is empty or unreadable", bin_path);
    } else {
        p->map_size = (size_t)st.st_size;
        void *m = mmap(NULL, p->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            status = rt_set_error(RT_ERR_IO, "mmap of '%s' failed: %s", bin_path, strerror(errno));
        else
            p->map = m;
    }
    if (fd >= 0)
        close(fd);

    app_dataset *ds = NULL;
    if (status == RT_OK) {
        char name[64];
        snprintf(name, sizeof(name), "jpgpack:%.50s", app_path_base(bin_path));
        status = app_dataset_new(name, count, classes, 3, &jpgpack_ops, p, &ds);
    }
    if (status != RT_OK) {
        app_text_lines_free(&lines);
        jpgpack_destroy(&(app_dataset){.impl = p});
        return status;
    }
    for (int32_t i = 0; i < count; i++) {
        const char *cur = lines.lines[i + 1], *end = cur + strlen(cur);
        long long index, label, offset, length;
        int bad = app_parse_int(&cur, end, 0, INT32_MAX, &index) || *cur++ != ',' ||
                  app_parse_int(&cur, end, LLONG_MIN / 2, LLONG_MAX / 2, &label) || *cur++ != ',' ||
                  app_parse_int(&cur, end, 0, (long long)p->map_size, &offset) || *cur++ != ',' ||
                  app_parse_int(&cur, end, 1, UINT32_MAX, &length) || (*cur != ',' && *cur != '\0');
        const char *problem = NULL;
        if (bad)
            problem = "malformed row; expected 'index,label,offset,length'";
        else if (index != i)
            problem = "index is not the row number (rows must be in index order)";
        else if (label < 0 || label >= classes)
            problem = "label out of range";
        else if ((unsigned long long)offset + (unsigned long long)length > p->map_size)
            problem = "offset + length lies beyond the end of the pack";
        if (problem) {
            status = rt_set_error(RT_ERR_FORMAT,
                                  "%s line %d ('%.80s'): %s (classes %d, pack size %zu); fix or "
                                  "regenerate the index",
                                  index_csv, lines.numbers[i + 1], lines.lines[i + 1], problem,
                                  classes, p->map_size);
            app_text_lines_free(&lines);
            app_dataset_free(ds);
            return status;
        }
        ds->labels[i] = (int32_t)label;
        p->offsets[i] = (uint64_t)offset;
        p->lengths[i] = (uint32_t)length;
    }
    app_text_lines_free(&lines);
    *out = ds;
    return RT_OK;
}
