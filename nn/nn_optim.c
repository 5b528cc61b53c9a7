#include "nn/nn_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nn_optim {
    nn_optim_config config;
    nn_param_list *params;
    nn_param_list state;      /* state tensors as buffers under their checkpoint names */
    rt_tensor step_tensor;    /* int32 [1], incremented on the device */
    rt_tensor *first_moment;  /* momentum buffer or exp_avg per parameter, or NULL if unused */
    rt_tensor *second_moment; /* exp_avg_sq per parameter, or NULL unless Adam or AdamW */
    int64_t step;
};

nn_optim_config nn_optim_config_default(nn_optim_kind kind)
{
    nn_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.weight_decay = kind == NN_OPTIM_ADAMW ? 0.01f : 0.0f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    for (int g = 0; g < NN_OPTIM_MAX_GROUPS; g++) {
        c.groups[g].lr_scale = 1.0f;
        c.groups[g].weight_decay = -1.0f;
    }
    return c;
}

static int validate_config(const nn_optim_config *c)
{
    if (c->kind != NN_OPTIM_SGD && c->kind != NN_OPTIM_ADAM && c->kind != NN_OPTIM_ADAMW)
        return rt_set_error(RT_ERR_INVALID,
                            "invalid optimizer kind %d; use NN_OPTIM_SGD, "
                            "NN_OPTIM_ADAM or NN_OPTIM_ADAMW",
                            (int)c->kind);
    if (!(c->weight_decay >= 0.0f && isfinite(c->weight_decay)))
        return rt_set_error(RT_ERR_INVALID, "invalid weight_decay %g; expected a finite value >= 0",
                            (double)c->weight_decay);
    if (c->kind == NN_OPTIM_SGD) {
        if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
            return rt_set_error(RT_ERR_INVALID, "invalid momentum %g; expected 0 <= momentum < 1",
                                (double)c->momentum);
        if (!(c->dampening >= 0.0f && c->dampening <= 1.0f))
            return rt_set_error(RT_ERR_INVALID,
                                "invalid dampening %g; expected 0 <= dampening <= 1",
                                (double)c->dampening);
        if (c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f))
            return rt_set_error(RT_ERR_INVALID,
                                "Nesterov momentum needs momentum > 0 and dampening 0 (got "
                                "momentum %g, dampening %g)",
                                (double)c->momentum, (double)c->dampening);
    } else {
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
            return rt_set_error(RT_ERR_INVALID, "invalid beta1 %g; expected 0 <= beta1 < 1",
                                (double)c->beta1);
        if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return rt_set_error(RT_ERR_INVALID, "invalid beta2 %g; expected 0 <= beta2 < 1",
                                (double)c->beta2);
        if (!(c->eps > 0.0f && isfinite(c->eps)))
            return rt_set_error(RT_ERR_INVALID, "invalid eps %g; expected a finite value > 0",
                                (double)c->eps);
    }
    for (int g = 0; g < NN_OPTIM_MAX_GROUPS; g++) {
        if (!(c->groups[g].lr_scale >= 0.0f && isfinite(c->groups[g].lr_scale)))
            return rt_set_error(RT_ERR_INVALID,
                                "invalid lr_scale %g of parameter group %d; expected a finite "
                                "value >= 0",
                                (double)c->groups[g].lr_scale, g);
        if (!isfinite(c->groups[g].weight_decay))
            return rt_set_error(RT_ERR_INVALID,
                                "invalid weight_decay %g of parameter group %d; expected a "
                                "finite value (negative inherits the optimizer's)",
                                (double)c->groups[g].weight_decay, g);
    }
    return RT_OK;
}

/* Allocates a zeroed state tensor shaped like p and lists it under "optimizer.<p>.<suffix>". */
static int add_state_tensor(rt_context *ctx, nn_optim *opt, const nn_param *p, const char *suffix,
                            rt_tensor *t)
{
    char name[sizeof p->name];
    int len = snprintf(name, sizeof name, "optimizer.%s.%s", p->name, suffix);
    if (len < 0 || (size_t)len >= sizeof name)
        return rt_set_error(RT_ERR_INVALID,
                            "optimizer state name for parameter '%s' exceeds %zu characters; "
                            "shorten the parameter name",
                            p->name, sizeof name - 1);
    RT_TRY(rt_tensor_alloc(ctx, t, name, RT_F32, p->value.ndim, p->value.shape));
    RT_TRY(rt_tensor_zero(t));
    return nn_param_list_add_buffer(&opt->state, name, t);
}

static int create_state(rt_context *ctx, nn_optim *opt)
{
    int one = 1;
    RT_TRY(rt_tensor_alloc(ctx, &opt->step_tensor, "optimizer.step", RT_I32, 1, &one));
    RT_TRY(rt_tensor_zero(&opt->step_tensor));
    RT_TRY(nn_param_list_add_buffer(&opt->state, "optimizer.step", &opt->step_tensor));

    int count = opt->params->count;
    bool adam = opt->config.kind != NN_OPTIM_SGD;
    bool first = adam || opt->config.momentum != 0.0f;
    if (first) {
        opt->first_moment = calloc((size_t)count, sizeof *opt->first_moment);
        if (!opt->first_moment && count > 0)
            return rt_set_error(RT_ERR_NOMEM, "out of host memory for optimizer state");
    }
    if (adam) {
        opt->second_moment = calloc((size_t)count, sizeof *opt->second_moment);
        if (!opt->second_moment && count > 0)
            return rt_set_error(RT_ERR_NOMEM, "out of host memory for optimizer state");
    }
    for (int i = 0; i < count; i++) {
        const nn_param *p = opt->params->params[i];
        if (p->group < 0 || p->group >= NN_OPTIM_MAX_GROUPS)
            return rt_set_error(RT_ERR_INVALID,
                                "parameter '%s' has group %d; groups must be in [0, %d)", p->name,
                                p->group, NN_OPTIM_MAX_GROUPS);
        if (p->value.dtype != RT_F32)
            return rt_set_error(RT_ERR_INVALID, "parameter '%s' is not float32", p->name);
        if (adam) {
            RT_TRY(add_state_tensor(ctx, opt, p, "exp_avg", &opt->first_moment[i]));
            RT_TRY(add_state_tensor(ctx, opt, p, "exp_avg_sq", &opt->second_moment[i]));
        } else if (first) {
            RT_TRY(add_state_tensor(ctx, opt, p, "momentum_buffer", &opt->first_moment[i]));
        }
    }
    return RT_OK;
}

int nn_optim_create(rt_context *ctx, nn_param_list *list, const nn_optim_config *config,
                    nn_optim **out)
{
    *out = NULL;
    RT_TRY(validate_config(config));
    nn_optim *opt = calloc(1, sizeof *opt);
    if (!opt)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory creating the optimizer");
    opt->config = *config;
    opt->params = list;
    int st = create_state(ctx, opt);
    if (st != RT_OK) {
        nn_optim_free(opt);
        return st;
    }
    *out = opt;
    return RT_OK;
}

void nn_optim_free(nn_optim *opt)
{
    if (!opt)
        return;
    int count = opt->params ? opt->params->count : 0;
    for (int i = 0; i < count; i++) {
        if (opt->first_moment)
            rt_tensor_free(&opt->first_moment[i]);
        if (opt->second_moment)
            rt_tensor_free(&opt->second_moment[i]);
    }
    free(opt->first_moment);
    free(opt->second_moment);
    rt_tensor_free(&opt->step_tensor);
    nn_param_list_free(&opt->state);
    free(opt);
}

static float param_weight_decay(const nn_optim *opt, const nn_param *p)
{
    if (!p->weight_decay)
        return 0.0f;
    float wd = opt->config.groups[p->group].weight_decay;
    return wd < 0.0f ? opt->config.weight_decay : wd;
}

static int launch_sgd(rt_context *ctx, nn_optim *opt, int i, float lr, float wd)
{
    nn_param *p = opt->params->params[i];
    cl_int n = (cl_int)p->value.numel;
    size_t global = p->value.numel, local = 64;
    cl_kernel k;
    if (!opt->first_moment) {
        RT_TRY(rt_kernel_get(ctx, "optim", "sgd_step", &k));
        RT_ARG(ctx, k, 0, n);
        RT_ARG(ctx, k, 1, lr);
        RT_ARG(ctx, k, 2, wd);
        RT_ARG(ctx, k, 3, p->value.buf);
        RT_ARG(ctx, k, 4, p->grad.buf);
        return rt_launch(ctx, k, "sgd_step", 1, &global, &local);
    }
    cl_int nesterov = opt->config.nesterov ? 1 : 0;
    cl_int first_step = opt->step == 0 ? 1 : 0;
    RT_TRY(rt_kernel_get(ctx, "optim", "sgd_momentum_step", &k));
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, lr);
    RT_ARG(ctx, k, 2, wd);
    RT_ARG(ctx, k, 3, opt->config.momentum);
    RT_ARG(ctx, k, 4, opt->config.dampening);
    RT_ARG(ctx, k, 5, nesterov);
    RT_ARG(ctx, k, 6, first_step);
    RT_ARG(ctx, k, 7, p->value.buf);
    RT_ARG(ctx, k, 8, p->grad.buf);
    RT_ARG(ctx, k, 9, opt->first_moment[i].buf);
    return rt_launch(ctx, k, "sgd_momentum_step", 1, &global, &local);
}

/* Launches Adam or AdamW for parameter i; step is the 1-based step being taken. */
static int launch_adam(rt_context *ctx, nn_optim *opt, int i, float lr, float wd, int64_t step)
{
    nn_param *p = opt->params->params[i];
    const nn_optim_config *c = &opt->config;
    double bias_correction1 = 1.0 - pow((double)c->beta1, (double)step);
    double bias_correction2 = 1.0 - pow((double)c->beta2, (double)step);
    float step_size = (float)((double)lr / bias_correction1);
    float bias_correction2_sqrt = (float)sqrt(bias_correction2);
    bool decoupled = c->kind == NN_OPTIM_ADAMW;
    float l2_decay = decoupled ? 0.0f : wd;
    float param_scale = decoupled ? 1.0f - lr * wd : 1.0f;

    cl_int n = (cl_int)p->value.numel;
    size_t global = p->value.numel, local = 64;
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "optim", "adam_step", &k));
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, step_size);
    RT_ARG(ctx, k, 2, bias_correction2_sqrt);
    RT_ARG(ctx, k, 3, c->beta1);
    RT_ARG(ctx, k, 4, c->beta2);
    RT_ARG(ctx, k, 5, c->eps);
    RT_ARG(ctx, k, 6, l2_decay);
    RT_ARG(ctx, k, 7, param_scale);
    RT_ARG(ctx, k, 8, p->value.buf);
    RT_ARG(ctx, k, 9, p->grad.buf);
    RT_ARG(ctx, k, 10, opt->first_moment[i].buf);
    RT_ARG(ctx, k, 11, opt->second_moment[i].buf);
    return rt_launch(ctx, k, "adam_step", 1, &global, &local);
}

int nn_optim_step(rt_context *ctx, nn_optim *opt, float lr)
{
    if (!(lr >= 0.0f && isfinite(lr)))
        return rt_set_error(RT_ERR_INVALID,
                            "invalid learning rate %g; expected a finite value >= 0", (double)lr);
    for (int i = 0; i < opt->params->count; i++) {
        const nn_param *p = opt->params->params[i];
        float group_lr = lr * opt->config.groups[p->group].lr_scale;
        float wd = param_weight_decay(opt, p);
        if (opt->config.kind == NN_OPTIM_SGD)
            RT_TRY(launch_sgd(ctx, opt, i, group_lr, wd));
        else
            RT_TRY(launch_adam(ctx, opt, i, group_lr, wd, opt->step + 1));
    }
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "optim", "count_step", &k));
    RT_ARG(ctx, k, 0, opt->step_tensor.buf);
    size_t one = 1;
    RT_TRY(rt_launch(ctx, k, "count_step", 1, &one, NULL));
    opt->step++;
    return RT_OK;
}

int64_t nn_optim_step_count(const nn_optim *opt)
{
    return opt->step;
}

const nn_param_list *nn_optim_state_list(const nn_optim *opt)
{
    return &opt->state;
}

int nn_optim_sync_state(nn_optim *opt)
{
    int32_t step = 0;
    RT_TRY(rt_tensor_read(&opt->step_tensor, &step));
    if (step < 0)
        return rt_set_error(RT_ERR_FORMAT, "optimizer.step is %d; a step count must be >= 0",
                            (int)step);
    opt->step = step;
    return RT_OK;
}
