/* Fixture writers for the data tests. */
#define _XOPEN_SOURCE 700
#include "tests/apps/test_data_fixtures.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char fixture_root[256];

const char *fixture_dir(void)
{
    snprintf(fixture_root, sizeof(fixture_root), "/tmp/alumcl-data-test-XXXXXX");
    ck_assert_msg(mkdtemp(fixture_root) != NULL, "mkdtemp failed");
    return fixture_root;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fixture_cleanup(void)
{
    if (fixture_root[0])
        nftw(fixture_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    fixture_root[0] = '\0';
}

const char *fixture_path(const char *name)
{
    static char buffers[8][1024];
    static int next;
    char *buf = buffers[next++ % 8];
    snprintf(buf, sizeof(buffers[0]), "%s/%s", fixture_root, name);
    return buf;
}

static void make_parents(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
}

const char *fixture_write(const char *name, const void *bytes, size_t size)
{
    const char *path = fixture_path(name);
    make_parents(path);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create fixture %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

const char *fixture_write_text(const char *name, const char *text)
{
    return fixture_write(name, text, strlen(text));
}

void fixture_pattern(app_image *img, int32_t width, int32_t height, int32_t channels, uint32_t seed)
{
    ck_assert_int_eq(app_image_alloc(img, width, height, channels), 0);
    for (int32_t y = 0; y < height; y++)
        for (int32_t x = 0; x < width; x++)
            for (int32_t c = 0; c < channels; c++)
                img->data[((size_t)y * width + x) * channels + c] =
                    (uint8_t)((x * 16 + y * 5 + c * 70 + seed * 13) % 256);
}

uint8_t fixture_cifar_pixel(int32_t r, int32_t c, int32_t y, int32_t x)
{
    return (uint8_t)((r * 7 + c * 50 + y * 3 + x) % 256);
}

const char *fixture_cifar_batch(const char *name, int32_t n, int label_bytes, const uint8_t *labels)
{
    size_t record = (size_t)label_bytes + 3072;
    uint8_t *buf = malloc(record * (size_t)n);
    for (int32_t r = 0; r < n; r++) {
        uint8_t *rec = buf + record * (size_t)r;
        for (int b = 0; b < label_bytes; b++)
            rec[b] = labels[r * label_bytes + b];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    rec[label_bytes + c * 1024 + y * 32 + x] = fixture_cifar_pixel(r, c, y, x);
    }
    const char *path = fixture_write(name, buf, record * (size_t)n);
    free(buf);
    return path;
}

/* ---- pickle writer ---- */

typedef struct {
    uint8_t *data;
    size_t size, cap;
    int memo;
} byte_buf;

static void put(byte_buf *b, const void *bytes, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static void put_byte(byte_buf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put_le(byte_buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        put_byte(b, (uint8_t)(v >> (8 * i)));
}

static void binput(byte_buf *b)
{
    put_byte(b, 'q');
    put_byte(b, (uint8_t)(b->memo++ & 0xff));
}

static void unicode(byte_buf *b, const void *s, size_t n)
{
    put_byte(b, 'X');
    put_le(b, n, 4);
    put(b, s, n);
    binput(b);
}

static void global(byte_buf *b, const char *module, const char *name)
{
    put_byte(b, 'c');
    put(b, module, strlen(module));
    put_byte(b, '\n');
    put(b, name, strlen(name));
    put_byte(b, '\n');
    binput(b);
}

static void small_int(byte_buf *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        put_byte(b, 'K');
        put_byte(b, (uint8_t)v);
    } else if (v >= 0 && v < 65536) {
        put_byte(b, 'M');
        put_le(b, (uint64_t)v, 2);
    } else {
        put_byte(b, 'J');
        put_le(b, (uint64_t)v, 4);
    }
}

/* latin1 text -> UTF-8, as pickle stores the str that _codecs.encode turns back into bytes. */
static void latin1_as_unicode(byte_buf *b, const uint8_t *raw, size_t n)
{
    byte_buf utf8 = {0};
    for (size_t i = 0; i < n; i++) {
        if (raw[i] < 0x80) {
            put_byte(&utf8, raw[i]);
        } else {
            put_byte(&utf8, (uint8_t)(0xc0 | raw[i] >> 6));
            put_byte(&utf8, (uint8_t)(0x80 | (raw[i] & 0x3f)));
        }
    }
    unicode(b, utf8.data, utf8.size);
    free(utf8.data);
}

static void ndarray(byte_buf *b, const int64_t *values, size_t count)
{
    global(b, "numpy.core.multiarray", "_reconstruct");
    global(b, "numpy", "ndarray");
    small_int(b, 0);
    put_byte(b, 0x85);
    binput(b);
    global(b, "_codecs", "encode");
    unicode(b, "b", 1);
    unicode(b, "latin1", 6);
    put_byte(b, 0x86);
    binput(b);
    put_byte(b, 'R');
    binput(b);
    put_byte(b, 0x87);
    binput(b);
    put_byte(b, 'R');
    binput(b);
    /* state: (1, (count,), dtype('<i8'), False, raw bytes) */
    put_byte(b, '(');
    small_int(b, 1);
    small_int(b, (int64_t)count);
    put_byte(b, 0x85);
    binput(b);
    global(b, "numpy", "dtype");
    unicode(b, "i8", 2);
    put_byte(b, 0x89);
    put_byte(b, 0x88);
    put_byte(b, 0x87);
    binput(b);
    put_byte(b, 'R');
    binput(b);
    put_byte(b, '(');
    small_int(b, 3);
    unicode(b, "<", 1);
    put_byte(b, 'N');
    put_byte(b, 'N');
    put_byte(b, 'N');
    put_byte(b, 'J');
    put_le(b, 0xffffffffu, 4);
    put_byte(b, 'J');
    put_le(b, 0xffffffffu, 4);
    small_int(b, 0);
    put_byte(b, 't');
    binput(b);
    put_byte(b, 'b');
    put_byte(b, 0x89);
    global(b, "_codecs", "encode");
    uint8_t *raw = malloc(count * 8 + 1);
    for (size_t i = 0; i < count; i++)
        for (int k = 0; k < 8; k++)
            raw[i * 8 + k] = (uint8_t)((uint64_t)values[i] >> (8 * k));
    latin1_as_unicode(b, raw, count * 8);
    free(raw);
    unicode(b, "latin1", 6);
    put_byte(b, 0x86);
    binput(b);
    put_byte(b, 'R');
    binput(b);
    put_byte(b, 't');
    binput(b);
    put_byte(b, 'b');
}

static void int_list(byte_buf *b, const int64_t *values, size_t count)
{
    put_byte(b, ']');
    binput(b);
    for (size_t start = 0; start < count; start += 1000) {
        put_byte(b, '(');
        for (size_t i = start; i < count && i < start + 1000; i++)
            small_int(b, values[i]);
        put_byte(b, 'e');
    }
}

uint8_t *fixture_pickle(const fixture_pt_entry *entries, int n, size_t *size)
{
    byte_buf b = {0};
    put_byte(&b, 0x80);
    put_byte(&b, 2);
    put_byte(&b, '}');
    binput(&b);
    put_byte(&b, '(');
    for (int e = 0; e < n; e++) {
        unicode(&b, entries[e].key, strlen(entries[e].key));
        if (entries[e].as_list)
            int_list(&b, entries[e].values, entries[e].count);
        else
            ndarray(&b, entries[e].values, entries[e].count);
        binput(&b);
    }
    put_byte(&b, 'u');
    put_byte(&b, '.');
    *size = b.size;
    return b.data;
}

uint8_t *fixture_zip(const uint8_t *pickle, size_t pickle_size, size_t *size)
{
    static const char name[] = "archive/data.pkl";
    uint32_t crc = (uint32_t)crc32(0, pickle, (uInt)pickle_size);
    byte_buf b = {0};
    size_t name_len = sizeof(name) - 1;
    /* local header */
    put_le(&b, 0x04034b50, 4);
    put_le(&b, 20, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2); /* stored */
    put_le(&b, 0, 4);
    put_le(&b, crc, 4);
    put_le(&b, pickle_size, 4);
    put_le(&b, pickle_size, 4);
    put_le(&b, name_len, 2);
    put_le(&b, 0, 2);
    put(&b, name, name_len);
    put(&b, pickle, pickle_size);
    size_t cd = b.size;
    put_le(&b, 0x02014b50, 4);
    put_le(&b, 20, 2);
    put_le(&b, 20, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 4);
    put_le(&b, crc, 4);
    put_le(&b, pickle_size, 4);
    put_le(&b, pickle_size, 4);
    put_le(&b, name_len, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 4);
    put_le(&b, 0, 4); /* local header offset */
    put(&b, name, name_len);
    size_t cd_size = b.size - cd;
    put_le(&b, 0x06054b50, 4);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 1, 2);
    put_le(&b, 1, 2);
    put_le(&b, cd_size, 4);
    put_le(&b, cd, 4);
    put_le(&b, 0, 2);
    *size = b.size;
    return b.data;
}

const char *fixture_pt(const char *name, const fixture_pt_entry *entries, int n)
{
    size_t pickle_size, zip_size;
    uint8_t *pickle = fixture_pickle(entries, n, &pickle_size);
    uint8_t *zip = fixture_zip(pickle, pickle_size, &zip_size);
    const char *path = fixture_write(name, zip, zip_size);
    free(pickle);
    free(zip);
    return path;
}
