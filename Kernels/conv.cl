// conv.cl — the lowering kernels for convolution: im2col and col2im. Convolution, its backward
// passes and transposed convolution are GEMMs (CLBlast) around these; see ConvLowering.swift.
//
// col is [inC·kH·kW, images·oH·oW] row-major; x is [images, inC, H, W].

__kernel void im2col(const int images, const int C, const int H, const int W, const int kh, const int kw,
                     const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,
                     __global const float* x, const int xo, __global float* col, const int co) {
  const int i = get_global_id(0);
  const int hw = oh * ow, ld = images * hw;
  if (i >= C * kh * kw * ld) return;
  const int row = i / ld, j = i % ld;
  const int img = j / hw, p = j % hw, oy = p / ow, ox = p % ow;
  const int kx = row % kw, ky = (row / kw) % kh, ci = row / (kw * kh);
  const int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
  float v = 0.0f;
  if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[xo + ((img * C + ci) * H + iy) * W + ix];
  col[co + i] = v;
}

// Gather form (one work-item per x element, no atomics): x[img, ci, iy, ix] = Σ over the taps that
// read it.
__kernel void col2im(const int images, const int C, const int H, const int W, const int kh, const int kw,
                     const int sh, const int sw, const int ph, const int pw, const int oh, const int ow,
                     __global const float* col, const int co, __global float* x, const int xo) {
  const int i = get_global_id(0);
  if (i >= images * C * H * W) return;
  const int ix = i % W, iy = (i / W) % H, ci = (i / (W * H)) % C, img = i / (W * H * C);
  const int hw = oh * ow, ld = images * hw;
  float acc = 0.0f;
  for (int ky = 0; ky < kh; ++ky) {
    const int ty = iy + ph - ky;
    if (ty < 0 || ty % sh != 0) continue;
    const int oy = ty / sh;
    if (oy >= oh) continue;
    for (int kx = 0; kx < kw; ++kx) {
      const int tx = ix + pw - kx;
      if (tx < 0 || tx % sw != 0) continue;
      const int ox = tx / sw;
      if (ox >= ow) continue;
      const int row = (ci * kh + ky) * kw + kx;
      acc += col[co + row * ld + img * hw + oy * ow + ox];
    }
  }
  x[xo + i] = acc;
}
