/* Element-wise operations on flat float buffers. */

/* y[i] = a * x[i] + y[i] */
__kernel void axpy(int n, float a, __global const float *x, __global float *y)
{
    int i = get_global_id(0);
    if (i < n)
        y[i] = fma(a, x[i], y[i]);
}

/* y[i] *= a */
__kernel void scale(int n, float a, __global float *y)
{
    int i = get_global_id(0);
    if (i < n)
        y[i] *= a;
}

/* y[i] = max(0, x[i]), keeping NaN as PyTorch does. x and y may be the same buffer. */
__kernel void relu_forward(int n, __global const float *x, __global float *y)
{
    int i = get_global_id(0);
    if (i < n)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* dx[i] = dy[i] where the forward output y[i] > 0, else 0. dx may be dy. */
__kernel void relu_backward(int n, __global const float *y, __global const float *dy,
                            __global float *dx)
{
    int i = get_global_id(0);
    if (i < n)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* out[i] = a[i] + b[i], or max(0, a[i] + b[i]) when relu is non-zero. out may be a or b. */
__kernel void add(int n, int relu, __global const float *a, __global const float *b,
                  __global float *out)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float s = a[i] + b[i];
    out[i] = relu && s < 0.0f ? 0.0f : s;
}

/*
 * x[(n * C + c) * P + p] += bias[c] for a tensor viewed as [N, C, P], with one
 * work-item per (n, c) row. A linear layer's output is the case P = 1.
 */
__kernel void channel_bias_add(int rows, int C, int P, __global const float *bias,
                               __global float *x)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    float b = bias[r % C];
    __global float *row = x + (size_t)r * P;
    for (int p = 0; p < P; p++)
        row[p] += b;
}

/*
 * out[c] = sum over n and p of x[(n * C + c) * P + p] (the bias gradient).
 * One work-item per channel sums in a fixed order, so results are
 * deterministic. Each image's row is summed first to limit rounding error.
 */
__kernel void channel_sum(int N, int C, int P, __global const float *x, __global float *out)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    float total = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * P;
        float partial = 0.0f;
        for (int p = 0; p < P; p++)
            partial += row[p];
        total += partial;
    }
    out[c] = total;
}
