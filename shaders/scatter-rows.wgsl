// scatterRows: dst[idx[r], :] = scale * src[r, :] for r < rows; rows of `width` elements.
// Bindings: 0 params, 1 dst f32 read_write, 2 idx i32 [rows], 3 src f32 [rows, width].
// One element per thread, 2-D grid of 256-thread workgroups.

const WG = 256u;

struct Params {
  rows: u32,
  width: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i < p.rows * p.width) {
    dst[u32(idx[i / p.width]) * p.width + i % p.width] = p.scale * src[i];
  }
}
