// sample: ids[r] = a token drawn from softmax(logits[r] / temperature), restricted to the
// top_k most likely and then to the smallest head of those whose mass reaches top_p,
// using the caller's uniform u = uniforms[r] in [0, 1): the first token, in order of
// probability (ties: lower id first), whose cumulative mass exceeds u · (kept mass).
//
// Nothing is sorted. Each cut is a place in that order, found by bisection: a place is a
// bound (key, id) where key maps the logit to a u32 that orders like the float, and
// prefix(key, id) = the tokens with a larger key, or the same key and id <= id. One pass
// over the row counts the tokens of a prefix and sums their weights exp((l - max) / T);
// 32 passes over the key bits find the key where a running total first reaches a goal,
// and, only when several tokens share that key, passes over the id bits find the id.
// A draw costs about 100 passes over the row, each a coalesced read (the row stays in
// cache) and a tree reduction: for 257k tokens, far less than the decoder step it ends.
//
// Bindings: 0 params, 1 ids i32 [rows] read_write, 2 logits f32 [rows, vocab],
// 3 uniforms f32 [rows]. One 256-thread workgroup per row (2-D grid: row = wid.y *
// groups.x + wid.x).

const WG = 256u;
const ALL = 0xffffffffu;

struct Params {
  rows: u32,
  vocab: u32,
  temperature: f32,
  top_k: u32,   // 0: no limit
  top_p: f32,   // 1: no limit
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> ids: array<i32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> uniforms: array<f32>;

var<workgroup> red_count: array<u32, WG>;
var<workgroup> red_value: array<f32, WG>;
var<workgroup> total_count: u32;
var<workgroup> total_value: f32;

var<private> lid: u32;
var<private> row_base: u32;
var<private> max_logit: f32;

struct Totals {
  count: u32,
  mass: f32,
}

/** Larger floats get larger keys: flip all bits of negatives, set the sign bit of positives. */
fn order_key(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn in_prefix(key: u32, id: u32, bound_key: u32, bound_id: u32) -> bool {
  return key > bound_key || (key == bound_key && id <= bound_id);
}

fn weight(l: f32) -> f32 {
  return exp((l - max_logit) / p.temperature);
}

/** Sums count and mass over the workgroup; the result is uniform. */
fn reduce(count: u32, mass: f32) -> Totals {
  red_count[lid] = count;
  red_value[lid] = mass;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      red_count[lid] += red_count[lid + stride];
      red_value[lid] += red_value[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    total_count = red_count[0];
    total_value = red_value[0];
  }
  return Totals(workgroupUniformLoad(&total_count), workgroupUniformLoad(&total_value));
}

/** Tokens in prefix(bound) and in prefix(limit): their count, and their mass when asked. */
fn prefix_totals(bound_key: u32, bound_id: u32, limit_key: u32, limit_id: u32, with_mass: bool) -> Totals {
  var count = 0u;
  var mass = 0.0;
  for (var j = lid; j < p.vocab; j += WG) {
    let l = logits[row_base + j];
    let key = order_key(l);
    if (in_prefix(key, j, bound_key, bound_id) && in_prefix(key, j, limit_key, limit_id)) {
      count += 1u;
      if (with_mass) {
        mass += weight(l);
      }
    }
  }
  return reduce(count, mass);
}

/** Among the tokens in prefix(limit) with this key: how many, and the lowest id. */
fn ties(key: u32, limit_key: u32, limit_id: u32) -> vec2<u32> {
  var count = 0u;
  var lowest = ALL;
  for (var j = lid; j < p.vocab; j += WG) {
    let k = order_key(logits[row_base + j]);
    if (k == key && in_prefix(k, j, limit_key, limit_id)) {
      count += 1u;
      lowest = min(lowest, j);
    }
  }
  red_count[lid] = lowest;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      red_count[lid] = min(red_count[lid], red_count[lid + stride]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    total_count = red_count[0];
  }
  let id = workgroupUniformLoad(&total_count);
  return vec2<u32>(reduce(count, 0.0).count, id);
}

/** count >= goal (by_count), mass > goal (strict) or mass >= goal. */
fn reaches(t: Totals, by_count: bool, strict: bool, goal: f32) -> bool {
  if (by_count) {
    return f32(t.count) >= goal;
  }
  if (strict) {
    return t.mass > goal;
  }
  return t.mass >= goal;
}

/**
 * The first token in order, within prefix(limit), whose prefix reaches the goal:
 * (key, id, 1), or (0, 0, 0) when the whole of prefix(limit) does not reach it.
 */
fn find(by_count: bool, strict: bool, goal: f32, limit_key: u32, limit_id: u32) -> vec3<u32> {
  let with_mass = !by_count;
  if (!reaches(prefix_totals(0u, ALL, limit_key, limit_id, with_mass), by_count, strict, goal)) {
    return vec3<u32>(0u, 0u, 0u);
  }
  // The largest key whose prefix (every token with a key >= it) reaches the goal.
  var key = 0u;
  for (var bit = 31i; bit >= 0i; bit--) {
    let candidate = key | (1u << u32(bit));
    if (reaches(prefix_totals(candidate, ALL, limit_key, limit_id, with_mass), by_count, strict, goal)) {
      key = candidate;
    }
  }
  let tied = ties(key, limit_key, limit_id);
  if (tied.x == 1u) {
    return vec3<u32>(key, tied.y, 1u);
  }
  // Several tokens share the key: the largest c such that the tokens before (key, c) do
  // not reach the goal; token (key, c) is then the one that does.
  var c = 0u;
  for (var bit = i32(firstLeadingBit(p.vocab)); bit >= 0i; bit--) {
    let candidate = c | (1u << u32(bit));
    if (!reaches(prefix_totals(key, candidate - 1u, limit_key, limit_id, with_mass), by_count, strict, goal)) {
      c = candidate;
    }
  }
  return vec3<u32>(key, c, 1u);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) local: u32,
) {
  let row = wid.y * groups.x + wid.x;
  if (row >= p.rows) {
    return; // the whole workgroup leaves together: the barriers below stay uniform
  }
  lid = local;
  row_base = row * p.vocab;

  var largest = -3.4028234663852886e38;
  for (var j = lid; j < p.vocab; j += WG) {
    largest = max(largest, logits[row_base + j]);
  }
  red_value[lid] = largest;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      red_value[lid] = max(red_value[lid], red_value[lid + stride]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    total_value = red_value[0];
  }
  max_logit = workgroupUniformLoad(&total_value);

  // The kept tokens are always a prefix of the order: prefix(limit).
  var limit_key = 0u;
  var limit_id = ALL;
  if (p.top_k > 0u && p.top_k < p.vocab) {
    let b = find(true, false, f32(p.top_k), limit_key, limit_id);
    limit_key = b.x;
    limit_id = b.y;
  }
  var kept = prefix_totals(0u, ALL, limit_key, limit_id, true).mass;
  if (p.top_p < 1.0) {
    let b = find(false, false, p.top_p * kept, limit_key, limit_id);
    if (b.z == 1u) {
      limit_key = b.x;
      limit_id = b.y;
      kept = prefix_totals(0u, ALL, limit_key, limit_id, true).mass;
    }
  }
  var pick = find(false, true, uniforms[row] * kept, limit_key, limit_id);
  if (pick.z == 0u) {
    // Rounding put u · kept at or past the kept mass: take the last kept token.
    let last = prefix_totals(0u, ALL, limit_key, limit_id, false).count;
    pick = find(true, false, f32(last), limit_key, limit_id);
  }
  if (lid == 0u) {
    ids[row] = i32(pick.y);
  }
}
