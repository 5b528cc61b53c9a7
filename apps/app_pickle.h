/*
 * CIFAR-N label files: the released .pt files and their CSV copies.
 *
 * A .pt file is a zip archive whose entries are stored (not compressed). Its
 * "<dir>/data.pkl" entry is a protocol-2 pickle of one dict mapping label-set
 * names to int64 numpy arrays or to lists of ints. The reader here implements
 * only the pickle opcodes such a file uses and checks every read against the
 * buffer bounds, so it never runs arbitrary pickle code.
 */
#ifndef ALUMCL_APP_PICKLE_H
#define ALUMCL_APP_PICKLE_H

#include <stddef.h>
#include <stdint.h>

/* Number of rows in every CIFAR-N label set (the CIFAR training set size). */
#define APP_CIFARN_COUNT 50000

/*
 * Maps a label-set name to the key in the file: "clean" -> "clean_label",
 * "aggre" -> "aggre_label", "worse" and "worst" -> "worse_label",
 * "random1".."random3" -> "random_label1".."random_label3", "noisy" ->
 * "noisy_label", "clean_coarse"/"noisy_coarse" -> "..._coarse_label". A
 * full key is accepted too. Returns NULL for an unknown name.
 */
const char *app_cifarn_key(const char *name);

/*
 * Reads label set name from a CIFAR-N .pt file (by the ".pt" suffix) or CSV
 * copy (anything else; the header names the columns). Checks that the set is
 * present, has APP_CIFARN_COUNT rows and that every label is in [0, classes).
 * labels receives a malloc'd int32 array of APP_CIFARN_COUNT entries.
 */
int app_cifarn_read(const char *path, const char *name, int classes, int32_t **labels);

/*
 * Parses the pickle of a .pt file held in memory and extracts the int array
 * under key. On success *values is malloc'd with *count entries. source names
 * the buffer in messages. Exposed for the fuzz target and tests.
 */
int app_pt_extract(const uint8_t *bytes, size_t size, const char *source, const char *key,
                   int64_t **values, size_t *count);

/* Same as app_pt_extract for a bare pickle (the data.pkl entry itself). */
int app_pickle_extract(const uint8_t *bytes, size_t size, const char *source, const char *key,
                       int64_t **values, size_t *count);

#endif
