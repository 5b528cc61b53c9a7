/*
 * Feature-statistics perturbation (DSU) on the device, forward and backward.
 *
 * For x [B, C, H, W] with N = H*W: mu[b,c] and sigma[b,c] = sqrt(unbiased
 * spatial variance + eps) per row; scales s_mu and s_sigma = sqrt(unbiased
 * variance of mu (sigma) over a group of samples + eps); draws e1, e2 [B, C];
 * beta = mu + e1 * s_mu, gamma = sigma + e2 * s_sigma and
 * y = gamma * (x - mu) / sigma + beta. Nothing is detached: backward
 * propagates through mu, sigma and the scales, including into every sample
 * that is a member of another sample's scale group.
 *
 * Scale groups express every variance mode. The batch mode is one group
 * containing samples 0..B-1, and per_anchor is one group per sample (its
 * triplet). batch_union is one group containing the anchor batch followed by
 * the gathered positive and/or negative batches. Members may repeat.
 *
 * Degenerate shapes make the module the identity for that call and print a
 * one-time warning per module to stderr: N = 1 (no spatial variance) and
 * fewer than 2 group members (B = 1 in the batch mode).
 */
#ifndef ALUMCL_ALUM_DSU_H
#define ALUMCL_ALUM_DSU_H

#include "runtime/runtime.h"

/* Sample groups whose statistics give the scales. */
typedef struct alum_dsu_groups {
    int groups;             /* G: 1 (scales shared by all samples) or B (one per sample) */
    int members;            /* M members per group */
    const rt_tensor *index; /* int32 [G, M] sample indices in 0..B-1; copied by the call */
} alum_dsu_groups;

typedef struct alum_dsu {
    char name[32]; /* used in messages, e.g. "P3" */
    float eps;
    int batch, channels, height, width; /* shape of the last input */
    bool stats_ready;                   /* stats describe the current input */
    bool applied; /* the last forward perturbed its input, so backward is not the identity */
    bool warned;  /* the degenerate-shape warning has been printed */
    int groups, members;
    rt_tensor stats;       /* [2, B, C]: mu, then sigma of the last input */
    rt_tensor scales;      /* [4, G, C]: s_mu, s_sigma, group means of mu and sigma */
    rt_tensor draws;       /* [2, B, C]: copy of e1, e2 */
    rt_tensor index;       /* int32 [G, M]: copy of the group members */
    rt_tensor batch_index; /* int32 [1, B]: 0..B-1 for the batch mode */
    rt_tensor saved;       /* [B, C, H, W]: the unperturbed input */
    rt_tensor grad;        /* [2, B, C]: sum of dy and of dy * xhat per row */
    rt_tensor grad_scales; /* [2, G, C] */
    rt_tensor coef;        /* [2, B, C]: total gradients of mu and sigma less the direct part */
} alum_dsu;

void alum_dsu_init(alum_dsu *dsu, const char *name, float eps);
void alum_dsu_free(alum_dsu *dsu);

/*
 * Computes mu and sigma of x into dsu->stats ([2, B, C]). With N = 1, sigma is
 * sqrt(eps) and mu is x itself, so mu stays usable as a pooled embedding.
 */
int alum_dsu_stats(rt_context *ctx, alum_dsu *dsu, const rt_tensor *x);

/*
 * Perturbs x in place using the statistics of the preceding alum_dsu_stats
 * call on the same x. groups NULL means the batch mode (one group of all B
 * samples). draws is float [2, B, C] (e1, then e2).
 */
int alum_dsu_perturb(rt_context *ctx, alum_dsu *dsu, rt_tensor *x, const alum_dsu_groups *groups,
                     const rt_tensor *draws);

/* alum_dsu_stats followed by alum_dsu_perturb. */
int alum_dsu_forward(rt_context *ctx, alum_dsu *dsu, rt_tensor *x, const alum_dsu_groups *groups,
                     const rt_tensor *draws);

/* Marks the current forward as the identity, so the next backward leaves its gradient alone. */
void alum_dsu_set_identity(alum_dsu *dsu);

/* Replaces dx = d loss / d y with d loss / d x in place; the identity after a skipped forward. */
int alum_dsu_backward(rt_context *ctx, alum_dsu *dsu, rt_tensor *dx);

/* Allocates t with the given shape unless it already has exactly that shape and dtype. */
int alum_tensor_ensure(rt_context *ctx, rt_tensor *t, const char *name, rt_dtype dtype, int ndim,
                       const int *shape);

#endif
