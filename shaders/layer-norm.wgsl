// layerNorm: y[r] = (x[r] - mean) / sqrt(var + eps) * w + b over the last dim D.
// Two passes over the row (mean, then the mean of squared deviations) rather than
// E[x²] - E[x]², which cancels badly when |mean| >> std.
// Bindings: 0 params, 1 y f32 [rows, D] read_write, 2 x f32 [rows, D], 3 w, 4 b: f16 [D]
// packed two per u32 (element d is half d & 1 of word d >> 1).
// One 64-thread workgroup per row (2-D grid), tree reductions in shared memory; 64 as in
// rms-norm.wgsl.

const WG = 64u;

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> b: array<u32>;

var<workgroup> partial: array<f32, WG>;

fn row_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // everyone has read partial[0] before it is reused
  return total;
}

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
  var s = 0.0;
  for (var d = lid; d < p.dim; d += WG) {
    s += x[base + d];
  }
  let mean = row_sum(s, lid) / f32(p.dim);
  var s2 = 0.0;
  for (var d = lid; d < p.dim; d += WG) {
    let c = x[base + d] - mean;
    s2 = fma(c, c, s2);
  }
  let inv = inverseSqrt(row_sum(s2, lid) / f32(p.dim) + p.eps);
  for (var d = lid; d < p.dim; d += WG) {
    let wd = unpack2x16float(w[d >> 1u])[d & 1u];
    let bd = unpack2x16float(b[d >> 1u])[d & 1u];
    y[base + d] = (x[base + d] - mean) * inv * wd + bd;
  }
}
