/*
 * Double-precision CPU references of the alum kernels, for the tests.
 *
 * Shapes follow alum_dsu.h and alum_triplet.h: x [B, C, H, W], draws
 * [2, B, C], index [G, M], embeddings [B, D], mined [2, B].
 */
#ifndef ALUMCL_TEST_ALUM_REFERENCE_H
#define ALUMCL_TEST_ALUM_REFERENCE_H

#include <stdbool.h>

/* mu and sigma of each row into stats [2, B, C]. */
void ref_dsu_stats(const double *x, int batch, int channels, int n, double eps, double *stats);

/* y = DSU(x) with scales from the groups; G is 1 or B. */
void ref_dsu_forward(const double *x, int batch, int channels, int n, const int *index, int groups,
                     int members, const double *draws, double eps, double *y);

/* Central finite-difference gradient of sum(DSU(x) * dy) with step h into dx. */
void ref_dsu_grad_fd(const double *x, int batch, int channels, int n, const int *index, int groups,
                     int members, const double *draws, double eps, const double *dy, double h,
                     double *dx);

/* Rows of emb divided by max(norm, 1e-12) when normalize, else copied. */
void ref_normalize(const double *emb, int batch, int dim, bool normalize, double *out);

/* Hardest positive and negative of each anchor, ties to the lowest index. */
void ref_mine(const double *emb, int batch, int dim, const int *labels, int *mined);

/* weight * mean over valid anchors of the hinge; *valid receives the count. */
double ref_triplet_loss(const double *emb, int batch, int dim, const int *mined, double margin,
                        double weight, bool normalize, int *valid);

/* Mean over channels of (var(mu) + var(sigma)) / 2 over {b, p(b), n(b)}. */
double ref_data_uncertainty(const double *stats, int batch, int channels, const int *mined, int b);

/* Predictive entropy and mutual information of sample n from logits [T, N, K]. */
void ref_mc_uncertainty(const double *logits, int passes, int batch, int classes, int n,
                        double *entropy, double *mutual_info);

#endif
