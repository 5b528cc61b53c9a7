/*
 * Device tensors: a named OpenCL buffer with a shape and a dtype.
 *
 * Shapes are row-major with up to 4 dimensions (NCHW for feature maps).
 * Allocations count towards the context's current and peak device bytes; an
 * allocation above the device's maximum allocation size, or one the driver
 * rejects, fails with an error naming the tensor and the byte count.
 */
#ifndef ALUMCL_RT_TENSOR_H
#define ALUMCL_RT_TENSOR_H

#include "runtime/rt_context.h"

#define RT_MAX_DIMS 4

typedef enum rt_dtype { RT_F32 = 0, RT_I32 = 1 } rt_dtype;

typedef struct rt_tensor {
    cl_mem buf;
    rt_context *ctx;
    rt_dtype dtype;
    int ndim;
    int shape[RT_MAX_DIMS];
    size_t numel;
    char name[64];
} rt_tensor;

/* Returns the size in bytes of one element of dtype. */
size_t rt_dtype_size(rt_dtype dtype);

/* Allocates an uninitialised tensor. shape has ndim entries, each >= 1. */
int rt_tensor_alloc(rt_context *ctx, rt_tensor *t, const char *name, rt_dtype dtype, int ndim,
                    const int *shape);

/* Shorthand for 4-D float tensors (n, c, h, w). */
int rt_tensor_alloc4(rt_context *ctx, rt_tensor *t, const char *name, int n, int c, int h, int w);

/* Releases the buffer; safe on a zeroed or already freed tensor. */
void rt_tensor_free(rt_tensor *t);

/* Returns the byte size of the tensor. */
size_t rt_tensor_bytes(const rt_tensor *t);

/* Copies numel elements from host memory (blocking). */
int rt_tensor_write(rt_tensor *t, const void *host);

/* Copies count elements from host to the tensor starting at element offset (blocking). */
int rt_tensor_write_range(rt_tensor *t, size_t offset, size_t count, const void *host);

/* Copies all elements to host memory (blocking). */
int rt_tensor_read(const rt_tensor *t, void *host);

/* Copies count elements starting at element offset to host memory (blocking). */
int rt_tensor_read_range(const rt_tensor *t, size_t offset, size_t count, void *host);

/* Sets every element to zero (float 0.0 or int 0). */
int rt_tensor_zero(rt_tensor *t);

/* Sets every element of a float tensor to value. */
int rt_tensor_fill(rt_tensor *t, float value);

/* Copies src into dst; both must have the same numel and dtype. */
int rt_tensor_copy(rt_tensor *dst, const rt_tensor *src);

/* Formats the shape as "64x3x32x32". */
void rt_tensor_shape_string(const rt_tensor *t, char *buf, size_t size);

#endif
