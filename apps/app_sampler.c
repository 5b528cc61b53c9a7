/*
 * Sequential, shuffled and P x K class-balanced samplers.
 */
#include "apps/app_sampler.h"

#include <stdlib.h>
#include <string.h>

#include "apps/app_data_rng.h"
#include "runtime/rt_error.h"

struct app_sampler {
    app_sampler_state state;
    int32_t count;
    /* PK only: samples grouped by class. */
    int32_t p, k, num_classes;
    int32_t *by_class;    /* [count] sample indices sorted by class */
    int32_t *class_start; /* [num_classes + 1] */
    int32_t *nonempty;    /* [num_nonempty] classes with samples */
    int32_t num_nonempty;
};

static int sampler_new(app_sampler_kind kind, int32_t count, uint64_t seed, app_sampler **out)
{
    *out = NULL;
    if (count <= 0)
        return rt_set_error(RT_ERR_INVALID,
                            "sampler over %d samples is invalid; the dataset is "
                            "empty",
                            count);
    app_sampler *s = calloc(1, sizeof(*s));
    if (!s)
        return rt_set_error(RT_ERR_NOMEM, "out of memory creating a sampler");
    s->state.kind = kind;
    s->state.seed = seed;
    s->count = count;
    *out = s;
    return RT_OK;
}

int app_sampler_create_sequential(int32_t count, app_sampler **out)
{
    return sampler_new(APP_SAMPLER_SEQUENTIAL, count, 0, out);
}

int app_sampler_create_shuffle(int32_t count, uint64_t seed, app_sampler **out)
{
    return sampler_new(APP_SAMPLER_SHUFFLE, count, seed, out);
}

int app_sampler_create_pk(const int32_t *labels, int32_t count, int32_t num_classes, int32_t p,
                          int32_t k, uint64_t seed, app_sampler **out)
{
    *out = NULL;
    if (p < 1 || k < 1 || num_classes < 1)
        return rt_set_error(RT_ERR_INVALID,
                            "P x K sampler needs p >= 1, k >= 1 and num_classes >= 1, got p %d, "
                            "k %d, classes %d",
                            p, k, num_classes);
    if ((int64_t)p * k > count)
        return rt_set_error(RT_ERR_INVALID,
                            "P x K batch of %d x %d = %lld exceeds the %d samples; lower p or k", p,
                            k, (long long)p * k, count);
    app_sampler *s;
    RT_TRY(sampler_new(APP_SAMPLER_PK, count, seed, &s));
    s->p = p;
    s->k = k;
    s->num_classes = num_classes;
    s->by_class = malloc((size_t)count * sizeof(int32_t));
    s->class_start = calloc((size_t)num_classes + 1, sizeof(int32_t));
    s->nonempty = malloc((size_t)num_classes * sizeof(int32_t));
    int32_t *fill = calloc((size_t)num_classes, sizeof(int32_t));
    if (!s->by_class || !s->class_start || !s->nonempty || !fill) {
        free(fill);
        app_sampler_free(s);
        return rt_set_error(RT_ERR_NOMEM, "out of memory creating a P x K sampler");
    }
    for (int32_t i = 0; i < count; i++) {
        if (labels[i] < 0 || labels[i] >= num_classes) {
            int32_t bad = labels[i];
            free(fill);
            app_sampler_free(s);
            return rt_set_error(RT_ERR_INVALID,
                                "P x K sampler: label %d of sample %d is out of range 0..%d", bad,
                                i, num_classes - 1);
        }
        s->class_start[labels[i] + 1]++;
    }
    for (int32_t c = 0; c < num_classes; c++) {
        if (s->class_start[c + 1] > 0)
            s->nonempty[s->num_nonempty++] = c;
        s->class_start[c + 1] += s->class_start[c];
    }
    for (int32_t i = 0; i < count; i++)
        s->by_class[s->class_start[labels[i]] + fill[labels[i]]++] = i;
    free(fill);
    if (s->num_nonempty < p) {
        int32_t have = s->num_nonempty;
        app_sampler_free(s);
        return rt_set_error(RT_ERR_INVALID,
                            "P x K sampler needs %d classes with samples but the labels have %d; "
                            "lower p",
                            p, have);
    }
    *out = s;
    return RT_OK;
}

void app_sampler_free(app_sampler *s)
{
    if (!s)
        return;
    free(s->by_class);
    free(s->class_start);
    free(s->nonempty);
    free(s);
}

int64_t app_sampler_epoch_length(const app_sampler *s)
{
    if (s->state.kind == APP_SAMPLER_PK)
        return (int64_t)(s->count / (s->p * s->k)) * s->p * s->k;
    return s->count;
}

int32_t app_sampler_batch_size(const app_sampler *s)
{
    return s->state.kind == APP_SAMPLER_PK ? s->p * s->k : 0;
}

static void shuffle(int32_t *x, int32_t n, app_rng *rng)
{
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)app_rng_below(rng, (uint64_t)i + 1);
        int32_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

/*
 * Fills one epoch of P x K batches. Each batch draws p distinct classes, then
 * k samples of each class. Within a class, samples come from a per-class
 * shuffled queue that refills when it runs out, so every sample is used before
 * any repeats. A class with fewer than k samples repeats within the batch.
 */
static int pk_epoch(const app_sampler *s, int32_t epoch, int32_t *out)
{
    int32_t batches = s->count / (s->p * s->k);
    int32_t *queue = malloc((size_t)s->count * sizeof(int32_t));
    int32_t *used = calloc((size_t)s->num_classes, sizeof(int32_t));
    int32_t *classes = malloc((size_t)s->num_nonempty * sizeof(int32_t));
    if (!queue || !used || !classes) {
        free(queue);
        free(used);
        free(classes);
        return rt_set_error(RT_ERR_NOMEM, "out of memory drawing a P x K epoch");
    }
    app_rng rng = app_rng_for(s->state.seed, APP_RNG_TAG_PK, epoch, 0);
    memcpy(queue, s->by_class, (size_t)s->count * sizeof(int32_t));
    for (int32_t c = 0; c < s->num_classes; c++)
        shuffle(queue + s->class_start[c], s->class_start[c + 1] - s->class_start[c], &rng);
    size_t pos = 0;
    for (int32_t b = 0; b < batches; b++) {
        memcpy(classes, s->nonempty, (size_t)s->num_nonempty * sizeof(int32_t));
        /* A partial shuffle picks p distinct classes. */
        for (int32_t i = 0; i < s->p; i++) {
            int32_t j = i + (int32_t)app_rng_below(&rng, (uint64_t)(s->num_nonempty - i));
            int32_t t = classes[i];
            classes[i] = classes[j];
            classes[j] = t;
        }
        for (int32_t i = 0; i < s->p; i++) {
            int32_t c = classes[i];
            int32_t start = s->class_start[c], size = s->class_start[c + 1] - start;
            for (int32_t j = 0; j < s->k; j++) {
                if (used[c] == size) {
                    shuffle(queue + start, size, &rng);
                    used[c] = 0;
                }
                out[pos++] = queue[start + used[c]++];
            }
        }
    }
    free(queue);
    free(used);
    free(classes);
    return RT_OK;
}

int app_sampler_epoch_indices(const app_sampler *s, int32_t epoch, int32_t *out)
{
    if (epoch < 0)
        return rt_set_error(RT_ERR_INVALID, "sampler epoch %d is invalid; epochs start at 0",
                            epoch);
    if (s->state.kind == APP_SAMPLER_PK)
        return pk_epoch(s, epoch, out);
    for (int32_t i = 0; i < s->count; i++)
        out[i] = i;
    if (s->state.kind == APP_SAMPLER_SHUFFLE) {
        app_rng rng = app_rng_for(s->state.seed, APP_RNG_TAG_SHUFFLE, epoch, 0);
        shuffle(out, s->count, &rng);
    }
    return RT_OK;
}

app_sampler_state app_sampler_get_state(const app_sampler *s)
{
    return s->state;
}

int app_sampler_set_state(app_sampler *s, const app_sampler_state *state)
{
    if (state->kind != s->state.kind)
        return rt_set_error(RT_ERR_INVALID,
                            "saved sampler state is of kind %d but this sampler is of kind %d; "
                            "resume with the same sampler setting",
                            state->kind, s->state.kind);
    if (state->epoch < 0 || state->position < 0 || state->position > app_sampler_epoch_length(s))
        return rt_set_error(RT_ERR_INVALID,
                            "saved sampler state (epoch %d, position %lld) is invalid for an "
                            "epoch of %lld indices; the checkpoint belongs to another dataset",
                            state->epoch, (long long)state->position,
                            (long long)app_sampler_epoch_length(s));
    s->state = *state;
    return RT_OK;
}

void app_sampler_set_epoch(app_sampler *s, int32_t epoch)
{
    s->state.epoch = epoch;
    s->state.position = 0;
}

void app_sampler_advance(app_sampler *s, int64_t n)
{
    s->state.position += n;
}
