// gemv with subgroups: the same op and bindings (F16Pair words included) as gemv.wgsl
// (read its header), for devices with the `subgroups` feature. A feature's partial sums
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

const WG = 128u;
const OUTS = 4u;
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

fn gelu_tanh(v: f32) -> f32 {
  // tanh's argument is clamped: |u| > 10 is ±1 in f32, and some tanh overflow beyond.
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0);
  return 0.5 * v * (1.0 + tanh(u));
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
    var acc: array<f32, MAX_ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      acc[r] = 0.0; // zeroed explicitly: a loop-body var may keep its last value on some compilers
    }
    if (n < p.n) {
      if (K_EVEN) {
        let words = p.k / 2u;
        for (var i = lane; i < words; i += lanes) {
          let pair = f16_pair(w[n * words + i]);
          for (var r = 0u; r < ROWS; r++) {
            let at = r * p.k + 2u * i;
            acc[r] = fma(x[at], pair.x, fma(x[at + 1u], pair.y, acc[r]));
          }
        }
      } else {
        for (var k = lane; k < p.k; k += lanes) {
          let e = n * p.k + k;
          let h = f16_pair(w[e >> 1u])[e & 1u];
          for (var r = 0u; r < ROWS; r++) {
            acc[r] = fma(x[r * p.k + k], h, acc[r]);
          }
        }
      }
    }
    let col = p.n0 + n;
    for (var r = 0u; r < ROWS; r++) {
      var v = subgroupAdd(acc[r]);
      if (lane == 0u && n < p.n) {
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
}
