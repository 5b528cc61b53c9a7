/*
 * Learning-rate schedule checks against values recorded from
 * torch.optim.lr_scheduler (test_schedule_golden.h), plus validation errors.
 * Schedules are host-only, so no OpenCL context is created.
 */
#include "tests/common/test_common.h"

#include <math.h>
#include <string.h>

#include "nn/nn_schedule.h"
#include "test_schedule_golden.h"

static nn_schedule_config config_from_golden(const struct schedule_golden_case *gc)
{
    nn_schedule_config c;
    memset(&c, 0, sizeof c);
    c.kind = (nn_schedule_kind)gc->kind;
    c.base_lr = gc->base_lr;
    c.gamma = gc->gamma;
    c.milestone_count = gc->milestone_count;
    for (int i = 0; i < gc->milestone_count; i++)
        c.milestones[i] = gc->milestones[i];
    c.eta_min = gc->eta_min;
    c.total_epochs = gc->total_epochs;
    c.warmup_epochs = gc->warmup_epochs;
    c.warmup_start_factor = gc->warmup_start_factor;
    c.per_step = gc->steps_per_epoch > 0;
    c.steps_per_epoch = gc->steps_per_epoch;
    return c;
}

START_TEST(golden_matches_torch)
{
    const struct schedule_golden_case *gc = &schedule_golden_cases[_i];
    nn_schedule_config c = config_from_golden(gc);
    ck_assert_rt(nn_schedule_validate(&c));
    int steps_per_epoch = gc->steps_per_epoch > 0 ? gc->steps_per_epoch : 1;
    for (int i = 0; i < gc->count; i++) {
        int epoch = i / steps_per_epoch;
        int step = i % steps_per_epoch;
        double lr = nn_schedule_lr(&c, epoch, step);
        double tolerance = 1e-12 + 1e-9 * fabs(gc->lr[i]);
        ck_assert_msg(fabs(lr - gc->lr[i]) <= tolerance,
                      "%s: learning rate at epoch %d step %d is %.12g, torch gives %.12g", gc->name,
                      epoch, step, lr, gc->lr[i]);
    }
}
END_TEST

START_TEST(per_epoch_ignores_step)
{
    nn_schedule_config c;
    memset(&c, 0, sizeof c);
    c.kind = NN_SCHEDULE_EXPONENTIAL;
    c.base_lr = 1.0;
    c.gamma = 0.5;
    ck_assert_rt(nn_schedule_validate(&c));
    ck_assert_double_eq(nn_schedule_lr(&c, 2, 0), 0.25);
    ck_assert_double_eq(nn_schedule_lr(&c, 2, 7), 0.25);
}
END_TEST

START_TEST(cosine_stays_at_eta_min)
{
    nn_schedule_config c;
    memset(&c, 0, sizeof c);
    c.kind = NN_SCHEDULE_COSINE;
    c.base_lr = 0.1;
    c.eta_min = 0.002;
    c.total_epochs = 5;
    ck_assert_rt(nn_schedule_validate(&c));
    ck_assert_double_eq(nn_schedule_lr(&c, 5, 0), 0.002);
    ck_assert_double_eq(nn_schedule_lr(&c, 9, 0), 0.002);
}
END_TEST

START_TEST(invalid_config_rejected)
{
    nn_schedule_config c;
    memset(&c, 0, sizeof c);
    c.kind = NN_SCHEDULE_MULTISTEP;
    c.base_lr = 0.1;
    c.gamma = 0.1;
    c.milestone_count = 2;
    c.milestones[0] = 5;
    c.milestones[1] = 5;
    ck_assert_int_eq(nn_schedule_validate(&c), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "milestone 5 at index 1"));

    c.milestones[1] = 8;
    c.per_step = true;
    ck_assert_int_eq(nn_schedule_validate(&c), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "steps_per_epoch"));

    memset(&c, 0, sizeof c);
    c.kind = NN_SCHEDULE_COSINE;
    c.base_lr = 0.1;
    c.total_epochs = 3;
    c.warmup_epochs = 3;
    c.warmup_start_factor = 0.1;
    ck_assert_int_eq(nn_schedule_validate(&c), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "total_epochs 3"));

    c.total_epochs = 10;
    c.warmup_start_factor = 0.0;
    ck_assert_int_eq(nn_schedule_validate(&c), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "warmup_start_factor"));

    c.warmup_start_factor = 0.1;
    c.base_lr = -1.0;
    ck_assert_int_eq(nn_schedule_validate(&c), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "base_lr"));
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    int cases = (int)(sizeof schedule_golden_cases / sizeof schedule_golden_cases[0]);
    tcase_add_loop_test(tc, golden_matches_torch, 0, cases);
    tcase_add_test(tc, per_epoch_ignores_step);
    tcase_add_test(tc, cosine_stays_at_eta_min);
    tcase_add_test(tc, invalid_config_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(schedule_suite());
}
