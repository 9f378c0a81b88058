// gemv: y[r, n0 + n] = epilogue(Σ_k x[r, k] · W[n, k] + bias[n0 + n]) for a few rows
// (ROWS <= 8: decode, one row per batch entry). Here the weight is read exactly once and
// memory bandwidth is the whole cost, so the layout serves the weight reads.
//
// Bindings: 0 params (uniform), 1 y f32 [ROWS, ldy] read_write, 2 x f32 [ROWS, K],
// 3 w: this chunk's rows of W [N, K], f16 packed two per u32 (element e is half e & 1 of
// word e >> 1), 4 bias f16 [ldy] packed (read only when flags has BIAS).
// W's words are F16Pair, read with f16_pair: both defined by the pipeline cache
// (pipelines.ts), a u32 unpacked, or a native vec2<f16> where the device has shader-f16.
//
// Workgroup: 256 threads in 4 groups of 64, one output feature per group. A group strides
// along its feature's packed row, consecutive threads reading consecutive u32 words
// (coalesced), each thread keeping ROWS f32 partial sums; then a tree reduction in shared
// memory. With K even a word is the pair (k, k + 1) of one row (K_EVEN); with K odd rows
// start mid-word, so elements are read one at a time.

override ROWS: u32 = 1u;
override K_EVEN: bool = true;

const WG = 256u;
const GROUP = 64u;
const OUTS = WG / GROUP;
const MAX_ROWS = 8u;

const BIAS = 1u;
const GELU = 2u;
const ACCUMULATE = 4u;

struct Params {
  n: u32,    // output features in this weight chunk
  k: u32,
  ldy: u32,  // row stride of y
  n0: u32,   // first feature of this chunk
  flags: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<F16Pair>;
@group(0) @binding(4) var<storage, read> bias: array<u32>;

var<workgroup> partial: array<f32, ROWS * WG>;

fn gelu_tanh(v: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0);
  return 0.5 * v * (1.0 + tanh(u));
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let lane = lid % GROUP;
  let n = (wid.y * groups.x + wid.x) * OUTS + lid / GROUP;

  var acc: array<f32, MAX_ROWS>;
  if (n < p.n) {
    if (K_EVEN) {
      let words = p.k / 2u;
      let row = n * words;
      for (var i = lane; i < words; i += GROUP) {
        let pair = f16_pair(w[row + i]);
        for (var r = 0u; r < ROWS; r++) {
          let at = r * p.k + 2u * i;
          acc[r] = fma(x[at], pair.x, fma(x[at + 1u], pair.y, acc[r]));
        }
      }
    } else {
      for (var k = lane; k < p.k; k += GROUP) {
        let e = n * p.k + k;
        let h = f16_pair(w[e >> 1u])[e & 1u];
        for (var r = 0u; r < ROWS; r++) {
          acc[r] = fma(x[r * p.k + k], h, acc[r]);
        }
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    partial[r * WG + lid] = acc[r];
  }
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      for (var r = 0u; r < ROWS; r++) {
        partial[r * WG + lid] += partial[r * WG + lid + stride];
      }
    }
    workgroupBarrier();
  }

  if (lane == 0u && n < p.n) {
    let col = p.n0 + n;
    for (var r = 0u; r < ROWS; r++) {
      var v = partial[r * WG + lid];
      if ((p.flags & BIAS) != 0u) {
        v += unpack2x16float(bias[col >> 1u])[col & 1u];
      }
      if ((p.flags & GELU) != 0u) {
        v = gelu_tanh(v);
      }
      let at = r * p.ldy + col;
      if ((p.flags & ACCUMULATE) != 0u) {
        v += y[at];
      }
      y[at] = v;
    }
  }
}
