/*
 * Helpers shared by the dataset readers (not part of the public API).
 */
#ifndef ALUMCL_APP_DATA_INTERNAL_H
#define ALUMCL_APP_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "apps/app_data.h"

/*
 * Allocates a dataset with count labels (zeroed), no clean labels, the given
 * ops and impl. On failure impl is not freed.
 */
int app_dataset_new(const char *name, int32_t count, int32_t num_classes, int32_t channels,
                    const app_dataset_ops *ops, void *impl, app_dataset **out);

/* Joins dir and name with one '/' into a malloc'd string, or returns NULL when out of memory. */
char *app_path_join(const char *dir, const char *name);

/* Returns the part of path after the last '/'. */
const char *app_path_base(const char *path);

/*
 * Parses a decimal integer in [lo, hi] from the start of *cursor (no leading
 * spaces), advancing *cursor past it. Returns 0 on success, -1 when there is no
 * number or it is out of range.
 */
int app_parse_int(const char **cursor, const char *end, long long lo, long long hi,
                  long long *value);

/* A list file: owned lines of a text file, each without its line ending. */
typedef struct {
    char *text;       /* the file contents, with '\0' at every line end */
    char **lines;     /* [count] pointers into text */
    int32_t *numbers; /* [count] 1-based line numbers in the file */
    int32_t count;    /* non-blank lines */
} app_text_lines;

/* Reads path and splits it into non-blank lines (trailing '\r' and spaces removed). */
int app_text_lines_read(const char *path, app_text_lines *out);
void app_text_lines_free(app_text_lines *lines);

/*
 * Builds an IDX dataset from memory: images is a uint8 IDX3 file (magic
 * 0x00000803) and labels a uint8 IDX1 file (magic 0x00000801) with the same
 * count. The names appear in error messages. Used by app_idx_open and the
 * fuzz target.
 */
int app_idx_from_memory(const uint8_t *images, size_t images_size, const char *images_name,
                        const uint8_t *labels, size_t labels_size, const char *labels_name,
                        app_dataset **out);

/*
 * Returns RT_OK when path exists and is not a directory, RT_ERR_NOT_FOUND when
 * it does not exist, and RT_ERR_INVALID (message "... is a directory, expected
 * a file") when it is a directory.
 */
int app_check_regular_file(const char *path);

/* Reads a file, inflating it when it is gzip-compressed (zlib's gzread reads both). */
int app_read_maybe_gzip(const char *path, uint8_t **bytes, size_t *size);

#endif
