#include "alum/alum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alum/alum_internal.h"
#include "alum/alum_rng.h"

void alum_config_default(alum_config *config)
{
    memset(config, 0, sizeof *config);
    config->method = ALUM_METHOD_ALUM;
    config->lc_points =
        (1u << NN_P0) | (1u << NN_P1) | (1u << NN_P2) | (1u << NN_P3) | (1u << NN_P4);
    config->adversarial_positive = true;
    config->adversarial_negative = true;
    config->triplet = true;
    /* batch_union tested better than per_anchor on CIFAR-10N worse at equal budget, two seeds
     * (docs/method.md gives the numbers) */
    config->variance_mode = ALUM_VARIANCE_BATCH_UNION;
    config->probability = 0.5f;
    config->eps = 1e-6f;
    config->margin = 0.3f;
    config->triplet_weight = 1.0f;
    config->normalize_embeddings = true;
}

int alum_config_validate(const alum_config *config)
{
    if (config->method < ALUM_METHOD_ERM || config->method > ALUM_METHOD_ALUM)
        return rt_set_error(RT_ERR_INVALID, "alum method %d is invalid; use erm, dsu or alum",
                            (int)config->method);
    if (config->variance_mode < ALUM_VARIANCE_PER_ANCHOR ||
        config->variance_mode > ALUM_VARIANCE_BATCH_UNION)
        return rt_set_error(RT_ERR_INVALID,
                            "alum variance mode %d is invalid; use per_anchor or batch_union",
                            (int)config->variance_mode);
    if (config->lc_points & ~ALUM_ALL_POINTS)
        return rt_set_error(RT_ERR_INVALID,
                            "alum lc_points mask 0x%x names points beyond P5; use bits 0..5",
                            config->lc_points);
    if (!(config->probability >= 0.0f && config->probability <= 1.0f))
        return rt_set_error(RT_ERR_INVALID, "alum probability %g is invalid; use 0..1",
                            (double)config->probability);
    if (!(config->eps > 0.0f))
        return rt_set_error(RT_ERR_INVALID, "alum eps %g is invalid; use a positive value",
                            (double)config->eps);
    if (!(config->margin >= 0.0f))
        return rt_set_error(RT_ERR_INVALID, "alum margin %g is invalid; use a value >= 0",
                            (double)config->margin);
    if (!(config->triplet_weight >= 0.0f))
        return rt_set_error(RT_ERR_INVALID, "alum triplet weight %g is invalid; use a value >= 0",
                            (double)config->triplet_weight);
    return RT_OK;
}

const char *alum_method_name(alum_method method)
{
    switch (method) {
    case ALUM_METHOD_ERM:
        return "erm";
    case ALUM_METHOD_DSU:
        return "dsu";
    case ALUM_METHOD_ALUM:
        return "alum";
    }
    return "invalid";
}

const char *alum_variance_mode_name(alum_variance_mode mode)
{
    switch (mode) {
    case ALUM_VARIANCE_PER_ANCHOR:
        return "per_anchor";
    case ALUM_VARIANCE_BATCH_UNION:
        return "batch_union";
    }
    return "invalid";
}

int alum_method_parse(const char *name, alum_method *out)
{
    for (int m = ALUM_METHOD_ERM; m <= ALUM_METHOD_ALUM; m++)
        if (strcmp(name, alum_method_name((alum_method)m)) == 0) {
            *out = (alum_method)m;
            return RT_OK;
        }
    return rt_set_error(RT_ERR_INVALID, "method \"%s\" is invalid; use erm, dsu or alum", name);
}

int alum_variance_mode_parse(const char *name, alum_variance_mode *out)
{
    for (int m = ALUM_VARIANCE_PER_ANCHOR; m <= ALUM_VARIANCE_BATCH_UNION; m++)
        if (strcmp(name, alum_variance_mode_name((alum_variance_mode)m)) == 0) {
            *out = (alum_variance_mode)m;
            return RT_OK;
        }
    return rt_set_error(RT_ERR_INVALID,
                        "variance mode \"%s\" is invalid; use per_anchor or batch_union", name);
}

int alum_points_parse(const char *list, unsigned *mask)
{
    unsigned result = 0;
    const char *p = list;
    while (*p == ' ')
        p++;
    if (*p == '\0' || strcasecmp(p, "none") == 0) {
        *mask = 0;
        return RT_OK;
    }
    if (strcasecmp(p, "all") == 0) {
        *mask = ALUM_ALL_POINTS;
        return RT_OK;
    }
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        if ((p[0] != 'P' && p[0] != 'p') || p[1] < '0' || p[1] >= '0' + NN_NUM_POINTS ||
            (p[2] != '\0' && p[2] != ',' && p[2] != ' '))
            return rt_set_error(RT_ERR_INVALID,
                                "feature point list \"%s\" is invalid at \"%s\"; use names "
                                "P0..P5 separated by commas, \"all\" or \"none\"",
                                list, p);
        result |= 1u << (p[1] - '0');
        p += 2;
    }
    *mask = result;
    return RT_OK;
}

void alum_points_format(unsigned mask, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (int point = 0; point < NN_NUM_POINTS; point++)
        if (mask & (1u << point)) {
            int written = snprintf(buf + used, size - used, "%sP%d", used ? "," : "", point);
            if (written < 0 || (size_t)written >= size - used)
                return;
            used += (size_t)written;
        }
    if (used == 0)
        snprintf(buf, size, "none");
}

static bool uses_mining(const alum_config *config)
{
    return config->method == ALUM_METHOD_ALUM &&
           (config->adversarial_positive || config->adversarial_negative || config->triplet);
}

static bool uses_triplet_scales(const alum_config *config)
{
    return config->method == ALUM_METHOD_ALUM &&
           (config->adversarial_positive || config->adversarial_negative);
}

/* LC (or DSU) with batch scales at point, when it is not replaced by triplet scales. */
static bool uses_batch_scales(const alum_config *config, int point)
{
    if (config->method == ALUM_METHOD_DSU)
        return true;
    return config->method == ALUM_METHOD_ALUM && (config->lc_points & (1u << point));
}

bool alum_point_used(const alum_config *config, int point)
{
    if (point == NN_P5 && uses_mining(config))
        return true;
    return uses_batch_scales(config, point);
}

int alum_create(rt_context *ctx, const alum_config *config, alum **out)
{
    *out = NULL;
    RT_TRY(alum_config_validate(config));
    alum *a = calloc(1, sizeof *a);
    if (!a)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory for the alum state");
    a->ctx = ctx;
    a->config = *config;
    for (int p = 0; p < NN_NUM_POINTS; p++) {
        char name[8];
        snprintf(name, sizeof name, "P%d", p);
        alum_dsu_init(&a->modules[p], name, config->eps);
    }
    alum_triplet_init(&a->triplet, config->margin, config->triplet_weight,
                      config->normalize_embeddings);
    *out = a;
    return RT_OK;
}

void alum_free(alum *a)
{
    if (!a)
        return;
    if (a->detach)
        a->detach(a);
    for (int p = 0; p < NN_NUM_POINTS; p++) {
        alum_dsu_free(&a->modules[p]);
        rt_tensor_free(&a->draws[p]);
    }
    rt_tensor_free(&a->mining_embedding);
    rt_tensor_free(&a->mined);
    rt_tensor_free(&a->groups);
    alum_triplet_free(&a->triplet);
    if (a->tracking)
        alum_data_uncertainty_free(&a->uncertainty);
    free(a);
}

void alum_set_step(alum *a, uint64_t seed, uint64_t step)
{
    a->seed = seed;
    a->step = step;
}

void alum_set_labels(alum *a, const rt_tensor *labels, const rt_tensor *sample_index)
{
    a->labels = labels;
    a->sample_index = sample_index;
}

void alum_set_mc_mode(alum *a, bool on)
{
    a->mc_mode = on;
}

const rt_tensor *alum_mined(const alum *a)
{
    return a->mined_ready ? &a->mined : NULL;
}

alum_dsu *alum_module(alum *a, int point)
{
    return point >= 0 && point < NN_NUM_POINTS ? &a->modules[point] : NULL;
}

bool alum_point_applied(const alum *a, int point)
{
    return point >= 0 && point < NN_NUM_POINTS && a->modules[point].applied;
}

/* Mines p(i), n(i) from the pooled unperturbed P5 input (mu of dsu->stats). */
static int mine_at_p5(rt_context *ctx, alum *a, alum_dsu *dsu)
{
    int batch = dsu->batch, channels = dsu->channels;
    const rt_tensor *labels = a->labels;
    if (!labels || labels->dtype != RT_I32 || labels->numel != (size_t)batch)
        return rt_set_error(RT_ERR_INVALID,
                            "alum: mining at P5 needs int32 labels for all %d samples; call "
                            "alum_set_labels before each training forward",
                            batch);

    /* mu [B, C] is the first half of stats [2, B, C], so a view of it needs no copy */
    rt_tensor pooled = dsu->stats;
    pooled.ndim = 2;
    pooled.shape[0] = batch;
    pooled.shape[1] = channels;
    pooled.numel = (size_t)batch * (size_t)channels;

    int emb_shape[2] = {batch, channels}, mined_shape[2] = {2, batch};
    RT_TRY(alum_tensor_ensure(ctx, &a->mining_embedding, "mining_embedding", RT_F32, 2, emb_shape));
    RT_TRY(alum_tensor_ensure(ctx, &a->mined, "mined_indices", RT_I32, 2, mined_shape));
    RT_TRY(
        alum_embed_normalize(ctx, &pooled, &a->mining_embedding, a->config.normalize_embeddings));
    RT_TRY(alum_mine_hardest(ctx, &a->mining_embedding, labels, &a->mined));
    a->mined_ready = true;

    if (a->tracking && a->sample_index)
        RT_TRY(alum_data_uncertainty_add(ctx, &a->uncertainty, &dsu->stats, &a->mined,
                                         a->sample_index));
    return RT_OK;
}

/* Builds the P5 scale groups of the configured variance mode from the mined indices. */
static int build_triplet_groups(rt_context *ctx, alum *a, int batch, alum_dsu_groups *groups)
{
    bool positive = a->config.adversarial_positive, negative = a->config.adversarial_negative;
    bool use_union = a->config.variance_mode == ALUM_VARIANCE_BATCH_UNION;
    int members = 1 + (positive ? 1 : 0) + (negative ? 1 : 0);
    int shape[2] = {use_union ? 1 : batch, use_union ? members * batch : members};
    RT_TRY(alum_tensor_ensure(ctx, &a->groups, "p5_scale_groups", RT_I32, 2, shape));

    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "triplet", "triplet_groups", &k));
    cl_int b = batch, u = use_union ? 1 : 0, pos = positive ? 1 : 0, neg = negative ? 1 : 0;
    RT_ARG(ctx, k, 0, b);
    RT_ARG(ctx, k, 1, u);
    RT_ARG(ctx, k, 2, pos);
    RT_ARG(ctx, k, 3, neg);
    RT_ARG(ctx, k, 4, a->mined.buf);
    RT_ARG(ctx, k, 5, a->groups.buf);
    size_t global = (size_t)batch;
    RT_TRY(rt_launch(ctx, k, "triplet_groups", 1, &global, NULL));

    groups->groups = shape[0];
    groups->members = shape[1];
    groups->index = &a->groups;
    return RT_OK;
}

static int hook_forward(void *state, rt_context *ctx, int point, rt_tensor *x, bool training)
{
    alum *a = state;
    alum_dsu *dsu = &a->modules[point];
    alum_dsu_set_identity(dsu);
    if (point == NN_P5)
        a->mined_ready = false;

    bool stochastic = training || a->mc_mode;
    bool mining = training && point == NN_P5 && uses_mining(&a->config);
    bool triplet_scales = mining && uses_triplet_scales(&a->config);
    bool batch_scales = stochastic && !triplet_scales && uses_batch_scales(&a->config, point);
    if (!mining && !batch_scales)
        return RT_OK;

    RT_TRY(alum_dsu_stats(ctx, dsu, x));
    if (mining)
        RT_TRY(mine_at_p5(ctx, a, dsu));
    if (!triplet_scales && !batch_scales)
        return RT_OK;

    /* one coin per module and forward decides whether the whole batch is perturbed */
    uint64_t coin_key = alum_rng_key(a->seed, a->step, (uint32_t)point, ALUM_STREAM_COIN);
    if (!(alum_rng_uniform(coin_key, 0) < a->config.probability)) {
        alum_dsu_set_identity(dsu);
        return RT_OK;
    }

    int draw_shape[3] = {2, dsu->batch, dsu->channels};
    RT_TRY(alum_tensor_ensure(ctx, &a->draws[point], "dsu_normal_draws", RT_F32, 3, draw_shape));
    uint64_t normal_key = alum_rng_key(a->seed, a->step, (uint32_t)point, ALUM_STREAM_NORMAL);
    RT_TRY(alum_rng_fill_normal(ctx, &a->draws[point], normal_key));

    if (!triplet_scales)
        return alum_dsu_perturb(ctx, dsu, x, NULL, &a->draws[point]);
    alum_dsu_groups groups;
    RT_TRY(build_triplet_groups(ctx, a, dsu->batch, &groups));
    return alum_dsu_perturb(ctx, dsu, x, &groups, &a->draws[point]);
}

static int hook_backward(void *state, rt_context *ctx, int point, rt_tensor *dx)
{
    alum *a = state;
    return alum_dsu_backward(ctx, &a->modules[point], dx);
}

nn_hook alum_hook(alum *a, int point)
{
    nn_hook hook = {0};
    if (point >= 0 && point < NN_NUM_POINTS && alum_point_used(&a->config, point)) {
        hook.state = a;
        hook.forward = hook_forward;
        hook.backward = hook_backward;
    }
    return hook;
}

int alum_triplet_step(rt_context *ctx, alum *a, const rt_tensor *embedding,
                      const rt_tensor **dembedding, const rt_tensor **loss)
{
    *dembedding = NULL;
    *loss = NULL;
    if (a->config.method != ALUM_METHOD_ALUM || !a->config.triplet)
        return RT_OK;
    if (!a->mined_ready || embedding->ndim != 2 ||
        (size_t)embedding->shape[0] * 2 != a->mined.numel)
        return rt_set_error(RT_ERR_INVALID,
                            "alum_triplet_step: embedding %s does not match the last training "
                            "forward; run a training forward with labels first",
                            embedding->name);
    RT_TRY(alum_triplet_forward(ctx, &a->triplet, embedding, &a->mined));
    RT_TRY(alum_triplet_backward(ctx, &a->triplet, embedding, &a->mined));
    *dembedding = &a->triplet.grad;
    *loss = &a->triplet.result;
    return RT_OK;
}

int alum_track_data_uncertainty(alum *a, int dataset_size)
{
    if (!uses_mining(&a->config))
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty needs mined triplets; use method alum with AP, AN "
                            "or the triplet loss switched on");
    if (a->tracking)
        alum_data_uncertainty_free(&a->uncertainty);
    a->tracking = false;
    RT_TRY(alum_data_uncertainty_init(a->ctx, &a->uncertainty, dataset_size));
    a->tracking = true;
    return RT_OK;
}

int alum_read_data_uncertainty(alum *a, float *mean, int *count)
{
    if (!a->tracking)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty is not tracked; call alum_track_data_uncertainty");
    return alum_data_uncertainty_read(&a->uncertainty, mean, count);
}

int alum_reset_data_uncertainty(alum *a)
{
    if (!a->tracking)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty is not tracked; call alum_track_data_uncertainty");
    return alum_data_uncertainty_reset(&a->uncertainty);
}

int alum_write_data_uncertainty(alum *a, const float *mean, const int *count)
{
    if (!a->tracking)
        return rt_set_error(RT_ERR_INVALID,
                            "data uncertainty is not tracked; call alum_track_data_uncertainty");
    int n = a->uncertainty.dataset_size;
    float *sum = malloc((size_t)n * sizeof *sum);
    if (!sum)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory restoring data uncertainty");
    for (int i = 0; i < n; i++)
        sum[i] = count[i] > 0 ? mean[i] * (float)count[i] : 0.0f;
    int st = rt_tensor_write(&a->uncertainty.sum, sum);
    free(sum);
    RT_TRY(st);
    return rt_tensor_write(&a->uncertainty.count, count);
}
