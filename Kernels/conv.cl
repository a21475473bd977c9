// conv.cl — the lowering kernels for convolution: im2col and col2im. Convolution, its backward
// passes and transposed convolution are GEMMs (CLBlast) around these; see ConvLowering.swift.
//
// A tile covers `images` images and output rows r0..<r0+rows; its column matrix is
// [inC·kH·kW, images·rows·oW] row-major, column (img, oy, ox) = img·rows·oW + (oy − r0)·oW + ox.
// x is [images, inC, H, W].

__kernel void im2col(const int images, const int C, const int H, const int W, const int kh, const int kw,
                     const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,
                     const int r0, const int rows, const int unused_accumulate,
                     __global const float* x, const int xo, __global float* col, const int co) {
  const int i = get_global_id(0);
  const int tw = rows * ow, ld = images * tw;
  if (i >= C * kh * kw * ld) return;
  const int row = i / ld, j = i % ld;
  const int img = j / tw, p = j % tw, oy = r0 + p / ow, ox = p % ow;
  const int kx = row % kw, ky = (row / kw) % kh, ci = row / (kw * kh);
  const int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
  float v = 0.0f;
  if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[xo + ((img * C + ci) * H + iy) * W + ix];
  col[co + i] = v;
}

// Gather form (one work-item per x element, no atomics): x[img, ci, iy, ix] (+)= Σ over the tile's
// taps that read it.
__kernel void col2im(const int images, const int C, const int H, const int W, const int kh, const int kw,
                     const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,
                     const int r0, const int rows, const int accumulate,
                     __global const float* col, const int co, __global float* x, const int xo) {
  const int i = get_global_id(0);
  if (i >= images * C * H * W) return;
  const int ix = i % W, iy = (i / W) % H, ci = (i / (W * H)) % C, img = i / (W * H * C);
  const int tw = rows * ow, ld = images * tw;
  float acc = 0.0f;
  for (int ky = 0; ky < kh; ++ky) {
    const int ty = iy + ph - ky;
    if (ty < 0 || ty % sh != 0) continue;
    const int oy = ty / sh;
    if (oy < r0 || oy >= r0 + rows) continue;
    for (int kx = 0; kx < kw; ++kx) {
      const int tx = ix + pw - kx;
      if (tx < 0 || tx % sw != 0) continue;
      const int ox = tx / sw;
      if (ox >= ow) continue;
      const int row = (ci * kh + ky) * kw + kx;
      acc += col[co + row * ld + img * tw + (oy - r0) * ow + ox];
    }
  }
  x[xo + i] = accumulate ? x[xo + i] + acc : acc;
}
