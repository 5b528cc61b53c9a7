/*
 * Batch-hard triplet mining and the triplet loss on the device.
 *
 * Shape legend: B samples, D embedding features. Mined indices are int32
 * [2, B]: p(i), the same-label sample farthest from i (i itself when i has
 * no same-label partner), then n(i), the other-label sample nearest to i.
 * When every sample of the batch has i's label, n(i) = i and anchor i is
 * left out of the triplet loss. Ties go to the lowest index.
 */
#ifndef ALUMCL_ALUM_TRIPLET_H
#define ALUMCL_ALUM_TRIPLET_H

#include "runtime/runtime.h"

/* Writes out = in / max(||in||, 1e-12) per row of [B, D] when normalize, else copies in. */
int alum_embed_normalize(rt_context *ctx, const rt_tensor *in, rt_tensor *out, bool normalize);

/* Mines p(i) and n(i) by Euclidean distance between rows of emb [B, D]; labels int32 [B]. */
int alum_mine_hardest(rt_context *ctx, const rt_tensor *emb, const rt_tensor *labels,
                      rt_tensor *mined);

typedef struct alum_triplet {
    float margin, weight;
    bool normalize;       /* L2-normalise embeddings before the distances */
    rt_tensor normalized; /* [B, D] embeddings the distances use */
    rt_tensor terms;      /* [4, B]: hinge, valid flag, 1/d(i,p(i)), 1/d(i,n(i)) of active terms */
    rt_tensor result;     /* [3]: weighted loss, number of valid anchors, weight / count */
    rt_tensor grad_normalized; /* [B, D] */
    rt_tensor grad;            /* [B, D]: d (weighted loss) / d embedding */
} alum_triplet;

void alum_triplet_init(alum_triplet *triplet, float margin, float weight, bool normalize);
void alum_triplet_free(alum_triplet *triplet);

/*
 * Computes weight * mean over valid anchors of max(0, d(i, p(i)) - d(i, n(i)) + margin)
 * into triplet->result[0] on the device. The loss is 0 when no anchor is valid.
 */
int alum_triplet_forward(rt_context *ctx, alum_triplet *triplet, const rt_tensor *emb,
                         const rt_tensor *mined);

/* Writes the gradient of the last forward's loss with respect to emb into triplet->grad. */
int alum_triplet_backward(rt_context *ctx, alum_triplet *triplet, const rt_tensor *emb,
                          const rt_tensor *mined);

#endif
