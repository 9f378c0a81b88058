// attention-merge: out[t, h] = Σ_s e_s · o_s[t, h] / Σ_s e_s · l_s[t, h], e_s = exp(m_s - M),
// M = max_s m_s: the S split-key partials of attention.wgsl (p.splits > 1) combined into
// the softmax over all of a query's keys, exactly as the online softmax would have
// rescaled them had one workgroup seen every tile. A query with no visible key (l = 0
// everywhere) gets 0, as the unsplit kernel writes.
//
// Bindings: 0 params, 1 out f32 [rows, heads, HD], 2 partial o f32 [S, rows, heads, HD],
// both through load_partial / store_out as in attention.wgsl (vec4s, or f32s in fours when
// HD % 4 != 0), 3 stats vec2<f32> (m, l) [S, rows, heads].
// One thread per output vec4 (HD4 per row), 2-D grid as in gelu-mul; a thread reads the
// S stats of its (t, h) and one vec4 per split: consecutive threads, consecutive vec4s.

override HD: u32 = 64u;
override HD4: u32 = (HD + 3u) / 4u;
const WG = 64u;

struct Params {
  rows: u32,
  heads: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<Elem>;
@group(0) @binding(2) var<storage, read> partial: array<Elem>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  let per_split = p.rows * p.heads; // (t, h) pairs
  if (i >= per_split * HD4) {
    return;
  }
  let th = i / HD4;
  let d = i % HD4;
  var m = -1e30;
  for (var s = 0u; s < p.splits; s++) {
    m = max(m, stats[s * per_split + th].x);
  }
  var l = 0.0;
  var o = vec4<f32>(0.0);
  for (var s = 0u; s < p.splits; s++) {
    let st = stats[s * per_split + th];
    let e = exp(st.x - m);
    l += e * st.y;
    o += e * load_partial(s * per_split + th, d);
  }
  store_out(th, d, select(vec4<f32>(0.0), o / l, l > 0.0));
}
