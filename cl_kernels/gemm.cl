/*
 * Matrix products. Row-major operands; offsets and strides in elements.
 * C = alpha * op(A) * op(B) + beta * C; C is not read when beta == 0, so NaN
 * or Inf left in an uninitialised C does not leak into the result.
 */

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

/*
 * Packs each k x n matrix op(B) into column panels of 32 for gemm_cpu_8x32:
 * panel j holds columns 32j .. 32j+31 as k rows of 32 contiguous floats, with
 * zeros past column n. Matrix i of the output starts at i * panels * 32 * k.
 */
__kernel void gemm_pack_b(int trans_b, int k, int n, __global const float *b, uint b_off, int ldb,
                          uint b_stride, __global float *out)
{
    /* One work-item copies one row of 32 floats of one panel; dimension 0 walks
     * along k so that, for a transposed B, neighbours read neighbouring floats. */
    int p = get_global_id(0), panel = get_global_id(1), batch = get_global_id(2);
    int panels = (n + 31) / 32;
    if (p >= k || panel >= panels)
        return;
    int col = panel * 32;
    b += b_off + (size_t)batch * b_stride;
    out += ((size_t)batch * panels + panel) * 32 * k + (size_t)p * 32;
    if (!trans_b && col + 32 <= n) {
        __global const float *row = b + (size_t)p * ldb + col;
        vstore16(vload16(0, row), 0, out);
        vstore16(vload16(1, row), 1, out);
        return;
    }
    for (int j = 0; j < 32; j++) {
        float v = 0.0f;
        if (col + j < n)
            v = trans_b ? b[(size_t)(col + j) * ldb + p] : b[(size_t)p * ldb + col + j];
        out[j] = v;
    }
}

/*
 * CPU-shaped kernel, launched with local size 1. Each work-item computes an
 * 8 x 32 tile of C in sixteen float16 accumulators: per step of k it loads
 * two float16 of one row of B and eight scalars of A. Global dimension 0 walks
 * down the row tiles of C, so consecutive work-items reuse the same panel of
 * B from cache. A is read through row and column strides, so both layouts of
 * A work. B is the output of gemm_pack_b: a row-major B wider than 1024
 * floats would make every step of k touch a new page and thrash the TLB.
 * Rows past m read row m - 1 of A and are not stored.
 */
#define GEMM_CPU_STEP(b0, b1)                                                                      \
    do {                                                                                           \
        float a0 = a_row0[a_pos], a1 = a_row1[a_pos], a2 = a_row2[a_pos], a3 = a_row3[a_pos];     \
        float a4 = a_row4[a_pos], a5 = a_row5[a_pos], a6 = a_row6[a_pos], a7 = a_row7[a_pos];     \
        c00 = fma((float16)(a0), b0, c00);                                                         \
        c01 = fma((float16)(a0), b1, c01);                                                         \
        c10 = fma((float16)(a1), b0, c10);                                                         \
        c11 = fma((float16)(a1), b1, c11);                                                         \
        c20 = fma((float16)(a2), b0, c20);                                                         \
        c21 = fma((float16)(a2), b1, c21);                                                         \
        c30 = fma((float16)(a3), b0, c30);                                                         \
        c31 = fma((float16)(a3), b1, c31);                                                         \
        c40 = fma((float16)(a4), b0, c40);                                                         \
        c41 = fma((float16)(a4), b1, c41);                                                         \
        c50 = fma((float16)(a5), b0, c50);                                                         \
        c51 = fma((float16)(a5), b1, c51);                                                         \
        c60 = fma((float16)(a6), b0, c60);                                                         \
        c61 = fma((float16)(a6), b1, c61);                                                         \
        c70 = fma((float16)(a7), b0, c70);                                                         \
        c71 = fma((float16)(a7), b1, c71);                                                         \
        a_pos += a_col_stride;                                                                     \
    } while (0)

/* Writes up to 32 columns of one row of the tile, applying alpha and beta. */
inline void store_row(__global float *crow, int ncols, float16 v0, float16 v1, float alpha,
                      float beta)
{
    float vals[32];
    vstore16(v0, 0, vals);
    vstore16(v1, 1, vals);
    if (ncols == 32) {
        float16 r0 = (float16)(alpha) * v0, r1 = (float16)(alpha) * v1;
        if (beta != 0.0f) {
            r0 = fma((float16)(beta), vload16(0, crow), r0);
            r1 = fma((float16)(beta), vload16(1, crow), r1);
        }
        vstore16(r0, 0, crow);
        vstore16(r1, 1, crow);
        return;
    }
    for (int j = 0; j < ncols; j++)
        crow[j] = beta != 0.0f ? fma(beta, crow[j], alpha * vals[j]) : alpha * vals[j];
}

__kernel void gemm_cpu_8x32(int m, int n, int k, float alpha, __global const float *a,
                            uint a_off, int a_row_stride, int a_col_stride, uint a_batch_stride,
                            __global const float *b, uint b_off, uint b_batch_stride, float beta,
                            __global float *c, uint c_off, int ldc, uint c_batch_stride)
{
    int row = get_global_id(0) * 8, col = get_global_id(1) * 32, batch = get_global_id(2);
    if (row >= m || col >= n)
        return;
    a += a_off + (size_t)batch * a_batch_stride;
    b += b_off + (size_t)batch * b_batch_stride + (size_t)get_global_id(1) * 32 * k;
    c += c_off + (size_t)batch * c_batch_stride + col;

    __global const float *a_row0 = a + (size_t)min(row + 0, m - 1) * a_row_stride;
    __global const float *a_row1 = a + (size_t)min(row + 1, m - 1) * a_row_stride;
    __global const float *a_row2 = a + (size_t)min(row + 2, m - 1) * a_row_stride;
    __global const float *a_row3 = a + (size_t)min(row + 3, m - 1) * a_row_stride;
    __global const float *a_row4 = a + (size_t)min(row + 4, m - 1) * a_row_stride;
    __global const float *a_row5 = a + (size_t)min(row + 5, m - 1) * a_row_stride;
    __global const float *a_row6 = a + (size_t)min(row + 6, m - 1) * a_row_stride;
    __global const float *a_row7 = a + (size_t)min(row + 7, m - 1) * a_row_stride;

    float16 c00 = 0.0f, c01 = 0.0f, c10 = 0.0f, c11 = 0.0f, c20 = 0.0f, c21 = 0.0f;
    float16 c30 = 0.0f, c31 = 0.0f, c40 = 0.0f, c41 = 0.0f, c50 = 0.0f, c51 = 0.0f;
    float16 c60 = 0.0f, c61 = 0.0f, c70 = 0.0f, c71 = 0.0f;
    size_t a_pos = 0;
    int ncols = min(32, n - col);

    __global const float *bp = b;
    for (int p = 0; p < k; p++) {
        float16 b0 = vload16(0, bp), b1 = vload16(1, bp);
        GEMM_CPU_STEP(b0, b1);
        bp += 32;
    }

    int nrows = min(8, m - row);
    __global float *crow = c + (size_t)row * ldc;
    store_row(crow, ncols, c00, c01, alpha, beta);
    if (nrows > 1)
        store_row(crow + ldc, ncols, c10, c11, alpha, beta);
    if (nrows > 2)
        store_row(crow + 2 * ldc, ncols, c20, c21, alpha, beta);
    if (nrows > 3)
        store_row(crow + 3 * ldc, ncols, c30, c31, alpha, beta);
    if (nrows > 4)
        store_row(crow + 4 * ldc, ncols, c40, c41, alpha, beta);
    if (nrows > 5)
        store_row(crow + 5 * ldc, ncols, c50, c51, alpha, beta);
    if (nrows > 6)
        store_row(crow + 6 * ldc, ncols, c60, c61, alpha, beta);
    if (nrows > 7)
        store_row(crow + 7 * ldc, ncols, c70, c71, alpha, beta);
}

/*
 * Blocked variant of gemm_cpu_8x32 for B read in place, launched with local
 * size 1. Each work-item owns 64 rows x 32 columns of C. For every block of
 * 256 steps of k it copies its 32-column panel of op(B) into local memory
 * (zero-padded past n, transposing when trans_b is set), then runs the 8 x 32
 * register tiles of its rows over that copy. The copy touches each page of B
 * once per block instead of once per row tile, and the tiles read B from a
 * contiguous 32 KiB buffer. Partial sums of later k blocks are added into C,
 * so k must be at least 1 (the host handles k == 0).
 */
#define GEMM_KC 256

/* Stores component c of r0 .. rf as 16 contiguous floats at row i of a panel. */
#define GEMM_STORE_COLUMN(dst, i, c)                                                               \
    vstore16((float16)(r0.c, r1.c, r2.c, r3.c, r4.c, r5.c, r6.c, r7.c, r8.c, r9.c, ra.c, rb.c,    \
                       rc.c, rd.c, re.c, rf.c),                                                    \
             0, (dst) + (i) * 32)
#define GEMM_ROWS_PER_ITEM 64

__kernel void gemm_cpu_blocked(int m, int n, int k, float alpha, __global const float *a,
                               uint a_off, int a_row_stride, int a_col_stride,
                               uint a_batch_stride, int trans_b, __global const float *b,
                               uint b_off, int ldb, uint b_batch_stride, float beta,
                               __global float *c, uint c_off, int ldc, uint c_batch_stride)
{
    __local float panel[GEMM_KC * 32];
    int row_start = get_global_id(0) * GEMM_ROWS_PER_ITEM, col = get_global_id(1) * 32;
    int batch = get_global_id(2);
    if (row_start >= m || col >= n)
        return;
    a += a_off + (size_t)batch * a_batch_stride;
    b += b_off + (size_t)batch * b_batch_stride;
    c += c_off + (size_t)batch * c_batch_stride + col;
    int ncols = min(32, n - col);
    int row_end = min(row_start + GEMM_ROWS_PER_ITEM, m);

    for (int p0 = 0; p0 < k; p0 += GEMM_KC) {
        int kc = min(GEMM_KC, k - p0);
        if (!trans_b && ncols == 32) {
            for (int p = 0; p < kc; p++) {
                __global const float *src = b + (size_t)(p0 + p) * ldb + col;
                vstore16(vload16(0, src), 0, panel + p * 32);
                vstore16(vload16(1, src), 1, panel + p * 32);
            }
        } else if (!trans_b) {
            for (int p = 0; p < kc; p++)
                for (int j = 0; j < 32; j++)
                    panel[p * 32 + j] = j < ncols ? b[(size_t)(p0 + p) * ldb + col + j] : 0.0f;
        } else if (ncols == 32 && kc % 16 == 0) {
            /* Transposes 16 x 16 blocks in registers: 16 contiguous loads along k,
             * 16 contiguous stores along the panel row. */
            for (int p = 0; p < kc; p += 16)
                for (int jb = 0; jb < 32; jb += 16) {
                    __global const float *src = b + (size_t)(col + jb) * ldb + p0 + p;
                    float16 r0 = vload16(0, src), r1 = vload16(0, src + ldb);
                    float16 r2 = vload16(0, src + 2 * ldb), r3 = vload16(0, src + 3 * ldb);
                    float16 r4 = vload16(0, src + 4 * ldb), r5 = vload16(0, src + 5 * ldb);
                    float16 r6 = vload16(0, src + 6 * ldb), r7 = vload16(0, src + 7 * ldb);
                    float16 r8 = vload16(0, src + 8 * ldb), r9 = vload16(0, src + 9 * ldb);
                    float16 ra = vload16(0, src + 10 * ldb), rb = vload16(0, src + 11 * ldb);
                    float16 rc = vload16(0, src + 12 * ldb), rd = vload16(0, src + 13 * ldb);
                    float16 re = vload16(0, src + 14 * ldb), rf = vload16(0, src + 15 * ldb);
                    __local float *dst = panel + p * 32 + jb;
                    GEMM_STORE_COLUMN(dst, 0, s0);
                    GEMM_STORE_COLUMN(dst, 1, s1);
                    GEMM_STORE_COLUMN(dst, 2, s2);
                    GEMM_STORE_COLUMN(dst, 3, s3);
                    GEMM_STORE_COLUMN(dst, 4, s4);
                    GEMM_STORE_COLUMN(dst, 5, s5);
                    GEMM_STORE_COLUMN(dst, 6, s6);
                    GEMM_STORE_COLUMN(dst, 7, s7);
                    GEMM_STORE_COLUMN(dst, 8, s8);
                    GEMM_STORE_COLUMN(dst, 9, s9);
                    GEMM_STORE_COLUMN(dst, 10, sa);
                    GEMM_STORE_COLUMN(dst, 11, sb);
                    GEMM_STORE_COLUMN(dst, 12, sc);
                    GEMM_STORE_COLUMN(dst, 13, sd);
                    GEMM_STORE_COLUMN(dst, 14, se);
                    GEMM_STORE_COLUMN(dst, 15, sf);
                }
        } else {
            for (int j = 0; j < 32; j++)
                for (int p = 0; p < kc; p++)
                    panel[p * 32 + j] = j < ncols ? b[(size_t)(col + j) * ldb + p0 + p] : 0.0f;
        }
        /* The first k block applies beta; later blocks accumulate into C. */
        float block_beta = p0 == 0 ? beta : 1.0f;

        for (int row = row_start; row < row_end; row += 8) {
            __global const float *a_row0 = a + (size_t)min(row + 0, m - 1) * a_row_stride;
            __global const float *a_row1 = a + (size_t)min(row + 1, m - 1) * a_row_stride;
            __global const float *a_row2 = a + (size_t)min(row + 2, m - 1) * a_row_stride;
            __global const float *a_row3 = a + (size_t)min(row + 3, m - 1) * a_row_stride;
            __global const float *a_row4 = a + (size_t)min(row + 4, m - 1) * a_row_stride;
            __global const float *a_row5 = a + (size_t)min(row + 5, m - 1) * a_row_stride;
            __global const float *a_row6 = a + (size_t)min(row + 6, m - 1) * a_row_stride;
            __global const float *a_row7 = a + (size_t)min(row + 7, m - 1) * a_row_stride;
            float16 c00 = 0.0f, c01 = 0.0f, c10 = 0.0f, c11 = 0.0f, c20 = 0.0f, c21 = 0.0f;
            float16 c30 = 0.0f, c31 = 0.0f, c40 = 0.0f, c41 = 0.0f, c50 = 0.0f, c51 = 0.0f;
            float16 c60 = 0.0f, c61 = 0.0f, c70 = 0.0f, c71 = 0.0f;
            size_t a_pos = (size_t)p0 * a_col_stride;
            __local const float *bp = panel;
            for (int p = 0; p < kc; p++) {
                float16 b0 = vload16(0, bp), b1 = vload16(1, bp);
                GEMM_CPU_STEP(b0, b1);
                bp += 32;
            }
            int nrows = min(8, m - row);
            __global float *crow = c + (size_t)row * ldc;
            store_row(crow, ncols, c00, c01, alpha, block_beta);
            if (nrows > 1)
                store_row(crow + ldc, ncols, c10, c11, alpha, block_beta);
            if (nrows > 2)
                store_row(crow + 2 * ldc, ncols, c20, c21, alpha, block_beta);
            if (nrows > 3)
                store_row(crow + 3 * ldc, ncols, c30, c31, alpha, block_beta);
            if (nrows > 4)
                store_row(crow + 4 * ldc, ncols, c40, c41, alpha, block_beta);
            if (nrows > 5)
                store_row(crow + 5 * ldc, ncols, c50, c51, alpha, block_beta);
            if (nrows > 6)
                store_row(crow + 6 * ldc, ncols, c60, c61, alpha, block_beta);
            if (nrows > 7)
                store_row(crow + 7 * ldc, ncols, c70, c71, alpha, block_beta);
        }
    }
}

/*
 * GPU kernel: 16 x 16 work-groups; each work-group stages 16 x 16 tiles of A
 * and B in local memory and each work-item computes one element of C.
 * Transposes are handled in the tile loads.
 */
#define GEMM_TILE 16

__kernel __attribute__((reqd_work_group_size(GEMM_TILE, GEMM_TILE, 1))) void
gemm_tiled(int trans_a, int trans_b, int m, int n, int k, float alpha, __global const float *a,
           uint a_off, int lda, uint a_stride, __global const float *b, uint b_off, int ldb,
           uint b_stride, float beta, __global float *c, uint c_off, int ldc, uint c_stride)
{
    __local float a_tile[GEMM_TILE][GEMM_TILE];
    __local float b_tile[GEMM_TILE][GEMM_TILE + 1];
    int tx = get_local_id(0), ty = get_local_id(1);
    int col = get_global_id(0), row = get_global_id(1), batch = get_global_id(2);
    a += a_off + (size_t)batch * a_stride;
    b += b_off + (size_t)batch * b_stride;
    c += c_off + (size_t)batch * c_stride;
    float acc = 0.0f;
    for (int p0 = 0; p0 < k; p0 += GEMM_TILE) {
        int pa = p0 + tx, pb = p0 + ty;
        float av = 0.0f, bv = 0.0f;
        if (row < m && pa < k)
            av = trans_a ? a[(size_t)pa * lda + row] : a[(size_t)row * lda + pa];
        if (col < n && pb < k)
            bv = trans_b ? b[(size_t)col * ldb + pb] : b[(size_t)pb * ldb + col];
        a_tile[ty][tx] = av;
        b_tile[ty][tx] = bv;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int q = 0; q < GEMM_TILE; q++)
            acc = fma(a_tile[ty][q], b_tile[q][tx], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < m && col < n) {
        float prior = beta != 0.0f ? beta * c[(size_t)row * ldc + col] : 0.0f;
        c[(size_t)row * ldc + col] = alpha * acc + prior;
    }
}
