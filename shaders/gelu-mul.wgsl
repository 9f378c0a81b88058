// geluMul over interleaved pairs (Gemma's GeGLU after a many-row linear over the joined
// gate/up weight, whose rows are interleaved, so each row of its output is
// gate_0, up_0, gate_1, up_1, ...): y[i] = gelu_tanh(gu[2i]) * gu[2i + 1] for i < n.
// (A GEMV fuses this into its epilogue: gemv*.wgsl's PAIRS.)
// Bindings: 0 params, 1 y f32 [n] read_write, 2 gu f32 [2n].
// One element per thread, 256 per workgroup; the grid is 2-D so that n may exceed
// 65535 workgroups (i = (wid.y * groups.x + wid.x) * 256 + lid).

const WG = 256u;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> gu: array<f32>;

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
) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i < p.n) {
    y[i] = gelu_tanh(gu[2u * i]) * gu[2u * i + 1u];
  }
}
