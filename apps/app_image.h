/*
 * Decoded images (HWC uint8) and the JPEG and PNG codecs.
 *
 * Decoding uses libjpeg(-turbo) through jpeg_mem_src and libpng through its
 * read callbacks, so images may come from files or from memory. Errors return
 * a status with a message that names the source (a path or "pack.bin[17]").
 */
#ifndef ALUMCL_APP_IMAGE_H
#define ALUMCL_APP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* An 8-bit image in HWC order: pixel (y, x) channel c is data[(y * width + x) * channels + c]. */
typedef struct {
    int32_t width;
    int32_t height;
    int32_t channels; /* 1 (gray) or 3 (RGB) */
    uint8_t *data;    /* height * width * channels bytes, owned (free with app_image_free) */
} app_image;

/* Allocates an uninitialised width x height x channels image. */
int app_image_alloc(app_image *img, int32_t width, int32_t height, int32_t channels);

/* Frees the pixels and zeroes the struct; safe on a zeroed struct. */
void app_image_free(app_image *img);

/*
 * Decodes a JPEG or PNG held in memory (detected from its signature). PNGs
 * with alpha lose it, 16-bit PNGs are reduced to 8 bits and palettes are
 * expanded. source names the bytes in error messages.
 */
int app_image_decode(const uint8_t *bytes, size_t size, const char *source, app_image *out);

/* Reads a whole file and decodes it with app_image_decode. */
int app_image_load(const char *path, app_image *out);

/* Converts a 1-channel image to 3 channels (R = G = B) in place; 3 channels stay as they are. */
int app_image_to_rgb(app_image *img);

/* Writes an 8-bit PNG (1 or 3 channels). Used for fixtures and debugging output. */
int app_image_write_png(const char *path, const app_image *img);

/* Writes a baseline JPEG (1 or 3 channels) at quality 1..100. */
int app_image_write_jpeg(const char *path, const app_image *img, int quality);

/* Reads a whole file into a malloc'd buffer (*size bytes). Shared by the dataset readers. */
int app_read_file(const char *path, uint8_t **bytes, size_t *size);

#endif
