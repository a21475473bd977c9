// conv.cl — the lowering kernels for convolution: im2col and col2im. Convolution, its backward
// passes and transposed convolution are GEMMs (CLBlast) around these; see ConvLowering.swift.
//
// A tile covers `images` images and output rows r0..<r0+rows; its column matrix is
// [inC·kH·kW, images·rows·oW] row-major, column (img, oy, ox) = img·rows·oW + (oy − r0)·oW + ox.
// x is [images, inC, H, W].

// NDRange (ox, t, row): ox < ow along dimension 0 (one work-group spans a row of output pixels),
// t = img·rows + (oy − r0), row = (ci, ky, kx): everything but ox is the same for the whole group,
// so a CPU driver's vectorised work-group loop does no division per element.
__kernel void im2col(const int images, const int C, const int H, const int W, const int kh, const int kw,
                     const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,
                     const int r0, const int rows, const int unused_accumulate,
                     __global const float* x, const int xo, __global float* col, const int co) {
  const int ox = get_global_id(0), t = get_global_id(1), row = get_global_id(2);
  if (ox >= ow) return;
  const int tw = rows * ow, ld = images * tw;
  const int img = t / rows, oy = r0 + t % rows;
  const int kx = row % kw, ky = (row / kw) % kh, ci = row / (kw * kh);
  const int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
  float v = 0.0f;
  if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[xo + ((img * C + ci) * H + iy) * W + ix];
  col[co + row * ld + t * ow + ox] = v;
}

// Gather form (one work-item per x element, no atomics): x[img, ci, iy, ix] (+)= Σ over the tile's
// taps that read it. NDRange (ix, iy, img·C + ci): only ix varies within a work-group; the taps
// along x that reach ix are kx ≡ ix + pw (mod sw), found with one division per item.
__kernel void col2im(const int images, const int C, const int H, const int W, const int kh, const int kw,
                     const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,
                     const int r0, const int rows, const int accumulate,
                     __global const float* col, const int co, __global float* x, const int xo) {
  const int ix = get_global_id(0), iy = get_global_id(1), plane = get_global_id(2);
  if (ix >= W) return;
  const int img = plane / C, ci = plane % C;
  const int tw = rows * ow, ld = images * tw;
  const int kx0 = (ix + pw) % sw, ox0 = (ix + pw - kx0) / sw;
  float acc = 0.0f;
  for (int ky = 0; ky < kh; ++ky) {
    const int ty = iy + ph - ky;
    if (ty < 0 || ty % sh != 0) continue;
    const int oy = ty / sh;
    if (oy < r0 || oy >= r0 + rows) continue;
    const int base = co + ((ci * kh + ky) * kw) * ld + img * tw + (oy - r0) * ow;
    for (int kx = kx0, ox = ox0; kx < kw; kx += sw, --ox) {
      if (ox >= 0 && ox < ow) acc += col[base + kx * ld + ox];
    }
  }
  const int i = xo + ((img * C + ci) * H + iy) * W + ix;
  x[i] = accumulate ? x[i] + acc : acc;
}

// ---- Fused convolutions: implicit GEMM through local memory, bias + activation in the epilogue ----
//
// conv2d:        y[n, m, oy, ox]  = act(bias[m] + Σ_k w[m, k] · patch(x)[k, (n, oy, ox)]),
//                k = (c, ky, kx), patch element x[n, c, oy·sh − ph + ky, ox·sw − pw + kx] (0 outside).
// conv2d_bwd:    the backward-data of that convolution, which is also a transposed convolution's
//                forward: dx[n, c, iy, ix] = act(bias[c] + Σ w[m, c, ky, kx] · dy[n, m, oy, ox]) over
//                the taps with oy·sh − ph + ky = iy. Split by stride phase (iy mod sh, ix mod sw: the
//                third NDRange dimension), each phase is a dense convolution with the taps
//                ky ≡ (iy + ph) mod sh only, so no multiply is spent on the zeros a dilated input has.
//
// GEMM view: M rows (output channels) × columns (batch × pixels) × K. A work-group of WX × WY
// items computes a TM × TN tile, each item RM = TM/WY rows × RN = TN/WX columns (rows strided by WY,
// columns by WX, so neighbouring items write neighbouring pixels); K goes in steps of TK through
// local memory. Two shapes: 32 × 64 for ordinary layers, 4 × 256 for layers with ≤ 4 output
// channels (RGB outputs), which would leave most of a 32-row tile idle.
#define CONV_TK 16

// The epilogue after bias and activation (ConvEpilogue in Sources/Compute/Op.swift): value v of
// result element (n, m, y, x) of a [N, M, Hh, Ww] result goes through a pixel shuffle by r (channel
// m = c·r² + dy·r + dx lands at (c, y·r + dy, x·r + dx) of [N, M/r², Hh·r, Ww·r]), then PReLU with
// the stored channel's slope, + residual at the stored index, ea·v + eb.
#define CONV_EPILOGUE_PARAMS                                                                            \
  const int hasPrelu, const int hasResidual, const float ea, const float eb, const int shuffle
#define CONV_EPILOGUE_BUFFERS                                                                           \
  __global const float* alpha, const int ao, __global const float* res, const int ro

inline void conv_store(float v, const int n, const int m, const int M, const int y, const int x, const int Hh,
                       const int Ww, const int hasPrelu, const int hasResidual, const float ea, const float eb,
                       const int r, __global const float* alpha, const int ao, __global const float* res,
                       const int ro, __global float* out, const int oo) {
  int c = m, sy = y, sx = x, sc = M, sh = Hh, sw = Ww;
  if (r > 1) {
    const int q = m % (r * r);
    c = m / (r * r); sy = y * r + q / r; sx = x * r + q % r; sc = M / (r * r); sh = Hh * r; sw = Ww * r;
  }
  const int d = ((n * sc + c) * sh + sy) * sw + sx;
  if (hasPrelu && !(v > 0.0f)) v *= alpha[ao + c];
  if (hasResidual) v += res[ro + d];
  out[oo + d] = ea == 1.0f && eb == 0.0f ? v : v * ea + eb;
}

#define CONV_EPILOGUE(M_LIMIT, COLS, ...)                                                               \
  for (int i = 0; i < RM; ++i) {                                                                        \
    const int m = m0 + ty + i * LY;                                                                     \
    if (m >= (M_LIMIT)) continue;                                                                       \
    const float b = hasBias ? bias[bo + m] : 0.0f;                                                      \
    for (int j = 0; j < RN; ++j) {                                                                      \
      const int col = n0 + tx + j * LX;                                                                 \
      if (col >= (COLS)) continue;                                                                      \
      __VA_ARGS__                                                                                       \
    }                                                                                                   \
  }

// Split reduction (for layers whose tiles are too few to fill the device: a GPU's compute units
// would idle). The reduction dimension (K for the forward and backward-data kernels, the batch's
// pixels for backward-filter) is cut into `split` slices of `kPer` (a multiple of CONV_TK), one per
// work-group plane; with split > 1 each slice writes its raw sums to part[slice][element] and
// conv_split_reduce / conv_bwf_split_reduce add the slices in order (deterministic) and run the
// epilogue. With split = 1, kPer ≥ K and the kernels store as before.
#define CONV_SPLIT_PARAMS const int split, const int kPer
#define CONV_SPLIT_BUFFER __global float* part, const int po

// acc += As[kk] ⊗ Bs[kk] over the chunk: each item's RM rows (strided by LY) × RN columns (by LX).
#define CONV_TILE_PRODUCT                                                                               \
  for (int kk = 0; kk < CONV_TK; ++kk) {                                                                \
    float a[RM], b[RN];                                                                                 \
    for (int i = 0; i < RM; ++i) a[i] = As[kk][ty + i * LY];                                            \
    for (int j = 0; j < RN; ++j) b[j] = Bs[kk][tx + j * LX];                                            \
    for (int i = 0; i < RM; ++i) for (int j = 0; j < RN; ++j) acc[i][j] = mad(a[i], b[j], acc[i][j]);   \
  }

#define DEFINE_CONV_FWD(NAME, TM, TN, WX, WY, WT, WLOAD, WLOAD4)                                        \
__kernel __attribute__((reqd_work_group_size(WX, WY, 1)))                                              \
void NAME(const int N, const int C, const int H, const int W, const int M, const int kh, const int kw, \
          const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,           \
          const int hasBias, const int kind, const float slope, CONV_EPILOGUE_PARAMS, CONV_SPLIT_PARAMS, \
          __global const float* x, const int xo, __global const WT* w, const int wo,                    \
          __global const float* bias, const int bo, CONV_EPILOGUE_BUFFERS,                              \
          __global float* y, const int yo, CONV_SPLIT_BUFFER) {                                         \
  enum { RM = TM / WY, RN = TN / WX, ITEMS = WX * WY, LX = WX, LY = WY };                               \
  __local float As[CONV_TK][TM];                                                                        \
  __local float Bs[CONV_TK][TN];                                                                        \
  /* Per column: image base and the patch's top-left corner; per k of the chunk: plane and tap. */    \
  __local int colBase[TN], colY[TN], colX[TN], kBase[CONV_TK], kY[CONV_TK], kX[CONV_TK];               \
  const int K = C * kh * kw, P = oh * ow, cols = N * P, taps = kh * kw;                                 \
  const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WX + tx;                             \
  const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;                                       \
  for (int e = lid; e < TN; e += ITEMS) {                                                               \
    const int col = n0 + e, n = col / P, p = col % P;                                                   \
    colBase[e] = n * C * H * W;                                                                         \
    colY[e] = col < cols ? (p / ow) * sh - ph : -(1 << 28);                                             \
    colX[e] = (p % ow) * sw - pw;                                                                       \
  }                                                                                                     \
  float acc[RM][RN];                                                                                    \
  for (int i = 0; i < RM; ++i) for (int j = 0; j < RN; ++j) acc[i][j] = 0.0f;                          \
  const int slice = get_group_id(2), kEnd = min(K, (slice + 1) * kPer);                                \
  for (int k0 = slice * kPer; k0 < kEnd; k0 += CONV_TK) {                                               \
    for (int e = lid; e < CONV_TK; e += ITEMS) {                                                        \
      const int k = k0 + e, c = k / taps, r = k % taps;                                                 \
      kBase[e] = c * H * W;                                                                             \
      kY[e] = k < kEnd ? r / kw : -(1 << 28);                                                           \
      kX[e] = r % kw;                                                                                   \
    }                                                                                                   \
    /* The weight tile: rows of w are contiguous along k, so each item reads 4 at once. */           \
    for (int e = lid; e < CONV_TK / 4 * TM; e += ITEMS) {                                               \
      const int kq = e % (CONV_TK / 4), mm = e / (CONV_TK / 4), m = m0 + mm, k = k0 + 4 * kq;           \
      float4 v = (float4)(0.0f);                                                                        \
      if (m < M) {                                                                                      \
        const int i = wo + m * K + k;                                                                   \
        if (k + 3 < kEnd) v = WLOAD4(w, i);                                                             \
        else {                                                                                          \
          if (k < kEnd) v.s0 = WLOAD(w, i);                                                             \
          if (k + 1 < kEnd) v.s1 = WLOAD(w, i + 1);                                                     \
          if (k + 2 < kEnd) v.s2 = WLOAD(w, i + 2);                                                     \
        }                                                                                               \
      }                                                                                                 \
      As[4 * kq][mm] = v.s0; As[4 * kq + 1][mm] = v.s1; As[4 * kq + 2][mm] = v.s2;                      \
      As[4 * kq + 3][mm] = v.s3;                                                                        \
    }                                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
    for (int e = lid; e < CONV_TK * TN; e += ITEMS) {                                                   \
      const int nn = e % TN, kk = e / TN;                                                               \
      const int iy = colY[nn] + kY[kk], ix = colX[nn] + kX[kk];                                         \
      Bs[kk][nn] = (iy >= 0 && iy < H && ix >= 0 && ix < W)                                             \
        ? x[xo + colBase[nn] + kBase[kk] + iy * W + ix] : 0.0f;                                         \
    }                                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
    CONV_TILE_PRODUCT                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
  }                                                                                                     \
  CONV_EPILOGUE(M, cols,                                                                                \
    const int n = col / P, p = col % P;                                                                 \
    if (split > 1) part[po + (slice * N * M + n * M + m) * P + p] = acc[i][j];                          \
    else conv_store(mend_act(acc[i][j] + b, kind, slope), n, m, M, p / ow, p % ow, oh, ow,              \
                    hasPrelu, hasResidual, ea, eb, shuffle, alpha, ao, res, ro, y, yo);)                \
}

// Here C, H, W describe dx (the transposed convolution's output) and M, oh, ow dy; the kernel
// computes C rows. Phase (qy, qx) = get_group_id(2) covers iy = qy + sh·a, ix = qx + sw·b.
#define DEFINE_CONV_BWD(NAME, TM, TN, WX, WY, WT, WLOAD)                                                \
__kernel __attribute__((reqd_work_group_size(WX, WY, 1)))                                              \
void NAME(const int N, const int C, const int H, const int W, const int M, const int kh, const int kw, \
          const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,           \
          const int hasBias, const int kind, const float slope, CONV_EPILOGUE_PARAMS, CONV_SPLIT_PARAMS, \
          __global const float* dy, const int dyo, __global const WT* w, const int wo,                  \
          __global const float* bias, const int bo, CONV_EPILOGUE_BUFFERS,                              \
          __global float* dx, const int dxo, CONV_SPLIT_BUFFER) {                                       \
  enum { RM = TM / WY, RN = TN / WX, ITEMS = WX * WY, LX = WX, LY = WY };                                                 \
  __local float As[CONV_TK][TM];                                                                        \
  __local float Bs[CONV_TK][TN];                                                                        \
  const int phase = get_group_id(2) / split, slice = get_group_id(2) % split;                           \
  const int qy = phase / sw, qx = phase % sw;                                                           \
  const int ky0 = (qy + ph) % sh, kx0 = (qx + pw) % sw;                                                 \
  const int ty_ = (kh + sh - 1) / sh, tx_ = (kw + sw - 1) / sw;                                         \
  const int hq = (H + sh - 1) / sh, wq = (W + sw - 1) / sw, P = hq * wq, cols = N * P;                  \
  const int K = M * ty_ * tx_;                                                                          \
  const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WX + tx;                             \
  const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;                                       \
  float acc[RM][RN];                                                                                    \
  for (int i = 0; i < RM; ++i) for (int j = 0; j < RN; ++j) acc[i][j] = 0.0f;                          \
  const int kEnd = min(K, (slice + 1) * kPer);                                                          \
  for (int k0 = slice * kPer; k0 < kEnd; k0 += CONV_TK) {                                               \
    for (int e = lid; e < CONV_TK * TM; e += ITEMS) {                                                   \
      const int kk = e % CONV_TK, cc = e / CONV_TK, c = m0 + cc, k = k0 + kk;                           \
      float v = 0.0f;                                                                                   \
      if (c < C && k < kEnd) {                                                                          \
        const int m = k / (ty_ * tx_), r = k % (ty_ * tx_);                                             \
        const int ky = ky0 + sh * (r / tx_), kx = kx0 + sw * (r % tx_);                                 \
        if (ky < kh && kx < kw) v = WLOAD(w, wo + ((m * C + c) * kh + ky) * kw + kx);                   \
      }                                                                                                 \
      As[kk][cc] = v;                                                                                   \
    }                                                                                                   \
    for (int e = lid; e < CONV_TK * TN; e += ITEMS) {                                                   \
      const int nn = e % TN, kk = e / TN, col = n0 + nn, k = k0 + kk;                                   \
      float v = 0.0f;                                                                                   \
      if (col < cols && k < kEnd) {                                                                     \
        const int n = col / P, p = col % P, iy = qy + sh * (p / wq), ix = qx + sw * (p % wq);           \
        const int m = k / (ty_ * tx_), r = k % (ty_ * tx_);                                             \
        const int ky = ky0 + sh * (r / tx_), kx = kx0 + sw * (r % tx_);                                 \
        const int sy = iy + ph - ky, sx = ix + pw - kx;                                                 \
        if (sy >= 0 && sx >= 0) {                                                                       \
          const int oy = sy / sh, ox = sx / sw;                                                         \
          if (oy < oh && ox < ow) v = dy[dyo + ((n * M + m) * oh + oy) * ow + ox];                      \
        }                                                                                               \
      }                                                                                                 \
      Bs[kk][nn] = v;                                                                                   \
    }                                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
    CONV_TILE_PRODUCT                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
  }                                                                                                     \
  CONV_EPILOGUE(C, cols,                                                                                \
    const int n = col / P, p = col % P, iy = qy + sh * (p / wq), ix = qx + sw * (p % wq);               \
    if (iy < H && ix < W) {                                                                             \
      if (split > 1) part[po + ((slice * N + n) * C + m) * H * W + iy * W + ix] = acc[i][j];            \
      else conv_store(mend_act(acc[i][j] + b, kind, slope), n, m, C, iy, ix, H, W,                      \
                      hasPrelu, hasResidual, ea, eb, shuffle, alpha, ao, res, ro, dx, dxo);             \
    })                                                                                                  \
}

// Backward-filter: dw[m, k] (+)= Σ_q dy[n, m, p] · patch(x)[k, q] over q = (n, p), the batch's output
// pixels. GEMM view: M rows (output channels) × K columns (the patch: c, ky, kx), reduced over the
// N·P pixels in steps of TK through local memory — one launch for what the lowering does with
// im2col, a transpose and a GEMM per tile of images. Per tile column: the patch element's plane and
// tap; per reduction step: its image, output pixel and dy offset.
#define DEFINE_CONV_BWF(NAME, TM, TN, WX, WY)                                                           \
__kernel __attribute__((reqd_work_group_size(WX, WY, 1)))                                              \
void NAME(const int N, const int C, const int H, const int W, const int M, const int kh, const int kw, \
          const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,           \
          const int accumulate, CONV_SPLIT_PARAMS, __global const float* x, const int xo,               \
          __global const float* dy, const int dyo, __global float* dw, const int dwo, CONV_SPLIT_BUFFER) { \
  enum { RM = TM / WY, RN = TN / WX, ITEMS = WX * WY, LX = WX, LY = WY };                               \
  __local float As[CONV_TK][TM];                                                                        \
  __local float Bs[CONV_TK][TN];                                                                        \
  __local int kBase[TN], kY[TN], kX[TN], qBase[CONV_TK], qY[CONV_TK], qX[CONV_TK], qDy[CONV_TK];      \
  const int K = C * kh * kw, P = oh * ow, R = N * P, taps = kh * kw;                                    \
  const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WX + tx;                             \
  const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;                                       \
  for (int e = lid; e < TN; e += ITEMS) {                                                               \
    const int k = n0 + e, c = k / taps, r = k % taps;                                                   \
    kBase[e] = c * H * W;                                                                               \
    kY[e] = k < K ? r / kw : -(1 << 28);                                                                \
    kX[e] = r % kw;                                                                                     \
  }                                                                                                     \
  float acc[RM][RN];                                                                                    \
  for (int i = 0; i < RM; ++i) for (int j = 0; j < RN; ++j) acc[i][j] = 0.0f;                          \
  const int slice = get_group_id(2), qEnd = min(R, (slice + 1) * kPer);                                \
  for (int q0 = slice * kPer; q0 < qEnd; q0 += CONV_TK) {                                               \
    for (int e = lid; e < CONV_TK; e += ITEMS) {                                                        \
      const int q = q0 + e, n = q / P, p = q % P;                                                       \
      qBase[e] = n * C * H * W;                                                                         \
      qY[e] = q < qEnd ? (p / ow) * sh - ph : -(1 << 28);                                               \
      qX[e] = (p % ow) * sw - pw;                                                                       \
      qDy[e] = q < qEnd ? n * M * P + p : -1;                                                           \
    }                                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
    for (int e = lid; e < CONV_TK * TM; e += ITEMS) {                                                   \
      const int kk = e % CONV_TK, mm = e / CONV_TK, m = m0 + mm;                                        \
      As[kk][mm] = (m < M && qDy[kk] >= 0) ? dy[dyo + qDy[kk] + m * P] : 0.0f;                          \
    }                                                                                                   \
    for (int e = lid; e < CONV_TK * TN; e += ITEMS) {                                                   \
      const int nn = e % TN, kk = e / TN;                                                               \
      const int iy = qY[kk] + kY[nn], ix = qX[kk] + kX[nn];                                             \
      Bs[kk][nn] = (iy >= 0 && iy < H && ix >= 0 && ix < W)                                             \
        ? x[xo + qBase[kk] + kBase[nn] + iy * W + ix] : 0.0f;                                           \
    }                                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
    CONV_TILE_PRODUCT                                                                                   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                       \
  }                                                                                                     \
  for (int i = 0; i < RM; ++i) {                                                                        \
    const int m = m0 + ty + i * LY;                                                                     \
    if (m >= M) continue;                                                                               \
    for (int j = 0; j < RN; ++j) {                                                                      \
      const int k = n0 + tx + j * LX;                                                                   \
      if (k >= K) continue;                                                                             \
      if (split > 1) { part[po + (slice * M + m) * K + k] = acc[i][j]; continue; }                       \
      const int d = dwo + m * K + k;                                                                    \
      dw[d] = accumulate ? dw[d] + acc[i][j] : acc[i][j];                                               \
    }                                                                                                   \
  }                                                                                                     \
}

// Weights as float, or as half (IEEE binary16, read with vload_half: core OpenCL, no cl_khr_fp16
// needed) for devices that keep a half copy of constant weights (OpenCLDevice.halfWeights): the
// "_hw" kernels.
#define W_FLOAT(w, i) (w)[i]
#define W_HALF(w, i) vload_half((i), (w))
#define W_FLOAT4(w, i) vload4(0, (w) + (i))
#define W_HALF4(w, i) vload_half4(0, (w) + (i))

DEFINE_CONV_FWD(conv2d_fused, 32, 64, 16, 8, float, W_FLOAT, W_FLOAT4)
DEFINE_CONV_FWD(conv2d_fused_narrow, 4, 256, 64, 1, float, W_FLOAT, W_FLOAT4)
DEFINE_CONV_BWD(conv2d_bwd_fused, 32, 64, 16, 8, float, W_FLOAT)
DEFINE_CONV_BWD(conv2d_bwd_fused_narrow, 4, 256, 64, 1, float, W_FLOAT)
DEFINE_CONV_FWD(conv2d_fused_hw, 32, 64, 16, 8, half, W_HALF, W_HALF4)
DEFINE_CONV_FWD(conv2d_fused_narrow_hw, 4, 256, 64, 1, half, W_HALF, W_HALF4)
DEFINE_CONV_BWD(conv2d_bwd_fused_hw, 32, 64, 16, 8, half, W_HALF)
DEFINE_CONV_BWD(conv2d_bwd_fused_narrow_hw, 4, 256, 64, 1, half, W_HALF)
DEFINE_CONV_BWF(conv2d_bwf_fused, 32, 64, 16, 8)
DEFINE_CONV_BWF(conv2d_bwf_fused_narrow, 4, 256, 64, 1)

// y[i] = epilogue(act(bias + Σ_s part[s][i])) for the i-th element of a [N, M, Hh, Ww] result (the
// forward conv's y, or backward-data's dx with M = C), slices added in order.
__kernel void conv_split_reduce(const int N, const int M, const int Hh, const int Ww, const int split,
                                const int hasBias, const int kind, const float slope, CONV_EPILOGUE_PARAMS,
                                __global const float* part, const int po, __global const float* bias, const int bo,
                                CONV_EPILOGUE_BUFFERS, __global float* y, const int yo) {
  const int i = get_global_id(0), total = N * M * Hh * Ww;
  if (i >= total) return;
  float v = 0.0f;
  for (int s = 0; s < split; ++s) v += part[po + s * total + i];
  const int x = i % Ww, yy = (i / Ww) % Hh, m = (i / (Ww * Hh)) % M, n = i / (Ww * Hh * M);
  if (hasBias) v += bias[bo + m];
  conv_store(mend_act(v, kind, slope), n, m, M, yy, x, Hh, Ww, hasPrelu, hasResidual, ea, eb, shuffle, alpha, ao,
             res, ro, y, yo);
}

// dw[i] (+)= Σ_s part[s][i], slices added in order.
__kernel void conv_bwf_split_reduce(const int total, const int split, const int accumulate,
                                    __global const float* part, const int po, __global float* dw, const int dwo) {
  const int i = get_global_id(0);
  if (i >= total) return;
  float v = 0.0f;
  for (int s = 0; s < split; ++s) v += part[po + s * total + i];
  dw[dwo + i] = accumulate ? dw[dwo + i] + v : v;
}

// h[i] = x[i] rounded to half (nearest even), for i < n: the half copy of constant weights.
__kernel void float_to_half(const int n, __global const float* x, const int xo, __global half* h, const int ho) {
  const int i = get_global_id(0);
  if (i < n) vstore_half_rte(x[xo + i], ho + i, h);
}
