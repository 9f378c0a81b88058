// gemv: y[r, n0 + n] = epilogue(Σ_k x[r, k] · W[n, k] + bias[n0 + n]) for a few rows
// (ROWS <= 8: decode, one row per batch entry). Here the weight is read exactly once and
// memory bandwidth is the whole cost, so the layout serves the weight reads.
//
// Bindings: 0 params (uniform), 1 y f32 [ROWS, ldy] read_write, 2 x f32 [ROWS, K],
// 3 w: this chunk's rows of W [N, K], f16 packed two per u32 (element e is half e & 1 of
// word e >> 1), 4 bias f16 [ldy] packed (read only when flags has BIAS), 5 norm f16 [K]
// packed (read only with NORM).
// Fusions, as override constants: NORM: x is Gemma's RMSNorm of the input, computed on
// the way: each group also sums x² over the row it strides (every group reads all of x),
// multiplies x by (1 + norm) and scales the dot by 1/sqrt(mean(x²) + eps), so no
// normalized copy of x is written. PAIRS (GeGLU): each group takes the weight rows 2n
// and 2n + 1 (gate_n, up_n, interleaved at load) and stores gelu(gate)·up at column n:
// x is read once for both. flags SOFTCAP: cap·tanh(v / cap) on the result.
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
override NORM: bool = false;
override PAIRS: bool = false;

const WG = 256u;
const GROUP = 64u;
const OUTS = WG / GROUP;
const MAX_ROWS = 8u;

const BIAS = 1u;
const GELU = 2u;
const ACCUMULATE = 4u;
const SOFTCAP = 16u;

struct Params {
  n: u32,    // outputs in this weight chunk (features; with PAIRS, row pairs)
  k: u32,
  ldy: u32,  // row stride of y
  n0: u32,   // first output of this chunk
  flags: u32,
  eps: f32,  // NORM's epsilon
  cap: f32,  // SOFTCAP's cap
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<F16Pair>;
@group(0) @binding(4) var<storage, read> bias: array<u32>;
@group(0) @binding(5) var<storage, read> norm: array<u32>;

var<workgroup> partial: array<f32, ROWS * WG>;

fn gelu_tanh(v: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0);
  return 0.5 * v * (1.0 + tanh(u));
}

/** (1 + norm[k], 1 + norm[k + 1]) for even k with NORM, else (1, 1). */
fn gain2(k: u32) -> vec2<f32> {
  if (NORM) {
    return 1.0 + unpack2x16float(norm[k >> 1u]);
  }
  return vec2<f32>(1.0);
}

fn gain(k: u32) -> f32 {
  if (NORM) {
    return 1.0 + unpack2x16float(norm[k >> 1u])[k & 1u];
  }
  return 1.0;
}

/** A group's sums (valid on its lane 0). Called in uniform control flow: it holds barriers. */
fn group_sum(acc: array<f32, MAX_ROWS>, lid: u32, lane: u32) -> array<f32, MAX_ROWS> {
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
  var sums: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    sums[r] = partial[r * WG + lid];
  }
  workgroupBarrier(); // the next call writes partial again
  return sums;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let lane = lid % GROUP;
  let n = (wid.y * groups.x + wid.x) * OUTS + lid / GROUP;
  // The weight row this group reads (with PAIRS, also the next one).
  let wrow = select(n, 2u * n, PAIRS);

  var acc: array<f32, MAX_ROWS>;
  var acc2: array<f32, MAX_ROWS>;
  var ss: array<f32, MAX_ROWS>;
  if (n < p.n) {
    if (K_EVEN) {
      let words = p.k / 2u;
      let row = wrow * words;
      for (var i = lane; i < words; i += GROUP) {
        let pair = f16_pair(w[row + i]);
        var pair2 = vec2<f32>(0.0);
        if (PAIRS) {
          pair2 = f16_pair(w[row + words + i]);
        }
        let g = gain2(2u * i);
        for (var r = 0u; r < ROWS; r++) {
          let at = r * p.k + 2u * i;
          let xv = vec2<f32>(x[at], x[at + 1u]);
          if (NORM) {
            ss[r] = fma(xv.x, xv.x, fma(xv.y, xv.y, ss[r]));
          }
          let xg = xv * g;
          acc[r] = fma(xg.x, pair.x, fma(xg.y, pair.y, acc[r]));
          if (PAIRS) {
            acc2[r] = fma(xg.x, pair2.x, fma(xg.y, pair2.y, acc2[r]));
          }
        }
      }
    } else {
      for (var k = lane; k < p.k; k += GROUP) {
        let e = wrow * p.k + k;
        let h = f16_pair(w[e >> 1u])[e & 1u];
        var h2 = 0.0;
        if (PAIRS) {
          h2 = f16_pair(w[(e + p.k) >> 1u])[(e + p.k) & 1u];
        }
        let g = gain(k);
        for (var r = 0u; r < ROWS; r++) {
          let xv = x[r * p.k + k];
          if (NORM) {
            ss[r] = fma(xv, xv, ss[r]);
          }
          acc[r] = fma(xv * g, h, acc[r]);
          if (PAIRS) {
            acc2[r] = fma(xv * g, h2, acc2[r]);
          }
        }
      }
    }
  }

  let sums = group_sum(acc, lid, lane);
  var sums2: array<f32, MAX_ROWS>;
  if (PAIRS) {
    sums2 = group_sum(acc2, lid, lane);
  }
  var squares: array<f32, MAX_ROWS>;
  if (NORM) {
    squares = group_sum(ss, lid, lane);
  }

  if (lane == 0u && n < p.n) {
    let col = p.n0 + n;
    for (var r = 0u; r < ROWS; r++) {
      var v = sums[r];
      var u = sums2[r];
      if (NORM) {
        let inv = inverseSqrt(squares[r] / f32(p.k) + p.eps);
        v *= inv;
        u *= inv;
      }
      if ((p.flags & BIAS) != 0u) {
        v += unpack2x16float(bias[col >> 1u])[col & 1u];
      }
      if ((p.flags & GELU) != 0u) {
        v = gelu_tanh(v);
      }
      if (PAIRS) {
        v = gelu_tanh(v) * u;
      }
      if ((p.flags & SOFTCAP) != 0u) {
        v = p.cap * tanh(clamp(v / p.cap, -10.0, 10.0));
      }
      let at = r * p.ldy + col;
      if ((p.flags & ACCUMULATE) != 0u) {
        v += y[at];
      }
      y[at] = v;
    }
  }
}
