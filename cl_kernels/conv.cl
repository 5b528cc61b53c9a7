/*
 * 2-D convolution helpers around the GEMM: im2col, col2im and the layout
 * changes between NCHW feature maps and the [C, n * P] column layout of a
 * batch chunk (P = OH * OW output pixels per image).
 *
 * The column matrix of a chunk of nb images is [K, nb * P] with
 * K = C * KH * KW rows ordered (c, kh, kw), matching the [Cout, C, KH, KW]
 * weight layout, and columns ordered (image, oh, ow).
 */

/*
 * Fills cols[k][n * P + p] for the images n0 .. n0 + nb - 1 of x [N, C, H, W].
 * One work-item writes the P entries of one row k for one image, so the inner
 * loop walks contiguous memory. Padding positions are zero.
 */
__kernel void im2col(int C, int H, int W, int KH, int KW, int stride, int pad, int OH, int OW,
                     int n0, int nb, __global const float *x, __global float *cols, int cols_off)
{
    int k = get_global_id(0);
    int n = get_global_id(1);
    if (k >= C * KH * KW || n >= nb)
        return;
    int kw = k % KW;
    int kh = (k / KW) % KH;
    int c = k / (KW * KH);
    int P = OH * OW;
    __global const float *plane = x + ((size_t)(n0 + n) * C + c) * H * W;
    __global float *row = cols + cols_off + (size_t)k * nb * P + (size_t)n * P;
    for (int oh = 0; oh < OH; oh++) {
        int h = oh * stride - pad + kh;
        bool row_ok = h >= 0 && h < H;
        for (int ow = 0; ow < OW; ow++) {
            int w = ow * stride - pad + kw;
            row[oh * OW + ow] = (row_ok && w >= 0 && w < W) ? plane[h * W + w] : 0.0f;
        }
    }
}

/*
 * Writes dx [N, C, H, W] for the images n0 .. n0 + nb - 1 from the column
 * gradient dcols [K, nb * P]. Each work-item owns one input plane (c, n): it
 * zeroes the plane, then adds the entries of the KH * KW rows of dcols that
 * im2col copied from it, reading each row segment contiguously. Every element
 * receives its contributions in (kh, kw) order from a single work-item, so
 * results are deterministic without atomics.
 */
__kernel void col2im(int C, int H, int W, int KH, int KW, int stride, int pad, int OH, int OW,
                     int n0, int nb, __global const float *dcols, int dcols_off,
                     __global float *dx)
{
    int c = get_global_id(0);
    int n = get_global_id(1);
    if (c >= C || n >= nb)
        return;
    size_t ld = (size_t)nb * OH * OW;
    __global const float *src = dcols + dcols_off + (size_t)n * OH * OW;
    __global float *plane = dx + ((size_t)(n0 + n) * C + c) * H * W;
    for (int i = 0; i < H * W; i++)
        plane[i] = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
            __global const float *row = src + (size_t)((c * KH + kh) * KW + kw) * ld;
            /* input column w = ow * stride - pad + kw must lie in 0 .. W - 1 */
            int ow_lo = kw >= pad ? 0 : (pad - kw + stride - 1) / stride;
            int last_w = W - 1 + pad - kw;
            int ow_hi = last_w < 0 ? 0 : min(OW, last_w / stride + 1);
            for (int oh = 0; oh < OH; oh++) {
                int h = oh * stride - pad + kh;
                if (h < 0 || h >= H)
                    continue;
                __global float *dst = plane + h * W - pad + kw;
                for (int ow = ow_lo; ow < ow_hi; ow++)
                    dst[ow * stride] += row[oh * OW + ow];
            }
        }
    }
}

/*
 * Copies the GEMM result tmp [Cout, nb * P] into y [N, Cout, P] at image n0,
 * adding bias[co] when has_bias is non-zero. One work-item per (co, image).
 */
__kernel void cols_to_nchw(int Cout, int P, int n0, int nb, __global const float *tmp,
                           int tmp_off, int has_bias, __global const float *bias,
                           __global float *y)
{
    int co = get_global_id(0);
    int n = get_global_id(1);
    if (co >= Cout || n >= nb)
        return;
    float b = has_bias ? bias[co] : 0.0f;
    __global const float *src = tmp + tmp_off + ((size_t)co * nb + n) * P;
    __global float *dst = y + ((size_t)(n0 + n) * Cout + co) * P;
    for (int p = 0; p < P; p++)
        dst[p] = src[p] + b;
}

/* Copies dy [N, Cout, P] at image n0 into tmp [Cout, nb * P], the inverse of cols_to_nchw. */
__kernel void nchw_to_cols(int Cout, int P, int n0, int nb, __global const float *dy,
                           __global float *tmp, int tmp_off)
{
    int co = get_global_id(0);
    int n = get_global_id(1);
    if (co >= Cout || n >= nb)
        return;
    __global const float *src = dy + ((size_t)(n0 + n) * Cout + co) * P;
    __global float *dst = tmp + tmp_off + ((size_t)co * nb + n) * P;
    for (int p = 0; p < P; p++)
        dst[p] = src[p];
}
