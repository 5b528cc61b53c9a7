/*
 * Augmentation: HWC uint8 image -> CHW float, driven by a per-sample seed.
 *
 * The steps run in this order, each only when enabled:
 *   1. grayscale to RGB when out_channels is 3;
 *   2. resize (bilinear) to resize_w x resize_h;
 *   3. random resized crop to out_w x out_h, or random crop of out_w x out_h
 *      from the image zero-padded by crop_pad on every side;
 *   4. random translation by up to translate_frac of the width and height
 *      (uncovered pixels are zero);
 *   5. horizontal flip with probability flip_prob;
 *   6. bilinear resize to out_w x out_h when the size still differs;
 *   7. scale to [0, 1], then (x - mean[c]) / std[c];
 *   8. random erasing with probability erase_prob (value erase_value, after
 *      normalisation).
 * All random choices come from app_rng_for(seed, APP_RNG_TAG_AUGMENT, epoch, index),
 * so the output does not depend on which thread runs it.
 */
#ifndef ALUMCL_APP_AUGMENT_H
#define ALUMCL_APP_AUGMENT_H

#include <stdint.h>

#include "apps/app_image.h"

typedef struct {
    int32_t out_w, out_h;                   /* output size; required */
    int32_t out_channels;                   /* 1 or 3; a 3-channel input needs 3 */
    int32_t resize_w, resize_h;             /* 0 = no initial resize */
    int32_t crop_pad;                       /* >= 0 with random_crop */
    int random_crop;                        /* 1 = random crop after zero padding by crop_pad */
    int random_resized_crop;                /* 1 = random resized crop (Inception style) */
    float rrc_scale_min, rrc_scale_max;     /* area fraction, default 0.08 .. 1 */
    float rrc_ratio_min, rrc_ratio_max;     /* aspect ratio w/h, default 3/4 .. 4/3 */
    float translate_frac;                   /* 0 = off; max shift as a fraction of each side */
    float flip_prob;                        /* 0 = off, 0.5 usual */
    float mean[3], std[3];                  /* per channel, on the [0, 1] scale */
    float erase_prob;                       /* 0 = off */
    float erase_scale_min, erase_scale_max; /* area fraction, default 0.02 .. 0.33 */
    float erase_ratio_min, erase_ratio_max; /* aspect ratio h/w, default 0.3 .. 3.3 */
    float erase_value;                      /* value written in the erased box, default 0 */
} app_augment_config;

/*
 * Fills cfg with an identity pipeline for out_w x out_h x 3: no random step,
 * mean 0, std 1, and the default ranges for the random steps.
 */
void app_augment_defaults(app_augment_config *cfg, int32_t out_w, int32_t out_h);

/* Checks the fields and names the first invalid one in the error message. */
int app_augment_validate(const app_augment_config *cfg);

/*
 * Runs the pipeline on img and writes out_channels x out_h x out_w floats
 * (CHW) to out. img is not modified.
 */
int app_augment_apply(const app_augment_config *cfg, const app_image *img, uint64_t seed,
                      int64_t epoch, int64_t index, float *out);

/* Bilinear resize of src to dst_w x dst_h (half-pixel centres, edge clamped). */
int app_image_resize(const app_image *src, int32_t dst_w, int32_t dst_h, app_image *dst);

#endif
