// Byte-pair encoding of one word: repeatedly merge the adjacent pair whose rule
// has the lowest rank, the leftmost first among equal ranks, until no adjacent
// pair has a rule. That order is Hugging Face's (Rust `Word::merge_all` and JS
// `BPE.bpe` both pop (rank, position) from a priority queue).
//
// Symbols live in an i32 array of token ids, merged in place: a merge keeps the
// left symbol (with the merged id) and unlinks the right one. Candidate merges sit
// in a binary min-heap of u64 keys (rank << 32 | left position); an entry whose
// pair has changed since it was pushed is recognised when popped (its position is
// gone, or the pair there now has another rank) and dropped.
import { findMerge, mergeRank, mergedId } from "./merges";
import { resize } from "./resize";

// Marks a symbol merged into its left neighbour. Unknown characters (negative
// ids, see encode.ts) are never below -0x110000, so this cannot collide.
const GONE: i32 = i32.MIN_VALUE;

let prev: usize = 0; // i32[cap]
let next: usize = 0; // i32[cap]
let heapKeys: usize = 0; // u64[3 * cap]: n initial pairs plus at most 2 per merge
let cap: i32 = 0;
let heapSize: i32 = 0;

function reserve(n: i32): void {
  if (n <= cap) return;
  cap = max(n, cap * 2);
  prev = resize(prev, <usize>cap << 2);
  next = resize(next, <usize>cap << 2);
  heapKeys = resize(heapKeys, <usize>cap * 24);
}

function push(key: u64): void {
  let i = heapSize++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const up = load<u64>(heapKeys + (<usize>parent << 3));
    if (up <= key) break;
    store<u64>(heapKeys + (<usize>i << 3), up);
    i = parent;
  }
  store<u64>(heapKeys + (<usize>i << 3), key);
}

function pop(): u64 {
  const top = load<u64>(heapKeys);
  const last = load<u64>(heapKeys + (<usize>--heapSize << 3));
  let i = 0;
  while (true) {
    let child = 2 * i + 1;
    if (child >= heapSize) break;
    let c = load<u64>(heapKeys + (<usize>child << 3));
    if (child + 1 < heapSize) {
      const right = load<u64>(heapKeys + (<usize>(child + 1) << 3));
      if (right < c) {
        c = right;
        child++;
      }
    }
    if (last <= c) break;
    store<u64>(heapKeys + (<usize>i << 3), c);
    i = child;
  }
  store<u64>(heapKeys + (<usize>i << 3), last);
  return top;
}

@inline
function id(ids: usize, i: i32): i32 {
  return load<i32>(ids + (<usize>i << 2));
}

/** Queues the pair starting at symbol i if both ids are tokens and a rule joins them. */
function consider(ids: usize, i: i32, j: i32): void {
  const left = id(ids, i);
  const right = id(ids, j);
  if (left < 0 || right < 0) return;
  const slot = findMerge(left, right);
  if (slot >= 0) push((<u64>mergeRank(slot) << 32) | <u64>i);
}

/** Merges the n symbols at ids in place and returns how many remain (compacted to the front). */
export function bpe(ids: usize, n: i32): i32 {
  if (n < 2) return n;
  reserve(n);
  heapSize = 0;
  for (let i = 0; i < n; i++) {
    store<i32>(prev + (<usize>i << 2), i - 1);
    store<i32>(next + (<usize>i << 2), i + 1 < n ? i + 1 : -1);
  }
  for (let i = 0; i + 1 < n; i++) consider(ids, i, i + 1);

  while (heapSize > 0) {
    const key = pop();
    const i = <i32>(key & 0xffffffff);
    const rank = <i32>(key >> 32);
    const left = id(ids, i);
    if (left < 0) continue; // merged away (GONE)
    const j = load<i32>(next + (<usize>i << 2));
    if (j < 0) continue;
    const right = id(ids, j);
    if (right < 0) continue;
    const slot = findMerge(left, right);
    if (slot < 0 || mergeRank(slot) != rank) continue; // the pair changed since it was queued
    store<i32>(ids + (<usize>i << 2), mergedId(slot));
    store<i32>(ids + (<usize>j << 2), GONE);
    const k = load<i32>(next + (<usize>j << 2));
    store<i32>(next + (<usize>i << 2), k);
    if (k >= 0) store<i32>(prev + (<usize>k << 2), i);
    const p = load<i32>(prev + (<usize>i << 2));
    if (p >= 0) consider(ids, p, i);
    if (k >= 0) consider(ids, i, k);
  }

  // Symbol 0 is never merged away (merges keep the left symbol): walk the list from it.
  let count = 0;
  for (let i = 0; i >= 0; i = load<i32>(next + (<usize>i << 2))) {
    store<i32>(ids + (<usize>(count++) << 2), id(ids, i));
  }
  return count;
}
