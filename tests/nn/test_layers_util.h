/*
 * Helpers of the layer test suites: host/device copies and a central
 * finite-difference gradient of a CPU reference loss computed in double.
 */
#ifndef ALUMCL_TEST_LAYERS_UTIL_H
#define ALUMCL_TEST_LAYERS_UTIL_H

#include "nn/nn_layers.h"
#include "tests/common/test_common.h"

#include <stdlib.h>

/* Step of the central differences; the references run in double, so rounding stays small. */
#define TEST_FD_STEP 1e-4

/* Returns n uniform floats in [lo, hi) from seed (the caller frees them). */
static inline float *test_random(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    test_fill_uniform(x, n, lo, hi, seed);
    return x;
}

/* Returns a double copy of n floats (the caller frees it). */
static inline double *test_to_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* Returns a float copy of n doubles (the caller frees it). */
static inline float *test_to_float(const double *x, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

/* Reads a float tensor into a new host array (the caller frees it). */
static inline float *test_download(const rt_tensor *t)
{
    float *host = malloc(t->numel * sizeof *host);
    ck_assert_ptr_nonnull(host);
    ck_assert_rt(rt_tensor_read(t, host));
    return host;
}

/* Allocates a float tensor of the given shape and uploads host data (may be NULL). */
static inline void test_upload(rt_tensor *t, const char *name, int ndim, const int *shape,
                               const float *host)
{
    ck_assert_rt(rt_tensor_alloc(test_ctx, t, name, RT_F32, ndim, shape));
    if (host)
        ck_assert_rt(rt_tensor_write(t, host));
}

/* A scalar loss of the reference model as a function of its (perturbed) inputs. */
typedef double (*test_loss_fn)(void *state);

/*
 * Returns the central-difference gradient of loss with respect to each of the
 * n entries of x, which loss reads through state (the caller frees it).
 */
static inline float *test_fd_gradient(test_loss_fn loss, void *state, double *x, size_t n)
{
    float *grad = malloc((n ? n : 1) * sizeof *grad);
    ck_assert_ptr_nonnull(grad);
    for (size_t i = 0; i < n; i++) {
        double saved = x[i];
        x[i] = saved + TEST_FD_STEP;
        double plus = loss(state);
        x[i] = saved - TEST_FD_STEP;
        double minus = loss(state);
        x[i] = saved;
        grad[i] = (float)((plus - minus) / (2.0 * TEST_FD_STEP));
    }
    return grad;
}

/* Returns sum(w[i] * y[i]), the scalar that turns a layer output into a loss. */
static inline double test_weighted_sum(const double *w, const double *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += w[i] * y[i];
    return s;
}

#endif
