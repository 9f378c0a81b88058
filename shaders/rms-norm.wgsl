// rmsNorm (Gemma's): y[r] = (accumulate ? y[r] : 0) + x[r] / sqrt(mean(x[r]²) + eps) * (1 + w).
// Bindings: 0 params, 1 y f32 [rows, D] read_write, 2 x f32 [rows, D], 3 w f16 [D] packed
// two per u32 (element d is half d & 1 of word d >> 1).
// One 64-thread workgroup per row (2-D grid: row = wid.y * groups.x + wid.x): threads
// stride the row (coalesced), the sum of squares is tree-reduced in shared memory.
// 64 threads: a 2048-wide row is 32 values each, and a CPU adapter (SwiftShader) pays for
// every thread that waits at a barrier.

const WG = 64u;

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.y * groups.x + wid.x;
  if (row >= p.rows) {
    return; // the whole workgroup leaves together: the barriers below stay uniform
  }
  let base = row * p.dim;
  var ss = 0.0;
  for (var d = lid; d < p.dim; d += WG) {
    let v = x[base + d];
    ss = fma(v, v, ss);
  }
  partial[lid] = ss;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var d = lid; d < p.dim; d += WG) {
    var v = x[base + d] * inv * (1.0 + unpack2x16float(w[d >> 1u])[d & 1u]);
    if (p.accumulate != 0u) {
      v += y[base + d];
    }
    y[base + d] = v;
  }
}
