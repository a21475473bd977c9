// batchnorm.cl — batch normalisation: inference (running statistics, fused activation), training
// (batch statistics, running-stat update with the unbiased variance), backward of both, and
// per-channel sums. Channel reductions use one work-group per channel.

__kernel void bn_infer(const int n, const int channels, const int spatial, const float eps, const int kind,
                       const float slope, __global const float* x, const int xo,
                       __global const float* g, const int go, __global const float* b, const int bo,
                       __global const float* m, const int mo, __global const float* v, const int vo,
                       __global float* y, const int yo) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const int c = (i / spatial) % channels;
  const float s = g[go + c] / sqrt(v[vo + c] + eps);
  y[yo + i] = mend_act((x[xo + i] - m[mo + c]) * s + b[bo + c], kind, slope);
}

__kernel void bn_infer_bwd(const int n, const int channels, const int spatial, const float eps,
                           __global const float* dy, const int dyo, __global const float* g, const int go,
                           __global const float* v, const int vo, __global float* dx, const int dxo) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const int c = (i / spatial) % channels;
  dx[dxo + i] = dy[dyo + i] * g[go + c] / sqrt(v[vo + c] + eps);
}

__kernel void bn_train(const int batch, const int channels, const int spatial, const float eps, const float momentum,
                       __global const float* x, const int xo, __global const float* g, const int go,
                       __global const float* b, const int bo, __global const float* rm, const int rmo,
                       __global const float* rv, const int rvo, __global float* y, const int yo,
                       __global float* sm, const int smo, __global float* sis, const int siso,
                       __global float* nm, const int nmo, __global float* nv, const int nvo) {
  __local float scratch[MEND_WG];
  const int c = get_group_id(0), l = get_local_id(0), m = batch * spatial;
  float acc = 0.0f;
  for (int j = l; j < m; j += MEND_WG) acc += x[xo + ((j / spatial) * channels + c) * spatial + j % spatial];
  const float mu = mend_wg_sum(acc, scratch) / (float)m;
  acc = 0.0f;
  for (int j = l; j < m; j += MEND_WG) {
    const float d = x[xo + ((j / spatial) * channels + c) * spatial + j % spatial] - mu;
    acc += d * d;
  }
  const float var = mend_wg_sum(acc, scratch) / (float)m;
  const float inv = 1.0f / sqrt(var + eps);
  const float sc = g[go + c] * inv, sh = b[bo + c] - mu * sc;
  for (int j = l; j < m; j += MEND_WG) {
    const int idx = ((j / spatial) * channels + c) * spatial + j % spatial;
    y[yo + idx] = x[xo + idx] * sc + sh;
  }
  if (l == 0) {
    const float unbiased = m > 1 ? var * (float)m / (float)(m - 1) : var;
    const float oldm = rm[rmo + c], oldv = rv[rvo + c];
    sm[smo + c] = mu;
    sis[siso + c] = inv;
    nm[nmo + c] = (1.0f - momentum) * oldm + momentum * mu;
    nv[nvo + c] = (1.0f - momentum) * oldv + momentum * unbiased;
  }
}

__kernel void bn_bwd(const int batch, const int channels, const int spatial,
                     __global const float* dy, const int dyo, __global const float* x, const int xo,
                     __global const float* g, const int go, __global const float* sm, const int smo,
                     __global const float* sis, const int siso, __global float* dx, const int dxo,
                     __global float* dg, const int dgo, __global float* db, const int dbo) {
  __local float scratch[MEND_WG];
  const int c = get_group_id(0), l = get_local_id(0), m = batch * spatial;
  const float mu = sm[smo + c], inv = sis[siso + c];
  float a1 = 0.0f, a2 = 0.0f;
  for (int j = l; j < m; j += MEND_WG) {
    const int idx = ((j / spatial) * channels + c) * spatial + j % spatial;
    const float d = dy[dyo + idx];
    a1 += d;
    a2 += d * (x[xo + idx] - mu);
  }
  const float sdy = mend_wg_sum(a1, scratch);
  const float dgv = mend_wg_sum(a2, scratch) * inv;
  const float k = g[go + c] * inv, fm = (float)m;
  for (int j = l; j < m; j += MEND_WG) {
    const int idx = ((j / spatial) * channels + c) * spatial + j % spatial;
    const float xhat = (x[xo + idx] - mu) * inv;
    dx[dxo + idx] = k * (dy[dyo + idx] - sdy / fm - xhat * dgv / fm);
  }
  if (l == 0) {
    dg[dgo + c] = dgv;
    db[dbo + c] = sdy;
  }
}

__kernel void channel_sum(const int batch, const int channels, const int spatial,
                          __global const float* x, const int xo, __global float* y, const int yo) {
  __local float scratch[MEND_WG];
  const int c = get_group_id(0), l = get_local_id(0);
  float acc = 0.0f;
  for (int j = l; j < batch * spatial; j += MEND_WG)
    acc += x[xo + ((j / spatial) * channels + c) * spatial + j % spatial];
  const float s = mend_wg_sum(acc, scratch);
  if (l == 0) y[yo + c] = s;
}
