// embed: y[r, :] = (accumulate ? y[r, :] : 0) + scale * table[ids[r], :] for r < rows.
// The table [V, D] may be split into row chunks (a weight larger than one binding): a
// dispatch sees rows [v0, v0 + count) of it and writes only the rows whose id falls
// there, so one dispatch per chunk writes every row exactly once.
// Bindings: 0 params, 1 y f32 [rows, D] read_write, 2 ids i32 [rows], 3 table chunk: f16
// packed two per u32 (element e is half e & 1 of word e >> 1; chunks start at even
// elements), or with F32 one f32 per word, or with BITS = 4 / 8 quantized qweight words
// (src/weights/quantize.ts: rows of Dp / 32 groups of BITS words, q4 nibbles holding
// q + 8, q8 two's-complement bytes, both low first), 4 the quantized chunk's scales:
// f16 [count, Dp / 32] packed two per u32 (chunks start on even scales; unread otherwise).
// One element of y per thread, 2-D grid of 256-thread workgroups.

override F32: bool = false;
override BITS: u32 = 0u;

const WG = 256u;

struct Params {
  rows: u32,
  dim: u32,
  v0: u32,     // first table row in this chunk
  count: u32,  // table rows in this chunk
  scale: f32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read> table: array<u32>;
@group(0) @binding(4) var<storage, read> scales: array<u32>;

/** Element d of quantized table row `row`: q · scale. */
fn dequantized(row: u32, d: u32) -> f32 {
  let groups = (p.dim + 31u) / 32u;
  let per_word = 32u / max(BITS, 1u); // max: BITS = 0 pipelines compile this too
  let raw = (table[row * groups * BITS + d / per_word] >> ((d % per_word) * BITS)) & ((1u << BITS) - 1u);
  var q: f32;
  if (BITS == 4u) {
    q = f32(raw) - 8.0;
  } else {
    q = f32(bitcast<i32>(raw << 24u) >> 24u);
  }
  let s = row * groups + d / 32u;
  return q * unpack2x16float(scales[s >> 1u])[s & 1u];
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i >= p.rows * p.dim) {
    return;
  }
  let local = ids[i / p.dim] - i32(p.v0);
  if (local < 0 || u32(local) >= p.count) {
    return;
  }
  let e = u32(local) * p.dim + i % p.dim;
  var v: f32;
  if (BITS != 0u) {
    v = p.scale * dequantized(u32(local), i % p.dim);
  } else if (F32) {
    v = p.scale * bitcast<f32>(table[e]);
  } else {
    v = p.scale * unpack2x16float(table[e >> 1u])[e & 1u];
  }
  if (p.accumulate != 0u) {
    v += y[i];
  }
  y[i] = v;
}
