// argmax: ids[r] = the index of the largest logits[r, 0:vocab], the lowest index on ties.
// Bindings: 0 params, 1 ids i32 [rows] read_write, 2 logits f32 [rows, vocab].
// One 256-thread workgroup per row (2-D grid: row = wid.y * groups.x + wid.x): each
// thread scans a strided slice (coalesced), keeping
// its first maximum; a tree reduction in shared memory keeps the larger value, or the
// lower index when equal.

const WG = 256u;

struct Params {
  rows: u32,
  vocab: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> ids: array<i32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;

var<workgroup> best_value: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.y * groups.x + wid.x;
  if (row >= p.rows) {
    return; // the whole workgroup leaves together: the barriers below stay uniform
  }
  let base = row * p.vocab;
  var value = -3.4028234663852886e38;
  var index = 0xffffffffu;
  for (var j = lid; j < p.vocab; j += WG) {
    let v = logits[base + j];
    if (v > value || index == 0xffffffffu) {
      value = v;
      index = j;
    }
  }
  best_value[lid] = value;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let v = best_value[lid + stride];
      let i = best_index[lid + stride];
      if (v > best_value[lid] || (v == best_value[lid] && i < best_index[lid])) {
        best_value[lid] = v;
        best_index[lid] = i;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    ids[row] = i32(best_index[0]);
  }
}
