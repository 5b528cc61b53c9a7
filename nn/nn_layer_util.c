#include "nn/nn_layer_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void format_expected(char *buf, size_t size, int ndim, const int *expected)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < size; i++) {
        const char *sep = i ? "x" : "";
        if (expected[i] == NN_ANY)
            used += snprintf(buf + used, size - used, "%s*", sep);
        else
            used += snprintf(buf + used, size - used, "%s%d", sep, expected[i]);
    }
}

int nn_check_tensor(const rt_tensor *t, const char *layer, const char *tensor_role, rt_dtype dtype,
                    int ndim, const int *expected)
{
    char want[96];
    format_expected(want, sizeof want, ndim, expected);
    if (!t || !t->buf)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: %s is missing (NULL or unallocated tensor), "
                            "expected shape %s",
                            layer, tensor_role, want);
    if (t->dtype != dtype)
        return rt_set_error(RT_ERR_INVALID, "%s: %s (%s) has dtype %s, expected %s", layer,
                            tensor_role, t->name, t->dtype == RT_F32 ? "float32" : "int32",
                            dtype == RT_F32 ? "float32" : "int32");
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = expected[i] == NN_ANY || expected[i] == t->shape[i];
    if (!ok) {
        char have[64];
        rt_tensor_shape_string(t, have, sizeof have);
        return rt_set_error(RT_ERR_INVALID, "%s: %s (%s) has shape %s, expected %s", layer,
                            tensor_role, t->name, have, want);
    }
    return RT_OK;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int nn_param_init_uniform(nn_param *p, float bound)
{
    /* FNV-1a hash of the name as the seed */
    uint64_t state = 0xcbf29ce484222325ull;
    for (const char *c = p->name; *c; c++)
        state = (state ^ (unsigned char)*c) * 0x100000001b3ull;

    size_t n = p->value.numel;
    float *host = malloc(n * sizeof *host);
    if (!host)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory initialising %s (%zu floats)",
                            p->name, n);
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&state) >> 11) / 9007199254740992.0;
        host[i] = (float)((2.0 * u - 1.0) * bound);
    }
    int st = rt_tensor_write(&p->value, host);
    free(host);
    return st;
}

int nn_launch_rows(rt_context *ctx, cl_kernel kernel, const char *name, cl_uint dims,
                   const size_t *global)
{
    static const size_t ones[3] = {1, 1, 1};
    return rt_launch(ctx, kernel, name, dims, global, ctx->is_cpu ? ones : NULL);
}
