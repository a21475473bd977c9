// gemm.cl — GEMM for CPU-type OpenCL devices (PoCL and the like), where CLBlast's kernels, tuned
// for GPUs, run at a tenth of the cores' peak.
//
// C[m, n] = alpha · Σ_k op(A)[m, k] · B[k, n] + beta · C[m, n], row-major, batched by the third
// NDRange dimension (element strides sA, sB, sC; 0 broadcasts). op(A) = A, or Aᵀ when transA.
// One work-item computes an 8 × 32 tile of C in sixteen float16 accumulators — a CPU's register
// tile, written with explicit vectors so the device compiler need not vectorise across work-items
// (no local memory, no barriers: on a CPU driver every work-item runs as a plain loop). Rows past M
// repeat the last row (computed, not stored); a tile with fewer than 32 columns reads B element by
// element. B is not transposed here: the host keeps CLBlast for transB.

#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define GEMM_DECL(r) float16 lo##r = (float16)(0.0f), hi##r = (float16)(0.0f);
#define GEMM_ROWPTR(r) const int ar##r = min(m0 + r, M - 1);
#define GEMM_FMA(r)                                                                                     \
  {                                                                                                     \
    const float16 av = (float16)(transA ? A[k * lda + ar##r] : A[ar##r * lda + k]);                     \
    lo##r = mad(av, b0, lo##r);                                                                         \
    hi##r = mad(av, b1, hi##r);                                                                         \
  }
#define GEMM_STORE(r)                                                                                   \
  if (m0 + r < M) {                                                                                     \
    __global float* cr = C + (m0 + r) * ldc + n0;                                                       \
    if (cols == 32) {                                                                                   \
      float16 v0 = alpha * lo##r, v1 = alpha * hi##r;                                                   \
      if (beta != 0.0f) { v0 = mad((float16)beta, vload16(0, cr), v0); v1 = mad((float16)beta, vload16(1, cr), v1); } \
      vstore16(v0, 0, cr);                                                                              \
      vstore16(v1, 1, cr);                                                                              \
    } else {                                                                                            \
      float t[32];                                                                                      \
      vstore16(lo##r, 0, t);                                                                            \
      vstore16(hi##r, 1, t);                                                                            \
      for (int j = 0; j < cols; ++j) cr[j] = beta != 0.0f ? beta * cr[j] + alpha * t[j] : alpha * t[j]; \
    }                                                                                                   \
  }

__kernel void gemm_tile(const int M, const int N, const int K, const int transA, const int lda, const int ldb,
                        const int ldc, const float alpha, const float beta, const int sA, const int sB,
                        const int sC, __global const float* A, const int ao, __global const float* B,
                        const int bo, __global float* C, const int co) {
  const int m0 = get_global_id(0) * 8, n0 = get_global_id(1) * 32, g = get_global_id(2);
  if (m0 >= M || n0 >= N) return;
  A += ao + g * sA;
  B += bo + g * sB;
  C += co + g * sC;
  const int cols = min(32, N - n0);
  GEMM_ROWS(GEMM_DECL)
  GEMM_ROWS(GEMM_ROWPTR)
  if (cols == 32) {
    for (int k = 0; k < K; ++k) {
      const float16 b0 = vload16(0, B + k * ldb + n0), b1 = vload16(1, B + k * ldb + n0);
      GEMM_ROWS(GEMM_FMA)
    }
  } else {
    for (int k = 0; k < K; ++k) {
      float t[32];
      for (int j = 0; j < 32; ++j) t[j] = j < cols ? B[k * ldb + n0 + j] : 0.0f;
      const float16 b0 = vload16(0, t), b1 = vload16(1, t);
      GEMM_ROWS(GEMM_FMA)
    }
  }
  GEMM_ROWS(GEMM_STORE)
}

// C[m, n] = alpha · Σ_k A[m, k] · B[n, k] + beta · C[m, n] (B transposed, A not): rows of A and of B
// are both contiguous along k, so a work-item takes a 4 × 4 tile of C as sixteen dot products, each
// accumulated 16 lanes along k in a float16 and summed across lanes at the end (the backward-filter
// products dy · colᵀ). Rows and columns past M and N repeat the last one (computed, not stored).
#define NT_ROWS(X) X(0) X(1) X(2) X(3)
#define NT_DECL(i) float16 s##i##0 = (float16)(0.0f), s##i##1 = (float16)(0.0f), s##i##2 = (float16)(0.0f), \
                           s##i##3 = (float16)(0.0f);                                                   \
                   const __global float* a##i = A + min(m0 + i, M - 1) * lda;                            \
                   const __global float* b##i = B + min(n0 + i, N - 1) * ldb;
#define NT_FMA(i)                                                                                       \
  {                                                                                                     \
    const float16 av = vload16(0, a##i + k);                                                            \
    s##i##0 = mad(av, b0v, s##i##0); s##i##1 = mad(av, b1v, s##i##1);                                   \
    s##i##2 = mad(av, b2v, s##i##2); s##i##3 = mad(av, b3v, s##i##3);                                   \
  }
#define NT_SUM16(v) ((v).s0 + (v).s1 + (v).s2 + (v).s3 + (v).s4 + (v).s5 + (v).s6 + (v).s7 +             \
                     (v).s8 + (v).s9 + (v).sa + (v).sb + (v).sc + (v).sd + (v).se + (v).sf)
#define NT_STORE1(i, j)                                                                                 \
  if (m0 + i < M && n0 + j < N) {                                                                       \
    float r = NT_SUM16(s##i##j);                                                                        \
    for (int t = kTail; t < K; ++t) r += a##i[t] * b##j[t];                                             \
    __global float* d = C + (m0 + i) * ldc + n0 + j;                                                    \
    *d = beta != 0.0f ? beta * *d + alpha * r : alpha * r;                                              \
  }
#define NT_STORE(i) NT_STORE1(i, 0) NT_STORE1(i, 1) NT_STORE1(i, 2) NT_STORE1(i, 3)

__kernel void gemm_tile_nt(const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
                           const float alpha, const float beta, const int sA, const int sB, const int sC,
                           __global const float* A, const int ao, __global const float* B, const int bo,
                           __global float* C, const int co) {
  const int m0 = get_global_id(0) * 4, n0 = get_global_id(1) * 4, g = get_global_id(2);
  if (m0 >= M || n0 >= N) return;
  A += ao + g * sA;
  B += bo + g * sB;
  C += co + g * sC;
  NT_ROWS(NT_DECL)
  const int kTail = K / 16 * 16;
  for (int k = 0; k < kTail; k += 16) {
    const float16 b0v = vload16(0, b0 + k), b1v = vload16(0, b1 + k), b2v = vload16(0, b2 + k),
                  b3v = vload16(0, b3 + k);
    NT_ROWS(NT_FMA)
  }
  NT_ROWS(NT_STORE)
}
