// loss.cl — per-sample losses and their gradients.
// LOSS_WEIGHTED_L1: importance-weighted L1 Σ w·|p − t|; LOSS_MSE: mean (p − t)²;
// LOSS_BCE_LOGITS: binary cross-entropy on logits, mean softplus(l) − t·l.

__kernel void loss_fwd(const int samples, const int count, const int kind,
                       __global const float* p, const int po, __global const float* t, const int to,
                       __global const float* w, const int wo, __global float* loss, const int lo) {
  __local float scratch[MEND_WG];
  const int s = get_group_id(0), l = get_local_id(0);
  float acc = 0.0f;
  for (int j = l; j < count; j += MEND_WG) {
    const int k = s * count + j;
    const float pv = p[po + k], tv = t[to + k];
    if (kind == LOSS_WEIGHTED_L1) acc += w[wo + k] * fabs(pv - tv);
    else if (kind == LOSS_MSE) acc += (pv - tv) * (pv - tv);
    else acc += fmax(pv, 0.0f) - tv * pv + log1p(exp(-fabs(pv)));
  }
  const float r = mend_wg_sum(acc, scratch);
  if (l == 0) loss[lo + s] = (kind == LOSS_WEIGHTED_L1 || count == 0) ? r : r / (float)count;
}

__kernel void loss_bwd(const int samples, const int count, const int kind,
                       __global const float* p, const int po, __global const float* t, const int to,
                       __global const float* w, const int wo, __global const float* dl, const int dlo,
                       __global float* dp, const int dpo) {
  const int i = get_global_id(0);
  if (i >= samples * count) return;
  const float g = dl[dlo + i / count];
  const float d = p[po + i] - t[to + i];
  float r;
  if (kind == LOSS_WEIGHTED_L1) r = d > 0.0f ? g * w[wo + i] : (d < 0.0f ? -g * w[wo + i] : 0.0f);
  else if (kind == LOSS_MSE) r = 2.0f * g * d / (float)count;
  else r = g * (1.0f / (1.0f + exp(-p[po + i])) - t[to + i]) / (float)count;
  dp[dpo + i] = r;
}

// Adam, in place (PyTorch's update with bias corrections folded into hyper = (α_t, ε_t)), then a
// clamp to [−limit, limit].
__kernel void adam_step(const int n, const float beta1, const float beta2, const float limit,
                        __global const float* p, const int po, __global const float* g, const int go,
                        __global const float* m, const int mo, __global const float* v, const int vo,
                        __global const float* hyper, const int ho,
                        __global float* op, const int opo, __global float* om, const int omo,
                        __global float* ov, const int ovo) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const float a = hyper[ho], e = hyper[ho + 1];
  const float gi = g[go + i];
  const float mi = beta1 * m[mo + i] + (1.0f - beta1) * gi;
  const float vi = beta2 * v[vo + i] + (1.0f - beta2) * gi * gi;
  const float pi = p[po + i] - a * mi / (sqrt(vi) + e);
  om[omo + i] = mi;
  ov[ovo + i] = vi;
  op[opo + i] = clamp(pi, -limit, limit);
}
