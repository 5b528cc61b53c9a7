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
 * One work-item per input row (plane, h): each input element gathers dy from
 * the output windows that chose it, so no two work-items write the same
 * element and no atomics are needed.
 */
__kernel void maxpool_backward(int planes, int H, int W, int OH, int OW, int kernel_size,
                               int stride, int pad, __global const float *dy,
                               __global const int *argmax, __global float *dx)
{
    int h = get_global_id(0);
    int plane = get_global_id(1);
    if (h >= H || plane >= planes)
        return;
    /* output rows oh whose window [oh * stride - pad, + kernel_size) contains h */
    int oh_lo = max(0, (h + pad - kernel_size + stride) / stride);
    int oh_hi = min(OH - 1, (h + pad) / stride);
    size_t plane_out = (size_t)plane * OH * OW;
    __global float *dst = dx + ((size_t)plane * H + h) * W;
    for (int w = 0; w < W; w++) {
        int ow_lo = max(0, (w + pad - kernel_size + stride) / stride);
        int ow_hi = min(OW - 1, (w + pad) / stride);
        int self = h * W + w;
        float sum = 0.0f;
        for (int oh = oh_lo; oh <= oh_hi; oh++)
            for (int ow = ow_lo; ow <= ow_hi; ow++) {
                size_t o = plane_out + (size_t)oh * OW + ow;
                if (argmax[o] == self)
                    sum += dy[o];
            }
        dst[w] = sum;
    }
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
