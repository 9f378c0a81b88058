// gemv-q: y[r, n0 + n] = epilogue(Σ_k x[r, k] · q[n, k] · scale[n, k / 32] + bias[n0 + n])
// for a few rows (ROWS <= 8: decode) over a quantized weight (src/weights/quantize.ts):
// the same op as gemv.wgsl, reading BITS = 4 or 8 bits per weight instead of 16, and
// dequantizing in registers. Memory bandwidth is the whole cost, so the weight is read
// once, 16 bytes per thread per load, and never widened in memory.
//
// Bindings: 0 params (uniform), 1 y f32 [ROWS, ldy] read_write, 2 x f32 [ROWS, K],
// 3 w: this chunk's qweight rows as vec4<u32>: a row is Kp / 32 groups of BITS / 4 vec4s
// (q4: one vec4 = 32 nibbles, element k is nibble k % 8 of word k / 8, low first, holding
// q + 8; q8: two vec4s = 32 bytes, little-endian, two's complement); rows are whole
// vec4s, so every load is aligned. 4 scales: f16 [rows, Kp / 32] packed two per u32
// (chunks start on even scales). 5 bias f16 [ldy] packed (read only when flags has BIAS).
//
// Workgroup: 128 threads in teams, one output feature per team per turn (OUTS = 4 per
// workgroup). A team's lanes take whole groups in turn (consecutive lanes, consecutive
// 16-byte loads: coalesced), read the group's scale once, and keep ROWS f32 sums; the
// team's sums are then added by team_sum. The pipeline cache (pipelines.ts) appends the
// team: a subgroup, added with subgroupAdd, where the device has subgroups; else 32
// lanes, added by a tree in shared memory. Elements past K (the padded last group) are
// multiplied by x = 0, whatever the padding holds.
// Fusions NORM, PAIRS and flags SOFTCAP as in gemv.wgsl (read its header); binding 6 norm
// f16 [K] packed (read only with NORM). Residual as in gemv.wgsl, bindings 7 add, 8 its
// norm, 9 out.
// x is read through gemv-in.wgsl (x4, gain4), the epilogue is gemv-out.wgsl's
// finish_feature: both shared with gemv.wgsl.

override ROWS: u32 = 1u;
override BITS: u32 = 4u;
override NORM: bool = false;
override PAIRS: bool = false;

const WG = 128u;
const OUTS = 4u;
const TEAM = 32u; // the team's width in shared memory
const MAX_ROWS = 8u;
const GROUP = 32u;

struct Params {
  n: u32,       // outputs in this weight chunk (features; with PAIRS, row pairs)
  k: u32,
  ldy: u32,     // row stride of y
  n0: u32,      // first output of this chunk
  flags: u32,
  groups: u32,  // groups (scales) per row: Kp / 32
  eps: f32,     // NORM's epsilon
  cap: f32,     // SOFTCAP's cap
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> scales: array<u32>;
@group(0) @binding(5) var<storage, read> bias: array<u32>;
@group(0) @binding(6) var<storage, read> norm: array<u32>;

/** Four q4 values of a word from nibble `first` on. */
fn q4(word: u32, first: u32) -> vec4<f32> {
  let shifts = vec4<u32>(0u, 4u, 8u, 12u) + 4u * first;
  return vec4<f32>((vec4<u32>(word) >> shifts) & vec4<u32>(15u)) - 8.0;
}

/** The four q8 values of a word. */
fn q8(word: u32) -> vec4<f32> {
  let bytes = bitcast<vec4<i32>>(vec4<u32>(word) << vec4<u32>(24u, 16u, 8u, 0u));
  return vec4<f32>(bytes >> vec4<u32>(24u));
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
      for (var g = lane; g < p.groups; g += lanes) {
        let at = wrow * p.groups + g;
        let s = unpack2x16float(scales[at >> 1u])[at & 1u];
        var s2 = 0.0;
        if (PAIRS) {
          s2 = unpack2x16float(scales[(at + p.groups) >> 1u])[(at + p.groups) & 1u];
        }
        var part: array<f32, MAX_ROWS>;
        var part2: array<f32, MAX_ROWS>;
        for (var r = 0u; r < ROWS; r++) {
          part[r] = 0.0;
          part2[r] = 0.0;
        }
        for (var v = 0u; v < BITS / 4u; v++) {
          let words = w[at * (BITS / 4u) + v];
          var words2 = vec4<u32>(0u);
          if (PAIRS) {
            words2 = w[(at + p.groups) * (BITS / 4u) + v];
          }
          for (var j = 0u; j < 4u; j++) {
            let k = g * GROUP + (4u * v + j) * (32u / BITS);
            if (BITS == 4u) {
              let lo = q4(words[j], 0u);
              let hi = q4(words[j], 4u);
              let lo2 = q4(words2[j], 0u);
              let hi2 = q4(words2[j], 4u);
              let g0 = gain4(k);
              let g1 = gain4(k + 4u);
              for (var r = 0u; r < ROWS; r++) {
                let a = x4(r, k);
                let b = x4(r, k + 4u);
                if (NORM) {
                  ss[r] += dot(a, a) + dot(b, b);
                }
                part[r] += dot(lo, a * g0) + dot(hi, b * g1);
                if (PAIRS) {
                  part2[r] += dot(lo2, a * g0) + dot(hi2, b * g1);
                }
              }
            } else {
              let q = q8(words[j]);
              let q2 = q8(words2[j]);
              let g0 = gain4(k);
              for (var r = 0u; r < ROWS; r++) {
                let a = x4(r, k);
                if (NORM) {
                  ss[r] += dot(a, a);
                }
                part[r] += dot(q, a * g0);
                if (PAIRS) {
                  part2[r] += dot(q2, a * g0);
                }
              }
            }
          }
        }
        for (var r = 0u; r < ROWS; r++) {
          acc[r] = fma(s, part[r], acc[r]);
          acc2[r] = fma(s2, part2[r], acc2[r]);
        }
      }
    }
    finish_feature(n, lane == 0u && f < OUTS && n < p.n, acc, acc2, ss, i.lid, lanes);
  }
}
