// attention: out[t, h] = Σ_j softmax_j(cap(scale · q[t, h] · k[base + j, h / G])) · v[base + j, h / G]
// over the keys j a query sees, streamed over tiles of 64 keys with an online softmax:
// no rows × keys score matrix exists, so 4k-key prefixes cost no more memory than 64 keys.
//
// placement i32 [rows, 3] (the op's `meta`) = (base, slot, prefix) per query row t: key j
// is visible iff j <= slot || j < prefix, which is exactly j < max(slot + 1, prefix); keys
// live at rows base + j of k and v (a batch row's region of the KV cache, or one image).
// Sliding window (p.window > 0, Gemma 2): key j is visible only if also j > slot - window,
// a per-slot lower bound `slot_lo`: tiles start at the lowest one in the workgroup and keys
// below a slot's bound get weight 0, so it is still one stream over keys.
//
// Layouts: q, out [rows, heads, HD]; k, v [*, kvHeads, HD]; all f32 (HD <= 256), read and
// written through load_<name>(row, d) / store_out(row, d, x): vec4 d of a row of HD values,
// zero-padded to HD4 vec4s. The pipeline cache (pipelines.ts) defines those and `Elem`: the
// buffers are arrays of vec4 where HD % 4 == 0, else of f32 gathered in fours (any HD, as
// the WASM backend takes). G = heads / kvHeads heads share a kv head.
//
// A workgroup (64 threads) owns one kv head (wid.y) and BQ = 8 query slots; slot s is the
// pair (t, g) = (s / G, s % G), so a decode step packs a token's G heads into one
// workgroup (each key row is read once for all of them) and prefill packs 8 / G rows.
// Per tile of 64 keys:
//   1. scores: thread j dots key j with every slot's q (held in shared memory), then
//      scale and softcap. When all slots read the same key rows (the usual case) the key
//      is read once for the 8 slots.
//   2. softmax: thread s < BQ takes the tile's max, rescales its running sum by
//      exp(m_old - m_new) and turns scores into weights (0 beyond the slot's keys).
//   3. values: each thread owns (slot, 4 dims) pairs of the output and adds weight · v;
//      consecutive threads read consecutive vec4s of a value row (coalesced).
// Shared memory: q 8 × HD f32 (8 KiB at HD 256) + scores 8 × 64 f32 (2 KiB), under 16 KiB.
//
// Split keys (p.splits > 1): a decode step has one workgroup per kv head (one in all for
// PaliGemma-3B's single kv head), which would stream a 4k-token prefix on one compute
// unit. So the grid's y is (split, kv head) and split s of S takes the s-th of S equal
// runs of whole tiles over the workgroup's keys [key_start, key_count), sized here from
// the visible keys (the host only knows the cache's capacity). Each split then writes its
// unnormalised partial instead of out: o (Σ exp(score - m) · v) to `out` laid out
// [S, rows, heads, HD] and (m, l) per slot to `stats` [S, rows, heads]; a split with no
// visible key writes (-1e30, 0) and o = 0. attention-merge.wgsl combines them.

override HD: u32 = 64u;
override HD4: u32 = (HD + 3u) / 4u;

const BQ = 8u;
const WG = 64u;
const TILE = 64u;
// Output pairs (slot, vec4) per thread: BQ * HD4 / WG, at most 8 (HD 256).
override PAIRS: u32 = (BQ * HD4 + WG - 1u) / WG;
const MAX_PAIRS = 8u;

struct Params {
  rows: u32,
  heads: u32,
  kv_heads: u32,
  group_size: u32, // G = heads / kv_heads
  scale: f32,
  softcap: f32,    // 0: none
  window: u32,     // 0: none
  splits: u32,     // S: workgroups over one kv head's keys (1: out is the result)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<Elem>;
@group(0) @binding(2) var<storage, read> q: array<Elem>;
@group(0) @binding(3) var<storage, read> k: array<Elem>;
@group(0) @binding(4) var<storage, read> v: array<Elem>;
@group(0) @binding(5) var<storage, read> placement: array<i32>;
@group(0) @binding(6) var<storage, read_write> stats: array<vec2<f32>>; // (m, l) when split

var<workgroup> q_tile: array<vec4<f32>, BQ * HD4>;
var<workgroup> scores: array<f32, BQ * TILE>;
var<workgroup> slot_base: array<u32, BQ>;
var<workgroup> slot_keys: array<u32, BQ>; // visible keys; 0 for slots past the last row
var<workgroup> slot_lo: array<u32, BQ>;   // first visible key (the sliding window's bound)
var<workgroup> alpha: array<f32, BQ>;
var<workgroup> denom: array<f32, BQ>;
var<workgroup> key_count: u32;
var<workgroup> key_start: u32; // the first tile: the lowest slot_lo, rounded down to a tile
var<workgroup> shared_base: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let kh = wid.y % p.kv_heads;
  let split = wid.y / p.kv_heads;
  let first = wid.x * BQ;

  if (lid < BQ) {
    let t = (first + lid) / p.group_size;
    var base = 0u;
    var keys = 0u;
    var lo = 0u;
    if (t < p.rows) {
      base = u32(placement[3u * t]);
      let slot = placement[3u * t + 1u];
      keys = u32(max(max(slot + 1, placement[3u * t + 2u]), 0));
      if (p.window > 0u) {
        lo = u32(max(slot - i32(p.window) + 1, 0));
      }
    }
    slot_base[lid] = base;
    slot_keys[lid] = keys;
    slot_lo[lid] = lo;
  }
  for (var i = lid; i < BQ * HD4; i += WG) {
    let s = first + i / HD4;
    let t = s / p.group_size;
    var qv = vec4<f32>(0.0);
    if (t < p.rows) {
      let h = kh * p.group_size + s % p.group_size;
      qv = load_q(t * p.heads + h, i % HD4);
    }
    q_tile[i] = qv;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var most = 0u;
    var least_lo = 0xffffffffu;
    var same = 1u;
    for (var s = 0u; s < BQ; s++) {
      most = max(most, slot_keys[s]);
      if (slot_keys[s] > 0u) {
        least_lo = min(least_lo, slot_lo[s]);
      }
      if (slot_keys[s] > 0u && slot_base[s] != slot_base[0]) {
        same = 0u;
      }
    }
    let start = select(0u, least_lo - least_lo % TILE, most > 0u);
    // This split's run of keys: whole tiles, so tiles line up with the unsplit kernel's.
    let tiles = (select(0u, most - start, most > start) + TILE - 1u) / TILE;
    let per_split = (tiles + p.splits - 1u) / p.splits;
    let lo = min(start + split * per_split * TILE, most);
    let hi = min(lo + per_split * TILE, most);
    for (var s = 0u; s < BQ; s++) {
      slot_keys[s] = min(slot_keys[s], hi);
    }
    key_count = hi;
    key_start = lo;
    shared_base = same;
  }
  let n_keys = workgroupUniformLoad(&key_count);
  let j_start = workgroupUniformLoad(&key_start);
  let same_rows = shared_base == 1u;

  var m_run = -1e30; // finite: exp(m_run - m_new) is then 0 on the first visible tile
  var l_run = 0.0;
  var o: array<vec4<f32>, MAX_PAIRS>;

  for (var j0 = j_start; j0 < n_keys; j0 += TILE) {
    // 1. scores of key j0 + lid against every slot.
    let j = j0 + lid;
    var dots: array<f32, BQ>;
    // Zeroed explicitly: Dawn on SwiftShader keeps a loop-body var's value from the last iteration.
    for (var s = 0u; s < BQ; s++) {
      dots[s] = 0.0;
    }
    if (j < n_keys) {
      if (same_rows) {
        let row = (slot_base[0] + j) * p.kv_heads + kh;
        for (var d = 0u; d < HD4; d++) {
          let kv = load_k(row, d);
          for (var s = 0u; s < BQ; s++) {
            dots[s] += dot(q_tile[s * HD4 + d], kv);
          }
        }
      } else {
        for (var s = 0u; s < BQ; s++) {
          if (j < slot_keys[s]) {
            let row = (slot_base[s] + j) * p.kv_heads + kh;
            for (var d = 0u; d < HD4; d++) {
              dots[s] += dot(q_tile[s * HD4 + d], load_k(row, d));
            }
          }
        }
      }
    }
    for (var s = 0u; s < BQ; s++) {
      var score = dots[s] * p.scale;
      if (p.softcap > 0.0) {
        score = p.softcap * tanh(clamp(score / p.softcap, -10.0, 10.0));
      }
      scores[s * TILE + lid] = score;
    }
    workgroupBarrier();

    // 2. online softmax, one thread per slot.
    if (lid < BQ) {
      let visible = min(TILE, select(0u, slot_keys[lid] - j0, slot_keys[lid] > j0));
      var m_new = m_run;
      // Keys below the window's bound: skipped here, weight 0 below.
      let hidden = min(visible, select(0u, slot_lo[lid] - j0, slot_lo[lid] > j0));
      for (var jj = hidden; jj < visible; jj++) {
        m_new = max(m_new, scores[lid * TILE + jj]);
      }
      var sum = 0.0;
      for (var jj = 0u; jj < TILE; jj++) {
        var weight = 0.0;
        if (jj >= hidden && jj < visible) {
          weight = exp(scores[lid * TILE + jj] - m_new);
        }
        scores[lid * TILE + jj] = weight;
        sum += weight;
      }
      let a = exp(m_run - m_new);
      alpha[lid] = a;
      l_run = l_run * a + sum;
      m_run = m_new;
    }
    workgroupBarrier();

    // 3. o = o * alpha + weights · v for this thread's (slot, vec4) pairs.
    for (var c = 0u; c < PAIRS; c++) {
      let i = lid + c * WG;
      if (i < BQ * HD4) {
        let s = i / HD4;
        let visible = min(TILE, select(0u, slot_keys[s] - j0, slot_keys[s] > j0));
        let row0 = slot_base[s] + j0;
        var acc = o[c] * alpha[s];
        for (var jj = 0u; jj < visible; jj++) {
          acc += scores[s * TILE + jj] * load_v((row0 + jj) * p.kv_heads + kh, i % HD4);
        }
        o[c] = acc;
      }
    }
    workgroupBarrier();
  }

  let split_rows = split * p.rows; // this split's block of out and stats when split
  if (lid < BQ) {
    denom[lid] = l_run;
    let s = first + lid;
    let t = s / p.group_size;
    if (p.splits > 1u && t < p.rows) {
      stats[(split_rows + t) * p.heads + kh * p.group_size + s % p.group_size] = vec2<f32>(m_run, l_run);
    }
  }
  workgroupBarrier();
  for (var c = 0u; c < PAIRS; c++) {
    let i = lid + c * WG;
    let s = first + i / HD4;
    let t = s / p.group_size;
    if (i < BQ * HD4 && t < p.rows) {
      let h = kh * p.group_size + s % p.group_size;
      let l = denom[i / HD4];
      if (p.splits > 1u) {
        store_out((split_rows + t) * p.heads + h, i % HD4, o[c]);
      } else {
        store_out(t * p.heads + h, i % HD4, select(vec4<f32>(0.0), o[c] / l, l > 0.0));
      }
    }
  }
}
