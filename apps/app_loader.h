/*
 * Batch loader: a pool of threads decoding and augmenting into a bounded queue.
 *
 * For each epoch the loader takes the sampler's index list from the sampler's
 * current position, splits it into batches and lets worker threads fill up
 * to queue_depth batches ahead of the caller. Batches come out in sampler
 * order whatever the thread timing, and every pixel depends only on (seed,
 * epoch, index), so two runs with the same arguments give identical batches.
 *
 * Usage:
 *     app_loader *ld;
 *     app_loader_create(ds, sampler, &cfg, &ld);
 *     for (int epoch = first; epoch < epochs; epoch++) {
 *         app_loader_start_epoch(ld);          // at the sampler's state
 *         const app_batch *b;
 *         double wait;
 *         while (app_loader_next(ld, &b, &wait) == RT_OK && b) { ... }
 *     }
 *     app_loader_destroy(ld);
 * After a batch is returned the sampler's state points past it, so saving
 * app_sampler_get_state at any time resumes after the last consumed batch.
 */
#ifndef ALUMCL_APP_LOADER_H
#define ALUMCL_APP_LOADER_H

#include <stdint.h>

#include "apps/app_augment.h"
#include "apps/app_data.h"
#include "apps/app_sampler.h"

typedef struct {
    int32_t batch_size;  /* > 0; must equal app_sampler_batch_size when that is non-zero */
    int32_t num_threads; /* worker threads, >= 1 */
    int32_t queue_depth; /* batches prepared ahead of the caller, >= 1 */
    int drop_last;       /* 1 = skip the final partial batch of an epoch */
    uint64_t seed;       /* augmentation seed */
    app_augment_config augment;
} app_loader_config;

/* One batch. Valid until the next app_loader_next, app_loader_start_epoch or destroy. */
typedef struct {
    float *images;    /* [size][channels][height][width] */
    int32_t *labels;  /* [size] training labels */
    int32_t *indices; /* [size] dataset indices */
    int32_t size;     /* samples in this batch (<= batch_size) */
    int32_t channels, height, width;
    int32_t epoch;
    int64_t batch_index; /* position of the batch in its epoch */
} app_batch;

typedef struct app_loader app_loader;

/*
 * Creates the loader and starts its threads. ds and sampler are borrowed and
 * must outlive the loader; the sampler must index ds.
 */
int app_loader_create(const app_dataset *ds, app_sampler *sampler, const app_loader_config *cfg,
                      app_loader **out);

/* Starts (or resumes) the epoch at the sampler's current state, dropping any prepared batches. */
int app_loader_start_epoch(app_loader *ld);

/*
 * Returns the next batch of the epoch in *batch, or NULL when the epoch is
 * over (the sampler then moves to the next epoch). wait_seconds, when not
 * NULL, receives the time spent blocked waiting for the batch. A failed
 * sample (say a corrupt image) returns its error, naming the file and index.
 */
int app_loader_next(app_loader *ld, const app_batch **batch, double *wait_seconds);

/*
 * Returns the number of batches the running epoch had when it started, which
 * is fewer than a whole epoch after a resume. With no epoch running, returns
 * the number that app_loader_start_epoch would produce from the sampler state.
 */
int64_t app_loader_epoch_batches(const app_loader *ld);

/* Returns the number of batches in a whole epoch (one that starts at position 0). */
int64_t app_loader_batches_per_epoch(const app_loader *ld);

/* Stops and joins the threads and frees everything; NULL is allowed. */
void app_loader_destroy(app_loader *ld);

#endif
