/*
 * Learning-rate schedules as pure functions of training time.
 *
 * Time u is measured in epochs: u = epoch when evaluated per epoch, and
 * u = epoch + step / steps_per_epoch when evaluated per step. An optional
 * linear warm-up covers u in [0, warmup_epochs) and the main schedule then
 * runs on v = u - warmup_epochs, which is how PyTorch's SequentialLR chains
 * LinearLR in front of another scheduler. Main schedules (PyTorch 1.13
 * lr_scheduler equivalents):
 *   constant     lr = base_lr
 *   multi-step   lr = base_lr * gamma^(number of milestones <= v)    (MultiStepLR)
 *   cosine       lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * v / T)) / 2,
 *                T = total_epochs - warmup_epochs, and lr = eta_min for v >= T
 *                (CosineAnnealingLR, which instead rises again after T)
 *   exponential  lr = base_lr * gamma^v                             (ExponentialLR)
 * Warm-up: lr = main(0) * (warmup_start_factor + (1 - warmup_start_factor) * u / warmup_epochs),
 * which is LinearLR with end_factor 1.
 */
#ifndef ALUMCL_NN_SCHEDULE_H
#define ALUMCL_NN_SCHEDULE_H

#include <stdbool.h>

#define NN_SCHEDULE_MAX_MILESTONES 16

typedef enum nn_schedule_kind {
    NN_SCHEDULE_CONSTANT = 0,
    NN_SCHEDULE_MULTISTEP = 1,
    NN_SCHEDULE_COSINE = 2,
    NN_SCHEDULE_EXPONENTIAL = 3,
} nn_schedule_kind;

typedef struct nn_schedule_config {
    nn_schedule_kind kind;
    double base_lr;
    double gamma; /* multi-step factor per milestone, exponential factor per epoch */
    int milestones[NN_SCHEDULE_MAX_MILESTONES]; /* multi-step: epochs after warm-up, ascending */
    int milestone_count;
    double eta_min;             /* cosine: final learning rate */
    int total_epochs;           /* cosine: warm-up plus cosine length */
    int warmup_epochs;          /* 0 disables warm-up */
    double warmup_start_factor; /* fraction of base_lr at u = 0, in (0, 1] */
    bool per_step;              /* evaluate at fractional epochs instead of whole epochs */
    int steps_per_epoch;        /* required when per_step */
} nn_schedule_config;

/* Validates every field and returns RT_OK, or RT_ERR_INVALID with a message naming the field. */
int nn_schedule_validate(const nn_schedule_config *config);

/*
 * Returns the learning rate for step `step` (0-based) of epoch `epoch`
 * (0-based). step is ignored unless config->per_step. config must be valid.
 */
double nn_schedule_lr(const nn_schedule_config *config, int epoch, int step);

#endif
