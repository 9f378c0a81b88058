// gemv with subgroups: the same op, bindings (F16Pair words included) and fusions (NORM,
// PAIRS, SOFTCAP) as gemv.wgsl (read its header), for devices with the `subgroups` feature. A feature's partial sums
// are added with subgroupAdd instead of a tree in shared memory, so there is no shared
// memory and no barrier (on SwiftShader, a CPU, a barrier costs far more than the work
// around it).
//
// Workgroup: 128 threads; each subgroup takes whole features (OUTS = 4 per workgroup,
// taken in turn when there are fewer subgroups than features) and its lanes stride along
// the feature's packed row, consecutive lanes reading consecutive u32 words (coalesced).
// 128 / 4 makes each of 4 subgroups of 32 (NVIDIA, Apple, RDNA) take one feature; wider
// subgroups take several in turn, narrower ones leave some subgroups idle.
// Subgroups are assumed to be consecutive runs of local_invocation_index, as they are on
// every implementation (WGSL leaves it unspecified), hence the uniformity diagnostic off.

enable subgroups;
diagnostic(off, subgroup_uniformity);

override ROWS: u32 = 1u;
override K_EVEN: bool = true;
override NORM: bool = false;
override PAIRS: bool = false;

const WG = 128u;
const OUTS = 4u;
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

fn gelu_tanh(v: f32) -> f32 {
  // tanh's argument is clamped: |u| > 10 is ±1 in f32, and some tanh overflow beyond.
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

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_size) subgroup_size: u32,
) {
  let lanes = min(subgroup_size, WG);
  let lane = lid % lanes;
  let first = (wid.y * groups.x + wid.x) * OUTS;
  for (var f = lid / lanes; f < OUTS; f += WG / lanes) {
    let n = first + f;
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
    if (n < p.n) {
      if (K_EVEN) {
        let words = p.k / 2u;
        for (var i = lane; i < words; i += lanes) {
          let pair = f16_pair(w[wrow * words + i]);
          var pair2 = vec2<f32>(0.0);
          if (PAIRS) {
            pair2 = f16_pair(w[(wrow + 1u) * words + i]);
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
    let col = p.n0 + n;
    for (var r = 0u; r < ROWS; r++) {
      var v = subgroupAdd(acc[r]);
      var u = 0.0;
      if (PAIRS) {
        u = subgroupAdd(acc2[r]);
      }
      var squares = 0.0;
      if (NORM) {
        squares = subgroupAdd(ss[r]);
      }
      if (lane == 0u && n < p.n) {
        if (NORM) {
          let inv = inverseSqrt(squares / f32(p.k) + p.eps);
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
}
