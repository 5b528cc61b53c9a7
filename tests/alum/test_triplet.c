/*
 * Mining and the triplet loss: constructed batches for the mining rules,
 * CPU references for values and finite differences for the gradient.
 */
#include "tests/common/test_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alum/alum_triplet.h"
#include "tests/alum/alum_reference.h"

static void upload(rt_tensor *t, const char *name, rt_dtype dtype, int ndim, const int *shape,
                   const void *host)
{
    ck_assert_rt(rt_tensor_alloc(test_ctx, t, name, dtype, ndim, shape));
    ck_assert_rt(rt_tensor_write(t, host));
}

/* Mines on the device from host embeddings [B, D] and labels into mined [2, B]. */
static void mine(const float *emb, int batch, int dim, const int *labels, int *mined)
{
    int emb_shape[2] = {batch, dim}, label_shape[1] = {batch}, mined_shape[2] = {2, batch};
    rt_tensor e, l, m;
    upload(&e, "embedding", RT_F32, 2, emb_shape, emb);
    upload(&l, "labels", RT_I32, 1, label_shape, labels);
    ck_assert_rt(rt_tensor_alloc(test_ctx, &m, "mined", RT_I32, 2, mined_shape));
    ck_assert_rt(alum_mine_hardest(test_ctx, &e, &l, &m));
    ck_assert_rt(rt_tensor_read(&m, mined));
    rt_tensor_free(&e);
    rt_tensor_free(&l);
    rt_tensor_free(&m);
}

START_TEST(mining_breaks_ties_by_lowest_index)
{
    /* points on a line at 0, 1, -1, 2, -2: samples 1 and 2 tie as positives of 0,
     * and 3 and 4 tie as negatives of 0 */
    float emb[5] = {0.0f, 1.0f, -1.0f, 2.0f, -2.0f};
    int labels[5] = {0, 0, 0, 1, 1};
    int mined[10];
    mine(emb, 5, 1, labels, mined);
    ck_assert_int_eq(mined[0], 1);
    ck_assert_int_eq(mined[5 + 0], 3);
    /* sample 3 at 2: nearest other-label samples are 1 (distance 1); farthest positive is 4 */
    ck_assert_int_eq(mined[3], 4);
    ck_assert_int_eq(mined[5 + 3], 1);
}
END_TEST

START_TEST(mining_single_member_class)
{
    float emb[8] = {0, 0, 1, 0, 0, 1, 3, 3};
    int labels[4] = {0, 0, 0, 7};
    int mined[8];
    mine(emb, 4, 2, labels, mined);
    ck_assert_int_eq(mined[3], 3);     /* no same-label partner: p(3) = 3 */
    ck_assert_int_eq(mined[4 + 3], 1); /* (1,0) and (0,1) tie at distance sqrt(13); lowest wins */
    ck_assert_int_eq(mined[0], 1);
    ck_assert_int_eq(mined[4 + 0], 3);
}
END_TEST

START_TEST(mining_single_label_batch)
{
    float emb[6] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, 1.0f};
    int labels[3] = {4, 4, 4};
    int mined[6];
    mine(emb, 3, 2, labels, mined);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mined[3 + i], i); /* no other label: n(i) = i */
    ck_assert_int_eq(mined[0], 2);
    ck_assert_int_eq(mined[1], 0);
    ck_assert_int_eq(mined[2], 0);
}
END_TEST

START_TEST(mining_all_labels_differ)
{
    float emb[4] = {0.0f, 1.0f, 3.0f, 7.0f};
    int labels[4] = {0, 1, 2, 3};
    int mined[8];
    mine(emb, 4, 1, labels, mined);
    int expected_neg[4] = {1, 0, 1, 2};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(mined[i], i);
        ck_assert_int_eq(mined[4 + i], expected_neg[i]);
    }
}
END_TEST

START_TEST(mining_matches_reference)
{
    enum { B = 12, D = 5 };
    float emb[B * D];
    double emb_d[B * D];
    test_fill_uniform(emb, B * D, -1.0f, 1.0f, 41);
    for (int i = 0; i < B * D; i++)
        emb_d[i] = emb[i];
    int labels[B] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 3, 3};
    int mined[2 * B], expected[2 * B];
    mine(emb, B, D, labels, mined);
    ref_mine(emb_d, B, D, labels, expected);
    for (int i = 0; i < 2 * B; i++)
        ck_assert_int_eq(mined[i], expected[i]);
}
END_TEST

START_TEST(normalize_matches_reference)
{
    enum { B = 3, D = 4 };
    float emb[B * D] = {3, 4, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}, out[B * D];
    float expected[B * D] = {0.6f, 0.8f, 0, 0, 0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f};
    int shape[2] = {B, D};
    rt_tensor in, o;
    upload(&in, "embedding", RT_F32, 2, shape, emb);
    ck_assert_rt(rt_tensor_alloc(test_ctx, &o, "normalized", RT_F32, 2, shape));
    ck_assert_rt(alum_embed_normalize(test_ctx, &in, &o, true));
    ck_assert_rt(rt_tensor_read(&o, out));
    ck_assert_close(out, expected, B * D, 1e-7, 1e-6, "normalized rows (zero row stays zero)");
    rt_tensor_free(&in);
    rt_tensor_free(&o);
}
END_TEST

/* Runs the triplet loss on the device; returns the loss and writes the gradient. */
static float device_triplet(const float *emb, int batch, int dim, const int *mined, float margin,
                            float weight, bool normalize, float *grad, float *valid)
{
    int emb_shape[2] = {batch, dim}, mined_shape[2] = {2, batch};
    rt_tensor e, m;
    upload(&e, "embedding", RT_F32, 2, emb_shape, emb);
    upload(&m, "mined", RT_I32, 2, mined_shape, mined);
    alum_triplet triplet;
    alum_triplet_init(&triplet, margin, weight, normalize);
    ck_assert_rt(alum_triplet_forward(test_ctx, &triplet, &e, &m));
    ck_assert_rt(alum_triplet_backward(test_ctx, &triplet, &e, &m));
    float result[3];
    ck_assert_rt(rt_tensor_read(&triplet.result, result));
    ck_assert_rt(rt_tensor_read(&triplet.grad, grad));
    alum_triplet_free(&triplet);
    rt_tensor_free(&e);
    rt_tensor_free(&m);
    *valid = result[1];
    return result[0];
}

static void check_triplet_gradient(bool normalize, float margin, uint64_t seed)
{
    enum { B = 8, D = 6 };
    float emb[B * D], grad[B * D], expected_f[B * D];
    double emb_d[B * D];
    test_fill_uniform(emb, B * D, -1.0f, 1.0f, seed);
    for (int i = 0; i < B * D; i++)
        emb_d[i] = emb[i];
    int labels[B] = {0, 0, 1, 1, 2, 2, 0, 3};
    int mined[2 * B];
    ref_mine(emb_d, B, D, labels, mined);

    float valid = 0.0f;
    float loss = device_triplet(emb, B, D, mined, margin, 1.5f, normalize, grad, &valid);
    int expected_valid = 0;
    double expected_loss =
        ref_triplet_loss(emb_d, B, D, mined, margin, 1.5, normalize, &expected_valid);
    ck_assert_float_eq(valid, (float)expected_valid);
    ck_assert_double_lt(fabs(loss - expected_loss), 1e-5 + 1e-4 * fabs(expected_loss));
    ck_assert_double_gt(expected_loss, 0.0);

    const double h = 1e-6;
    for (int i = 0; i < B * D; i++) {
        double keep = emb_d[i];
        int unused;
        emb_d[i] = keep + h;
        double up = ref_triplet_loss(emb_d, B, D, mined, margin, 1.5, normalize, &unused);
        emb_d[i] = keep - h;
        double down = ref_triplet_loss(emb_d, B, D, mined, margin, 1.5, normalize, &unused);
        emb_d[i] = keep;
        expected_f[i] = (float)((up - down) / (2.0 * h));
    }
    ck_assert_close(grad, expected_f, B * D, 1e-4, 1e-3, "triplet gradient");
}

START_TEST(triplet_gradient_normalized)
{
    check_triplet_gradient(true, 0.3f, 51);
}
END_TEST

START_TEST(triplet_gradient_unnormalized)
{
    check_triplet_gradient(false, 0.5f, 52);
}
END_TEST

START_TEST(triplet_skips_anchor_without_negative)
{
    float emb[6] = {0.1f, 0.2f, 0.3f, 0.4f, -0.5f, 0.6f}, grad[6];
    int mined[6] = {1, 0, 1, 0, 1, 0}; /* n(0) = 0 and n(1) = 1: only anchor 2 is valid */
    float valid = 0.0f;
    float loss = device_triplet(emb, 3, 2, mined, 0.3f, 1.0f, false, grad, &valid);
    double emb_d[6];
    for (int i = 0; i < 6; i++)
        emb_d[i] = emb[i];
    int expected_valid = 0;
    double expected = ref_triplet_loss(emb_d, 3, 2, mined, 0.3, 1.0, false, &expected_valid);
    ck_assert_int_eq(expected_valid, 1);
    ck_assert_float_eq(valid, 1.0f);
    ck_assert_double_lt(fabs(loss - expected), 1e-6);
}
END_TEST

START_TEST(triplet_single_label_batch_is_zero)
{
    float emb[6] = {0.1f, 0.2f, 0.3f, 0.4f, -0.5f, 0.6f}, grad[6];
    int mined[6] = {2, 2, 0, 0, 1, 2};
    float valid = 1.0f;
    float loss = device_triplet(emb, 3, 2, mined, 0.3f, 1.0f, true, grad, &valid);
    ck_assert_float_eq(loss, 0.0f);
    ck_assert_float_eq(valid, 0.0f);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(grad[i], 0.0f);
}
END_TEST

START_TEST(triplet_zero_distance_gradient_finite)
{
    /* every anchor is its own positive (d = 0) and sample 0 duplicates sample 1 */
    float emb[6] = {1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f}, grad[6];
    int mined[6] = {0, 1, 2, 1, 0, 0};
    float valid = 0.0f;
    float loss = device_triplet(emb, 3, 2, mined, 0.3f, 1.0f, true, grad, &valid);
    ck_assert(isfinite(loss));
    ck_assert_float_eq(valid, 3.0f);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(isfinite(grad[i]), "gradient element %d is %g", i, (double)grad[i]);
}
END_TEST

Suite *triplet_suite(void)
{
    Suite *s = suite_create("alum_triplet");
    TCase *tc = tcase_create("triplet");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, mining_breaks_ties_by_lowest_index);
    tcase_add_test(tc, mining_single_member_class);
    tcase_add_test(tc, mining_single_label_batch);
    tcase_add_test(tc, mining_all_labels_differ);
    tcase_add_test(tc, mining_matches_reference);
    tcase_add_test(tc, normalize_matches_reference);
    tcase_add_test(tc, triplet_gradient_normalized);
    tcase_add_test(tc, triplet_gradient_unnormalized);
    tcase_add_test(tc, triplet_skips_anchor_without_negative);
    tcase_add_test(tc, triplet_single_label_batch_is_zero);
    tcase_add_test(tc, triplet_zero_distance_gradient_finite);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(triplet_suite());
}
