/*
 * JPEG and PNG decoding and encoding for datasets and fixtures.
 */
#include "apps/app_image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
/* jpeglib.h needs FILE and size_t declared first. */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/rt_error.h"

/* Largest side accepted from a file header; larger values are treated as corrupt. */
#define APP_IMAGE_MAX_SIDE 16384

int app_image_alloc(app_image *img, int32_t width, int32_t height, int32_t channels)
{
    if (width <= 0 || height <= 0 || width > APP_IMAGE_MAX_SIDE || height > APP_IMAGE_MAX_SIDE ||
        (channels != 1 && channels != 3))
        return rt_set_error(RT_ERR_INVALID,
                            "app_image_alloc: invalid image shape %dx%dx%d; sides must be in "
                            "1..%d and channels 1 or 3",
                            width, height, channels, APP_IMAGE_MAX_SIDE);
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
    uint8_t *data = malloc(bytes);
    if (!data)
        return rt_set_error(RT_ERR_NOMEM, "app_image_alloc: out of memory for %zu bytes", bytes);
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->data = data;
    return RT_OK;
}

void app_image_free(app_image *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof(*img));
}

/* Rejects a directory early, because fopen succeeds on one and ftell then returns LONG_MAX. */
static int check_regular_file(const char *path)
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

int app_read_file(const char *path, uint8_t **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    RT_TRY(check_regular_file(path));
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_set_error(errno == ENOENT ? RT_ERR_NOT_FOUND : RT_ERR_IO,
                            "cannot open '%s': %s; check the path and the permissions", path,
                            strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return rt_set_error(RT_ERR_IO, "cannot seek in '%s': %s", path, strerror(errno));
    }
    long end = ftell(f);
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return rt_set_error(RT_ERR_IO, "cannot get the size of '%s'; is it a regular file?", path);
    }
    uint8_t *buf = malloc(end > 0 ? (size_t)end : 1);
    if (!buf) {
        fclose(f);
        return rt_set_error(RT_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, end);
    }
    size_t got = fread(buf, 1, (size_t)end, f);
    int read_failed = ferror(f);
    fclose(f);
    if (got != (size_t)end || read_failed) {
        free(buf);
        return rt_set_error(RT_ERR_IO, "read of '%s' failed after %zu of %ld bytes", path, got,
                            end);
    }
    *bytes = buf;
    *size = (size_t)end;
    return RT_OK;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_error_state;

/* libjpeg calls error_exit on a fatal error; jump back instead of exiting the process. */
static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_error_state *err = (jpeg_error_state *)cinfo->err;
    err->mgr.format_message(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* Silences libjpeg's warnings (corrupt-data warnings are treated as errors below). */
static void jpeg_quiet_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

static int decode_jpeg(const uint8_t *bytes, size_t size, const char *source, app_image *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state err;
    /* volatile: these are read after longjmp. */
    uint8_t *volatile data = NULL;

    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    err.mgr.output_message = jpeg_quiet_output;
    err.message[0] = '\0';
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(data);
        return rt_set_error(RT_ERR_FORMAT,
                            "JPEG decode of %s failed: %s; the file is corrupt or truncated, "
                            "replace it",
                            source, err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);

    int32_t w = (int32_t)cinfo.output_width, h = (int32_t)cinfo.output_height;
    int32_t c = (int32_t)cinfo.output_components;
    if (w <= 0 || h <= 0 || w > APP_IMAGE_MAX_SIDE || h > APP_IMAGE_MAX_SIDE ||
        (c != 1 && c != 3)) {
        jpeg_destroy_decompress(&cinfo);
        return rt_set_error(RT_ERR_FORMAT, "JPEG %s has unsupported shape %dx%dx%d", source, w, h,
                            c);
    }
    data = malloc((size_t)w * h * c);
    if (!data) {
        jpeg_destroy_decompress(&cinfo);
        return rt_set_error(RT_ERR_NOMEM, "out of memory decoding JPEG %s", source);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = data + (size_t)cinfo.output_scanline * w * c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    /* A truncated stream decodes with gray filler and a warning; reject it. */
    long warnings = cinfo.err->num_warnings;
    jpeg_destroy_decompress(&cinfo);
    if (warnings > 0) {
        free(data);
        return rt_set_error(RT_ERR_FORMAT,
                            "JPEG %s is corrupt or truncated (%ld libjpeg warnings); replace the "
                            "file",
                            source, warnings);
    }
    out->width = w;
    out->height = h;
    out->channels = c;
    out->data = data;
    return RT_OK;
}

static int jpeg_encode_file(const char *path, const app_image *img, int quality)
{
    struct jpeg_compress_struct cinfo;
    jpeg_error_state err;
    FILE *volatile f = NULL;

    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        if (f)
            fclose(f);
        return rt_set_error(RT_ERR_IO, "JPEG encode of '%s' failed: %s", path, err.message);
    }
    jpeg_create_compress(&cinfo);
    f = fopen(path, "wb");
    if (!f) {
        jpeg_destroy_compress(&cinfo);
        return rt_set_error(RT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    }
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = img->channels;
    cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = img->data + (size_t)cinfo.next_scanline * img->width * img->channels;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(f) != 0)
        return rt_set_error(RT_ERR_IO, "write of '%s' failed: %s", path, strerror(errno));
    return RT_OK;
}

int app_image_write_jpeg(const char *path, const app_image *img, int quality)
{
    if (!img || !img->data || (img->channels != 1 && img->channels != 3) || quality < 1 ||
        quality > 100)
        return rt_set_error(RT_ERR_INVALID,
                            "app_image_write_jpeg: invalid image or quality %d for '%s'; need 1 or "
                            "3 channels and quality 1..100",
                            quality, path);
    return jpeg_encode_file(path, img, quality);
}

/* ---- PNG ---- */

typedef struct {
    const uint8_t *bytes;
    size_t size;
    size_t pos;
} png_reader;

static void png_read_mem(png_structp png, png_bytep dst, png_size_t n)
{
    png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos)
        png_error(png, "unexpected end of data");
    memcpy(dst, r->bytes + r->pos, n);
    r->pos += n;
}

typedef struct {
    char message[256];
} png_error_state;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    png_error_state *err = png_get_error_ptr(png);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int decode_png(const uint8_t *bytes, size_t size, const char *source, app_image *out)
{
    png_error_state err = {{0}};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn, png_warning_fn);
    if (!png)
        return rt_set_error(RT_ERR_NOMEM, "png_create_read_struct failed for %s", source);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return rt_set_error(RT_ERR_NOMEM, "png_create_info_struct failed for %s", source);
    }
    png_reader reader = {bytes, size, 0};
    uint8_t *volatile data = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(data);
        free(rows);
        return rt_set_error(RT_ERR_FORMAT,
                            "PNG decode of %s failed: %s; the file is corrupt or truncated, "
                            "replace it",
                            source, err.message);
    }
    png_set_read_fn(png, &reader, png_read_mem);
    png_set_user_limits(png, APP_IMAGE_MAX_SIDE, APP_IMAGE_MAX_SIDE);
    png_read_info(png, info);

    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (depth == 16)
        png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int32_t w = (int32_t)png_get_image_width(png, info);
    int32_t h = (int32_t)png_get_image_height(png, info);
    int32_t c = png_get_channels(png, info);
    if (c != 1 && c != 3)
        png_error(png, "unsupported channel count after conversion");
    if (png_get_rowbytes(png, info) != (size_t)w * c)
        png_error(png, "unexpected row size after conversion");
    data = malloc((size_t)w * h * c);
    rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!data || !rows)
        png_error(png, "out of memory");
    for (int32_t y = 0; y < h; y++)
        rows[y] = data + (size_t)y * w * c;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->width = w;
    out->height = h;
    out->channels = c;
    out->data = data;
    return RT_OK;
}

int app_image_write_png(const char *path, const app_image *img)
{
    if (!img || !img->data || (img->channels != 1 && img->channels != 3))
        return rt_set_error(RT_ERR_INVALID,
                            "app_image_write_png: invalid image for '%s'; need 1 or 3 channels",
                            path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return rt_set_error(RT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    png_error_state err = {{0}};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return rt_set_error(RT_ERR_NOMEM, "cannot create a PNG writer for '%s'", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return rt_set_error(RT_ERR_IO, "PNG encode of '%s' failed: %s", path, err.message);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int32_t y = 0; y < img->height; y++)
        png_write_row(png, img->data + (size_t)y * img->width * img->channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return rt_set_error(RT_ERR_IO, "write of '%s' failed: %s", path, strerror(errno));
    return RT_OK;
}

/* ---- dispatch ---- */

int app_image_decode(const uint8_t *bytes, size_t size, const char *source, app_image *out)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(out, 0, sizeof(*out));
    if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return decode_jpeg(bytes, size, source, out);
    if (size >= 8 && memcmp(bytes, png_magic, 8) == 0)
        return decode_png(bytes, size, source, out);
    return rt_set_error(RT_ERR_FORMAT,
                        "%s is not a JPEG or PNG image (%zu bytes, no JPEG or PNG signature); "
                        "replace the file or fix the path",
                        source, size);
}

int app_image_load(const char *path, app_image *out)
{
    uint8_t *bytes;
    size_t size;
    memset(out, 0, sizeof(*out));
    RT_TRY(app_read_file(path, &bytes, &size));
    int status = app_image_decode(bytes, size, path, out);
    free(bytes);
    return status;
}

int app_image_to_rgb(app_image *img)
{
    if (img->channels == 3)
        return RT_OK;
    if (img->channels != 1)
        return rt_set_error(RT_ERR_INVALID, "app_image_to_rgb: unsupported channel count %d",
                            img->channels);
    size_t n = (size_t)img->width * img->height;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb)
        return rt_set_error(RT_ERR_NOMEM, "app_image_to_rgb: out of memory for %zu pixels", n);
    for (size_t i = 0; i < n; i++) {
        rgb[3 * i] = img->data[i];
        rgb[3 * i + 1] = img->data[i];
        rgb[3 * i + 2] = img->data[i];
    }
    free(img->data);
    img->data = rgb;
    img->channels = 3;
    return RT_OK;
}
