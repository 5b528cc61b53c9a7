/* Element-wise layers and helpers: ReLU, add (optionally fused with ReLU), axpy, scale. */
#include "nn/nn_layer_util.h"
#include "nn/nn_layers.h"

static int check_same_shape(const char *op, const rt_tensor *t, const char *role,
                            const rt_tensor *like)
{
    return nn_check_tensor(t, op, role, RT_F32, like->ndim, like->shape);
}

static int check_any_float(const char *op, const rt_tensor *t, const char *role)
{
    if (!t || !t->buf)
        return rt_set_error(RT_ERR_INVALID, "%s: %s is missing (NULL or unallocated tensor)", op,
                            role);
    int any[RT_MAX_DIMS] = {NN_ANY, NN_ANY, NN_ANY, NN_ANY};
    return nn_check_tensor(t, op, role, RT_F32, t->ndim, any);
}

static int check_numel(const char *op, const rt_tensor *t)
{
    if (t->numel > 0x7fffffff)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: %s has %zu elements, above the 2^31 - 1 the "
                            "kernels can index; split the tensor",
                            op, t->name, t->numel);
    return RT_OK;
}

int nn_relu_forward(rt_context *ctx, const rt_tensor *in, rt_tensor *out)
{
    const char *op = "relu forward";
    RT_TRY(check_any_float(op, in, "input"));
    RT_TRY(check_same_shape(op, out, "output", in));
    RT_TRY(check_numel(op, in));
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "relu_forward", &k));
    cl_int n = (cl_int)in->numel;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, in->buf);
    RT_ARG(ctx, k, 2, out->buf);
    size_t global = in->numel;
    return rt_launch(ctx, k, "relu_forward", 1, &global, NULL);
}

int nn_relu_backward(rt_context *ctx, const rt_tensor *out, const rt_tensor *dout, rt_tensor *din)
{
    const char *op = "relu backward";
    RT_TRY(check_any_float(op, out, "forward output"));
    RT_TRY(check_same_shape(op, dout, "output gradient", out));
    RT_TRY(check_same_shape(op, din, "input gradient", out));
    RT_TRY(check_numel(op, out));
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "relu_backward", &k));
    cl_int n = (cl_int)out->numel;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, out->buf);
    RT_ARG(ctx, k, 2, dout->buf);
    RT_ARG(ctx, k, 3, din->buf);
    size_t global = out->numel;
    return rt_launch(ctx, k, "relu_backward", 1, &global, NULL);
}

int nn_add_forward(rt_context *ctx, const rt_tensor *a, const rt_tensor *b, rt_tensor *out,
                   bool relu)
{
    const char *op = "add";
    RT_TRY(check_any_float(op, a, "first operand"));
    RT_TRY(check_same_shape(op, b, "second operand", a));
    RT_TRY(check_same_shape(op, out, "output", a));
    RT_TRY(check_numel(op, a));
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "add", &k));
    cl_int n = (cl_int)a->numel, fuse = relu;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, fuse);
    RT_ARG(ctx, k, 2, a->buf);
    RT_ARG(ctx, k, 3, b->buf);
    RT_ARG(ctx, k, 4, out->buf);
    size_t global = a->numel;
    return rt_launch(ctx, k, "add", 1, &global, NULL);
}

int nn_axpy(rt_context *ctx, float alpha, const rt_tensor *x, rt_tensor *y)
{
    const char *op = "axpy";
    RT_TRY(check_any_float(op, x, "x"));
    if (!y || !y->buf || y->dtype != RT_F32 || y->numel != x->numel)
        return rt_set_error(RT_ERR_INVALID,
                            "%s: y must be a float tensor of %zu elements like "
                            "x (%s)",
                            op, x->numel, x->name);
    RT_TRY(check_numel(op, x));
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "axpy", &k));
    cl_int n = (cl_int)x->numel;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, alpha);
    RT_ARG(ctx, k, 2, x->buf);
    RT_ARG(ctx, k, 3, y->buf);
    size_t global = x->numel;
    return rt_launch(ctx, k, "axpy", 1, &global, NULL);
}

int nn_scale(rt_context *ctx, float alpha, rt_tensor *y)
{
    const char *op = "scale";
    RT_TRY(check_any_float(op, y, "y"));
    RT_TRY(check_numel(op, y));
    cl_kernel k;
    RT_TRY(rt_kernel_get(ctx, "elementwise", "scale", &k));
    cl_int n = (cl_int)y->numel;
    RT_ARG(ctx, k, 0, n);
    RT_ARG(ctx, k, 1, alpha);
    RT_ARG(ctx, k, 2, y->buf);
    size_t global = y->numel;
    return rt_launch(ctx, k, "scale", 1, &global, NULL);
}
