/*
 * Helpers shared by the layer implementations (not part of the public API):
 * shape checks with messages that name the layer and tensor, and PyTorch's
 * default parameter initialisation.
 */
#ifndef ALUMCL_NN_LAYER_UTIL_H
#define ALUMCL_NN_LAYER_UTIL_H

#include "nn/nn_param.h"

/* Wildcard for nn_check_tensor's expected dimensions. */
#define NN_ANY (-1)

/*
 * Checks that t is allocated, has dtype and ndim dimensions, and matches
 * expected[i] wherever it is not NN_ANY. On mismatch returns RT_ERR_INVALID
 * with "layer: tensor_role (name) has shape AxB, expected ...".
 */
int nn_check_tensor(const rt_tensor *t, const char *layer, const char *tensor_role, rt_dtype dtype,
                    int ndim, const int *expected);

/*
 * Fills a parameter with uniform values in [-bound, bound) as PyTorch's
 * default Conv2d and Linear initialisation does (bound = 1 / sqrt(fan_in)).
 * The generator is seeded from the parameter name, so every run starts from
 * the same weights.
 */
int nn_param_init_uniform(nn_param *p, float bound);

/*
 * Launches a kernel whose work-items each loop over a row or channel. On a CPU
 * device every work-item is its own work-group (local size 1). With the local
 * size left to PoCL 3.1, batch-norm forward at batch 64 ran about 2x slower in
 * bench_layers. Other devices let the driver choose.
 */
int nn_launch_rows(rt_context *ctx, cl_kernel kernel, const char *name, cl_uint dims,
                   const size_t *global);

#endif
