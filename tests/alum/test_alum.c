/*
 * ALUM integration without a network: configuration, the hooks at latent
 * points and at P5 (mining, triplet scales, triplet loss) against CPU
 * references and finite differences, determinism, evaluation behaviour and
 * per-sample uncertainty.
 */
#include "tests/common/test_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alum/alum.h"
#include "alum/alum_rng.h"
#include "tests/alum/alum_reference.h"

static void upload(rt_tensor *t, const char *name, rt_dtype dtype, int ndim, const int *shape,
                   const void *host)
{
    ck_assert_rt(rt_tensor_alloc(test_ctx, t, name, dtype, ndim, shape));
    ck_assert_rt(rt_tensor_write(t, host));
}

static alum *make_alum(const alum_config *config)
{
    alum *a = NULL;
    ck_assert_rt(alum_create(test_ctx, config, &a));
    return a;
}

START_TEST(config_defaults)
{
    alum_config c;
    alum_config_default(&c);
    ck_assert_int_eq(c.method, ALUM_METHOD_ALUM);
    ck_assert_uint_eq(c.lc_points, 0x1fu);
    ck_assert(c.adversarial_positive);
    ck_assert(c.adversarial_negative);
    ck_assert(c.triplet);
    ck_assert_int_eq(c.variance_mode, ALUM_VARIANCE_BATCH_UNION);
    ck_assert_float_eq(c.probability, 0.5f);
    ck_assert_float_eq(c.eps, 1e-6f);
    ck_assert_float_eq(c.margin, 0.3f);
    ck_assert_float_eq(c.triplet_weight, 1.0f);
    ck_assert(c.normalize_embeddings);
    ck_assert_rt(alum_config_validate(&c));
}
END_TEST

/* Which points get hooks for each ablation row. */
START_TEST(config_expresses_ablation_rows)
{
    struct row {
        const char *name;
        alum_method method;
        bool ap, an, triplet;
        unsigned expected_points;
    } rows[] = {
        {"erm", ALUM_METHOD_ERM, true, true, true, 0x00},
        {"dsu", ALUM_METHOD_DSU, false, false, false, 0x3f},
        {"lc", ALUM_METHOD_ALUM, false, false, false, 0x1f},
        {"lc+ap", ALUM_METHOD_ALUM, true, false, false, 0x3f},
        {"lc+an", ALUM_METHOD_ALUM, false, true, false, 0x3f},
        {"lc+ap+an", ALUM_METHOD_ALUM, true, true, false, 0x3f},
        {"full", ALUM_METHOD_ALUM, true, true, true, 0x3f},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        alum_config c;
        alum_config_default(&c);
        c.method = rows[r].method;
        c.adversarial_positive = rows[r].ap;
        c.adversarial_negative = rows[r].an;
        c.triplet = rows[r].triplet;
        alum *a = make_alum(&c);
        unsigned points = 0;
        for (int p = 0; p < NN_NUM_POINTS; p++)
            if (alum_hook(a, p).forward)
                points |= 1u << p;
        ck_assert_msg(points == rows[r].expected_points, "%s: hooks at 0x%x, expected 0x%x",
                      rows[r].name, points, rows[r].expected_points);
        alum_free(a);
    }
}
END_TEST

START_TEST(config_rejects_invalid_values)
{
    alum_config c;
    alum_config_default(&c);
    c.probability = 1.5f;
    ck_assert_int_eq(alum_config_validate(&c), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "probability 1.5"));
    alum_config_default(&c);
    c.lc_points = 1u << 6;
    ck_assert_int_eq(alum_config_validate(&c), RT_ERR_INVALID);
    alum_config_default(&c);
    c.eps = 0.0f;
    ck_assert_int_eq(alum_config_validate(&c), RT_ERR_INVALID);
    alum_config_default(&c);
    c.margin = -0.1f;
    ck_assert_int_eq(alum_config_validate(&c), RT_ERR_INVALID);
    alum *a = NULL;
    ck_assert_int_eq(alum_create(test_ctx, &c, &a), RT_ERR_INVALID);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(config_names_round_trip)
{
    alum_method m;
    alum_variance_mode v;
    ck_assert_rt(alum_method_parse("dsu", &m));
    ck_assert_int_eq(m, ALUM_METHOD_DSU);
    ck_assert_str_eq(alum_method_name(ALUM_METHOD_ERM), "erm");
    ck_assert_rt(alum_variance_mode_parse("batch_union", &v));
    ck_assert_int_eq(v, ALUM_VARIANCE_BATCH_UNION);
    ck_assert_str_eq(alum_variance_mode_name(ALUM_VARIANCE_PER_ANCHOR), "per_anchor");
    ck_assert_int_eq(alum_method_parse("ALUM2", &m), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "erm, dsu or alum"));
}
END_TEST

START_TEST(config_points_round_trip)
{
    unsigned mask = 99;
    ck_assert_rt(alum_points_parse("P0,P2, p5", &mask));
    ck_assert_uint_eq(mask, (1u << 0) | (1u << 2) | (1u << 5));
    char text[64];
    alum_points_format(mask, text, sizeof text);
    ck_assert_str_eq(text, "P0,P2,P5");
    ck_assert_rt(alum_points_parse("all", &mask));
    ck_assert_uint_eq(mask, ALUM_ALL_POINTS);
    ck_assert_rt(alum_points_parse("", &mask));
    ck_assert_uint_eq(mask, 0u);
    alum_points_format(0, text, sizeof text);
    ck_assert_str_eq(text, "none");
    ck_assert_int_eq(alum_points_parse("P0,P6", &mask), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "at \"P6\""));
    ck_assert_int_eq(alum_points_parse("P12", &mask), RT_ERR_INVALID);
    ck_assert_int_eq(alum_points_parse("layer1", &mask), RT_ERR_INVALID);
}
END_TEST

enum { PB = 6, PC = 4, PN = 4 }; /* P5 pipeline: batch, channels, H*W (2 x 2) */

/* sum(y * w) + triplet loss of the pooled y, mined and groups fixed. */
static double p5_objective(const double *x, const int *index, int groups, int members,
                           const double *draws, const double *w, const int *mined,
                           const alum_config *c)
{
    double y[PB * PC * PN], pooled[PB * PC];
    ref_dsu_forward(x, PB, PC, PN, index, groups, members, draws, c->eps, y);
    double total = 0.0;
    for (int i = 0; i < PB * PC * PN; i++)
        total += y[i] * w[i];
    for (int r = 0; r < PB * PC; r++) {
        pooled[r] = 0.0;
        for (int k = 0; k < PN; k++)
            pooled[r] += y[r * PN + k] / PN;
    }
    int valid;
    total += ref_triplet_loss(pooled, PB, PC, mined, c->margin, c->triplet_weight,
                              c->normalize_embeddings, &valid);
    return total;
}

/* Runs the P5 hook, the triplet step and the hook backward; checks each against references. */
static void check_p5_pipeline(bool ap, bool an, alum_variance_mode mode, uint64_t seed)
{
    alum_config c;
    alum_config_default(&c);
    c.lc_points = 0;
    c.adversarial_positive = ap;
    c.adversarial_negative = an;
    c.variance_mode = mode;
    c.probability = 1.0f;
    c.margin = 0.6f;
    alum *a = make_alum(&c);
    alum_set_step(a, 99, 5);

    float xf[PB * PC * PN], wf[PB * PC * PN];
    int labels_host[PB] = {0, 0, 1, 1, 1, 2};
    test_fill_uniform(xf, PB * PC * PN, -1.0f, 2.0f, seed);
    test_fill_uniform(wf, PB * PC * PN, -0.2f, 0.2f, seed + 1);
    double x[PB * PC * PN], w[PB * PC * PN];
    for (int i = 0; i < PB * PC * PN; i++) {
        x[i] = xf[i];
        w[i] = wf[i];
    }

    /* reference mining on the normalised pooled input */
    double stats[2 * PB * PC], emb[PB * PC];
    int mined_ref[2 * PB];
    ref_dsu_stats(x, PB, PC, PN, c.eps, stats);
    ref_normalize(stats, PB, PC, true, emb);
    ref_mine(emb, PB, PC, labels_host, mined_ref);

    /* reference groups and draws */
    int members = 1 + (ap ? 1 : 0) + (an ? 1 : 0);
    int groups = mode == ALUM_VARIANCE_PER_ANCHOR ? PB : 1;
    int group_size = groups == 1 ? members * PB : members;
    int index[3 * PB];
    for (int b = 0; b < PB; b++) {
        int ids[3], n = 0;
        ids[n++] = b;
        if (ap)
            ids[n++] = mined_ref[b];
        if (an)
            ids[n++] = mined_ref[PB + b];
        for (int m = 0; m < members; m++) {
            if (groups == 1)
                index[m * PB + b] = ids[m];
            else
                index[b * members + m] = ids[m];
        }
    }
    uint64_t key = alum_rng_key(99, 5, NN_P5, ALUM_STREAM_NORMAL);
    double draws[2 * PB * PC];
    for (int i = 0; i < 2 * PB * PC; i++)
        draws[i] = alum_rng_normal(key, (uint64_t)i);

    /* device forward */
    int x_shape[4] = {PB, PC, 2, 2}, label_shape[1] = {PB};
    rt_tensor xt, labels;
    upload(&xt, "p5_input", RT_F32, 4, x_shape, xf);
    upload(&labels, "labels", RT_I32, 1, label_shape, labels_host);
    alum_set_labels(a, &labels, NULL);
    nn_hook hook = alum_hook(a, NN_P5);
    ck_assert_rt(hook.forward(hook.state, test_ctx, NN_P5, &xt, true));
    ck_assert(alum_point_applied(a, NN_P5));

    int mined[2 * PB];
    ck_assert_ptr_nonnull(alum_mined(a));
    ck_assert_rt(rt_tensor_read(alum_mined(a), mined));
    for (int i = 0; i < 2 * PB; i++)
        ck_assert_int_eq(mined[i], mined_ref[i]);

    float y[PB * PC * PN], y_ref_f[PB * PC * PN];
    double y_ref[PB * PC * PN];
    ck_assert_rt(rt_tensor_read(&xt, y));
    ref_dsu_forward(x, PB, PC, PN, index, groups, group_size, draws, c.eps, y_ref);
    for (int i = 0; i < PB * PC * PN; i++)
        y_ref_f[i] = (float)y_ref[i];
    ck_assert_close(y, y_ref_f, PB * PC * PN, 1e-4, 1e-4, "P5 output");

    /* triplet step on the pooled device output, then backward through the hook */
    float pooled[PB * PC], demb[PB * PC];
    for (int r = 0; r < PB * PC; r++) {
        pooled[r] = 0.0f;
        for (int k = 0; k < PN; k++)
            pooled[r] += y[r * PN + k] / PN;
    }
    int emb_shape[2] = {PB, PC};
    rt_tensor embedding;
    upload(&embedding, "pooled", RT_F32, 2, emb_shape, pooled);
    const rt_tensor *dembedding, *loss;
    ck_assert_rt(alum_triplet_step(test_ctx, a, &embedding, &dembedding, &loss));
    ck_assert_ptr_nonnull(dembedding);
    ck_assert_ptr_nonnull(loss);
    ck_assert_rt(rt_tensor_read(dembedding, demb));
    float loss_host[2];
    ck_assert_rt(rt_tensor_read_range(loss, 0, 2, loss_host));
    ck_assert_float_gt(loss_host[0], 0.0f); /* the triplet term takes part in the gradient */
    ck_assert_float_eq(loss_host[1], (float)PB);

    float dy[PB * PC * PN], dx[PB * PC * PN], expected_f[PB * PC * PN];
    for (int r = 0; r < PB * PC; r++)
        for (int k = 0; k < PN; k++)
            dy[r * PN + k] = wf[r * PN + k] + demb[r] / PN;
    rt_tensor grad;
    upload(&grad, "dy", RT_F32, 4, x_shape, dy);
    ck_assert_rt(hook.backward(hook.state, test_ctx, NN_P5, &grad));
    ck_assert_rt(rt_tensor_read(&grad, dx));

    const double h = 1e-6;
    for (int i = 0; i < PB * PC * PN; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = p5_objective(x, index, groups, group_size, draws, w, mined_ref, &c);
        x[i] = keep - h;
        double down = p5_objective(x, index, groups, group_size, draws, w, mined_ref, &c);
        x[i] = keep;
        expected_f[i] = (float)((up - down) / (2.0 * h));
    }
    ck_assert_close(dx, expected_f, PB * PC * PN, 2e-4, 2e-3, "P5 input gradient");

    rt_tensor_free(&xt);
    rt_tensor_free(&labels);
    rt_tensor_free(&embedding);
    rt_tensor_free(&grad);
    alum_free(a);
}

START_TEST(p5_per_anchor_ap_an)
{
    check_p5_pipeline(true, true, ALUM_VARIANCE_PER_ANCHOR, 61);
}
END_TEST

START_TEST(p5_per_anchor_ap_only)
{
    check_p5_pipeline(true, false, ALUM_VARIANCE_PER_ANCHOR, 62);
}
END_TEST

START_TEST(p5_per_anchor_an_only)
{
    check_p5_pipeline(false, true, ALUM_VARIANCE_PER_ANCHOR, 63);
}
END_TEST

START_TEST(p5_batch_union_ap_an)
{
    check_p5_pipeline(true, true, ALUM_VARIANCE_BATCH_UNION, 64);
}
END_TEST

START_TEST(p5_batch_union_an_only)
{
    check_p5_pipeline(false, true, ALUM_VARIANCE_BATCH_UNION, 65);
}
END_TEST

/* Runs the hook of point on a fresh copy of x and returns whether it perturbed. */
static bool run_point(alum *a, int point, const float *x, int batch, int channels, bool training,
                      float *y)
{
    int shape[4] = {batch, channels, 3, 3};
    rt_tensor t;
    upload(&t, "x", RT_F32, 4, shape, x);
    nn_hook hook = alum_hook(a, point);
    ck_assert_ptr_nonnull(hook.forward);
    ck_assert_rt(hook.forward(hook.state, test_ctx, point, &t, training));
    ck_assert_rt(rt_tensor_read(&t, y));
    rt_tensor_free(&t);
    return alum_point_applied(a, point);
}

START_TEST(lc_point_matches_reference)
{
    enum { B = 4, C = 3, N = 9 };
    alum_config c;
    alum_config_default(&c);
    c.probability = 1.0f;
    alum *a = make_alum(&c);
    alum_set_step(a, 5, 17);
    float xf[B * C * N], y[B * C * N], expected_f[B * C * N];
    test_fill_uniform(xf, B * C * N, -1.0f, 1.0f, 71);
    ck_assert(run_point(a, NN_P2, xf, B, C, true, y));

    double x[B * C * N], draws[2 * B * C], expected[B * C * N];
    int index[B] = {0, 1, 2, 3};
    for (int i = 0; i < B * C * N; i++)
        x[i] = xf[i];
    uint64_t key = alum_rng_key(5, 17, NN_P2, ALUM_STREAM_NORMAL);
    for (int i = 0; i < 2 * B * C; i++)
        draws[i] = alum_rng_normal(key, (uint64_t)i);
    ref_dsu_forward(x, B, C, N, index, 1, B, draws, c.eps, expected);
    for (int i = 0; i < B * C * N; i++)
        expected_f[i] = (float)expected[i];
    ck_assert_close(y, expected_f, B * C * N, 1e-4, 1e-4, "P2 output");
    alum_free(a);
}
END_TEST

START_TEST(evaluation_is_identity)
{
    enum { B = 4, C = 2, N = 9 };
    alum_config c;
    alum_config_default(&c);
    c.probability = 1.0f;
    alum *a = make_alum(&c);
    float x[B * C * N], y[B * C * N];
    test_fill_uniform(x, B * C * N, -1.0f, 1.0f, 81);
    for (int p = NN_P0; p <= NN_P5; p++) {
        ck_assert(!run_point(a, p, x, B, C, false, y));
        ck_assert_mem_eq(y, x, sizeof x);
    }
    /* backward after an evaluation forward leaves the gradient alone */
    int shape[4] = {B, C, 3, 3};
    rt_tensor g;
    upload(&g, "dy", RT_F32, 4, shape, x);
    nn_hook hook = alum_hook(a, NN_P3);
    ck_assert_rt(hook.backward(hook.state, test_ctx, NN_P3, &g));
    ck_assert_rt(rt_tensor_read(&g, y));
    ck_assert_mem_eq(y, x, sizeof x);
    rt_tensor_free(&g);
    alum_free(a);
}
END_TEST

START_TEST(mc_mode_keeps_lc_on)
{
    enum { B = 4, C = 2, N = 9 };
    alum_config c;
    alum_config_default(&c);
    c.probability = 1.0f;
    alum *a = make_alum(&c);
    alum_set_mc_mode(a, true);
    float x[B * C * N], y[B * C * N];
    test_fill_uniform(x, B * C * N, -1.0f, 1.0f, 91);
    ck_assert(run_point(a, NN_P2, x, B, C, false, y));
    ck_assert(memcmp(y, x, sizeof x) != 0);
    /* P5 carries no LC module by default and needs labels only for training */
    ck_assert(!run_point(a, NN_P5, x, B, C, false, y));
    ck_assert_mem_eq(y, x, sizeof x);
    alum_set_mc_mode(a, false);
    ck_assert(!run_point(a, NN_P2, x, B, C, false, y));
    ck_assert_mem_eq(y, x, sizeof x);
    alum_free(a);
}
END_TEST

START_TEST(same_seed_same_result)
{
    enum { B = 4, C = 3, N = 9 };
    alum_config c;
    alum_config_default(&c);
    c.method = ALUM_METHOD_DSU;
    c.probability = 1.0f;
    alum *first = make_alum(&c), *second = make_alum(&c);
    float x[B * C * N], y1[B * C * N], y2[B * C * N], y3[B * C * N];
    test_fill_uniform(x, B * C * N, -1.0f, 1.0f, 101);
    alum_set_step(first, 42, 1000);
    alum_set_step(second, 42, 1000);
    run_point(first, NN_P4, x, B, C, true, y1);
    run_point(second, NN_P4, x, B, C, true, y2);
    ck_assert_mem_eq(y1, y2, sizeof y1);
    alum_set_step(second, 42, 1001);
    run_point(second, NN_P4, x, B, C, true, y3);
    ck_assert(memcmp(y1, y3, sizeof y1) != 0);
    alum_set_step(second, 43, 1000);
    run_point(second, NN_P4, x, B, C, true, y3);
    ck_assert(memcmp(y1, y3, sizeof y1) != 0);
    alum_free(first);
    alum_free(second);
}
END_TEST

START_TEST(coin_follows_probability)
{
    enum { B = 2, C = 1, N = 9, STEPS = 200 };
    alum_config c;
    alum_config_default(&c);
    alum *a = make_alum(&c);
    float x[B * C * N], y[B * C * N];
    test_fill_uniform(x, B * C * N, -1.0f, 1.0f, 111);
    int applied = 0;
    for (int step = 0; step < STEPS; step++) {
        alum_set_step(a, 7, (uint64_t)step);
        applied += run_point(a, NN_P3, x, B, C, true, y) ? 1 : 0;
        if (!alum_point_applied(a, NN_P3))
            ck_assert_mem_eq(y, x, sizeof x);
    }
    /* p = 0.5 over 200 steps: mean 100, standard deviation about 7 */
    ck_assert_int_gt(applied, 65);
    ck_assert_int_lt(applied, 135);
    alum_free(a);

    c.probability = 0.0f;
    a = make_alum(&c);
    for (int step = 0; step < 20; step++) {
        alum_set_step(a, 7, (uint64_t)step);
        ck_assert(!run_point(a, NN_P3, x, B, C, true, y));
    }
    alum_free(a);
}
END_TEST

START_TEST(mining_requires_labels)
{
    alum_config c;
    alum_config_default(&c);
    alum *a = make_alum(&c);
    float x[4 * 2 * 9], y[4 * 2 * 9];
    test_fill_uniform(x, 4 * 2 * 9, -1.0f, 1.0f, 121);
    int shape[4] = {4, 2, 3, 3};
    rt_tensor t;
    upload(&t, "x", RT_F32, 4, shape, x);
    nn_hook hook = alum_hook(a, NN_P5);
    ck_assert_int_eq(hook.forward(hook.state, test_ctx, NN_P5, &t, true), RT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "alum_set_labels"));
    const rt_tensor *demb, *loss;
    ck_assert_int_eq(alum_triplet_step(test_ctx, a, &t, &demb, &loss), RT_ERR_INVALID);
    (void)y;
    rt_tensor_free(&t);
    alum_free(a);
}
END_TEST

START_TEST(data_uncertainty_accumulates)
{
    enum { B = 4, C = 3, N = 9, DATASET = 10 };
    alum_config c;
    alum_config_default(&c);
    alum *a = make_alum(&c);
    ck_assert_rt(alum_track_data_uncertainty(a, DATASET));
    int labels_host[B] = {0, 0, 1, 1};
    int batches[2][B] = {{3, 5, 7, 9}, {5, 0, 3, 8}};
    double expected_sum[DATASET] = {0};
    int expected_count[DATASET] = {0};
    int label_shape[1] = {B};
    rt_tensor labels;
    upload(&labels, "labels", RT_I32, 1, label_shape, labels_host);
    for (int batch = 0; batch < 2; batch++) {
        float xf[B * C * N], y[B * C * N];
        double x[B * C * N], stats[2 * B * C], emb[B * C];
        test_fill_uniform(xf, B * C * N, -1.0f, 1.0f, 131 + (uint64_t)batch);
        rt_tensor index;
        upload(&index, "sample_index", RT_I32, 1, label_shape, batches[batch]);
        alum_set_labels(a, &labels, &index);
        alum_set_step(a, 1, (uint64_t)batch);
        run_point(a, NN_P5, xf, B, C, true, y);
        rt_tensor_free(&index);

        for (int i = 0; i < B * C * N; i++)
            x[i] = xf[i];
        int mined[2 * B];
        ref_dsu_stats(x, B, C, N, c.eps, stats);
        ref_normalize(stats, B, C, true, emb);
        ref_mine(emb, B, C, labels_host, mined);
        for (int b = 0; b < B; b++) {
            expected_sum[batches[batch][b]] += ref_data_uncertainty(stats, B, C, mined, b);
            expected_count[batches[batch][b]]++;
        }
    }
    float mean[DATASET];
    int count[DATASET];
    ck_assert_rt(alum_read_data_uncertainty(a, mean, count));
    for (int i = 0; i < DATASET; i++) {
        ck_assert_int_eq(count[i], expected_count[i]);
        if (expected_count[i] == 0) {
            ck_assert_msg(isnan(mean[i]), "index %d was never seen but reads %g", i,
                          (double)mean[i]);
            continue;
        }
        double expected = expected_sum[i] / expected_count[i];
        ck_assert_msg(fabs(mean[i] - expected) <= 1e-6 + 1e-4 * fabs(expected),
                      "index %d: %g, expected %g", i, (double)mean[i], expected);
        ck_assert_double_gt(expected, 0.0);
    }
    ck_assert_rt(alum_reset_data_uncertainty(a));
    ck_assert_rt(alum_read_data_uncertainty(a, mean, count));
    ck_assert_int_eq(count[3], 0);
    rt_tensor_free(&labels);
    alum_free(a);
}
END_TEST

START_TEST(data_uncertainty_restores_state)
{
    enum { DATASET = 5 };
    alum_config c;
    alum_config_default(&c);
    alum *a = make_alum(&c);
    float mean[DATASET] = {0.5f, NAN, 2.0f, 0.125f, NAN}, back[DATASET];
    int count[DATASET] = {2, 0, 3, 1, 0}, count_back[DATASET];
    ck_assert_int_eq(alum_write_data_uncertainty(a, mean, count), RT_ERR_INVALID);
    ck_assert_rt(alum_track_data_uncertainty(a, DATASET));
    ck_assert_rt(alum_write_data_uncertainty(a, mean, count));
    ck_assert_rt(alum_read_data_uncertainty(a, back, count_back));
    for (int i = 0; i < DATASET; i++) {
        ck_assert_int_eq(count_back[i], count[i]);
        if (count[i] == 0)
            ck_assert(isnan(back[i]));
        else
            ck_assert_float_eq_tol(back[i], mean[i], 1e-6f);
    }
    alum_free(a);
}
END_TEST

START_TEST(data_uncertainty_needs_mining)
{
    alum_config c;
    alum_config_default(&c);
    c.adversarial_positive = c.adversarial_negative = c.triplet = false;
    alum *a = make_alum(&c);
    ck_assert_int_eq(alum_track_data_uncertainty(a, 10), RT_ERR_INVALID);
    alum_free(a);
}
END_TEST

START_TEST(mc_uncertainty_matches_reference)
{
    enum { T = 5, N = 3, K = 4 };
    float logits[T * N * K], out[2 * N];
    double logits_d[T * N * K];
    test_fill_uniform(logits, T * N * K, -3.0f, 3.0f, 141);
    /* sample 2 gets identical passes: mutual information 0 */
    for (int t = 1; t < T; t++)
        memcpy(&logits[(t * N + 2) * K], &logits[2 * K], K * sizeof(float));
    for (int i = 0; i < T * N * K; i++)
        logits_d[i] = logits[i];
    int shape[3] = {T, N, K}, out_shape[2] = {2, N};
    rt_tensor lt, ot, scratch = {0};
    upload(&lt, "mc_logits", RT_F32, 3, shape, logits);
    ck_assert_rt(rt_tensor_alloc(test_ctx, &ot, "mc_out", RT_F32, 2, out_shape));
    ck_assert_rt(alum_mc_uncertainty(test_ctx, &lt, &ot, &scratch));
    ck_assert_rt(rt_tensor_read(&ot, out));
    for (int n = 0; n < N; n++) {
        double entropy, mutual_info;
        ref_mc_uncertainty(logits_d, T, N, K, n, &entropy, &mutual_info);
        ck_assert_msg(fabs(out[n] - entropy) < 1e-5, "sample %d entropy %g, expected %g", n,
                      (double)out[n], entropy);
        ck_assert_msg(fabs(out[N + n] - mutual_info) < 1e-5,
                      "sample %d mutual information %g, expected %g", n, (double)out[N + n],
                      mutual_info);
    }
    ck_assert_float_lt(out[N + 2], 1e-6f);
    ck_assert_float_gt(out[N + 0], 1e-3f);
    rt_tensor_free(&lt);
    rt_tensor_free(&ot);
    rt_tensor_free(&scratch);
}
END_TEST

Suite *alum_suite(void)
{
    Suite *s = suite_create("alum");
    TCase *tc = tcase_create("alum");
    tcase_add_checked_fixture(tc, test_ctx_setup, test_ctx_teardown);
    tcase_add_test(tc, config_defaults);
    tcase_add_test(tc, config_expresses_ablation_rows);
    tcase_add_test(tc, config_rejects_invalid_values);
    tcase_add_test(tc, config_names_round_trip);
    tcase_add_test(tc, config_points_round_trip);
    tcase_add_test(tc, p5_per_anchor_ap_an);
    tcase_add_test(tc, p5_per_anchor_ap_only);
    tcase_add_test(tc, p5_per_anchor_an_only);
    tcase_add_test(tc, p5_batch_union_ap_an);
    tcase_add_test(tc, p5_batch_union_an_only);
    tcase_add_test(tc, lc_point_matches_reference);
    tcase_add_test(tc, evaluation_is_identity);
    tcase_add_test(tc, mc_mode_keeps_lc_on);
    tcase_add_test(tc, same_seed_same_result);
    tcase_add_test(tc, coin_follows_probability);
    tcase_add_test(tc, mining_requires_labels);
    tcase_add_test(tc, data_uncertainty_accumulates);
    tcase_add_test(tc, data_uncertainty_restores_state);
    tcase_add_test(tc, data_uncertainty_needs_mining);
    tcase_add_test(tc, mc_uncertainty_matches_reference);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(alum_suite());
}
