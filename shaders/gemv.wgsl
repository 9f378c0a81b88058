// gemv: y[r, n0 + n] = epilogue(Σ_k x[r, k] · W[n, k] + bias[n0 + n]) for a few rows
// (ROWS <= 8: decode, one row per batch entry). Here the weight is read exactly once and
// memory bandwidth is the whole cost, so the layout serves the weight reads.
//
// Bindings: 0 params (uniform), 1 y f32 [ROWS, ldy] read_write, 2 x f32 [ROWS, K],
// 3 w: this chunk's rows of W [N, K], f16 packed two per u32 (element e is half e & 1 of
// word e >> 1), 4 bias f16 [ldy] packed (read only when flags has BIAS), 5 norm f16 [K]
// packed (read only with NORM).
// Fusions, as override constants: NORM: x is Gemma's RMSNorm of the input, computed on
// the way: each team also sums x² over the row it strides (every team reads all of x),
// multiplies x by (1 + norm) and scales the dot by 1/sqrt(mean(x²) + eps), so no
// normalized copy of x is written. PAIRS (GeGLU): each team takes the weight rows 2n
// and 2n + 1 (gate_n, up_n, interleaved at load) and stores gelu(gate)·up at column n:
// x is read once for both. flags SOFTCAP: cap·tanh(v / cap) on the result.
// The epilogue (NORM's scaling, bias, GELU, PAIRS, SOFTCAP, ACCUMULATE) is gemv-out.wgsl's
// finish_feature, shared with gemv-q.wgsl and appended by the pipeline cache.
// W's words are F16Pair, read with f16_pair: both defined by the pipeline cache
// (pipelines.ts), a u32 unpacked, or a native vec2<f16> where the device has shader-f16.
//
// Workgroup: teams of lanes, one output feature per team per turn (OUTS = 4 per workgroup).
// A team strides along its feature's packed row, consecutive lanes reading consecutive u32
// words (coalesced), each lane keeping ROWS f32 partial sums, which team_sum then adds.
// The pipeline cache (pipelines.ts) appends the team (Invocation, team_lanes, team_sum):
// - with subgroups: 128 threads, a team is a subgroup, added with subgroupAdd (no shared
//   memory, no barrier: on SwiftShader, a CPU, a barrier costs far more than the work
//   around it). 128 / 4 makes each of 4 subgroups of 32 (NVIDIA, Apple, RDNA) take one
//   feature; wider subgroups take several in turn, narrower ones leave some idle.
// - without: 256 threads in 4 teams of 64, added by a tree in shared memory.
// With K even a word is the pair (k, k + 1) of one row (K_EVEN); with K odd rows start
// mid-word, so elements are read one at a time.

override ROWS: u32 = 1u;
override K_EVEN: bool = true;
override NORM: bool = false;
override PAIRS: bool = false;

const WG = select(256u, 128u, SUBGROUPS); // SUBGROUPS from the team (see above)
const TEAM = 64u; // the team's width in shared memory
const OUTS = 4u;
const MAX_ROWS = 8u;

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

@compute @workgroup_size(WG)
fn main(i: Invocation) {
  let lanes = team_lanes(i);
  let lane = i.lid % lanes;
  let teams = WG / lanes;
  let first = (i.wid.y * i.groups.x + i.wid.x) * OUTS;
  // A uniform loop (lanes is), so finish_feature's team_sum may hold a barrier.
  for (var turn = 0u; turn * teams < OUTS; turn++) {
    let f = turn * teams + i.lid / lanes;
    let n = first + f;
    // The weight row this team reads (with PAIRS, also the next one).
    let wrow = select(n, 2u * n, PAIRS);
    var acc: array<f32, MAX_ROWS>;
    var acc2: array<f32, MAX_ROWS>;
    var ss: array<f32, MAX_ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      // zeroed explicitly: a loop-body var may keep its last value on some compilers
      acc[r] = 0.0;
      acc2[r] = 0.0;
      ss[r] = 0.0;
    }
    if (f < OUTS && n < p.n) {
      if (K_EVEN) {
        let words = p.k / 2u;
        let row = wrow * words;
        for (var j = lane; j < words; j += lanes) {
          let pair = f16_pair(w[row + j]);
          var pair2 = vec2<f32>(0.0);
          if (PAIRS) {
            pair2 = f16_pair(w[row + words + j]);
          }
          let g = gain2(2u * j);
          for (var r = 0u; r < ROWS; r++) {
            let at = r * p.k + 2u * j;
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
        for (var k = lane; k < p.k; k += lanes) {
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
    finish_feature(n, lane == 0u && f < OUTS && n < p.n, acc, acc2, ss, i.lid, lanes);
  }
}
