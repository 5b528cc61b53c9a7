/*
 * Samplers: the order in which an epoch visits the dataset.
 *
 * A sampler is a pure function of (seed, epoch) to a list of indices, plus a
 * resumable position (epoch, position in that list). Saving the state and
 * restoring it into a sampler created with the same arguments continues the
 * same sequence.
 */
#ifndef ALUMCL_APP_SAMPLER_H
#define ALUMCL_APP_SAMPLER_H

#include <stdint.h>

typedef enum {
    APP_SAMPLER_SEQUENTIAL = 0, /* 0, 1, ..., count - 1 every epoch */
    APP_SAMPLER_SHUFFLE = 1,    /* a permutation drawn from (seed, epoch) */
    APP_SAMPLER_PK = 2,         /* batches of P classes x K samples each */
} app_sampler_kind;

/* The resumable part of a sampler; plain data, safe to write to a checkpoint. */
typedef struct {
    uint64_t seed;
    int32_t kind;     /* app_sampler_kind, checked on restore */
    int32_t epoch;    /* current epoch */
    int64_t position; /* indices of this epoch already handed out */
} app_sampler_state;

typedef struct app_sampler app_sampler;

int app_sampler_create_sequential(int32_t count, app_sampler **out);
int app_sampler_create_shuffle(int32_t count, uint64_t seed, app_sampler **out);

/*
 * P x K class-balanced sampler over labels[count] (classes in [0, num_classes)).
 * Each epoch has floor(count / (p * k)) batches; each batch holds k samples of
 * each of p distinct classes. Classes with fewer than k samples are drawn with
 * replacement. At least p classes must be non-empty.
 */
int app_sampler_create_pk(const int32_t *labels, int32_t count, int32_t num_classes, int32_t p,
                          int32_t k, uint64_t seed, app_sampler **out);

void app_sampler_free(app_sampler *s);

/* Returns the number of indices in one epoch. */
int64_t app_sampler_epoch_length(const app_sampler *s);

/* Returns the batch size the sampler requires (p * k for PK, 0 when any size works). */
int32_t app_sampler_batch_size(const app_sampler *s);

/* Writes the whole index list of epoch to out[app_sampler_epoch_length]. Does not move the state.
 */
int app_sampler_epoch_indices(const app_sampler *s, int32_t epoch, int32_t *out);

/* Returns the current state. */
app_sampler_state app_sampler_get_state(const app_sampler *s);

/* Restores a state saved from a sampler of the same kind and seed. */
int app_sampler_set_state(app_sampler *s, const app_sampler_state *state);

/* Moves to the start of epoch (position 0). */
void app_sampler_set_epoch(app_sampler *s, int32_t epoch);

/* Advances the position by n; the loader calls this as it hands out batches. */
void app_sampler_advance(app_sampler *s, int64_t n);

#endif
