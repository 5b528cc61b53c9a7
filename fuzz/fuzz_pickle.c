/*
 * libFuzzer target for the CIFAR-N .pt reader: the zip container and the
 * pickle machine. The input is tried both as a whole .pt file and as a bare
 * pickle, with one key that real files have.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "apps/app_pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t *values = NULL;
    size_t count = 0;
    if (app_pt_extract(data, size, "fuzz.pt", "clean_label", &values, &count) == 0)
        free(values);
    values = NULL;
    if (app_pickle_extract(data, size, "fuzz.pkl", "clean_label", &values, &count) == 0)
        free(values);
    return 0;
}
