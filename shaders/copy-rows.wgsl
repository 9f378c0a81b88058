// copyRows: copies `count` spans of `len` f16 halves from src to dst, span s from half
// src_start + s * len to half dst_start + s * dst_stride (both arrays of u32 words, two
// halves each, element e being half e & 1 of word e >> 1; a u32 or f32 word is simply
// two halves). It joins weights at load (Backend.joinRows): stacked parts are one span
// each, interleaved ones one span per row. A span may start or end mid-word: each thread
// owns one destination word and keeps the half outside its span, so spans of one
// dispatch must not share a word (dst_stride >= len + 2 or one span), and neighbours
// written by other dispatches are kept (dispatches run in order).
// Bindings: 0 params, 1 dst u32 read_write, 2 src u32.
// One destination word per thread, 2-D grid of 256-thread workgroups.

const WG = 256u;

struct Params {
  count: u32,
  len: u32,
  src_start: u32,
  dst_start: u32,
  dst_stride: u32,
  words: u32, // destination words per span: len / 2 + 2 covers any start
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;

fn half_of(e: u32) -> u32 {
  return (src[e >> 1u] >> (16u * (e & 1u))) & 0xffffu;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.y * groups.x + wid.x) * WG + lid;
  if (t >= p.count * p.words) {
    return;
  }
  let s = t / p.words;
  let first = p.dst_start + s * p.dst_stride; // the span's first destination half
  let word = first / 2u + t % p.words;
  if (2u * word >= first + p.len) {
    return;
  }
  var out = dst[word];
  for (var h = 0u; h < 2u; h++) {
    let e = 2u * word + h;
    if (e >= first && e < first + p.len) {
      let at = p.src_start + s * p.len + (e - first);
      out = (out & ~(0xffffu << (16u * h))) | (half_of(at) << (16u * h));
    }
  }
  dst[word] = out;
}
