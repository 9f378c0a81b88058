// Choosing the next token from logits f32 [rows, vocab]: argmax (greedy) and
// sample (temperature, top-k, top-p with a caller-supplied uniform per row).
//
// sample follows the reference's definition exactly (tests/reference/backend.ts):
// tokens ordered by logit (ties: lower id first), probabilities exp((l - max) / T)
// in f64, keep the topK, then the shortest head whose mass reaches topP, then the
// first token whose running mass exceeds u times the kept mass. The order is
// produced lazily by a binary max-heap over token ids, so a peaked distribution
// costs O(vocab) plus a few O(log vocab) pops, not a full sort. Scratch
// (sampleScratchBytes(vocab)): the heap, i32 [vocab], then the probabilities,
// f64 [vocab] indexed by token id.

function rowMax(row: usize, vocab: i32): f32 {
  let m4 = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= vocab; i += 4) m4 = f32x4.max(m4, v128.load(row + (<usize>i << 2)));
  let m = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  for (; i < vocab; i++) m = max(m, load<f32>(row + (<usize>i << 2)));
  return m;
}

/** ids[r] = the lowest index of the largest of logits[r, 0:vocab]. */
export function argmax(ids: usize, logits: usize, rows: i32, vocab: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = logits + ((<usize>r * vocab) << 2);
    const m = rowMax(row, vocab);
    const m4 = f32x4.splat(m);
    let i = 0;
    while (i + 4 <= vocab && !v128.any_true(f32x4.eq(v128.load(row + (<usize>i << 2)), m4))) i += 4;
    while (i < vocab && load<f32>(row + (<usize>i << 2)) != m) i++;
    store<i32>(ids + (<usize>r << 2), i < vocab ? i : 0);
  }
}

export function sampleScratchBytes(vocab: i32): usize {
  return heapBytes(vocab) + (<usize>vocab << 3);
}

@inline
function heapBytes(vocab: i32): usize {
  return ((<usize>vocab << 2) + 7) & ~7;
}

/** Token a ranks before token b: higher logit, then lower id. */
@inline
function before(logits: usize, a: i32, b: i32): bool {
  const la = load<f32>(logits + (<usize>a << 2));
  const lb = load<f32>(logits + (<usize>b << 2));
  return la > lb || (la == lb && a < b);
}

function siftDown(heap: usize, logits: usize, i: i32, n: i32): void {
  const item = load<i32>(heap + (<usize>i << 2));
  while (true) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(logits, load<i32>(heap + (<usize>(c + 1) << 2)), load<i32>(heap + (<usize>c << 2)))) c++;
    const child = load<i32>(heap + (<usize>c << 2));
    if (!before(logits, child, item)) break;
    store<i32>(heap + (<usize>i << 2), child);
    i = c;
  }
  store<i32>(heap + (<usize>i << 2), item);
}

/**
 * The heap sorts lazily: popping the best token moves it to the slot the heap
 * just gave up, so the k-th best token ends at heap[vocab - 1 - k].
 */
let heapSize = 0;

@inline
function ranked(heap: usize, logits: usize, vocab: i32, k: i32): i32 {
  while (vocab - heapSize <= k) {
    const top = load<i32>(heap);
    heapSize--;
    store<i32>(heap, load<i32>(heap + (<usize>heapSize << 2)));
    siftDown(heap, logits, 0, heapSize);
    store<i32>(heap + (<usize>heapSize << 2), top);
  }
  return load<i32>(heap + (<usize>(vocab - 1 - k) << 2));
}

export function sample(
  ids: usize, logits: usize, uniforms: usize, rows: i32, vocab: i32,
  temperature: f64, topK: i32, topP: f64, scratch: usize,
): void {
  const heap = scratch;
  const probs = scratch + heapBytes(vocab);
  for (let r = 0; r < rows; r++) {
    const row = logits + ((<usize>r * vocab) << 2);
    const m = <f64>rowMax(row, vocab);
    for (let j = 0; j < vocab; j++) {
      store<f64>(probs + (<usize>j << 3), Math.exp((<f64>load<f32>(row + (<usize>j << 2)) - m) / temperature));
      store<i32>(heap + (<usize>j << 2), j);
    }
    heapSize = vocab;
    for (let i = (vocab >> 1) - 1; i >= 0; i--) siftDown(heap, row, i, vocab);

    const limit = topK > 0 ? min(topK, vocab) : vocab;
    let z: f64 = 0;
    if (topK > 0) {
      for (let k = 0; k < limit; k++) z += load<f64>(probs + (<usize>ranked(heap, row, vocab, k) << 3));
    } else {
      // Every token is kept: the sum needs no order (it may differ from the
      // sorted-order sum in the last bit, which no uniform can tell apart).
      for (let j = 0; j < vocab; j++) z += load<f64>(probs + (<usize>j << 3));
    }
    let keep = limit;
    if (topP < 1) {
      const target = topP * z;
      let c: f64 = 0;
      keep = 0;
      while (keep < limit && c < target) c += load<f64>(probs + (<usize>ranked(heap, row, vocab, keep++) << 3));
      if (keep == 0) {
        keep = 1;
        c = load<f64>(probs + (<usize>ranked(heap, row, vocab, 0) << 3));
      }
      z = c;
    }
    const u = <f64>load<f32>(uniforms + (<usize>r << 2)) * z;
    let pick = keep - 1;
    let c: f64 = 0;
    for (let k = 0; k < keep; k++) {
      c += load<f64>(probs + (<usize>ranked(heap, row, vocab, k) << 3));
      if (c > u) {
        pick = k;
        break;
      }
    }
    store<i32>(ids + (<usize>r << 2), ranked(heap, row, vocab, pick));
  }
}
