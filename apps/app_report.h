/*
 * Run outputs: atomic text files, the per-epoch metrics logs, and the
 * quality of a ranking of training samples as mislabeled-sample detector.
 */
#ifndef ALUMCL_APP_REPORT_H
#define ALUMCL_APP_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * An output file written atomically: app_atomic_open returns a stream on
 * PATH.tmp; app_atomic_commit flushes, fsyncs, closes and renames it over
 * PATH, so readers see the old or the new file, never a partial one.
 */
typedef struct app_atomic_file {
    FILE *stream;
    char path[1024];
    char tmp_path[1100];
} app_atomic_file;

int app_atomic_open(app_atomic_file *f, const char *path);
int app_atomic_commit(app_atomic_file *f);
/* Closes and removes the temporary file (after a failed write). */
void app_atomic_abort(app_atomic_file *f);

/* Writes "key": value followed by ", " (or nothing when last); NaN and Inf become null. */
void app_json_number(FILE *out, const char *key, double value, bool last);

/* Creates a directory and its parents; the error names the path and the reason. */
int app_mkdirs(const char *path);

/* Quality of a score that ranks mislabeled samples first (higher score = more suspect). */
typedef struct app_ranking_quality {
    double auroc;          /* area under the ROC curve; ties count one half */
    double precision_at_k; /* fraction of the top k that are mislabeled */
    double recall_at_k;    /* fraction of mislabeled samples within the top k */
    int k;
    int positives; /* mislabeled samples */
    int counted;   /* samples with a finite score */
} app_ranking_quality;

/*
 * Scores score[n] against is_noisy[n] (1 = label differs from the clean one).
 * Samples with a non-finite score are left out. k <= 0 means k = positives.
 */
int app_ranking_evaluate(const float *score, const uint8_t *is_noisy, int n, int k,
                         app_ranking_quality *out);

/* Writes the order of samples by descending score (non-finite last) into order[n]. */
int app_ranking_order(const float *score, int n, int32_t *order);

#endif
