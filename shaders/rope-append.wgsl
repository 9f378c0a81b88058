// ropeAppend: the step between a joined Q/K/V linear and attention. Each row r of
// qkv [rows, (heads + 2 kv_heads) * head_dim] is q | k | v; q is rotated into
// q [rows, heads * head_dim], k rotated into key cache row cache_rows[r] and v copied
// into value cache row cache_rows[r] (both caches [*, kv_heads * head_dim]).
// Rotary embedding, rotate-half convention: for i < head_dim/2, angle = pos[r] * inv_freq[i]:
//   (x[i], x[i + half]) <- (x[i] cos - x[i + half] sin, x[i + half] cos + x[i] sin).
// inv_freq[i] = theta^(-2i/head_dim) comes from a table the host computes once (in f64,
// rounded to f32 as the reference implementations do): a GPU pow is a few ulps off, and
// at positions in the thousands that shifts the angle visibly. cos and sin are computed
// here, not by WGSL's builtins: the spec lets those be 2^-11 off even inside [-π, π]
// (SwiftShader's are ~2e-4 off), which alone put Gemma's logits 1e-3 from the reference.
// The f32 angle is reduced to [-π/4, π/4] by quadrant (Cody-Waite, π/2 in three parts),
// then minimax polynomials (Cephes' sinf/cosf) give f32 accuracy on every GPU.
// Bindings: 0 params, 1 q f32 read_write, 2 k_cache f32 read_write, 3 v_cache f32
// read_write, 4 qkv f32, 5 positions i32 [rows], 6 cache_rows i32 [rows], 7 inv_freq f32 [half].
// One pair (i, i + half) of one head per thread (v heads: copied, not rotated), 2-D grid
// of 256-thread workgroups.

const WG = 256u;

struct Params {
  rows: u32,
  heads: u32,
  kv_heads: u32,
  head_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read> qkv: array<f32>;
@group(0) @binding(5) var<storage, read> positions: array<i32>;
@group(0) @binding(6) var<storage, read> cache_rows: array<i32>;
@group(0) @binding(7) var<storage, read> inv_freq: array<f32>;

/** (cos a, sin a), accurate to about an f32 ulp for |a| < 2^16 · π/2. */
fn cos_sin(a: f32) -> vec2<f32> {
  // π/2 = 1.5703125 + 4.837512969970703e-4 + 7.549790126404332e-8: the first two parts
  // have few enough bits that k times them is exact for |k| < 2^13 (positions < ~8000).
  let k = round(a * 0.6366197723675814);
  let r = ((a - k * 1.5703125) - k * 4.837512969970703e-4) - k * 7.549790126404332e-8;
  let r2 = r * r;
  let sin_r = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let cos_r = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  switch (i32(k) & 3) {
    case 0: { return vec2<f32>(cos_r, sin_r); }
    case 1: { return vec2<f32>(-sin_r, cos_r); }
    case 2: { return vec2<f32>(-cos_r, -sin_r); }
    default: { return vec2<f32>(sin_r, -cos_r); }
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.y * groups.x + wid.x) * WG + lid;
  let half = p.head_dim / 2u;
  let width = p.heads + 2u * p.kv_heads; // heads per qkv row
  if (t >= p.rows * width * half) {
    return;
  }
  let i = t % half;
  let head = (t / half) % width; // q heads, then k heads, then v heads
  let r = t / (half * width);
  let src = (r * width + head) * p.head_dim + i;
  let a = qkv[src];
  let b = qkv[src + half];
  let kv_width = p.kv_heads * p.head_dim;
  if (head >= p.heads + p.kv_heads) {
    let o = u32(cache_rows[r]) * kv_width + (head - p.heads - p.kv_heads) * p.head_dim + i;
    v_cache[o] = a;
    v_cache[o + half] = b;
    return;
  }
  let cs = cos_sin(f32(positions[r]) * inv_freq[i]);
  let ra = a * cs.x - b * cs.y;
  let rb = b * cs.x + a * cs.y;
  if (head < p.heads) {
    let o = (r * p.heads + head) * p.head_dim + i;
    q[o] = ra;
    q[o + half] = rb;
  } else {
    let o = u32(cache_rows[r]) * kv_width + (head - p.heads) * p.head_dim + i;
    k_cache[o] = ra;
    k_cache[o + half] = rb;
  }
}
