/*
 * libFuzzer target for the IDX reader. The first byte of the input chooses
 * where it splits into the image file and the label file.
 */
#include <stddef.h>
#include <stdint.h>

#include "apps/app_data.h"
#include "apps/app_data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = 1 + (size - 1) * data[0] / 255;
    app_dataset *ds = NULL;
    if (app_idx_from_memory(data + 1, split - 1, "images", data + split, size - split, "labels",
                            &ds) == 0) {
        app_image img = {0};
        if (app_dataset_load(ds, ds->count - 1, &img) == 0)
            app_image_free(&img);
        app_dataset_free(ds);
    }
    return 0;
}
