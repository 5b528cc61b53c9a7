/*
 * Building a run from its configuration: datasets, augmentation, the
 * network, the ALUM modules, the optimiser and the schedule.
 */
#ifndef ALUMCL_APP_SETUP_H
#define ALUMCL_APP_SETUP_H

#include "alum/alum.h"
#include "apps/app_augment.h"
#include "apps/app_config.h"
#include "apps/app_data.h"
#include "nn/nn_optim.h"
#include "nn/nn_schedule.h"

/* The training and test sets of a run, with what was done to their labels. */
typedef struct app_datasets {
    app_dataset *train;      /* possibly a subset view of train_base */
    app_dataset *test;       /* possibly a subset view of test_base */
    app_dataset *train_base; /* owned; NULL when train is not a view */
    app_dataset *test_base;
    app_dataset **parts; /* owned parts of concatenated datasets */
    int n_parts;
    double noise_rate; /* realised fraction of training labels that differ from clean; -1 unknown */
    char description[512];
} app_datasets;

/* Opens the datasets that cfg->data describes, applies subsets and synthetic noise. */
int app_datasets_open(const app_config *cfg, app_datasets *out);
void app_datasets_free(app_datasets *d);

/* Fills the augmentation pipeline of the training set (train) or of evaluation. */
void app_augment_from_config(const app_config *cfg, int channels, bool train,
                             app_augment_config *out);

void app_resnet_config_from(const app_config *cfg, int num_classes, nn_resnet_config *out);
void app_alum_config_from(const app_config *cfg, alum_config *out);
void app_optim_config_from(const app_config *cfg, nn_optim_config *out);
void app_schedule_config_from(const app_config *cfg, int steps_per_epoch, nn_schedule_config *out);

/* Marks batch-norm parameters and biases as not decayed when cfg->optim.no_decay_bn_bias is set. */
void app_apply_decay_policy(const app_config *cfg, nn_param_list *params);

#endif
