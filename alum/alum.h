/*
 * ALUM on a ResNet: configuration, feature hooks, mining, triplet loss and
 * per-sample uncertainty.
 *
 * Typical training step:
 *
 *     alum_set_step(a, seed, step);
 *     alum_set_labels(a, &labels, &sample_index);
 *     nn_resnet_forward(ctx, net, &images, true);
 *     alum_triplet_step(ctx, a, nn_resnet_embedding(net), &dembedding, &loss);
 *     nn_resnet_backward(ctx, net, dlogits, dembedding);
 *
 * Feature points follow nn_resnet.h (P0..P5). Randomness is a pure function
 * of (seed, step, point), so a resumed run repeats the same draws.
 */
#ifndef ALUMCL_ALUM_H
#define ALUMCL_ALUM_H

#include <stdint.h>

#include "alum/alum_dsu.h"
#include "alum/alum_triplet.h"
#include "alum/alum_uncertainty.h"
#include "nn/nn_resnet.h"

typedef enum alum_method {
    ALUM_METHOD_ERM = 0,  /* no hooks: plain cross-entropy training */
    ALUM_METHOD_DSU = 1,  /* DSU at every point P0..P5 with batch scales */
    ALUM_METHOD_ALUM = 2, /* LC at lc_points, optional AP/AN at P5 and the triplet loss */
} alum_method;

typedef enum alum_variance_mode {
    ALUM_VARIANCE_PER_ANCHOR = 0,  /* per-sample scales from each sample's own triplet */
    ALUM_VARIANCE_BATCH_UNION = 1, /* per-channel scales from the anchor, AP and AN batches */
} alum_variance_mode;

typedef struct alum_config {
    alum_method method;
    unsigned lc_points;               /* bit i selects Pi for LC (method ALUM); default P0..P4 */
    bool adversarial_positive;        /* AP: hardest positives join the P5 scale estimate */
    bool adversarial_negative;        /* AN: hardest negatives join the P5 scale estimate */
    bool triplet;                     /* T: batch-hard triplet loss on the pooled embedding */
    alum_variance_mode variance_mode; /* how AP/AN scales are formed at P5 */
    float probability;                /* chance that a module perturbs a given forward pass */
    float eps;                        /* added inside every square root of a variance */
    float margin;                     /* triplet margin */
    float triplet_weight;             /* loss = cross-entropy + triplet_weight * triplet */
    bool normalize_embeddings;        /* L2-normalise embeddings for mining and the triplet loss */
} alum_config;

/* Mask of every feature point, for lc_points. */
#define ALUM_ALL_POINTS ((1u << NN_NUM_POINTS) - 1u)

/* Fills the full ALUM defaults: LC at P0..P4, AP, AN, triplet, batch_union, p 0.5,
 * eps 1e-6, margin 0.3, weight 1, normalised embeddings. */
void alum_config_default(alum_config *config);

/* Checks every field; the error names the field, its value and the valid range. */
int alum_config_validate(const alum_config *config);

/* Names used by configuration files: "erm", "dsu", "alum"; "per_anchor", "batch_union". */
const char *alum_method_name(alum_method method);
const char *alum_variance_mode_name(alum_variance_mode mode);
int alum_method_parse(const char *name, alum_method *out);
int alum_variance_mode_parse(const char *name, alum_variance_mode *out);

/*
 * Parses a list of feature points such as "P0,P2,P3" (case-insensitive,
 * spaces allowed) into a bit mask for lc_points. "" and "none" give 0,
 * "all" gives ALUM_ALL_POINTS.
 */
int alum_points_parse(const char *list, unsigned *mask);

/* Writes mask as "P0,P1,..." ("none" for 0) into buf. */
void alum_points_format(unsigned mask, char *buf, size_t size);

typedef struct alum alum;

/* Creates the modules for config; no network is touched until alum_attach. */
int alum_create(rt_context *ctx, const alum_config *config, alum **out);

/* Clears the hooks of the attached network (if any) and frees everything. Free a before
 * that network, because clearing its hooks writes into it. */
void alum_free(alum *a);

/* Registers the hooks of every point the configuration uses on net, detaching a first. */
int alum_attach(alum *a, nn_resnet *net);

/* Clears the hooks of the attached network, which then trains as plain ERM. */
void alum_detach(alum *a);

/* Returns the hook of point (identity callbacks for unused points), for networks other
 * than nn_resnet and for tests. */
nn_hook alum_hook(alum *a, int point);

/* Keys every random draw of the next forward pass. */
void alum_set_step(alum *a, uint64_t seed, uint64_t step);

/*
 * Sets the labels (int32 [B], needed for mining when AP, AN or the triplet
 * loss is on) and the dataset indices (int32 [B], or NULL) of the next
 * training forward. Both tensors must stay alive until that forward returns.
 */
void alum_set_labels(alum *a, const rt_tensor *labels, const rt_tensor *sample_index);

/*
 * Runs the triplet loss on the pooled (perturbed) embedding [B, D] of the
 * last training forward, using the indices mined there. Sets *dembedding to
 * the gradient [B, D] for nn_resnet_backward and *loss to a device tensor
 * whose element 0 is the weighted loss (element 1: valid anchors). Both are
 * NULL when the configuration has no triplet loss. The tensors belong to a.
 */
int alum_triplet_step(rt_context *ctx, alum *a, const rt_tensor *embedding,
                      const rt_tensor **dembedding, const rt_tensor **loss);

/* Starts accumulating per-sample data uncertainty for dataset indices 0..dataset_size-1
 * in every training forward that has sample indices. Needs mining (AP, AN or triplet). */
int alum_track_data_uncertainty(alum *a, int dataset_size);

/* Reads the mean data uncertainty per dataset index (NaN when never seen) and the counts. */
int alum_read_data_uncertainty(alum *a, float *mean, int *count);

/* Restores the sums from means and counts read by alum_read_data_uncertainty (for resuming). */
int alum_write_data_uncertainty(alum *a, const float *mean, const int *count);

/* Zeroes the data-uncertainty sums and counts. */
int alum_reset_data_uncertainty(alum *a);

/*
 * Model-uncertainty mode: evaluation forwards (training = false, batch norm
 * in eval mode) keep the LC modules (all DSU points for method DSU) on, each
 * perturbing with probability p and batch scales, so T passes with different
 * steps give T stochastic predictions for alum_mc_uncertainty.
 */
void alum_set_mc_mode(alum *a, bool on);

/* Returns the indices mined by the last training forward, int32 [2, B] (p(i), then n(i)),
 * or NULL when it mined none. */
const rt_tensor *alum_mined(const alum *a);

/* Returns the DSU module of point, with the statistics, scales and draws of the last forward. */
alum_dsu *alum_module(alum *a, int point);

/* Returns whether point perturbed its input in the last forward. */
bool alum_point_applied(const alum *a, int point);

#endif
