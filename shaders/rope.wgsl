// rope: rotary embedding in place, rotate-half convention, on x [rows, heads, head_dim]:
//   for i < head_dim/2, angle = pos[r] * inv_freq[i]:
//   (x[i], x[i + half]) <- (x[i] cos - x[i + half] sin, x[i + half] cos + x[i] sin).
// inv_freq[i] = theta^(-2i/head_dim) comes from a table the host computes once (in f64,
// rounded to f32 as the reference implementations do): a GPU pow is a few ulps off, and
// at positions in the thousands that shifts the angle visibly. The f32 angle is reduced
// to [-π, π] before cos/sin: GPU cos/sin are accurate only near zero.
// Bindings: 0 params, 1 x f32 read_write, 2 positions i32 [rows], 3 inv_freq f32 [half].
// One rotated pair per thread, 2-D grid of 256-thread workgroups.

const WG = 256u;

struct Params {
  rows: u32,
  heads: u32,
  head_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<i32>;
@group(0) @binding(3) var<storage, read> inv_freq: array<f32>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.y * groups.x + wid.x) * WG + lid;
  let half = p.head_dim / 2u;
  if (t >= p.rows * p.heads * half) {
    return;
  }
  let i = t % half;
  let head = t / half; // r * heads + h
  let angle = f32(positions[head / p.heads]) * inv_freq[i];
  // Cody-Waite: 2π = 6.28125 + 0.0019353071795864769, and k * 6.28125 is exact for |k| < 2^16.
  let k = round(angle * 0.15915494309189535);
  let reduced = (angle - k * 6.28125) - k * 0.0019353071795864769;
  let c = cos(reduced);
  let s = sin(reduced);
  let o = head * p.head_dim + i;
  let a = x[o];
  let b = x[o + half];
  x[o] = a * c - b * s;
  x[o + half] = b * c + a * s;
}
