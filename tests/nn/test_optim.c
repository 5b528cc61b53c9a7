/*
 * Optimiser checks: a host reference of PyTorch's update rules over several
 * steps, trajectories recorded from torch.optim (test_optim_golden.h), the
 * state list and configuration errors.
 */
#include "tests/common/test_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_optim.h"
#include "test_optim_golden.h"

/* Parameters for one test: values, gradients and the list that points at them. */
typedef struct param_set {
    nn_param params[3];
    int count;
    nn_param_list list;
} param_set;

static void param_set_add(param_set *set, const char *name, int ndim, const int *shape, int group,
                          bool weight_decay, const float *init)
{
    nn_param *p = &set->params[set->count++];
    ck_assert_rt(nn_param_init(test_ctx, p, name, ndim, shape));
    p->group = group;
    p->weight_decay = weight_decay;
    ck_assert_rt(rt_tensor_write(&p->value, init));
    ck_assert_rt(nn_param_list_add(&set->list, p));
}

static void param_set_free(param_set *set)
{
    for (int i = 0; i < set->count; i++)
        nn_param_free(&set->params[i]);
    nn_param_list_free(&set->list);
}

/* ---- golden trajectories from torch.optim ---- */

static void run_golden_case(const struct optim_golden_case *gc)
{
    param_set set;
    memset(&set, 0, sizeof set);
    int shape_a[2] = {3, 4}, shape_b[1] = {5}, shape_c[2] = {2, 3};
    param_set_add(&set, "a", 2, shape_a, 0, true, optim_golden_init_a);
    param_set_add(&set, "b", 1, shape_b, 1, false, optim_golden_init_b);
    param_set_add(&set, "c", 2, shape_c, 1, true, optim_golden_init_c);

    nn_optim_config config = nn_optim_config_default((nn_optim_kind)gc->kind);
    config.weight_decay = gc->weight_decay;
    config.momentum = gc->momentum;
    config.dampening = gc->dampening;
    config.nesterov = gc->nesterov != 0;
    config.beta1 = gc->beta1;
    config.beta2 = gc->beta2;
    config.eps = gc->eps;
    config.groups[1].lr_scale = OPTIM_GOLDEN_GROUP1_LR_SCALE;
    config.groups[1].weight_decay = OPTIM_GOLDEN_GROUP1_WEIGHT_DECAY;
    nn_optim *opt;
    ck_assert_rt(nn_optim_create(test_ctx, &set.list, &config, &opt));

    float a[OPTIM_GOLDEN_N_A], b[OPTIM_GOLDEN_N_B], c[OPTIM_GOLDEN_N_C];
    char what[96];
    for (int t = 0; t < OPTIM_GOLDEN_STEPS; t++) {
        ck_assert_rt(rt_tensor_write(&set.params[0].grad, optim_golden_grad_a[t]));
        ck_assert_rt(rt_tensor_write(&set.params[1].grad, optim_golden_grad_b[t]));
        ck_assert_rt(rt_tensor_write(&set.params[2].grad, optim_golden_grad_c[t]));
        ck_assert_rt(nn_optim_step(test_ctx, opt, optim_golden_lr[t]));
        ck_assert_rt(rt_tensor_read(&set.params[0].value, a));
        ck_assert_rt(rt_tensor_read(&set.params[1].value, b));
        ck_assert_rt(rt_tensor_read(&set.params[2].value, c));
        snprintf(what, sizeof what, "%s: a after step %d", gc->name, t + 1);
        ck_assert_close(a, gc->a[t], OPTIM_GOLDEN_N_A, 1e-6, 1e-5, what);
        snprintf(what, sizeof what, "%s: b after step %d", gc->name, t + 1);
        ck_assert_close(b, gc->b[t], OPTIM_GOLDEN_N_B, 1e-6, 1e-5, what);
        snprintf(what, sizeof what, "%s: c after step %d", gc->name, t + 1);
        ck_assert_close(c, gc->c[t], OPTIM_GOLDEN_N_C, 1e-6, 1e-5, what);
    }
    ck_assert_int_eq(nn_optim_step_count(opt), OPTIM_GOLDEN_STEPS);
    nn_optim_free(opt);
    param_set_free(&set);
}

START_TEST(golden_matches_torch)
{
    run_golden_case(&optim_golden_cases[_i]);
}
END_TEST

/* ---- host reference of PyTorch's formulas on a larger tensor ---- */

enum { REF_N = 1000, REF_STEPS = 6 };

/* One step of the reference on n elements; step is 1-based. */
static void reference_step(const nn_optim_config *c, int step, float lr, float wd, float *p,
                           const float *grad, float *m, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double param = p[i];
        double g = grad[i];
        if (c->kind == NN_OPTIM_SGD) {
            double d = g + wd * param;
            if (c->momentum != 0.0f) {
                m[i] =
                    step == 1 ? (float)d : (float)(c->momentum * m[i] + (1.0 - c->dampening) * d);
                d = c->nesterov ? d + c->momentum * m[i] : m[i];
            }
            p[i] = (float)(param - lr * d);
            continue;
        }
        if (c->kind == NN_OPTIM_ADAMW)
            param *= 1.0 - (double)lr * wd;
        else
            g += wd * param;
        m[i] = (float)(c->beta1 * m[i] + (1.0 - c->beta1) * g);
        v[i] = (float)(c->beta2 * v[i] + (1.0 - c->beta2) * g * g);
        double bias_correction1 = 1.0 - pow(c->beta1, step);
        double bias_correction2 = 1.0 - pow(c->beta2, step);
        double denom = sqrt((double)v[i]) / sqrt(bias_correction2) + c->eps;
        p[i] = (float)(param - lr / bias_correction1 * m[i] / denom);
    }
}

static void run_reference(const nn_optim_config *config, const char *label)
{
    param_set set;
    memset(&set, 0, sizeof set);
    float *init = malloc(REF_N * sizeof *init);
    float *grad = malloc(REF_N * sizeof *grad);
    float *expected = malloc(REF_N * sizeof *expected);
    float *got = malloc(REF_N * sizeof *got);
    float *m = calloc(REF_N, sizeof *m);
    float *v = calloc(REF_N, sizeof *v);
    test_fill_uniform(init, REF_N, -1.0f, 1.0f, 7);
    memcpy(expected, init, REF_N * sizeof *init);
    int shape[2] = {40, 25};
    param_set_add(&set, "layer.weight", 2, shape, 1, true, init);

    nn_optim *opt;
    ck_assert_rt(nn_optim_create(test_ctx, &set.list, config, &opt));
    float wd =
        config->groups[1].weight_decay < 0 ? config->weight_decay : config->groups[1].weight_decay;
    for (int t = 1; t <= REF_STEPS; t++) {
        float lr = 0.01f * (float)t;
        test_fill_uniform(grad, REF_N, -2.0f, 2.0f, 100 + (uint64_t)t);
        ck_assert_rt(rt_tensor_write(&set.params[0].grad, grad));
        ck_assert_rt(nn_optim_step(test_ctx, opt, lr));
        reference_step(config, t, lr * config->groups[1].lr_scale, wd, expected, grad, m, v, REF_N);
        ck_assert_rt(rt_tensor_read(&set.params[0].value, got));
        char what[96];
        snprintf(what, sizeof what, "%s after step %d", label, t);
        ck_assert_close(got, expected, REF_N, 1e-6, 1e-5, what);
    }
    nn_optim_free(opt);
    param_set_free(&set);
    free(init);
    free(grad);
    free(expected);
    free(got);
    free(m);
    free(v);
}

START_TEST(sgd_matches_reference)
{
    nn_optim_config c = nn_optim_config_default(NN_OPTIM_SGD);
    c.weight_decay = 5e-4f;
    c.groups[1].lr_scale = 3.0f;
    run_reference(&c, "plain SGD");
    c.momentum = 0.9f;
    run_reference(&c, "SGD momentum");
    c.nesterov = true;
    run_reference(&c, "SGD Nesterov");
    c.nesterov = false;
    c.dampening = 0.5f;
    c.groups[1].weight_decay = 0.1f;
    run_reference(&c, "SGD dampening");
}
END_TEST

START_TEST(adam_matches_reference)
{
    nn_optim_config c = nn_optim_config_default(NN_OPTIM_ADAM);
    c.weight_decay = 1e-4f;
    c.groups[1].lr_scale = 10.0f;
    run_reference(&c, "Adam");
    c = nn_optim_config_default(NN_OPTIM_ADAMW);
    c.beta1 = 0.5f;
    c.eps = 1e-3f;
    run_reference(&c, "AdamW");
}
END_TEST

/* ---- state list and configuration ---- */

START_TEST(state_list_names_tensors)
{
    param_set set;
    memset(&set, 0, sizeof set);
    float init[6] = {0};
    int shape[2] = {2, 3};
    param_set_add(&set, "conv1.weight", 2, shape, 0, true, init);
    nn_optim_config c = nn_optim_config_default(NN_OPTIM_ADAM);
    nn_optim *opt;
    ck_assert_rt(nn_optim_create(test_ctx, &set.list, &c, &opt));
    const nn_param_list *state = nn_optim_state_list(opt);
    ck_assert_int_eq(state->count, 0);
    ck_assert_int_eq(state->buffer_count, 3);
    ck_assert_str_eq(state->buffers[0].name, "optimizer.step");
    ck_assert_str_eq(state->buffers[1].name, "optimizer.conv1.weight.exp_avg");
    ck_assert_str_eq(state->buffers[2].name, "optimizer.conv1.weight.exp_avg_sq");
    ck_assert_int_eq(state->buffers[2].tensor->shape[1], 3);

    ck_assert_rt(nn_optim_step(test_ctx, opt, 0.1f));
    ck_assert_rt(nn_optim_step(test_ctx, opt, 0.1f));
    int32_t step = 0;
    ck_assert_rt(rt_tensor_read(state->buffers[0].tensor, &step));
    ck_assert_int_eq(step, 2);

    step = 41;
    ck_assert_rt(rt_tensor_write(state->buffers[0].tensor, &step));
    ck_assert_rt(nn_optim_sync_state(opt));
    ck_assert_int_eq(nn_optim_step_count(opt), 41);
    nn_optim_free(opt);
    param_set_free(&set);
}
END_TEST

START_TEST(sgd_without_momentum_has_no_buffers)
{
    param_set set;
    memset(&set, 0, sizeof set);
    float init[4] = {0};
    int shape[1] = {4};
    param_set_add(&set, "fc.bias", 1, shape, 1, false, init);
    nn_optim_config c = nn_optim_config_default(NN_OPTIM_SGD);
    nn_optim *opt;
    ck_assert_rt(nn_optim_create(test_ctx, &set.list, &c, &opt));
    ck_assert_int_eq(nn_optim_state_list(opt)->buffer_count, 1);
    nn_optim_free(opt);
    param_set_free(&set);
}
END_TEST

START_TEST(invalid_config_rejected)
{
    param_set set;
    memset(&set, 0, sizeof set);
    float init[4] = {0};
    int shape[1] = {4};
    param_set_add(&set, "fc.bias", 1, shape, 1, false, init);
    nn_optim *opt = NULL;

    nn_optim_config c = nn_optim_config_default(NN_OPTIM_SGD);
    c.nesterov = true;
    ck_assert_int_eq(nn_optim_create(test_ctx, &set.list, &c, &opt), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "Nesterov"));
    ck_assert_ptr_null(opt);

    c = nn_optim_config_default(NN_OPTIM_ADAM);
    c.beta2 = 1.0f;
    ck_assert_int_eq(nn_optim_create(test_ctx, &set.list, &c, &opt), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "beta2"));

    c = nn_optim_config_default(NN_OPTIM_ADAM);
    c.groups[2].lr_scale = -1.0f;
    ck_assert_int_eq(nn_optim_create(test_ctx, &set.list, &c, &opt), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "group 2"));

    c = nn_optim_config_default(NN_OPTIM_SGD);
    set.params[0].group = NN_OPTIM_MAX_GROUPS;
    ck_assert_int_eq(nn_optim_create(test_ctx, &set.list, &c, &opt), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "fc.bias"));
    set.params[0].group = 1;

    ck_assert_rt(nn_optim_create(test_ctx, &set.list, &c, &opt));
    ck_assert_int_eq(nn_optim_step(test_ctx, opt, NAN), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "learning rate"));
    nn_optim_free(opt);
    param_set_free(&set);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    int cases = (int)(sizeof optim_golden_cases / sizeof optim_golden_cases[0]);
    tcase_add_loop_test(tc, golden_matches_torch, 0, cases);
    tcase_add_test(tc, sgd_matches_reference);
    tcase_add_test(tc, adam_matches_reference);
    tcase_add_test(tc, state_list_names_tensors);
    tcase_add_test(tc, sgd_without_momentum_has_no_buffers);
    tcase_add_test(tc, invalid_config_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(optim_suite());
}
