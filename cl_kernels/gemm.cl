/* Matrix products. Row-major operands; offsets and strides in elements. */

/* One work-item per element of C: simple and correct on every device. */
__kernel void gemm_reference(int trans_a, int trans_b, int m, int n, int k, float alpha,
                             __global const float *a, uint a_off, int lda, uint a_stride,
                             __global const float *b, uint b_off, int ldb, uint b_stride,
                             float beta, __global float *c, uint c_off, int ldc, uint c_stride)
{
    int col = get_global_id(0), row = get_global_id(1), batch = get_global_id(2);
    if (row >= m || col >= n)
        return;
    a += a_off + batch * a_stride;
    b += b_off + batch * b_stride;
    c += c_off + batch * c_stride;
    float acc = 0.0f;
    for (int p = 0; p < k; p++) {
        float av = trans_a ? a[p * lda + row] : a[row * lda + p];
        float bv = trans_b ? b[col * ldb + p] : b[p * ldb + col];
        acc = fma(av, bv, acc);
    }
    float prior = beta != 0.0f ? beta * c[row * ldc + col] : 0.0f;
    c[row * ldc + col] = alpha * acc + prior;
}
