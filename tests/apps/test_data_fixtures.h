/*
 * Tiny on-disk fixtures for the data tests, written into a fresh temporary
 * folder per test: CIFAR batches, list files, images and CIFAR-N .pt files.
 */
#ifndef ALUMCL_TEST_DATA_FIXTURES_H
#define ALUMCL_TEST_DATA_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "apps/app_image.h"

/* Creates a new empty temporary folder and returns its path (static storage). */
const char *fixture_dir(void);

/* Removes the folder of fixture_dir and everything in it. */
void fixture_cleanup(void);

/* Returns dir/name in a static rotating buffer (valid for the next few calls). */
const char *fixture_path(const char *name);

/* Writes bytes to dir/name, creating parent folders; returns the full path. */
const char *fixture_write(const char *name, const void *bytes, size_t size);

/* Writes a NUL-terminated text to dir/name; returns the full path. */
const char *fixture_write_text(const char *name, const char *text);

/* Fills an image with a pattern that depends on (x, y, channel, seed). */
void fixture_pattern(app_image *img, int32_t width, int32_t height, int32_t channels,
                     uint32_t seed);

/*
 * Writes a CIFAR batch of n records: label_bytes label bytes (taken from
 * labels[r * label_bytes ..]) then 3072 pixel bytes with pixel(r, c, y, x) = (r * 7 + c *
 * 50 + y * 3 + x) % 256.
 */
const char *fixture_cifar_batch(const char *name, int32_t n, int label_bytes,
                                const uint8_t *labels);

/* Pixel value of the CIFAR fixture for record r, channel c, row y, column x. */
uint8_t fixture_cifar_pixel(int32_t r, int32_t c, int32_t y, int32_t x);

/* One entry of a CIFAR-N style dict: an int64 numpy array or a list of ints. */
typedef struct {
    const char *key;
    const int64_t *values;
    size_t count;
    int as_list; /* 1 = a Python list of BININT1/BININT values, as for the coarse labels */
} fixture_pt_entry;

/* Serialises entries as the protocol-2 pickle that torch.save writes; returns a malloc'd buffer. */
uint8_t *fixture_pickle(const fixture_pt_entry *entries, int n, size_t *size);

/* Wraps a pickle into a stored zip with entry "archive/data.pkl"; returns a malloc'd buffer. */
uint8_t *fixture_zip(const uint8_t *pickle, size_t pickle_size, size_t *size);

/* Writes entries as a .pt file dir/name; returns the full path. */
const char *fixture_pt(const char *name, const fixture_pt_entry *entries, int n);

#endif
