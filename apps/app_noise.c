/*
 * Synthetic label noise with an exact, seeded flip count.
 */
#include "apps/app_noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_data_rng.h"
#include "runtime/rt_error.h"

int app_noise_parse(const char *name, app_noise_kind *out)
{
    if (strcmp(name, "none") == 0)
        *out = APP_NOISE_NONE;
    else if (strcmp(name, "symmetric") == 0 || strcmp(name, "sym") == 0)
        *out = APP_NOISE_SYMMETRIC;
    else if (strcmp(name, "pairflip") == 0 || strcmp(name, "pair") == 0)
        *out = APP_NOISE_PAIRFLIP;
    else
        return rt_set_error(RT_ERR_INVALID,
                            "unknown label noise kind '%s'; use none, symmetric or pairflip", name);
    return RT_OK;
}

const char *app_noise_name(app_noise_kind kind)
{
    switch (kind) {
    case APP_NOISE_NONE:
        return "none";
    case APP_NOISE_SYMMETRIC:
        return "symmetric";
    case APP_NOISE_PAIRFLIP:
        return "pairflip";
    }
    return "unknown";
}

int app_noise_apply(int32_t *labels, int32_t count, int32_t num_classes, app_noise_kind kind,
                    double rate, uint64_t seed, uint8_t *changed, double *realised_rate)
{
    if (count <= 0 || num_classes < 2)
        return rt_set_error(RT_ERR_INVALID,
                            "app_noise_apply: need count > 0 and num_classes >= 2, got %d and %d",
                            count, num_classes);
    if (!(rate >= 0.0 && rate <= 1.0))
        return rt_set_error(RT_ERR_INVALID, "label noise rate %g is invalid; use a value in [0, 1]",
                            rate);
    if (kind != APP_NOISE_NONE && kind != APP_NOISE_SYMMETRIC && kind != APP_NOISE_PAIRFLIP)
        return rt_set_error(RT_ERR_INVALID, "unknown label noise kind %d", (int)kind);
    for (int32_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return rt_set_error(RT_ERR_INVALID,
                                "label %d of sample %d is out of range 0..%d before adding noise",
                                labels[i], i, num_classes - 1);
    if (changed)
        memset(changed, 0, (size_t)count);
    int32_t flips = kind == APP_NOISE_NONE ? 0 : (int32_t)llround(rate * count);
    if (flips > 0) {
        int32_t *perm = malloc((size_t)count * sizeof(int32_t));
        if (!perm)
            return rt_set_error(RT_ERR_NOMEM, "out of memory adding label noise to %d samples",
                                count);
        for (int32_t i = 0; i < count; i++)
            perm[i] = i;
        app_rng rng = app_rng_for(seed, APP_RNG_TAG_NOISE, 0, 0);
        /* The first flips entries of a partial Fisher-Yates shuffle are the flipped samples. */
        for (int32_t i = 0; i < flips; i++) {
            int32_t j = i + (int32_t)app_rng_below(&rng, (uint64_t)(count - i));
            int32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            int32_t s = perm[i];
            if (kind == APP_NOISE_PAIRFLIP) {
                labels[s] = (labels[s] + 1) % num_classes;
            } else {
                int32_t other = (int32_t)app_rng_below(&rng, (uint64_t)(num_classes - 1));
                labels[s] = other >= labels[s] ? other + 1 : other;
            }
            if (changed)
                changed[s] = 1;
        }
        free(perm);
    }
    if (realised_rate)
        *realised_rate = (double)flips / count;
    return RT_OK;
}
