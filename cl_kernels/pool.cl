/* Max pooling with saved argmax, and global average pooling, over NCHW maps. */

/*
 * One work-item per output row (plane, oh) of a [planes = N * C, H, W] input.
 * Padding positions never win. argmax stores h * W + w of the winning input,
 * and ties keep the first maximum in row-major window order; a NaN wins and
 * propagates, as in PyTorch.
 */
__kernel void maxpool_forward(int planes, int H, int W, int OH, int OW, int kernel_size,
                              int stride, int pad, __global const float *x, __global float *y,
                              __global int *argmax)
{
    int oh = get_global_id(0);
    int plane = get_global_id(1);
    if (oh >= OH || plane >= planes)
        return;
    __global const float *src = x + (size_t)plane * H * W;
    size_t out_base = ((size_t)plane * OH + oh) * OW;
    int h0 = oh * stride - pad;
    int h_lo = max(h0, 0), h_hi = min(h0 + kernel_size, H);
    for (int ow = 0; ow < OW; ow++) {
        int w0 = ow * stride - pad;
        int w_lo = max(w0, 0), w_hi = min(w0 + kernel_size, W);
        float best = -INFINITY;
        int best_index = h_lo * W + w_lo;
        for (int h = h_lo; h < h_hi; h++)
            for (int w = w_lo; w < w_hi; w++) {
                float v = src[h * W + w];
                if (v > best || isnan(v)) {
                    best = v;
                    best_index = h * W + w;
                }
            }
        y[out_base + ow] = best;
        argmax[out_base + ow] = best_index;
    }
}

/*
 * One work-item per plane: zeroes dx, then adds each output's dy to the input
 * element its argmax names, in output order. Every plane has a single writer,
 * so the sums are deterministic without atomics.
 */
__kernel void maxpool_backward(int planes, int HW, int OHW, __global const float *dy,
                               __global const int *argmax, __global float *dx)
{
    int plane = get_global_id(0);
    if (plane >= planes)
        return;
    __global float *dst = dx + (size_t)plane * HW;
    __global const float *g = dy + (size_t)plane * OHW;
    __global const int *index = argmax + (size_t)plane * OHW;
    for (int i = 0; i < HW; i++)
        dst[i] = 0.0f;
    for (int o = 0; o < OHW; o++)
        dst[index[o]] += g[o];
}

/* y[plane] = mean of the HW elements of x's plane; one work-item per (n, c). */
__kernel void global_avgpool_forward(int planes, int HW, __global const float *x,
                                     __global float *y)
{
    int plane = get_global_id(0);
    if (plane >= planes)
        return;
    __global const float *src = x + (size_t)plane * HW;
    float sum = 0.0f;
    for (int p = 0; p < HW; p++)
        sum += src[p];
    y[plane] = sum / (float)HW;
}

/* dx[plane, :] = dy[plane] / HW; one work-item per (n, c). */
__kernel void global_avgpool_backward(int planes, int HW, __global const float *dy,
                                      __global float *dx)
{
    int plane = get_global_id(0);
    if (plane >= planes)
        return;
    float g = dy[plane] / (float)HW;
    __global float *dst = dx + (size_t)plane * HW;
    for (int p = 0; p < HW; p++)
        dst[p] = g;
}
