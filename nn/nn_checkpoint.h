/*
 * Checkpoints: one binary file with the training position, the resolved
 * configuration, an opaque RNG/sampler state, named tensors (parameters,
 * buffers, optimizer state) and a zlib CRC-32. docs/checkpoint-format.md
 * describes the layout.
 *
 * Saving is atomic. The data goes to a temporary file in the same directory,
 * which is flushed, fsync'ed and renamed over path before the directory is
 * fsync'ed. A crash or a failed save therefore leaves any earlier file at
 * path intact. Loading validates the whole file and every tensor's name, dtype and
 * shape before it writes anything to the device.
 */
#ifndef ALUMCL_NN_CHECKPOINT_H
#define ALUMCL_NN_CHECKPOINT_H

#include <stdint.h>

#include "nn/nn_optim.h"
#include "nn/nn_param.h"

#define NN_CHECKPOINT_MAGIC "ALUMCKPT"
#define NN_CHECKPOINT_VERSION 1

typedef struct nn_checkpoint_header {
    int64_t step;
    int64_t epoch;
    char *metadata;  /* NUL-terminated text such as the resolved config, or NULL */
    void *rng_state; /* opaque caller bytes, or NULL */
    size_t rng_state_size;
} nn_checkpoint_header;

/*
 * Writes the header, every parameter value and buffer of model and, when opt
 * is not NULL, the optimizer state, to path atomically. A NULL header writes
 * step 0, epoch 0 and no metadata or RNG state. Tensor names must be unique.
 */
int nn_checkpoint_save(rt_context *ctx, const char *path, const nn_checkpoint_header *header,
                       const nn_param_list *model, const nn_optim *opt);

/*
 * Restores a checkpoint written by nn_checkpoint_save with the same model and
 * optimizer layout. The file must contain exactly the expected tensors: the
 * error names the first missing, unexpected or mismatched tensor and gives
 * both shapes. On success the header is stored in *header_out (free it with
 * nn_checkpoint_header_free) when header_out is not NULL.
 */
int nn_checkpoint_load(rt_context *ctx, const char *path, nn_param_list *model, nn_optim *opt,
                       nn_checkpoint_header *header_out);

/* Frees metadata and rng_state and zeroes the header. */
void nn_checkpoint_header_free(nn_checkpoint_header *header);

typedef struct nn_weights_options {
    /*
     * Tensors whose name starts with this prefix (e.g. "fc.") are skipped
     * instead of failing when their shape differs or when the file lacks
     * them, so a backbone pretrained for another number of classes loads.
     * NULL or "" skips nothing.
     */
    const char *skip_mismatched_prefix;
} nn_weights_options;

typedef struct nn_weights_report {
    char **skipped; /* names of model tensors left unchanged */
    int skipped_count;
} nn_weights_report;

/*
 * Loads parameter values and buffers only ("weights only"), ignoring the
 * header and any "optimizer." tensors. Every model tensor must be present
 * with the same dtype and shape, and every file tensor must exist in the
 * model, except as allowed by options (may be NULL). report (may be NULL)
 * receives the skipped tensors; free it with nn_weights_report_free.
 */
int nn_checkpoint_load_weights(rt_context *ctx, const char *path, nn_param_list *model,
                               const nn_weights_options *options, nn_weights_report *report);

void nn_weights_report_free(nn_weights_report *report);

#endif
