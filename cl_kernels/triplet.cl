/*
 * Batch-hard triplet mining and the triplet loss on pooled embeddings.
 *
 * Shape legend: B samples, D embedding features. mined is int32 [2, B]: the
 * hardest positive p(i), then the hardest negative n(i); n(i) = i marks an
 * anchor without any other-label sample, whose triplet term is skipped.
 * terms is [4, B]: the hinge value, the valid flag, and the gradient
 * coefficients 1 / d(i, p(i)) and 1 / d(i, n(i)) of active terms (0 for
 * inactive terms and for zero distances, where the subgradient 0 is used).
 */

#define NORM_EPS 1e-12f

/* out = in / max(||in||, 1e-12) per row when normalize is 1, else a copy. */
__kernel void embed_normalize(int batch, int dim, int normalize, __global const float *in,
                              __global float *out)
{
    int i = get_global_id(0);
    if (i >= batch)
        return;
    __global const float *row = in + (size_t)i * dim;
    __global float *dst = out + (size_t)i * dim;
    float scale = 1.0f;
    if (normalize) {
        float ss = 0.0f;
        for (int d = 0; d < dim; d++)
            ss = fma(row[d], row[d], ss);
        scale = 1.0f / fmax(sqrt(ss), NORM_EPS);
    }
    for (int d = 0; d < dim; d++)
        dst[d] = row[d] * scale;
}

/* Gradient of embed_normalize: de = (df - f (f . df)) / ||e||, or df / 1e-12 below the clamp. */
__kernel void embed_normalize_backward(int batch, int dim, int normalize, __global const float *e,
                                       __global const float *f, __global const float *df,
                                       __global float *de)
{
    int i = get_global_id(0);
    if (i >= batch)
        return;
    size_t base = (size_t)i * dim;
    if (!normalize) {
        for (int d = 0; d < dim; d++)
            de[base + d] = df[base + d];
        return;
    }
    float ss = 0.0f, dot = 0.0f;
    for (int d = 0; d < dim; d++) {
        ss = fma(e[base + d], e[base + d], ss);
        dot = fma(f[base + d], df[base + d], dot);
    }
    float norm = sqrt(ss);
    if (norm <= NORM_EPS) {
        for (int d = 0; d < dim; d++)
            de[base + d] = df[base + d] / NORM_EPS;
        return;
    }
    for (int d = 0; d < dim; d++)
        de[base + d] = (df[base + d] - f[base + d] * dot) / norm;
}

static float squared_distance(__global const float *a, __global const float *b, int dim)
{
    float ss = 0.0f;
    for (int d = 0; d < dim; d++) {
        float diff = a[d] - b[d];
        ss = fma(diff, diff, ss);
    }
    return ss;
}

/*
 * Hardest positive: the farthest other sample with the same label (i when
 * none). Hardest negative: the nearest sample with another label (i when
 * none). Scanning j upwards with strict comparisons keeps the lowest index on ties.
 */
__kernel void mine_hardest(int batch, int dim, __global const float *emb,
                           __global const int *labels, __global int *mined)
{
    int i = get_global_id(0);
    if (i >= batch)
        return;
    __global const float *anchor = emb + (size_t)i * dim;
    int label = labels[i];
    int pos = i, neg = i;
    float pos_dist = -1.0f, neg_dist = INFINITY;
    for (int j = 0; j < batch; j++) {
        if (j == i)
            continue;
        float dist = squared_distance(anchor, emb + (size_t)j * dim, dim);
        if (labels[j] == label) {
            if (dist > pos_dist) {
                pos_dist = dist;
                pos = j;
            }
        } else if (dist < neg_dist) {
            neg_dist = dist;
            neg = j;
        }
    }
    mined[i] = pos;
    mined[batch + i] = neg;
}

/* Per anchor: max(0, d(i, p(i)) - d(i, n(i)) + margin) and its gradient coefficients. */
__kernel void triplet_terms(int batch, int dim, float margin, __global const float *f,
                            __global const int *mined, __global float *terms)
{
    int i = get_global_id(0);
    if (i >= batch)
        return;
    int pos = mined[i], neg = mined[batch + i];
    float hinge = 0.0f, valid = 0.0f, coef_pos = 0.0f, coef_neg = 0.0f;
    if (neg != i) {
        valid = 1.0f;
        __global const float *anchor = f + (size_t)i * dim;
        float d_pos = sqrt(squared_distance(anchor, f + (size_t)pos * dim, dim));
        float d_neg = sqrt(squared_distance(anchor, f + (size_t)neg * dim, dim));
        float value = d_pos - d_neg + margin;
        if (value > 0.0f) {
            hinge = value;
            coef_pos = d_pos > 0.0f ? 1.0f / d_pos : 0.0f;
            coef_neg = d_neg > 0.0f ? 1.0f / d_neg : 0.0f;
        }
    }
    terms[i] = hinge;
    terms[batch + i] = valid;
    terms[2 * batch + i] = coef_pos;
    terms[3 * batch + i] = coef_neg;
}

/*
 * One work-item sums in index order, so the loss is deterministic. out [3]:
 * weight * mean hinge over valid anchors, the valid count, and the gradient
 * scale weight / count (0 when no anchor is valid).
 */
__kernel void triplet_reduce(int batch, float weight, __global const float *terms,
                             __global float *out)
{
    if (get_global_id(0) != 0)
        return;
    float sum = 0.0f, count = 0.0f;
    for (int i = 0; i < batch; i++) {
        sum += terms[i];
        count += terms[batch + i];
    }
    float scale = count > 0.0f ? weight / count : 0.0f;
    out[0] = sum * scale;
    out[1] = count;
    out[2] = scale;
}

/* df[k, d]: every active term that involves sample k as anchor, positive or negative. */
__kernel void triplet_grad(int batch, int dim, __global const float *f, __global const int *mined,
                           __global const float *terms, __global const float *out,
                           __global float *df)
{
    int id = get_global_id(0);
    if (id >= batch * dim)
        return;
    int k = id / dim, d = id % dim;
    float grad = 0.0f;
    for (int i = 0; i < batch; i++) {
        float coef_pos = terms[2 * batch + i], coef_neg = terms[3 * batch + i];
        if (coef_pos == 0.0f && coef_neg == 0.0f)
            continue;
        int pos = mined[i], neg = mined[batch + i];
        float fi = f[(size_t)i * dim + d];
        float to_pos = coef_pos * (fi - f[(size_t)pos * dim + d]);
        float to_neg = coef_neg * (fi - f[(size_t)neg * dim + d]);
        if (k == i)
            grad += to_pos - to_neg;
        if (k == pos)
            grad -= to_pos;
        if (k == neg)
            grad += to_neg;
    }
    df[id] = out[2] * grad;
}

/*
 * Scale groups at P5 from the mined indices. per_anchor (union 0): group b is
 * {b, p(b) if positive, n(b) if negative}. batch_union (union 1): one group,
 * the anchor batch followed by the positive and/or negative batches.
 * index holds B * (1 + positive + negative) entries either way.
 */
__kernel void triplet_groups(int batch, int use_union, int positive, int negative,
                             __global const int *mined, __global int *index)
{
    int b = get_global_id(0);
    if (b >= batch)
        return;
    int members = 1 + positive + negative;
    int slot = 0;
    int ids[3];
    ids[slot++] = b;
    if (positive)
        ids[slot++] = mined[b];
    if (negative)
        ids[slot++] = mined[batch + b];
    for (int m = 0; m < members; m++) {
        if (use_union)
            index[m * batch + b] = ids[m];
        else
            index[b * members + m] = ids[m];
    }
}
