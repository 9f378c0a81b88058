// softcap: x[i] = cap * tanh(x[i] / cap) in place for i < n (Gemma 2's logit caps).
// Bindings: 0 params, 1 x f32 read_write. One element per thread, 2-D grid as in gelu-mul.

const WG = 256u;

struct Params {
  n: u32,
  cap: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i < p.n) {
    // Clamped: tanh is ±1 in f32 beyond 10, and some implementations overflow there.
    x[i] = p.cap * tanh(clamp(x[i] / p.cap, -10.0, 10.0));
  }
}
