/*
 * libFuzzer target for the text readers: PACS-style list files, RAF-DB label
 * files (as the main list and as a noisy list) and CIFAR-N CSV files. The
 * input is written to files in a private temporary folder, because these
 * readers take paths.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/app_data.h"
#include "apps/app_pickle.h"

static char root[256];

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        snprintf(root, sizeof(root), "/tmp/alumcl-fuzz-lists-%d", (int)getpid());
        char sub[300];
        mkdir(root, 0700);
        snprintf(sub, sizeof(sub), "%s/EmoLabel", root);
        mkdir(sub, 0700);
    }
    char list[300], csv[300], raf[300];
    snprintf(list, sizeof(list), "%s/list.txt", root);
    snprintf(csv, sizeof(csv), "%s/labels.csv", root);
    snprintf(raf, sizeof(raf), "%s/EmoLabel/list_patition_label.txt", root);
    write_file(list, data, size);
    write_file(csv, data, size);
    write_file(raf, data, size);

    app_dataset *ds = NULL;
    if (app_pacs_open(root, list, &ds) == 0)
        app_dataset_free(ds);
    ds = NULL;
    if (app_rafdb_open(root, 1, list, &ds) == 0)
        app_dataset_free(ds);
    ds = NULL;
    if (app_rafdb_open(root, 0, NULL, &ds) == 0)
        app_dataset_free(ds);
    int32_t *labels = NULL;
    if (app_cifarn_read(csv, "clean", 10, &labels) == 0)
        free(labels);
    return 0;
}
