/*
 * Synthetic label noise.
 *
 * Exactly round(rate * count) samples, chosen from the seed, get a different
 * label: a uniformly drawn other class (symmetric) or the next class modulo
 * num_classes (pair flip). The realised rate and a per-sample flag say what
 * changed, so training can report accuracy on clean and flipped samples.
 */
#ifndef ALUMCL_APP_NOISE_H
#define ALUMCL_APP_NOISE_H

#include <stdint.h>

typedef enum {
    APP_NOISE_NONE = 0,
    APP_NOISE_SYMMETRIC = 1, /* label -> uniform random class other than the true one */
    APP_NOISE_PAIRFLIP = 2,  /* label -> (label + 1) % num_classes */
} app_noise_kind;

/* Parses "none", "symmetric" (or "sym") and "pairflip" (or "pair"). */
int app_noise_parse(const char *name, app_noise_kind *out);

/* Returns the canonical name of kind ("symmetric"). */
const char *app_noise_name(app_noise_kind kind);

/*
 * Flips labels[count] in place (each in [0, num_classes), num_classes >= 2) at
 * rate in [0, 1]. changed, when not NULL, receives count flags (1 = flipped).
 * realised_rate, when not NULL, receives flipped / count.
 */
int app_noise_apply(int32_t *labels, int32_t count, int32_t num_classes, app_noise_kind kind,
                    double rate, uint64_t seed, uint8_t *changed, double *realised_rate);

#endif
