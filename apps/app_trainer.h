/*
 * The trainer: state shared by the train, eval and uncertainty commands.
 *
 * Internal to apps/. app_trainer.c sets a trainer up from a config and owns
 * its device buffers; app_resume.c saves and restores it through
 * checkpoints; app_ranking.c scores training samples as likely mislabeled;
 * app_train.c runs the epochs; app_uncertainty.c contains eval and uncertainty.
 */
#ifndef ALUMCL_APP_TRAINER_H
#define ALUMCL_APP_TRAINER_H

#include "apps/app_loader.h"
#include "apps/app_setup.h"
#include "apps/app_train.h"
#include "nn/nn_checkpoint.h"
#include "runtime/runtime.h"

#define RESUME_MAGIC 0x414c5232u /* "ALR2": the layout of resume_header below */
#define MAX_EPOCH_RECORDS 4096

/* One row of metrics.csv / metrics.jsonl. */
typedef struct epoch_record {
    int32_t epoch; /* 1-based */
    int32_t evaluated;
    double lr;
    double train_loss, train_acc;
    double train_acc_clean;       /* prediction == label on samples whose label is clean */
    double train_acc_noisy_given; /* prediction == wrong given label (memorisation) */
    double train_acc_noisy_true;  /* prediction == clean label on mislabeled samples */
    double triplet_loss;
    double test_loss, test_acc;
    double seconds, data_wait;
} epoch_record;

/* Host-side state saved in the checkpoint's opaque block. */
typedef struct resume_header {
    uint32_t magic;
    int32_t next_epoch; /* epoch to continue (0-based) */
    int64_t step;
    app_sampler_state sampler;
    double best_acc;
    int32_t best_epoch;
    int32_t n_records;
    int32_t dataset_size;
    int32_t has_uncertainty;
    uint64_t data_fingerprint; /* of the training samples and their labels */
    double triplet_sum;        /* triplet losses summed over the steps of this epoch so far */
    int64_t triplet_steps;
} resume_header;

typedef struct trainer {
    const app_config *cfg;
    const app_run_options *options;
    rt_context *ctx;
    app_datasets data;
    uint8_t *is_noisy; /* [train count] label differs from the clean one; NULL when unknown */
    nn_resnet *net;
    alum *method;
    bool mining; /* the method mines triplets, so data uncertainty exists */
    nn_optim *opt;
    nn_schedule_config schedule;
    app_sampler *sampler;
    app_loader *loader;
    int batch_n; /* batch size the device buffers are allocated for */
    rt_tensor images, labels, indices, loss_ps, dlogits, stats;
    /* per-sample arrays over the training set, float [D] */
    rt_tensor sample_loss, sample_pred, sample_prob, sample_seen;
    char run_dir[1024], ckpt_dir[1100];
    char *config_yaml;
    int epoch;
    int64_t step;
    int steps_per_epoch;
    double best_acc;
    int best_epoch;
    epoch_record *records;
    int n_records;
    double epoch_wait, epoch_start;
    double run_seconds;        /* wall time of the training loop in this process */
    uint64_t data_fingerprint; /* see trainer_data_fingerprint */
    rt_tensor triplet_accum;   /* device sum of the triplet loss tensor over an epoch's steps */
    double triplet_sum;        /* host part of the sum, from before a resume */
    int64_t triplet_steps;
    int lock_fd; /* run-directory lock, -1 when none */
} trainer;

/* Mislabeled-sample scores; higher means more likely mislabeled. */
enum {
    RANK_DATA_UNCERTAINTY,
    RANK_LOSS,
    RANK_PROB_GIVEN,
    RANK_MODEL_ENTROPY,
    RANK_MODEL_MI,
    RANK_COUNT
};

/*
 * Returns a 64-bit FNV-1a hash of the training set: every sample's source
 * description below root (so moving the dataset keeps the hash), training
 * label and clean label. A checkpoint records it, so per-sample arrays are
 * never restored onto other images.
 */
uint64_t trainer_data_fingerprint(const app_dataset *ds, const char *root);

/* Monotonic wall-clock time in seconds. */
double app_now_seconds(void);

/* Creates the device, datasets, model, method and optimiser (and with training the run
 * directory, sampler and loader). */
int trainer_setup(trainer *t, const app_config *cfg, const app_run_options *options, bool training);
void trainer_free(trainer *t);
void trainer_free_batch_buffers(trainer *t);
void trainer_print_startup(const trainer *t);

/* Prints the error of a failed status and maps it to a process exit status. */
int trainer_exit_status(int st);

int trainer_upload_batch(trainer *t, const app_batch *b);
/* Scatters loss, prediction and label probability of the last batch into the sample arrays. */
int trainer_record_samples(trainer *t, int n);
int trainer_read_samples(trainer *t, float *loss, float *pred, float *prob, float *seen);

/* Creates a sequential sampler and an evaluation loader (no random augmentation) over ds,
 * with its first epoch started. */
int trainer_open_eval_loader(trainer *t, const app_dataset *ds, app_sampler **sampler,
                             app_loader **loader);

/* Runs ds in evaluation mode; writes the mean loss and the accuracy in percent. */
int trainer_evaluate(trainer *t, app_dataset *ds, double *loss_out, double *acc_out);

int trainer_save_checkpoint(trainer *t, const char *path, int next_epoch);
/* Saves checkpoints/ckpt-STEP.ckpt, keeps the newest run.keep_last, and writes its path. */
int trainer_save_rotating(trainer *t, int next_epoch, char *path_out, size_t size);
/* Resumes from a checkpoint path, or with "auto" from the newest one that loads. */
int trainer_resume(trainer *t, const char *resume);
int trainer_unpack_state(trainer *t, const void *blob, size_t size, const char *path);

/* Fills the loss, probability and (when mined) data-uncertainty scores of the last epoch.
 * buf has room for 6 x the training set size floats. */
int trainer_training_scores(trainer *t, float *scores[RANK_COUNT], float *buf);
/* Writes the ranked CSV and prints and records (as JSON members) every ranking's quality. */
int trainer_report_rankings(const trainer *t, float *const scores[RANK_COUNT], const char *csv_path,
                            FILE *summary);
/* Writes summary.json and samples.csv at the end of training. */
int trainer_write_summary(trainer *t);

#endif
