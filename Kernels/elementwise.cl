// elementwise.cl — activations and their gradients, element-wise arithmetic, per-channel bias and
// PReLU, row sums, and layout moves (block transpose, depth-to-space).

__kernel void activation_fwd(const int n, const int kind, const float slope,
                             __global const float* x, const int xo, __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i < n) y[yo + i] = mend_act(x[xo + i], kind, slope);
}

__kernel void activation_bwd(const int n, const int kind, const float slope,
                             __global const float* y, const int yo, __global const float* dy, const int dyo,
                             __global float* dx, const int dxo) {
  const int i = get_global_id(0);
  if (i < n) dx[dxo + i] = dy[dyo + i] * mend_act_deriv(y[yo + i], kind, slope);
}

// op BINOP_ADD: a + b, BINOP_MUL: a * b, BINOP_AXPY: alpha * a + b
__kernel void binary_op(const int n, const int op, const float alpha,
                        __global const float* a, const int ao, __global const float* b, const int bo,
                        __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const float va = a[ao + i], vb = b[bo + i];
  y[yo + i] = op == BINOP_ADD ? va + vb : (op == BINOP_MUL ? va * vb : alpha * va + vb);
}

__kernel void scale_op(const int n, const float alpha, const float beta,
                       __global const float* x, const int xo, __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i < n) y[yo + i] = alpha * x[xo + i] + beta;
}

__kernel void bias_act(const int n, const int channels, const int spatial, const int kind, const float slope,
                       __global const float* x, const int xo, __global const float* bias, const int bo,
                       __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i < n) y[yo + i] = mend_act(x[xo + i] + bias[bo + (i / spatial) % channels], kind, slope);
}

__kernel void prelu_fwd(const int n, const int channels, const int spatial,
                        __global const float* x, const int xo, __global const float* alpha, const int ao,
                        __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const float v = x[xo + i];
  y[yo + i] = v > 0.0f ? v : alpha[ao + (i / spatial) % channels] * v;
}

__kernel void prelu_bwd_data(const int n, const int channels, const int spatial,
                             __global const float* x, const int xo, __global const float* alpha, const int ao,
                             __global const float* dy, const int dyo, __global float* dx, const int dxo) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const float g = dy[dyo + i];
  dx[dxo + i] = x[xo + i] > 0.0f ? g : alpha[ao + (i / spatial) % channels] * g;
}

// One work-group per channel: dalpha[c] = Σ_{x ≤ 0} x · dy
__kernel void prelu_bwd_alpha(const int batch, const int channels, const int spatial,
                              __global const float* x, const int xo, __global const float* dy, const int dyo,
                              __global float* da, const int dao) {
  __local float scratch[MEND_WG];
  const int c = get_group_id(0), l = get_local_id(0);
  float acc = 0.0f;
  for (int j = l; j < batch * spatial; j += MEND_WG) {
    const int idx = ((j / spatial) * channels + c) * spatial + j % spatial;
    const float v = x[xo + idx];
    acc += v > 0.0f ? 0.0f : v * dy[dyo + idx];
  }
  const float s = mend_wg_sum(acc, scratch);
  if (l == 0) da[dao + c] = s;
}

// One work-group per row.
__kernel void row_sum(const int rows, const int cols, const int mean,
                      __global const float* x, const int xo, __global float* y, const int yo) {
  __local float scratch[MEND_WG];
  const int r = get_group_id(0), l = get_local_id(0);
  float acc = 0.0f;
  for (int j = l; j < cols; j += MEND_WG) acc += x[xo + r * cols + j];
  const float s = mend_wg_sum(acc, scratch);
  if (l == 0) y[yo + r] = (mean && cols > 0) ? s / (float)cols : s;
}

// x[a][b][inner] -> y[b][a][inner]
__kernel void transpose_blocks(const int a, const int b, const int inner,
                               __global const float* x, const int xo, __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i >= a * b * inner) return;
  const int k = i % inner, t = i / inner;
  const int ia = t / b, jb = t % b;
  y[yo + (jb * a + ia) * inner + k] = x[xo + i];
}

// Pixel shuffle over the large tensor's elements: big[n, c, y, x] <-> small[n, c·r² + (y%r)·r + x%r, y/r, x/r]
__kernel void depth_to_space(const int n, const int c, const int h, const int w, const int r, const int inverse,
                             __global const float* x, const int xo, __global float* y, const int yo) {
  const int i = get_global_id(0);
  const int oh = h * r, ow = w * r;
  if (i >= n * c * oh * ow) return;
  const int xx = i % ow, yy = (i / ow) % oh, ch = (i / (ow * oh)) % c, b = i / (ow * oh * c);
  const int small = ((b * c * r * r + ch * r * r + (yy % r) * r + (xx % r)) * h + yy / r) * w + xx / r;
  if (inverse) y[yo + small] = x[xo + i]; else y[yo + i] = x[xo + small];
}

// Max pooling over convolution windows of one (n, c) plane; padded cells never win. The first
// maximum in row-major order wins, as in PyTorch (and the CPU path).
inline int pool_argmax(__global const float* plane, const int h, const int w, const int kh, const int kw,
                       const int sh, const int sw, const int ph, const int pw, const int oy, const int ox) {
  const int y0 = oy * sh - ph, x0 = ox * sw - pw;
  float best = -INFINITY;
  int at = -1;
  for (int iy = max(0, y0); iy < min(h, y0 + kh); ++iy)
    for (int ix = max(0, x0); ix < min(w, x0 + kw); ++ix) {
      const float v = plane[iy * w + ix];
      if (v > best || at < 0) { best = v; at = iy * w + ix; }
    }
  return at;
}

__kernel void max_pool_fwd(const int planes, const int h, const int w, const int oh, const int ow, const int kh,
                           const int kw, const int sh, const int sw, const int ph, const int pw,
                           __global const float* x, const int xo, __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i >= planes * oh * ow) return;
  const int ox = i % ow, oy = (i / ow) % oh, p = i / (ow * oh);
  __global const float* plane = x + xo + p * h * w;
  y[yo + i] = plane[pool_argmax(plane, h, w, kh, kw, sh, sw, ph, pw, oy, ox)];
}

// One work item per input element: the sum of dy over the windows whose argmax it is (a gather,
// so overlapping windows need no atomics).
__kernel void max_pool_bwd(const int planes, const int h, const int w, const int oh, const int ow, const int kh,
                           const int kw, const int sh, const int sw, const int ph, const int pw,
                           __global const float* x, const int xo, __global const float* dy, const int dyo,
                           __global float* dx, const int dxo) {
  const int i = get_global_id(0);
  if (i >= planes * h * w) return;
  const int ix = i % w, iy = (i / w) % h, p = i / (w * h);
  __global const float* plane = x + xo + p * h * w;
  const int ly = iy + ph - kh + 1, lx = ix + pw - kw + 1;
  const int oy0 = ly <= 0 ? 0 : (ly + sh - 1) / sh, oy1 = min(oh - 1, (iy + ph) / sh);
  const int ox0 = lx <= 0 ? 0 : (lx + sw - 1) / sw, ox1 = min(ow - 1, (ix + pw) / sw);
  float sum = 0.0f;
  for (int oy = oy0; oy <= oy1; ++oy)
    for (int ox = ox0; ox <= ox1; ++ox)
      if (pool_argmax(plane, h, w, kh, kw, sh, sw, ph, pw, oy, ox) == iy * w + ix)
        sum += dy[dyo + (p * oh + oy) * ow + ox];
  dx[dxo + i] = sum;
}
