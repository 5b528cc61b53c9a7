#include "tests/alum/alum_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ref_dsu_stats(const double *x, int batch, int channels, int n, double eps, double *stats)
{
    int rows = batch * channels;
    for (int r = 0; r < rows; r++) {
        const double *row = x + (size_t)r * n;
        double sum = 0.0;
        for (int k = 0; k < n; k++)
            sum += row[k];
        double mu = sum / n, ss = 0.0;
        for (int k = 0; k < n; k++)
            ss += (row[k] - mu) * (row[k] - mu);
        stats[r] = mu;
        stats[rows + r] = sqrt((n > 1 ? ss / (n - 1) : 0.0) + eps);
    }
}

static double group_scale(const double *stat, int channels, const int *member, int members, int c,
                          double eps)
{
    double mean = 0.0;
    for (int m = 0; m < members; m++)
        mean += stat[member[m] * channels + c];
    mean /= members;
    double ss = 0.0;
    for (int m = 0; m < members; m++) {
        double d = stat[member[m] * channels + c] - mean;
        ss += d * d;
    }
    return sqrt(ss / (members - 1) + eps);
}

void ref_dsu_forward(const double *x, int batch, int channels, int n, const int *index, int groups,
                     int members, const double *draws, double eps, double *y)
{
    int rows = batch * channels;
    double *stats = malloc(2 * (size_t)rows * sizeof *stats);
    ref_dsu_stats(x, batch, channels, n, eps, stats);
    for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++) {
            int r = b * channels + c;
            const int *member = index + (size_t)(groups == 1 ? 0 : b) * members;
            double s_mu = group_scale(stats, channels, member, members, c, eps);
            double s_sigma = group_scale(stats + rows, channels, member, members, c, eps);
            double mu = stats[r], sigma = stats[rows + r];
            double beta = mu + draws[r] * s_mu, gamma = sigma + draws[rows + r] * s_sigma;
            for (int k = 0; k < n; k++)
                y[(size_t)r * n + k] = gamma * (x[(size_t)r * n + k] - mu) / sigma + beta;
        }
    free(stats);
}

static double dsu_objective(const double *x, int batch, int channels, int n, const int *index,
                            int groups, int members, const double *draws, double eps,
                            const double *dy, double *scratch)
{
    ref_dsu_forward(x, batch, channels, n, index, groups, members, draws, eps, scratch);
    double total = 0.0;
    for (size_t i = 0; i < (size_t)batch * channels * n; i++)
        total += scratch[i] * dy[i];
    return total;
}

void ref_dsu_grad_fd(const double *x, int batch, int channels, int n, const int *index, int groups,
                     int members, const double *draws, double eps, const double *dy, double h,
                     double *dx)
{
    size_t total = (size_t)batch * channels * n;
    double *probe = malloc(total * sizeof *probe);
    double *scratch = malloc(total * sizeof *scratch);
    memcpy(probe, x, total * sizeof *probe);
    for (size_t i = 0; i < total; i++) {
        probe[i] = x[i] + h;
        double up = dsu_objective(probe, batch, channels, n, index, groups, members, draws, eps, dy,
                                  scratch);
        probe[i] = x[i] - h;
        double down = dsu_objective(probe, batch, channels, n, index, groups, members, draws, eps,
                                    dy, scratch);
        probe[i] = x[i];
        dx[i] = (up - down) / (2.0 * h);
    }
    free(probe);
    free(scratch);
}

void ref_normalize(const double *emb, int batch, int dim, bool normalize, double *out)
{
    for (int i = 0; i < batch; i++) {
        double ss = 0.0;
        for (int d = 0; d < dim; d++)
            ss += emb[i * dim + d] * emb[i * dim + d];
        double scale = normalize ? 1.0 / fmax(sqrt(ss), 1e-12) : 1.0;
        for (int d = 0; d < dim; d++)
            out[i * dim + d] = emb[i * dim + d] * scale;
    }
}

static double distance(const double *emb, int dim, int i, int j)
{
    double ss = 0.0;
    for (int d = 0; d < dim; d++) {
        double diff = emb[i * dim + d] - emb[j * dim + d];
        ss += diff * diff;
    }
    return sqrt(ss);
}

void ref_mine(const double *emb, int batch, int dim, const int *labels, int *mined)
{
    for (int i = 0; i < batch; i++) {
        int pos = i, neg = i;
        double pos_dist = -1.0, neg_dist = INFINITY;
        for (int j = 0; j < batch; j++) {
            if (j == i)
                continue;
            double dist = distance(emb, dim, i, j);
            if (labels[j] == labels[i] && dist > pos_dist) {
                pos_dist = dist;
                pos = j;
            } else if (labels[j] != labels[i] && dist < neg_dist) {
                neg_dist = dist;
                neg = j;
            }
        }
        mined[i] = pos;
        mined[batch + i] = neg;
    }
}

double ref_triplet_loss(const double *emb, int batch, int dim, const int *mined, double margin,
                        double weight, bool normalize, int *valid)
{
    double *f = malloc((size_t)batch * dim * sizeof *f);
    ref_normalize(emb, batch, dim, normalize, f);
    double sum = 0.0;
    int count = 0;
    for (int i = 0; i < batch; i++) {
        int pos = mined[i], neg = mined[batch + i];
        if (neg == i)
            continue;
        count++;
        sum += fmax(0.0, distance(f, dim, i, pos) - distance(f, dim, i, neg) + margin);
    }
    free(f);
    *valid = count;
    return count > 0 ? weight * sum / count : 0.0;
}

double ref_data_uncertainty(const double *stats, int batch, int channels, const int *mined, int b)
{
    int member[3] = {b, mined[b], mined[batch + b]};
    int rows = batch * channels;
    double total = 0.0;
    for (int c = 0; c < channels; c++)
        for (int s = 0; s < 2; s++) {
            double a[3], mean = 0.0, ss = 0.0;
            for (int m = 0; m < 3; m++) {
                a[m] = stats[s * rows + member[m] * channels + c];
                mean += a[m] / 3.0;
            }
            for (int m = 0; m < 3; m++)
                ss += (a[m] - mean) * (a[m] - mean);
            total += 0.5 * ss / 2.0;
        }
    return total / channels;
}

void ref_mc_uncertainty(const double *logits, int passes, int batch, int classes, int n,
                        double *entropy, double *mutual_info)
{
    double *mean_p = calloc((size_t)classes, sizeof *mean_p);
    double expected = 0.0;
    for (int t = 0; t < passes; t++) {
        const double *row = logits + ((size_t)t * batch + n) * classes;
        double peak = row[0], sum = 0.0;
        for (int k = 1; k < classes; k++)
            peak = fmax(peak, row[k]);
        for (int k = 0; k < classes; k++)
            sum += exp(row[k] - peak);
        for (int k = 0; k < classes; k++) {
            double p = exp(row[k] - peak) / sum;
            mean_p[k] += p / passes;
            if (p > 0.0)
                expected -= p * log(p) / passes;
        }
    }
    double h = 0.0;
    for (int k = 0; k < classes; k++)
        if (mean_p[k] > 0.0)
            h -= mean_p[k] * log(mean_p[k]);
    free(mean_p);
    *entropy = h;
    *mutual_info = h - expected;
}
