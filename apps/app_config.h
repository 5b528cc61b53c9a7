/*
 * Run configuration: the app_config struct, YAML loading and the key schema.
 *
 * A run is described by one YAML file of nested sections (run, device, data,
 * model, optim, schedule, method, uncertainty). Every key is listed once in a
 * schema table (apps/app_schema.c) with its type, default, allowed range or
 * values and a one-line description. That table validates files, applies
 * "section.key=value" overrides, writes the resolved config back as YAML and
 * prints `alumcl config --help`.
 *
 * Usage:
 *     app_config cfg;
 *     char *errors = NULL;
 *     if (app_config_load(&cfg, "configs/cifar10n/worst-alum.yaml", argv_overrides,
 *                         n_overrides, &errors) != RT_OK) {
 *         fputs(errors, stderr);   // every problem, one per line
 *         free(errors);
 *         return 2;
 *     }
 *
 * Strings are fixed-size arrays and lists are fixed arrays with a count, so the
 * struct owns no heap memory and can be copied with plain assignment.
 */
#ifndef ALUMCL_APP_CONFIG_H
#define ALUMCL_APP_CONFIG_H

#include "apps/app_noise.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Capacity of path and free-text strings, including the terminating NUL. */
#define APP_CONFIG_PATH_MAX 512
/* Capacity of short names (domain names, insertion points), including the NUL. */
#define APP_CONFIG_NAME_MAX 64
/* Maximum number of elements of any list value. */
#define APP_CONFIG_LIST_MAX 16

typedef enum app_dataset_kind {
    APP_DATASET_CIFAR10,
    APP_DATASET_CIFAR100,
    APP_DATASET_CIFAR10N,
    APP_DATASET_CIFAR100N,
    APP_DATASET_PACS,
    APP_DATASET_OFFICEHOME,
    APP_DATASET_RAFDB,
    APP_DATASET_IDX,
    APP_DATASET_DIGITS,
} app_dataset_kind;

typedef enum app_sampler_type {
    APP_SAMPLER_TYPE_SHUFFLE, /* a seeded random permutation per epoch */
    APP_SAMPLER_TYPE_PK,      /* pk_classes classes x pk_samples samples per batch */
} app_sampler_type;

typedef enum app_arch {
    APP_ARCH_RESNET18,
    APP_ARCH_RESNET34,
    APP_ARCH_RESNET50,
} app_arch;

typedef enum app_stem {
    APP_STEM_IMAGENET, /* 7x7 stride-2 convolution and 3x3 max-pool */
    APP_STEM_CIFAR,    /* 3x3 stride-1 convolution, no max-pool */
} app_stem;

typedef enum app_optimizer {
    APP_OPTIM_SGD,
    APP_OPTIM_ADAM,
    APP_OPTIM_ADAMW,
} app_optimizer;

typedef enum app_schedule_type {
    APP_SCHEDULE_CONSTANT,
    APP_SCHEDULE_MULTISTEP,   /* lr *= gamma at each milestone epoch */
    APP_SCHEDULE_COSINE,      /* cosine from lr to eta_min over the run */
    APP_SCHEDULE_EXPONENTIAL, /* lr *= gamma every epoch */
} app_schedule_type;

typedef enum app_method_name {
    APP_METHOD_ERM,  /* cross-entropy only */
    APP_METHOD_DSU,  /* feature-statistics perturbation with batch scales */
    APP_METHOD_ALUM, /* LC at lc_points, AP/AN at P5, triplet loss */
} app_method_name;

typedef enum app_variance_mode {
    APP_VARIANCE_PER_ANCHOR,  /* per-sample scales from each anchor's triplet */
    APP_VARIANCE_BATCH_UNION, /* per-channel scales over anchor, AP and AN batches */
} app_variance_mode;

typedef enum app_ranking {
    APP_RANKING_DATA_UNCERTAINTY,
    APP_RANKING_LOSS,
    APP_RANKING_PROB_GIVEN,
    APP_RANKING_MODEL_ENTROPY,
} app_ranking;

typedef struct app_run_config {
    char name[APP_CONFIG_NAME_MAX]; /* default: the config file name without .yaml */
    long long seed;                 /* seed of weight init, sampling and augmentation */
    int epochs;
    char output_dir[APP_CONFIG_PATH_MAX]; /* "<name>" is replaced by name after loading */
    int log_every;                        /* steps between progress lines */
    int checkpoint_every;                 /* epochs between checkpoints; 0 = only the last */
    int keep_last;                        /* checkpoints kept on disk */
    int eval_every;                       /* epochs between test-set evaluations */
} app_run_config;

typedef struct app_device_config {
    char selector[APP_CONFIG_PATH_MAX]; /* same syntax as --device; "" = default device */
} app_device_config;

typedef struct app_noise_config {
    app_noise_kind type; /* synthetic noise applied to the training labels */
    double rate;         /* fraction of training labels flipped, 0..1 */
    long long seed;
} app_noise_config;

typedef struct app_augment_settings {
    bool random_crop;
    int crop_padding; /* pixels of zero padding before the random crop */
    int resize;       /* side length images are resized to first; 0 = keep */
    double translate; /* maximum random shift as a fraction of the side */
    bool random_resized_crop;
    double rrc_scale_min; /* minimum area fraction of a random resized crop */
    bool hflip;
    double random_erasing;            /* probability of erasing one random rectangle */
    double mean[APP_CONFIG_LIST_MAX]; /* per-channel normalisation, n_mean == 3 */
    int n_mean;
    double std[APP_CONFIG_LIST_MAX]; /* per-channel normalisation, n_std == 3 */
    int n_std;
} app_augment_settings;

typedef struct app_data_config {
    app_dataset_kind dataset;
    char root[APP_CONFIG_PATH_MAX];       /* dataset root directory */
    char label_file[APP_CONFIG_PATH_MAX]; /* CIFAR-N .pt or .csv, RAF-DB noisy list */
    char label_set[APP_CONFIG_NAME_MAX];  /* clean, aggre, worse, worst, random1..3, noisy */
    char split_dir[APP_CONFIG_PATH_MAX];  /* PACS *_kfold.txt directory; "" = root */
    int train_subset;                     /* 0 = all training images */
    long long subset_seed;                /* < 0 = first train_subset images, else seeded */
    int test_subset; /* 0 = all test images, else a stratified subset (seed 0) */
    char domains[APP_CONFIG_LIST_MAX][APP_CONFIG_NAME_MAX]; /* training domains */
    int n_domains; /* 0 = every domain except target_domain */
    char target_domain[APP_CONFIG_NAME_MAX];
    int image_size;
    int num_classes;
    int batch_size;
    int workers;
    app_sampler_type sampler;
    int pk_classes;
    int pk_samples;
    bool drop_last;
    bool allow_partial_cifar; /* accept CIFAR files with fewer than the official records */
    app_noise_config noise;
    app_augment_settings augment;
} app_data_config;

typedef struct app_model_config {
    app_arch arch;
    app_stem stem;
    double width;                         /* channel multiplier, 0 < width <= 4 */
    char pretrained[APP_CONFIG_PATH_MAX]; /* checkpoint to initialise from; "" = random */
} app_model_config;

typedef struct app_optim_config {
    app_optimizer name;
    double lr;
    double momentum;
    bool nesterov;
    double weight_decay;
    double classifier_lr_mult;         /* lr multiplier of the final linear layer */
    double betas[APP_CONFIG_LIST_MAX]; /* Adam betas, n_betas == 2 */
    int n_betas;
    double eps;
    bool no_decay_bn_bias; /* no weight decay on batch-norm parameters and biases */
    double label_smoothing;
} app_optim_config;

typedef struct app_schedule_config {
    app_schedule_type type;
    int milestones[APP_CONFIG_LIST_MAX]; /* epochs, strictly increasing */
    int n_milestones;
    double gamma;
    double eta_min;
    int warmup_epochs; /* linear warm-up from 0 to lr */
    bool per_step;     /* update the lr every step instead of every epoch */
} app_schedule_config;

typedef struct app_method_config {
    app_method_name name;
    double p;   /* probability that a perturbation module is active in a forward pass */
    double eps; /* added inside the square root of every variance */
    char lc_points[APP_CONFIG_LIST_MAX][APP_CONFIG_NAME_MAX]; /* subset of P0..P5 */
    int n_lc_points;
    bool ap;
    bool an;
    bool triplet;
    app_variance_mode variance_mode;
    double margin;
    double triplet_weight;
    bool normalize_embeddings;
} app_method_config;

typedef struct app_uncertainty_config {
    int mc_passes;
    app_ranking ranking;
    int top_k; /* 0 = the number of estimated noisy samples */
} app_uncertainty_config;

typedef struct app_config {
    app_run_config run;
    app_device_config device;
    app_data_config data;
    app_model_config model;
    app_optim_config optim;
    app_schedule_config schedule;
    app_method_config method;
    app_uncertainty_config uncertainty;
} app_config;

/* Fills cfg with the default of every key (the struct is zeroed first). */
void app_config_defaults(app_config *cfg);

/*
 * Loads a run configuration: defaults, then the `extends` chain of path (base
 * files first), then path itself, then each override "section.key=value" in
 * order. path may be NULL (defaults and overrides only). Every problem found
 * is collected: unknown keys, wrong types, out-of-range values, malformed
 * YAML, missing or cyclic extends files, invalid overrides and inconsistent
 * combinations of keys. Each is one line "FILE:LINE:COLUMN: KEY: message"
 * (or "override KEY: message").
 *
 * Returns RT_OK, or RT_ERR_FORMAT (RT_ERR_IO when path cannot be opened) with
 * the list of problems as rt_last_error() (cut at its 8 KiB buffer) and, when
 * errors_out is not NULL, *errors_out set to a malloc'd copy of the full list
 * that the caller frees. On RT_ERR_NOMEM and on success *errors_out is NULL.
 * cfg holds defaults plus every valid value in both cases.
 */
int app_config_load(app_config *cfg, const char *path, const char *const *overrides,
                    int n_overrides, char **errors_out);

/*
 * Loads a config like app_config_load, reading the YAML text from memory.
 * name labels error messages, and relative extends paths are resolved from
 * its directory.
 */
int app_config_load_buffer(app_config *cfg, const char *name, const char *text, size_t size,
                           const char *const *overrides, int n_overrides, char **errors_out);

/*
 * Writes cfg as YAML holding every key, in schema order. Loading the output
 * gives a config equal to cfg. Returns RT_OK or RT_ERR_IO.
 */
int app_config_write_yaml(const app_config *cfg, FILE *out);

/*
 * Prints the key table: dotted key, type, default, range or allowed values and
 * description. With markdown set, prints the same reference as Markdown tables,
 * one per section (the key reference of docs/config.md).
 */
void app_config_print_help(FILE *out, bool markdown);

/*
 * Compares two configs key by key. Returns the number of keys that differ and
 * writes their dotted paths, comma-separated, to diff (may be NULL).
 */
int app_config_compare(const app_config *a, const app_config *b, char *diff, size_t diff_size);

/* Returns the YAML name of an enum value of the given key ("data.dataset"), or "?". */
const char *app_config_enum_name(const char *key, int value);

/* Returns a bit mask of method.lc_points: bit i is set when "Pi" is listed. */
unsigned app_config_lc_mask(const app_config *cfg);

#endif
