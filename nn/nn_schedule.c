#include "nn/nn_schedule.h"

#include <math.h>

#include "runtime/rt_error.h"

int nn_schedule_validate(const nn_schedule_config *c)
{
    if (c->kind < NN_SCHEDULE_CONSTANT || c->kind > NN_SCHEDULE_EXPONENTIAL)
        return rt_set_error(RT_ERR_INVALID, "invalid schedule kind %d", (int)c->kind);
    if (!(c->base_lr >= 0.0 && isfinite(c->base_lr)))
        return rt_set_error(RT_ERR_INVALID, "invalid base_lr %g; expected a finite value >= 0",
                            c->base_lr);
    if ((c->kind == NN_SCHEDULE_MULTISTEP || c->kind == NN_SCHEDULE_EXPONENTIAL) &&
        !(c->gamma > 0.0 && isfinite(c->gamma)))
        return rt_set_error(RT_ERR_INVALID, "invalid gamma %g; expected a finite value > 0",
                            c->gamma);
    if (c->kind == NN_SCHEDULE_MULTISTEP) {
        if (c->milestone_count < 0 || c->milestone_count > NN_SCHEDULE_MAX_MILESTONES)
            return rt_set_error(RT_ERR_INVALID, "invalid milestone_count %d; expected 0 to %d",
                                c->milestone_count, NN_SCHEDULE_MAX_MILESTONES);
        for (int i = 0; i < c->milestone_count; i++) {
            if (c->milestones[i] < 0 || (i > 0 && c->milestones[i] <= c->milestones[i - 1]))
                return rt_set_error(RT_ERR_INVALID,
                                    "invalid milestone %d at index %d; milestones must be >= 0 "
                                    "and strictly ascending",
                                    c->milestones[i], i);
        }
    }
    if (c->warmup_epochs < 0)
        return rt_set_error(RT_ERR_INVALID, "invalid warmup_epochs %d; expected >= 0",
                            c->warmup_epochs);
    if (c->warmup_epochs > 0 && !(c->warmup_start_factor > 0.0 && c->warmup_start_factor <= 1.0))
        return rt_set_error(RT_ERR_INVALID,
                            "invalid warmup_start_factor %g; expected a value in (0, 1]",
                            c->warmup_start_factor);
    if (c->kind == NN_SCHEDULE_COSINE) {
        if (c->total_epochs <= c->warmup_epochs)
            return rt_set_error(RT_ERR_INVALID,
                                "invalid total_epochs %d for a cosine schedule; it must exceed "
                                "warmup_epochs (%d)",
                                c->total_epochs, c->warmup_epochs);
        if (!(c->eta_min >= 0.0 && c->eta_min <= c->base_lr))
            return rt_set_error(RT_ERR_INVALID,
                                "invalid eta_min %g; expected 0 <= eta_min <= "
                                "base_lr (%g)",
                                c->eta_min, c->base_lr);
    }
    if (c->per_step && c->steps_per_epoch <= 0)
        return rt_set_error(RT_ERR_INVALID,
                            "invalid steps_per_epoch %d; per-step schedules need a value >= 1",
                            c->steps_per_epoch);
    return RT_OK;
}

/* Returns the main schedule's learning rate at v epochs after the warm-up. */
static double main_lr(const nn_schedule_config *c, double v)
{
    switch (c->kind) {
    case NN_SCHEDULE_MULTISTEP: {
        int passed = 0;
        for (int i = 0; i < c->milestone_count; i++)
            if ((double)c->milestones[i] <= v)
                passed++;
        return c->base_lr * pow(c->gamma, passed);
    }
    case NN_SCHEDULE_COSINE: {
        double span = (double)(c->total_epochs - c->warmup_epochs);
        if (v >= span)
            return c->eta_min;
        return c->eta_min + (c->base_lr - c->eta_min) * (1.0 + cos(M_PI * v / span)) / 2.0;
    }
    case NN_SCHEDULE_EXPONENTIAL:
        return c->base_lr * pow(c->gamma, v);
    case NN_SCHEDULE_CONSTANT:
    default:
        return c->base_lr;
    }
}

double nn_schedule_lr(const nn_schedule_config *c, int epoch, int step)
{
    double u = (double)epoch;
    if (c->per_step)
        u += (double)step / (double)c->steps_per_epoch;
    double warmup = (double)c->warmup_epochs;
    if (u < warmup) {
        double factor = c->warmup_start_factor + (1.0 - c->warmup_start_factor) * u / warmup;
        return main_lr(c, 0.0) * factor;
    }
    return main_lr(c, u - warmup);
}
