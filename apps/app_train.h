/*
 * The train, eval and uncertainty commands.
 *
 * A run directory holds: config.yaml (the resolved config), metrics.csv and
 * metrics.jsonl (one row per epoch), checkpoints/ckpt-STEP.ckpt (the last
 * run.keep_last) and checkpoints/best.ckpt, samples.csv (per-sample records
 * of the last epoch with the mislabeled-sample scores) and summary.json.
 * Every file is written atomically.
 */
#ifndef ALUMCL_APP_TRAIN_H
#define ALUMCL_APP_TRAIN_H

#include "apps/app_config.h"

#include <stdbool.h>

typedef struct app_run_options {
    const char *config_path; /* for the start-up table */
    const char *resume;      /* NULL, "auto" or a checkpoint path */
    const char *checkpoint;  /* eval and uncertainty: the checkpoint to load */
    const char *output_csv;  /* uncertainty: where to write the ranked CSV; NULL = run dir */
    bool output_given;       /* --output was given (it is already in run.output_dir) */
} app_run_options;

/* Exit statuses of the commands besides 0 and the usage error 2. */
enum {
    APP_EXIT_FAILURE = 1,      /* bad input, I/O or device error: message on stderr */
    APP_EXIT_DIVERGED = 3,     /* NaN or Inf loss: training stopped, last good checkpoint kept */
    APP_EXIT_INTERRUPTED = 130 /* SIGINT or SIGTERM: checkpoint written, resume with --resume */
};

/* Trains as cfg specifies and returns a process exit status after printing any error. */
int app_train(const app_config *cfg, const app_run_options *options);

/* Evaluates a checkpoint on the test set; prints loss and accuracy. */
int app_eval(const app_config *cfg, const app_run_options *options);

/*
 * Ranks the training samples of a checkpoint's run by how likely their label
 * is wrong, writes the ranking as CSV and, when clean labels are known,
 * prints precision at k, recall and AUROC of every available ranking.
 */
int app_uncertainty(const app_config *cfg, const app_run_options *options);

#endif
