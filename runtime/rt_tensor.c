#include "runtime/rt_tensor.h"
#include "runtime/rt_program.h"

#include <string.h>

size_t rt_dtype_size(rt_dtype dtype)
{
    (void)dtype;
    return 4; /* both RT_F32 and RT_I32 are 32-bit */
}

void rt_tensor_shape_string(const rt_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && used < size; i++)
        used += snprintf(buf + used, size - used, i ? "x%d" : "%d", t->shape[i]);
}

int rt_tensor_alloc(rt_context *ctx, rt_tensor *t, const char *name, rt_dtype dtype, int ndim,
                    const int *shape)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name ? name : "tensor");
    if (ndim < 1 || ndim > RT_MAX_DIMS)
        return rt_set_error(RT_ERR_INVALID, "tensor %s: %d dimensions, expected 1 to %d", t->name,
                            ndim, RT_MAX_DIMS);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return rt_set_error(RT_ERR_INVALID, "tensor %s: dimension %d is %d, expected >= 1",
                                t->name, i, shape[i]);
        numel *= (size_t)shape[i];
        t->shape[i] = shape[i];
    }
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = numel;
    size_t bytes = numel * rt_dtype_size(dtype);
    char dims[64];
    rt_tensor_shape_string(t, dims, sizeof dims);
    if (bytes > ctx->info.max_alloc_bytes)
        return rt_set_error(RT_ERR_NOMEM,
                            "tensor %s (%s) needs %zu bytes, above the device's maximum "
                            "allocation of %llu bytes on %s; lower the batch size or width",
                            t->name, dims, bytes, (unsigned long long)ctx->info.max_alloc_bytes,
                            ctx->info.name);
    cl_int err;
    t->buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        t->buf = NULL;
        return rt_set_error(RT_ERR_NOMEM,
                            "allocating tensor %s (%s, %zu bytes) failed: %s on %s (%zu bytes "
                            "already held); lower the batch size or width",
                            t->name, dims, bytes, rt_cl_error_name(err), ctx->info.name,
                            ctx->bytes_current);
    }
    ctx->bytes_current += bytes;
    if (ctx->bytes_current > ctx->bytes_peak)
        ctx->bytes_peak = ctx->bytes_current;
    return RT_OK;
}

int rt_tensor_alloc4(rt_context *ctx, rt_tensor *t, const char *name, int n, int c, int h, int w)
{
    int shape[4] = {n, c, h, w};
    return rt_tensor_alloc(ctx, t, name, RT_F32, 4, shape);
}

void rt_tensor_free(rt_tensor *t)
{
    if (t->buf) {
        clReleaseMemObject(t->buf);
        t->ctx->bytes_current -= rt_tensor_bytes(t);
    }
    t->buf = NULL;
}

size_t rt_tensor_bytes(const rt_tensor *t)
{
    return t->numel * rt_dtype_size(t->dtype);
}

int rt_tensor_write_range(rt_tensor *t, size_t offset, size_t count, const void *host)
{
    if (offset + count > t->numel)
        return rt_set_error(RT_ERR_INVALID, "write of %zu elements at %zu past the end of %s (%zu)",
                            count, offset, t->name, t->numel);
    if (count == 0)
        return RT_OK;
    size_t es = rt_dtype_size(t->dtype);
    RT_CL_CHECK(t->ctx, clEnqueueWriteBuffer(t->ctx->queue, t->buf, CL_TRUE, offset * es,
                                             count * es, host, 0, NULL, NULL));
    return RT_OK;
}

int rt_tensor_write(rt_tensor *t, const void *host)
{
    return rt_tensor_write_range(t, 0, t->numel, host);
}

int rt_tensor_read_range(const rt_tensor *t, size_t offset, size_t count, void *host)
{
    if (offset + count > t->numel)
        return rt_set_error(RT_ERR_INVALID, "read of %zu elements at %zu past the end of %s (%zu)",
                            count, offset, t->name, t->numel);
    if (count == 0)
        return RT_OK;
    size_t es = rt_dtype_size(t->dtype);
    RT_CL_CHECK(t->ctx, clEnqueueReadBuffer(t->ctx->queue, t->buf, CL_TRUE, offset * es,
                                            count * es, host, 0, NULL, NULL));
    return RT_OK;
}

int rt_tensor_read(const rt_tensor *t, void *host)
{
    return rt_tensor_read_range(t, 0, t->numel, host);
}

int rt_tensor_fill(rt_tensor *t, float value)
{
    RT_CL_CHECK(t->ctx, clEnqueueFillBuffer(t->ctx->queue, t->buf, &value, sizeof value, 0,
                                            rt_tensor_bytes(t), 0, NULL, NULL));
    return RT_OK;
}

int rt_tensor_zero(rt_tensor *t)
{
    return rt_tensor_fill(t, 0.0f); /* all-zero bits are 0 for both dtypes */
}

int rt_tensor_copy(rt_tensor *dst, const rt_tensor *src)
{
    if (dst->numel != src->numel || dst->dtype != src->dtype)
        return rt_set_error(RT_ERR_INVALID, "copy %s -> %s: %zu vs %zu elements", src->name,
                            dst->name, src->numel, dst->numel);
    RT_CL_CHECK(dst->ctx, clEnqueueCopyBuffer(dst->ctx->queue, src->buf, dst->buf, 0, 0,
                                              rt_tensor_bytes(src), 0, NULL, NULL));
    return RT_OK;
}
