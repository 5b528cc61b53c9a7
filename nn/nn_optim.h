/*
 * Optimisers: SGD (momentum, dampening, Nesterov, L2 weight decay), Adam and
 * AdamW, with the update rules of torch.optim in PyTorch 1.13.
 *
 * Each parameter tensor gets one fused update kernel per step. A parameter's
 * group (nn_param.group) selects a learning-rate multiplier and a weight
 * decay; a parameter whose weight_decay flag is false gets no decay at all.
 *
 * The optimiser state (momentum buffers, Adam's exp_avg and exp_avg_sq, and
 * the step count) lives in named device tensors, listed by
 * nn_optim_state_list() so checkpoints can save and restore it.
 */
#ifndef ALUMCL_NN_OPTIM_H
#define ALUMCL_NN_OPTIM_H

#include <stdint.h>

#include "nn/nn_param.h"

#define NN_OPTIM_MAX_GROUPS 8

typedef enum nn_optim_kind {
    NN_OPTIM_SGD = 0,
    NN_OPTIM_ADAM = 1,
    NN_OPTIM_ADAMW = 2
} nn_optim_kind;

typedef struct nn_optim_group {
    float lr_scale;     /* multiplier of the learning rate passed to nn_optim_step */
    float weight_decay; /* decay of this group, or negative to use nn_optim_config.weight_decay */
} nn_optim_group;

typedef struct nn_optim_config {
    nn_optim_kind kind;
    float weight_decay; /* L2 term for SGD and Adam, decoupled decay for AdamW */
    float momentum;     /* SGD only. 0 disables the momentum buffer */
    float dampening;    /* SGD only. Must be 0 with nesterov */
    bool nesterov;      /* SGD only. Needs momentum > 0 */
    float beta1, beta2; /* Adam and AdamW */
    float eps;          /* Adam and AdamW. Added after the square root */
    nn_optim_group groups[NN_OPTIM_MAX_GROUPS];
} nn_optim_config;

typedef struct nn_optim nn_optim;

/*
 * Returns PyTorch's defaults for kind: momentum 0, dampening 0, no Nesterov,
 * betas (0.9, 0.999), eps 1e-8, weight decay 0 (0.01 for AdamW), and every
 * group with lr_scale 1 that inherits the weight decay.
 */
nn_optim_config nn_optim_config_default(nn_optim_kind kind);

/*
 * Validates config, allocates zeroed state tensors for every parameter of list
 * and returns the optimiser in *out. list must outlive the optimiser. Fails
 * with RT_ERR_INVALID naming the field (or the parameter whose group is out of
 * range) when a value is invalid.
 */
int nn_optim_create(rt_context *ctx, nn_param_list *list, const nn_optim_config *config,
                    nn_optim **out);
void nn_optim_free(nn_optim *opt);

/*
 * Enqueues one update of every parameter from its current gradient with base
 * learning rate lr (each group multiplies it by its lr_scale). Nothing is read
 * back to the host.
 */
int nn_optim_step(rt_context *ctx, nn_optim *opt, float lr);

/* Returns the number of completed steps. */
int64_t nn_optim_step_count(const nn_optim *opt);

/*
 * Returns the state tensors as buffers of a parameter list (params is empty):
 * "optimizer.step" (int32 [1]), then per parameter P
 * "optimizer.P.momentum_buffer" (SGD with momentum) or "optimizer.P.exp_avg"
 * and "optimizer.P.exp_avg_sq" (Adam, AdamW), each shaped like P.
 */
const nn_param_list *nn_optim_state_list(const nn_optim *opt);

/*
 * Re-reads the step count from the "optimizer.step" tensor. Call it after
 * writing the state tensors directly (a checkpoint load does it itself).
 */
int nn_optim_sync_state(nn_optim *opt);

#endif
