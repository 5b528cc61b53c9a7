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
