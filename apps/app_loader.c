/*
 * Threaded batch loader with a deterministic batch order.
 *
 * Workers claim single samples in epoch order (batch b, sample j) under one
 * mutex, decode and augment them without the lock, and write straight into
 * the slot of batch b. The queue has queue_depth + 1 slots: queue_depth
 * batches in preparation plus the one the caller holds. A worker only claims
 * a sample of batch b when b < released + slots, so a slot is never reused
 * while the caller reads it. Each start of an epoch bumps a generation
 * counter and waits for busy workers, so no sample of an old epoch lands in
 * a new one.
 */
#include "apps/app_loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_error.h"

typedef struct {
    app_batch batch;
    int64_t batch_no;     /* batch of the epoch this slot holds, -1 when none */
    int32_t done;         /* samples finished */
    int status;           /* first failure, by sample position */
    int32_t error_sample; /* position in the batch of that failure */
    char message[1024];
} loader_slot;

struct app_loader {
    const app_dataset *ds;
    app_sampler *sampler;
    app_loader_config cfg;
    int32_t channels, height, width;
    size_t sample_floats;

    pthread_t *threads;
    int32_t num_threads;
    pthread_mutex_t mutex;
    pthread_cond_t work_cv;  /* workers wait here for claimable samples */
    pthread_cond_t ready_cv; /* the caller waits here for batches and idle workers */
    int shutdown;
    int64_t generation;
    int32_t busy;

    int active; /* an epoch is running */
    int32_t epoch;
    int32_t *indices; /* [num_indices] indices of this epoch from the start position */
    int64_t num_indices, indices_cap;
    int64_t num_batches;
    int64_t claim_batch;
    int32_t claim_sample;
    int64_t consumed; /* batches returned to the caller */
    int64_t released; /* batches the caller has given back */
    int holding;

    loader_slot *slots;
    int32_t num_slots;

    int failed; /* a sample failed; next() repeats the error until the next epoch */
    int failed_status;
    char failed_message[1100];
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int32_t batch_size_of(const app_loader *ld, int64_t b)
{
    int64_t left = ld->num_indices - b * ld->cfg.batch_size;
    return (int32_t)(left < ld->cfg.batch_size ? left : ld->cfg.batch_size);
}

/* Returns the batch count of an index list of the given length, honouring drop_last. */
static int64_t batches_for(const app_loader *ld, int64_t indices)
{
    int64_t b = ld->cfg.batch_size;
    return ld->cfg.drop_last ? indices / b : (indices + b - 1) / b;
}

/* Decodes and augments one sample into its place in the slot; returns a status. */
static int load_sample(app_loader *ld, loader_slot *slot, int32_t j, int32_t index, int32_t epoch)
{
    app_image img = {0};
    int status = app_dataset_load(ld->ds, index, &img);
    if (status == RT_OK) {
        status = app_augment_apply(&ld->cfg.augment, &img, ld->cfg.seed, epoch, index,
                                   slot->batch.images + (size_t)j * ld->sample_floats);
        app_image_free(&img);
    }
    slot->batch.labels[j] = ld->ds->labels[index];
    slot->batch.indices[j] = index;
    return status;
}

static void *worker_main(void *arg)
{
    app_loader *ld = arg;
    pthread_mutex_lock(&ld->mutex);
    while (!ld->shutdown) {
        int claimable = ld->active && ld->claim_batch < ld->num_batches &&
                        ld->claim_batch < ld->released + ld->num_slots;
        if (!claimable) {
            pthread_cond_wait(&ld->work_cv, &ld->mutex);
            continue;
        }
        int64_t b = ld->claim_batch;
        int32_t j = ld->claim_sample;
        loader_slot *slot = &ld->slots[b % ld->num_slots];
        int32_t size = batch_size_of(ld, b);
        if (j == 0) {
            slot->batch_no = b;
            slot->done = 0;
            slot->status = RT_OK;
            slot->error_sample = size;
            slot->batch.size = size;
            slot->batch.epoch = ld->epoch;
            slot->batch.batch_index = b;
        }
        if (++ld->claim_sample == size) {
            ld->claim_batch++;
            ld->claim_sample = 0;
        }
        int64_t generation = ld->generation;
        int32_t index = ld->indices[b * ld->cfg.batch_size + j];
        int32_t epoch = ld->epoch;
        ld->busy++;
        pthread_mutex_unlock(&ld->mutex);

        int status = load_sample(ld, slot, j, index, epoch);
        char message[1024] = "";
        if (status != RT_OK) {
            char where[512];
            app_dataset_describe(ld->ds, index, where, sizeof(where));
            snprintf(message, sizeof(message), "loading sample %d (%s) failed: %s", index, where,
                     rt_last_error());
        }

        pthread_mutex_lock(&ld->mutex);
        ld->busy--;
        if (generation == ld->generation) {
            if (status != RT_OK && j < slot->error_sample) {
                slot->status = status;
                slot->error_sample = j;
                snprintf(slot->message, sizeof(slot->message), "%s", message);
            }
            slot->done++;
        }
        pthread_cond_broadcast(&ld->ready_cv);
    }
    pthread_mutex_unlock(&ld->mutex);
    return NULL;
}

static int validate_config(const app_dataset *ds, const app_sampler *sampler,
                           const app_loader_config *cfg)
{
    if (cfg->batch_size < 1)
        return rt_set_error(RT_ERR_INVALID, "loader batch_size %d is invalid; use >= 1",
                            cfg->batch_size);
    if (cfg->num_threads < 1 || cfg->num_threads > 256)
        return rt_set_error(RT_ERR_INVALID,
                            "loader num_threads %d is invalid; use 1..256 (the trainer sets it "
                            "from data.workers)",
                            cfg->num_threads);
    if (cfg->queue_depth < 1 || cfg->queue_depth > 64)
        return rt_set_error(RT_ERR_INVALID,
                            "loader queue_depth %d is invalid; use 1..64 (the trainer queues 2 * "
                            "data.workers + 2 batches, so set data.workers to at most 31)",
                            cfg->queue_depth);
    int32_t required = app_sampler_batch_size(sampler);
    if (required != 0 && required != cfg->batch_size)
        return rt_set_error(RT_ERR_INVALID,
                            "loader batch_size %d differs from the P x K sampler's batch of %d; "
                            "set batch_size to p * k",
                            cfg->batch_size, required);
    if (app_sampler_epoch_length(sampler) > 0 && ds->count <= 0)
        return rt_set_error(RT_ERR_INVALID, "loader dataset %s is empty", ds->name);
    if (ds->channels == 3 && cfg->augment.out_channels != 3)
        return rt_set_error(RT_ERR_INVALID,
                            "dataset %s is RGB but the augmentation outputs %d channel(s); set "
                            "out_channels to 3",
                            ds->name, cfg->augment.out_channels);
    return app_augment_validate(&cfg->augment);
}

static void free_slots(app_loader *ld)
{
    if (!ld->slots)
        return;
    for (int32_t i = 0; i < ld->num_slots; i++) {
        free(ld->slots[i].batch.images);
        free(ld->slots[i].batch.labels);
        free(ld->slots[i].batch.indices);
    }
    free(ld->slots);
    ld->slots = NULL;
}

int app_loader_create(const app_dataset *ds, app_sampler *sampler, const app_loader_config *cfg,
                      app_loader **out)
{
    *out = NULL;
    RT_TRY(validate_config(ds, sampler, cfg));
    app_loader *ld = calloc(1, sizeof(*ld));
    if (!ld)
        return rt_set_error(RT_ERR_NOMEM, "out of memory creating the loader");
    ld->ds = ds;
    ld->sampler = sampler;
    ld->cfg = *cfg;
    ld->channels = cfg->augment.out_channels;
    ld->height = cfg->augment.out_h;
    ld->width = cfg->augment.out_w;
    ld->sample_floats = (size_t)ld->channels * ld->height * ld->width;
    ld->num_slots = cfg->queue_depth + 1;
    ld->slots = calloc((size_t)ld->num_slots, sizeof(loader_slot));
    int ok = ld->slots != NULL;
    for (int32_t i = 0; ok && i < ld->num_slots; i++) {
        app_batch *b = &ld->slots[i].batch;
        b->images = malloc((size_t)cfg->batch_size * ld->sample_floats * sizeof(float));
        b->labels = malloc((size_t)cfg->batch_size * sizeof(int32_t));
        b->indices = malloc((size_t)cfg->batch_size * sizeof(int32_t));
        b->channels = ld->channels;
        b->height = ld->height;
        b->width = ld->width;
        ld->slots[i].batch_no = -1;
        ok = b->images && b->labels && b->indices;
    }
    ld->threads = calloc((size_t)cfg->num_threads, sizeof(pthread_t));
    if (!ok || !ld->threads) {
        free_slots(ld);
        free(ld->threads);
        free(ld);
        return rt_set_error(RT_ERR_NOMEM,
                            "out of memory for %d loader batches of %d x %dx%dx%d floats; lower "
                            "data.workers or data.batch_size",
                            cfg->queue_depth + 1, cfg->batch_size, cfg->augment.out_channels,
                            cfg->augment.out_h, cfg->augment.out_w);
    }
    pthread_mutex_init(&ld->mutex, NULL);
    pthread_cond_init(&ld->work_cv, NULL);
    pthread_cond_init(&ld->ready_cv, NULL);
    for (int32_t i = 0; i < cfg->num_threads; i++) {
        int err = pthread_create(&ld->threads[i], NULL, worker_main, ld);
        if (err != 0) {
            app_loader_destroy(ld);
            return rt_set_error(RT_ERR_NOMEM,
                                "cannot start loader thread %d of %d (error %d); lower "
                                "num_threads",
                                i + 1, cfg->num_threads, err);
        }
        ld->num_threads++;
    }
    *out = ld;
    return RT_OK;
}

int app_loader_start_epoch(app_loader *ld)
{
    pthread_mutex_lock(&ld->mutex);
    ld->active = 0;
    ld->generation++;
    while (ld->busy > 0)
        pthread_cond_wait(&ld->ready_cv, &ld->mutex);

    app_sampler_state state = app_sampler_get_state(ld->sampler);
    int64_t length = app_sampler_epoch_length(ld->sampler);
    int status = RT_OK;
    if (length > ld->indices_cap) {
        int32_t *grown = realloc(ld->indices, (size_t)length * sizeof(int32_t));
        if (grown) {
            ld->indices = grown;
            ld->indices_cap = length;
        } else {
            status = rt_set_error(RT_ERR_NOMEM, "out of memory for %lld epoch indices",
                                  (long long)length);
        }
    }
    if (status == RT_OK)
        status = app_sampler_epoch_indices(ld->sampler, state.epoch, ld->indices);
    if (status == RT_OK && (state.position < 0 || state.position > length))
        status = rt_set_error(RT_ERR_INVALID,
                              "sampler position %lld is outside the epoch of %lld indices",
                              (long long)state.position, (long long)length);
    if (status == RT_OK) {
        int64_t start = state.position;
        for (int64_t i = start; i < length; i++) {
            int32_t index = ld->indices[i];
            if (index < 0 || index >= ld->ds->count) {
                status = rt_set_error(RT_ERR_INVALID,
                                      "sampler index %d is out of range for dataset %s (%d "
                                      "samples); create the sampler over this dataset",
                                      index, ld->ds->name, ld->ds->count);
                break;
            }
        }
        memmove(ld->indices, ld->indices + start, (size_t)(length - start) * sizeof(int32_t));
        ld->num_indices = length - start;
    }
    if (status != RT_OK) {
        pthread_mutex_unlock(&ld->mutex);
        return status;
    }
    ld->num_batches = batches_for(ld, ld->num_indices);
    ld->epoch = state.epoch;
    ld->claim_batch = 0;
    ld->claim_sample = 0;
    ld->consumed = 0;
    ld->released = 0;
    ld->holding = 0;
    ld->failed = 0;
    for (int32_t i = 0; i < ld->num_slots; i++)
        ld->slots[i].batch_no = -1;
    ld->active = 1;
    pthread_cond_broadcast(&ld->work_cv);
    pthread_mutex_unlock(&ld->mutex);
    return RT_OK;
}

int app_loader_next(app_loader *ld, const app_batch **batch, double *wait_seconds)
{
    *batch = NULL;
    if (wait_seconds)
        *wait_seconds = 0.0;
    pthread_mutex_lock(&ld->mutex);
    if (ld->failed) {
        int status = ld->failed_status;
        pthread_mutex_unlock(&ld->mutex);
        return rt_set_error(status, "%s", ld->failed_message);
    }
    if (!ld->active) {
        pthread_mutex_unlock(&ld->mutex);
        return rt_set_error(RT_ERR_INVALID, "app_loader_next called with no epoch running; call "
                                            "app_loader_start_epoch first");
    }
    if (ld->holding) {
        ld->released++;
        ld->holding = 0;
        pthread_cond_broadcast(&ld->work_cv);
    }
    if (ld->consumed == ld->num_batches) {
        ld->active = 0;
        app_sampler_set_epoch(ld->sampler, ld->epoch + 1);
        pthread_mutex_unlock(&ld->mutex);
        return RT_OK;
    }
    loader_slot *slot = &ld->slots[ld->consumed % ld->num_slots];
    double start = now_seconds();
    while (!(slot->batch_no == ld->consumed && slot->done == slot->batch.size))
        pthread_cond_wait(&ld->ready_cv, &ld->mutex);
    if (wait_seconds)
        *wait_seconds = now_seconds() - start;
    if (slot->status != RT_OK) {
        ld->failed = 1;
        ld->failed_status = slot->status;
        snprintf(ld->failed_message, sizeof(ld->failed_message), "epoch %d batch %lld: %s",
                 ld->epoch + 1, (long long)ld->consumed + 1, slot->message);
        ld->active = 0;
        int status = ld->failed_status;
        pthread_mutex_unlock(&ld->mutex);
        return rt_set_error(status, "%s", ld->failed_message);
    }
    ld->consumed++;
    ld->holding = 1;
    app_sampler_advance(ld->sampler, slot->batch.size);
    *batch = &slot->batch;
    pthread_mutex_unlock(&ld->mutex);
    return RT_OK;
}

int64_t app_loader_epoch_batches(const app_loader *ld)
{
    if (ld->active)
        return ld->num_batches;
    app_sampler_state state = app_sampler_get_state(ld->sampler);
    int64_t left = app_sampler_epoch_length(ld->sampler) - state.position;
    return batches_for(ld, left > 0 ? left : 0);
}

int64_t app_loader_batches_per_epoch(const app_loader *ld)
{
    return batches_for(ld, app_sampler_epoch_length(ld->sampler));
}

void app_loader_destroy(app_loader *ld)
{
    if (!ld)
        return;
    pthread_mutex_lock(&ld->mutex);
    ld->shutdown = 1;
    ld->active = 0;
    pthread_cond_broadcast(&ld->work_cv);
    pthread_mutex_unlock(&ld->mutex);
    for (int32_t i = 0; i < ld->num_threads; i++)
        pthread_join(ld->threads[i], NULL);
    pthread_mutex_destroy(&ld->mutex);
    pthread_cond_destroy(&ld->work_cv);
    pthread_cond_destroy(&ld->ready_cv);
    free_slots(ld);
    free(ld->threads);
    free(ld->indices);
    free(ld);
}
