// gemv: y[r, n0 + n] = epilogue(Σ_k x[r, k] · W[n, k] + bias[n0 + n]) for a few rows
// (ROWS <= 8: decode, one row per batch entry). Here the weight is read exactly once and
// memory bandwidth is the whole cost, so the layout serves the weight reads.
//
// Bindings: 0 params (uniform), 1 y f32 [ROWS, ldy] read_write, 2 x f32 [ROWS, K],
// 3 w: this chunk's rows of W [N, K], f16 packed two per u32 (element e is half e & 1 of
// word e >> 1), bound as vec4<u32> (word e is component e & 3 of vec4 e >> 2; each chunk
// is its own buffer, bound whole, so a vec4 is 16-byte aligned), 4 bias f16 [ldy] packed
// (read only when flags has BIAS), 5 norm f16 [K] packed (read only with NORM).
// Fusions, as override constants: NORM: x is Gemma's RMSNorm of the input, computed on
// the way: each team also sums x² over the row it strides (every team reads all of x),
// multiplies x by (1 + norm) and scales the dot by 1/sqrt(mean(x²) + eps), so no
// normalized copy of x is written. PAIRS (GeGLU): each team takes the weight rows 2n
// and 2n + 1 (gate_n, up_n, interleaved at load) and stores gelu(gate)·up at column n:
// x is read once for both. flags SOFTCAP: cap·tanh(v / cap) on the result.
// Residual (modules `gemv.residual`, LinearOptions.residual): the input is x plus the
// normalized residual add, and one team stores it; bindings 6 add f32 [ROWS, K], 7 its norm
// f16 [K] packed, 8 out f32 [ROWS, K] read_write (pipelines.ts's INPUTS says how).
// x is read through gemv-in.wgsl (x4, gain4: shared with gemv-q.wgsl), the epilogue
// (NORM's scaling, bias, GELU, PAIRS, SOFTCAP, ACCUMULATE) is gemv-out.wgsl's
// finish_feature; the pipeline cache appends both. Weight words are unpacked
// (unpack2x16float) with or without shader-f16 (pipelines.ts says why).
//
// Workgroup: teams of lanes, one output feature per team per turn (OUTS = 4 per workgroup).
// A team strides along its feature's row, consecutive lanes loading consecutive words
// (coalesced), each lane keeping ROWS f32 partial sums, which team_sum then adds. LOAD is
// how many halves a lane loads at once: 8 (one vec4<u32>, 16 bytes) where K % 8 == 0, so
// that every row starts on a vec4, and K >= 512, so that every lane of the widest team (64)
// gets a load (on shorter rows most lanes would idle while a few ran 8-wide: SwiftShader
// ran the demo model's K = 128 GEMVs 30% slower so); else 2 (one u32: K even, rows start
// on a word); else 1 (K odd: rows start mid-word, elements are read one at a time).
// The pipeline cache (pipelines.ts) appends the team (Invocation, team_lanes, team_sum):
// - with subgroups: 128 threads, a team is a subgroup, added with subgroupAdd (no shared
//   memory, no barrier: on SwiftShader, a CPU, a barrier costs far more than the work
//   around it). 128 / 4 makes each of 4 subgroups of 32 (NVIDIA, Apple, RDNA) take one
//   feature; wider subgroups take several in turn, narrower ones leave some idle.
// - without: 256 threads in 4 teams of 64, added by a tree in shared memory.

override ROWS: u32 = 1u;
override LOAD: u32 = 8u;
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
@group(0) @binding(3) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> bias: array<u32>;
@group(0) @binding(5) var<storage, read> norm: array<u32>;

/** Elements e and e + 1 of the chunk (e even). */
fn pair(e: u32) -> vec2<f32> {
  return unpack2x16float(w[e >> 3u][(e >> 1u) & 3u]);
}

/** Element e of the chunk. */
fn half(e: u32) -> f32 {
  return pair(e & ~1u)[e & 1u];
}

@compute @workgroup_size(WG)
fn main(i: Invocation) {
  let lanes = team_lanes(i);
  let lane = i.lid % lanes;
  let teams = WG / lanes;
  let first = (i.wid.y * i.groups.x + i.wid.x) * OUTS;
  // The input's prologue (with the residual add: its norm; x' kept by one team), once.
  start_input(i.lid, lanes, first == 0u && p.n0 == 0u && i.lid < lanes);
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
      if (LOAD == 8u) {
        let quads = p.k / 8u;
        for (var j = lane; j < quads; j += lanes) {
          let q = w[wrow * quads + j];
          let lo = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
          let hi = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
          var lo2 = vec4<f32>(0.0);
          var hi2 = vec4<f32>(0.0);
          if (PAIRS) {
            let q2 = w[(wrow + 1u) * quads + j];
            lo2 = vec4<f32>(unpack2x16float(q2.x), unpack2x16float(q2.y));
            hi2 = vec4<f32>(unpack2x16float(q2.z), unpack2x16float(q2.w));
          }
          let k = 8u * j;
          let g0 = gain4(k);
          let g1 = gain4(k + 4u);
          for (var r = 0u; r < ROWS; r++) {
            let a = x4(r, k);
            let b = x4(r, k + 4u);
            if (NORM) {
              ss[r] += dot(a, a) + dot(b, b);
            }
            let ag = a * g0;
            let bg = b * g1;
            acc[r] += dot(ag, lo) + dot(bg, hi);
            if (PAIRS) {
              acc2[r] += dot(ag, lo2) + dot(bg, hi2);
            }
          }
        }
      } else if (LOAD == 2u) {
        let row = wrow * p.k;
        for (var k = 2u * lane; k < p.k; k += 2u * lanes) {
          let h = pair(row + k);
          var h2 = vec2<f32>(0.0);
          if (PAIRS) {
            h2 = pair(row + p.k + k);
          }
          let g = vec2<f32>(gain(k), gain(k + 1u));
          for (var r = 0u; r < ROWS; r++) {
            let xv = vec2<f32>(x1(r, k), x1(r, k + 1u));
            if (NORM) {
              ss[r] += dot(xv, xv);
            }
            let xg = xv * g;
            acc[r] += dot(xg, h);
            if (PAIRS) {
              acc2[r] += dot(xg, h2);
            }
          }
        }
      } else {
        for (var k = lane; k < p.k; k += lanes) {
          let e = wrow * p.k + k;
          let h = half(e);
          var h2 = 0.0;
          if (PAIRS) {
            h2 = half(e + p.k);
          }
          let g = gain(k);
          for (var r = 0u; r < ROWS; r++) {
            let xv = x1(r, k);
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
