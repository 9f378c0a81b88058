// patchify: im2col for SigLIP's stride-P, kernel-P patch conv.
//   pixels [B, C, S, S] -> y [B * G², C*P*P] with G = S / P; row (b, gy, gx) row-major over
//   the grid, column (c, py, px) like a PyTorch conv weight [D, C, P, P] flattened.
// Bindings: 0 params, 1 y f32 read_write, 2 pixels f32.
// One output element per thread (writes coalesced; reads are P-long runs), 2-D grid.

const WG = 256u;

struct Params {
  batch: u32,
  channels: u32,
  size: u32,   // S
  patch_size: u32,  // P
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> pixels: array<f32>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  let grid = p.size / p.patch_size;
  let width = p.channels * p.patch_size * p.patch_size;
  if (i >= p.batch * grid * grid * width) {
    return;
  }
  let row = i / width;
  let col = i % width;
  let c = col / (p.patch_size * p.patch_size);
  let py = (col / p.patch_size) % p.patch_size;
  let px = col % p.patch_size;
  let b = row / (grid * grid);
  let gy = (row / grid) % grid;
  let gx = row % grid;
  y[i] = pixels[((b * p.channels + c) * p.size + gy * p.patch_size + py) * p.size + gx * p.patch_size + px];
}
