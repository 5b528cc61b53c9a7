/*
 * libFuzzer target of the config loader. The input is split at the first NUL
 * byte: the part before it is the YAML text, and each further NUL-separated
 * piece is one override. Every loaded config is written back as YAML and must
 * load again, equal to itself.
 */
#include "apps/app_config.h"
#include "runtime/rt_error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_OVERRIDES = 8 };

static void check_round_trip(const app_config *cfg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return;
    app_config_write_yaml(cfg, out);
    fclose(out);

    app_config reloaded;
    char *errors = NULL;
    int status = app_config_load_buffer(&reloaded, "resolved.yaml", text, size, NULL, 0, &errors);
    if (status != RT_OK) {
        fprintf(stderr, "resolved config does not load:\n%s\n--- YAML ---\n%s", errors, text);
        abort();
    }
    char diff[4096];
    if (app_config_compare(cfg, &reloaded, diff, sizeof diff) != 0) {
        fprintf(stderr, "keys differ after the round trip: %s\n--- YAML ---\n%s", diff, text);
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    size_t yaml_size = strlen(copy);
    const char *overrides[MAX_OVERRIDES];
    int n_overrides = 0;
    for (size_t at = yaml_size + 1; at < size && n_overrides < MAX_OVERRIDES;
         at += strlen(copy + at) + 1)
        overrides[n_overrides++] = copy + at;

    /* a name inside a missing directory keeps relative extends paths from reaching real files */
    app_config cfg;
    char *errors = NULL;
    int status = app_config_load_buffer(&cfg, "/nonexistent-fuzz-dir/input.yaml", copy, yaml_size,
                                        overrides, n_overrides, &errors);
    if (status == RT_OK)
        check_round_trip(&cfg);
    free(errors);
    free(copy);
    return 0;
}
