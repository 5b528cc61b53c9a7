/* Kernels used only by the runtime tests. */

__kernel void add_one(__global float *x, int n)
{
    int i = get_global_id(0);
    if (i < n)
        x[i] += 1.0f;
}
