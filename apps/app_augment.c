/*
 * Augmentation pipeline on HWC uint8 images, producing normalised CHW floats.
 */
#include "apps/app_augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app_data_rng.h"
#include "runtime/rt_error.h"

void app_augment_defaults(app_augment_config *cfg, int32_t out_w, int32_t out_h)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->out_w = out_w;
    cfg->out_h = out_h;
    cfg->out_channels = 3;
    cfg->rrc_scale_min = 0.08f;
    cfg->rrc_scale_max = 1.0f;
    cfg->rrc_ratio_min = 3.0f / 4.0f;
    cfg->rrc_ratio_max = 4.0f / 3.0f;
    cfg->erase_scale_min = 0.02f;
    cfg->erase_scale_max = 0.33f;
    cfg->erase_ratio_min = 0.3f;
    cfg->erase_ratio_max = 3.3f;
    for (int c = 0; c < 3; c++) {
        cfg->mean[c] = 0.0f;
        cfg->std[c] = 1.0f;
    }
}

static int bad_field(const char *field, double value, const char *expected)
{
    return rt_set_error(RT_ERR_INVALID, "augmentation setting %s = %g is invalid; expected %s",
                        field, value, expected);
}

int app_augment_validate(const app_augment_config *cfg)
{
    if (cfg->out_w <= 0 || cfg->out_w > 8192)
        return bad_field("out_w", cfg->out_w, "1..8192");
    if (cfg->out_h <= 0 || cfg->out_h > 8192)
        return bad_field("out_h", cfg->out_h, "1..8192");
    if (cfg->out_channels != 1 && cfg->out_channels != 3)
        return bad_field("out_channels", cfg->out_channels, "1 or 3");
    if (cfg->resize_w < 0 || cfg->resize_w > 8192 || cfg->resize_h < 0 || cfg->resize_h > 8192 ||
        (cfg->resize_w == 0) != (cfg->resize_h == 0))
        return bad_field("resize_w", cfg->resize_w,
                         "both resize_w and resize_h 0 (off) or both in 1..8192");
    if (cfg->crop_pad < 0 || cfg->crop_pad > 1024)
        return bad_field("crop_pad", cfg->crop_pad, "0..1024");
    if (cfg->random_crop && cfg->random_resized_crop)
        return bad_field("random_crop", cfg->random_crop,
                         "random_crop off when random_resized_crop is on (pick one)");
    if (cfg->random_resized_crop &&
        !(cfg->rrc_scale_min > 0 && cfg->rrc_scale_min <= cfg->rrc_scale_max &&
          cfg->rrc_scale_max <= 1))
        return bad_field("rrc_scale_min", cfg->rrc_scale_min,
                         "0 < rrc_scale_min <= rrc_scale_max <= 1");
    if (cfg->random_resized_crop &&
        !(cfg->rrc_ratio_min > 0 && cfg->rrc_ratio_min <= cfg->rrc_ratio_max))
        return bad_field("rrc_ratio_min", cfg->rrc_ratio_min, "0 < rrc_ratio_min <= rrc_ratio_max");
    if (!(cfg->translate_frac >= 0 && cfg->translate_frac < 1))
        return bad_field("translate_frac", cfg->translate_frac, "a value in [0, 1)");
    if (!(cfg->flip_prob >= 0 && cfg->flip_prob <= 1))
        return bad_field("flip_prob", cfg->flip_prob, "a probability in [0, 1]");
    for (int c = 0; c < cfg->out_channels; c++) {
        if (!(cfg->std[c] > 0) || !isfinite(cfg->mean[c]) || !isfinite(cfg->std[c]))
            return bad_field("std", cfg->std[c], "finite mean and std > 0 for every channel");
    }
    if (!(cfg->erase_prob >= 0 && cfg->erase_prob <= 1))
        return bad_field("erase_prob", cfg->erase_prob, "a probability in [0, 1]");
    if (cfg->erase_prob > 0 &&
        !(cfg->erase_scale_min > 0 && cfg->erase_scale_min <= cfg->erase_scale_max &&
          cfg->erase_scale_max < 1))
        return bad_field("erase_scale_min", cfg->erase_scale_min,
                         "0 < erase_scale_min <= erase_scale_max < 1");
    if (cfg->erase_prob > 0 &&
        !(cfg->erase_ratio_min > 0 && cfg->erase_ratio_min <= cfg->erase_ratio_max))
        return bad_field("erase_ratio_min", cfg->erase_ratio_min,
                         "0 < erase_ratio_min <= erase_ratio_max");
    if (!isfinite(cfg->erase_value))
        return bad_field("erase_value", cfg->erase_value, "a finite value");
    return RT_OK;
}

/* Bilinear resize of the box (x0, y0, bw, bh) of src, in source pixels, to dst_w x dst_h. */
static int resize_box(const app_image *src, double x0, double y0, double bw, double bh,
                      int32_t dst_w, int32_t dst_h, app_image *dst)
{
    RT_TRY(app_image_alloc(dst, dst_w, dst_h, src->channels));
    int32_t c = src->channels;
    double sx = bw / dst_w, sy = bh / dst_h;
    for (int32_t y = 0; y < dst_h; y++) {
        double fy = y0 + (y + 0.5) * sy - 0.5;
        if (fy < 0)
            fy = 0;
        if (fy > src->height - 1)
            fy = src->height - 1;
        int32_t y1 = (int32_t)fy;
        int32_t y2 = y1 + 1 < src->height ? y1 + 1 : y1;
        double wy = fy - y1;
        for (int32_t x = 0; x < dst_w; x++) {
            double fx = x0 + (x + 0.5) * sx - 0.5;
            if (fx < 0)
                fx = 0;
            if (fx > src->width - 1)
                fx = src->width - 1;
            int32_t x1 = (int32_t)fx;
            int32_t x2 = x1 + 1 < src->width ? x1 + 1 : x1;
            double wx = fx - x1;
            for (int32_t ch = 0; ch < c; ch++) {
                double p11 = src->data[((size_t)y1 * src->width + x1) * c + ch];
                double p12 = src->data[((size_t)y1 * src->width + x2) * c + ch];
                double p21 = src->data[((size_t)y2 * src->width + x1) * c + ch];
                double p22 = src->data[((size_t)y2 * src->width + x2) * c + ch];
                double top = p11 + (p12 - p11) * wx;
                double bottom = p21 + (p22 - p21) * wx;
                double v = top + (bottom - top) * wy;
                dst->data[((size_t)y * dst_w + x) * c + ch] = (uint8_t)(v + 0.5);
            }
        }
    }
    return RT_OK;
}

int app_image_resize(const app_image *src, int32_t dst_w, int32_t dst_h, app_image *dst)
{
    return resize_box(src, 0, 0, src->width, src->height, dst_w, dst_h, dst);
}

/* Replaces *img with next (freeing the old pixels). */
static void replace_image(app_image *img, app_image *next)
{
    app_image_free(img);
    *img = *next;
    memset(next, 0, sizeof(*next));
}

/* Copies the w x h window at (x0, y0) of src into dst; pixels outside src are zero. */
static int crop_window(const app_image *src, int32_t x0, int32_t y0, int32_t w, int32_t h,
                       app_image *dst)
{
    RT_TRY(app_image_alloc(dst, w, h, src->channels));
    int32_t c = src->channels;
    memset(dst->data, 0, (size_t)w * h * c);
    for (int32_t y = 0; y < h; y++) {
        int32_t sy = y0 + y;
        if (sy < 0 || sy >= src->height)
            continue;
        for (int32_t x = 0; x < w; x++) {
            int32_t sx = x0 + x;
            if (sx < 0 || sx >= src->width)
                continue;
            memcpy(dst->data + ((size_t)y * w + x) * c,
                   src->data + ((size_t)sy * src->width + sx) * c, (size_t)c);
        }
    }
    return RT_OK;
}

/* Random resized crop as in torchvision: 10 tries at a random area and aspect, else the centre. */
static int random_resized_crop(const app_augment_config *cfg, app_rng *rng, app_image *img)
{
    double area = (double)img->width * img->height;
    double log_lo = log(cfg->rrc_ratio_min), log_hi = log(cfg->rrc_ratio_max);
    int32_t w = 0, h = 0, x0 = 0, y0 = 0, found = 0;
    for (int attempt = 0; attempt < 10 && !found; attempt++) {
        double target = area * (cfg->rrc_scale_min +
                                (cfg->rrc_scale_max - cfg->rrc_scale_min) * app_rng_uniform(rng));
        double ratio = exp(log_lo + (log_hi - log_lo) * app_rng_uniform(rng));
        w = (int32_t)lround(sqrt(target * ratio));
        h = (int32_t)lround(sqrt(target / ratio));
        if (w > 0 && h > 0 && w <= img->width && h <= img->height) {
            x0 = (int32_t)app_rng_below(rng, (uint64_t)(img->width - w + 1));
            y0 = (int32_t)app_rng_below(rng, (uint64_t)(img->height - h + 1));
            found = 1;
        }
    }
    if (!found) {
        /* Fallback: the largest centred box whose aspect lies within the ratio range. */
        double in_ratio = (double)img->width / img->height;
        if (in_ratio < cfg->rrc_ratio_min) {
            w = img->width;
            h = (int32_t)lround(w / cfg->rrc_ratio_min);
        } else if (in_ratio > cfg->rrc_ratio_max) {
            h = img->height;
            w = (int32_t)lround(h * cfg->rrc_ratio_max);
        } else {
            w = img->width;
            h = img->height;
        }
        if (w < 1)
            w = 1;
        if (h < 1)
            h = 1;
        x0 = (img->width - w) / 2;
        y0 = (img->height - h) / 2;
    }
    app_image next = {0};
    RT_TRY(resize_box(img, x0, y0, w, h, cfg->out_w, cfg->out_h, &next));
    replace_image(img, &next);
    return RT_OK;
}

static int random_crop(const app_augment_config *cfg, app_rng *rng, app_image *img)
{
    int32_t pad = cfg->crop_pad;
    int32_t span_x = img->width + 2 * pad - cfg->out_w;
    int32_t span_y = img->height + 2 * pad - cfg->out_h;
    if (span_x < 0 || span_y < 0)
        return rt_set_error(RT_ERR_INVALID,
                            "random crop of %dx%d does not fit a %dx%d image padded by %d; "
                            "resize first or lower the crop size",
                            cfg->out_w, cfg->out_h, img->width, img->height, pad);
    int32_t x0 = (int32_t)app_rng_below(rng, (uint64_t)span_x + 1) - pad;
    int32_t y0 = (int32_t)app_rng_below(rng, (uint64_t)span_y + 1) - pad;
    app_image next = {0};
    RT_TRY(crop_window(img, x0, y0, cfg->out_w, cfg->out_h, &next));
    replace_image(img, &next);
    return RT_OK;
}

static int random_translate(const app_augment_config *cfg, app_rng *rng, app_image *img)
{
    int32_t max_dx = (int32_t)lround(cfg->translate_frac * img->width);
    int32_t max_dy = (int32_t)lround(cfg->translate_frac * img->height);
    int32_t dx = (int32_t)app_rng_below(rng, (uint64_t)(2 * max_dx + 1)) - max_dx;
    int32_t dy = (int32_t)app_rng_below(rng, (uint64_t)(2 * max_dy + 1)) - max_dy;
    if (dx == 0 && dy == 0)
        return RT_OK;
    /* Output pixel (x, y) takes input (x - dx, y - dy), so content moves by (+dx, +dy). */
    app_image next = {0};
    RT_TRY(crop_window(img, -dx, -dy, img->width, img->height, &next));
    replace_image(img, &next);
    return RT_OK;
}

static void flip_horizontal(app_image *img)
{
    int32_t c = img->channels;
    for (int32_t y = 0; y < img->height; y++) {
        uint8_t *row = img->data + (size_t)y * img->width * c;
        for (int32_t x = 0; x < img->width / 2; x++) {
            uint8_t *a = row + (size_t)x * c, *b = row + (size_t)(img->width - 1 - x) * c;
            for (int32_t ch = 0; ch < c; ch++) {
                uint8_t t = a[ch];
                a[ch] = b[ch];
                b[ch] = t;
            }
        }
    }
}

/* Random erasing as in torchvision: up to 10 tries for a box inside the image. */
static void random_erase(const app_augment_config *cfg, app_rng *rng, float *out)
{
    int32_t W = cfg->out_w, H = cfg->out_h;
    double area = (double)W * H;
    double log_lo = log(cfg->erase_ratio_min), log_hi = log(cfg->erase_ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target =
            area * (cfg->erase_scale_min +
                    (cfg->erase_scale_max - cfg->erase_scale_min) * app_rng_uniform(rng));
        double ratio = exp(log_lo + (log_hi - log_lo) * app_rng_uniform(rng));
        int32_t h = (int32_t)lround(sqrt(target * ratio));
        int32_t w = (int32_t)lround(sqrt(target / ratio));
        if (h <= 0 || w <= 0 || h >= H || w >= W)
            continue;
        int32_t y0 = (int32_t)app_rng_below(rng, (uint64_t)(H - h + 1));
        int32_t x0 = (int32_t)app_rng_below(rng, (uint64_t)(W - w + 1));
        for (int32_t c = 0; c < cfg->out_channels; c++)
            for (int32_t y = y0; y < y0 + h; y++)
                for (int32_t x = x0; x < x0 + w; x++)
                    out[((size_t)c * H + y) * W + x] = cfg->erase_value;
        return;
    }
}

/* Runs the geometric steps 2-6 on work, which then has size out_w x out_h. */
static int apply_geometry(const app_augment_config *cfg, app_rng *rng, app_image *work)
{
    app_image next = {0};
    if (cfg->resize_w > 0 && (work->width != cfg->resize_w || work->height != cfg->resize_h)) {
        RT_TRY(app_image_resize(work, cfg->resize_w, cfg->resize_h, &next));
        replace_image(work, &next);
    }
    if (cfg->random_resized_crop)
        RT_TRY(random_resized_crop(cfg, rng, work));
    else if (cfg->random_crop)
        RT_TRY(random_crop(cfg, rng, work));
    if (cfg->translate_frac > 0)
        RT_TRY(random_translate(cfg, rng, work));
    if (cfg->flip_prob > 0 && app_rng_uniform(rng) < cfg->flip_prob)
        flip_horizontal(work);
    if (work->width != cfg->out_w || work->height != cfg->out_h) {
        RT_TRY(app_image_resize(work, cfg->out_w, cfg->out_h, &next));
        replace_image(work, &next);
    }
    return RT_OK;
}

int app_augment_apply(const app_augment_config *cfg, const app_image *img, uint64_t seed,
                      int64_t epoch, int64_t index, float *out)
{
    RT_TRY(app_augment_validate(cfg));
    if (!img || !img->data || (img->channels != 1 && img->channels != 3))
        return rt_set_error(RT_ERR_INVALID,
                            "augmentation input of sample %lld is not a decoded "
                            "1- or 3-channel image",
                            (long long)index);
    if (img->channels == 3 && cfg->out_channels == 1)
        return rt_set_error(RT_ERR_INVALID,
                            "sample %lld is RGB but the augmentation outputs 1 channel; set "
                            "out_channels to 3",
                            (long long)index);
    app_rng rng = app_rng_for(seed, APP_RNG_TAG_AUGMENT, epoch, index);

    app_image work = {0};
    RT_TRY(app_image_alloc(&work, img->width, img->height, img->channels));
    memcpy(work.data, img->data, (size_t)img->width * img->height * img->channels);
    int status = RT_OK;
    if (cfg->out_channels == 3)
        status = app_image_to_rgb(&work);
    if (status == RT_OK)
        status = apply_geometry(cfg, &rng, &work);
    if (status != RT_OK) {
        app_image_free(&work);
        return status;
    }

    /* HWC uint8 -> CHW float, scaled to [0, 1] and normalised per channel. */
    int32_t W = cfg->out_w, H = cfg->out_h, C = cfg->out_channels;
    for (int32_t c = 0; c < C; c++) {
        float scale = 1.0f / (255.0f * cfg->std[c]);
        float shift = cfg->mean[c] / cfg->std[c];
        for (int32_t y = 0; y < H; y++)
            for (int32_t x = 0; x < W; x++)
                out[((size_t)c * H + y) * W + x] =
                    work.data[((size_t)y * W + x) * C + c] * scale - shift;
    }
    app_image_free(&work);

    if (cfg->erase_prob > 0 && app_rng_uniform(&rng) < cfg->erase_prob)
        random_erase(cfg, &rng, out);
    return RT_OK;
}
