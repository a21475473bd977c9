// common.cl — shared definitions, prepended to every other kernel file.
//
// Conventions for all mend kernels (OpenCL C 1.2):
//  * tensors are float32 buffers addressed as (buffer, element offset): every pointer argument is
//    followed by an int offset, so a planner can place many tensors in one arena;
//  * 1-D NDRanges, rounded up to the work-group size: every kernel checks its bounds;
//  * reductions use one work-group of MEND_WG items per output and a local-memory tree.

// MEND_WG and the codes ACT_*, LOSS_*, BINOP_* are defined by the host as build options
// (-D, from Sources/ComputeOpenCL/KernelCodes.swift): one definition shared with Swift.

inline float mend_act(float x, int kind, float slope) {
  switch (kind) {
    case ACT_RELU: return x > 0.0f ? x : 0.0f;
    case ACT_LEAKY: return x > 0.0f ? x : x * slope;
    case ACT_TANH: return tanh(x);
    case ACT_SIGMOID: return 1.0f / (1.0f + exp(-x));
    default: return x;
  }
}

// Derivative through the activation's output y (valid for leaky slopes > 0).
inline float mend_act_deriv(float y, int kind, float slope) {
  switch (kind) {
    case ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case ACT_LEAKY: return y > 0.0f ? 1.0f : slope;
    case ACT_TANH: return 1.0f - y * y;
    case ACT_SIGMOID: return y * (1.0f - y);
    default: return 1.0f;
  }
}

// Sum of v over the work-group (size MEND_WG); every item gets the result.
inline float mend_wg_sum(float v, __local float* scratch) {
  const int l = get_local_id(0);
  scratch[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = MEND_WG / 2; s > 0; s >>= 1) {
    if (l < s) scratch[l] += scratch[l + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = scratch[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}
