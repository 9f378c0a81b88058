// Attention for one layer under the prefix-LM mask, streaming over keys with an
// online softmax (never a rows x keys matrix).
//
// q, out [rows, heads * hd]; k, v [*, kvHeads * hd] (the KV cache); meta i32
// [rows, 3] = (base, slot, prefix) per query. Key j of the query's sequence lives
// at cache row base + j and is visible iff j <= slot || j < prefix, i.e. exactly
// j < max(slot + 1, prefix). Query head h reads kv head h / g, g = heads / kvHeads.
//
// The g query heads that share a kv head are processed together, block by block,
// so a block of keys and values comes from memory once and from cache for the
// other heads of the group (multi-query decode streams the cache once).
// Keys go in blocks of BLOCK: scores for the block (q·k, scale, optional softcap),
// then one running-max update per head per block, then p = exp(s - max) and
// acc += p · v. `scratch` holds, per head of the group, hd accumulators, BLOCK
// scores, and the running max and sum: attentionScratchBytes(heads, hd).
import { exp4, tanhf } from "./math";

const BLOCK = 32;

export function attentionScratchBytes(heads: i32, hd: i32): usize {
  return (<usize>heads * (hd + BLOCK + 2)) << 2;
}

@inline
function dot(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2))));
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/** acc[0:n] = c * acc + p * v. */
@inline
function scaleAdd(acc: usize, c: f32, p: f32, v: usize, n: i32): void {
  const c4 = f32x4.splat(c);
  const p4 = f32x4.splat(p);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = acc + (<usize>i << 2);
    v128.store(a, f32x4.add(f32x4.mul(c4, v128.load(a)), f32x4.mul(p4, v128.load(v + (<usize>i << 2)))));
  }
  for (; i < n; i++) {
    const a = acc + (<usize>i << 2);
    store<f32>(a, c * load<f32>(a) + p * load<f32>(v + (<usize>i << 2)));
  }
}

/** acc[0:n] += p * v. */
@inline
function addScaled(acc: usize, p: f32, v: usize, n: i32): void {
  const p4 = f32x4.splat(p);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = acc + (<usize>i << 2);
    v128.store(a, f32x4.add(v128.load(a), f32x4.mul(p4, v128.load(v + (<usize>i << 2)))));
  }
  for (; i < n; i++) {
    const a = acc + (<usize>i << 2);
    store<f32>(a, load<f32>(a) + p * load<f32>(v + (<usize>i << 2)));
  }
}

export function attention(
  out: usize, q: usize, k: usize, v: usize, meta: usize, rows: i32,
  heads: i32, kvHeads: i32, hd: i32, scale: f32, softcap: f32, scratch: usize,
): void {
  const g = heads / kvHeads;
  const hdBytes = <usize>hd << 2;
  const kvRow = <usize>kvHeads * hdBytes;
  const qRow = <usize>heads * hdBytes;
  const accs = scratch; // [g][hd]
  const scores = accs + <usize>g * hdBytes; // [g][BLOCK]
  const maxes = scores + ((<usize>g * BLOCK) << 2); // [g]
  const sums = maxes + (<usize>g << 2); // [g]
  for (let t = 0; t < rows; t++) {
    const base = load<i32>(meta + (<usize>t * 12));
    const slot = load<i32>(meta + (<usize>t * 12), 4);
    const prefix = load<i32>(meta + (<usize>t * 12), 8);
    const n = max(slot + 1, prefix);
    for (let kh = 0; kh < kvHeads; kh++) {
      const qg = q + <usize>t * qRow + <usize>(kh * g) * hdBytes; // first query head of the group
      const kBase = k + <usize>base * kvRow + <usize>kh * hdBytes;
      const vBase = v + <usize>base * kvRow + <usize>kh * hdBytes;
      memory.fill(accs, 0, <usize>g * hdBytes);
      for (let h = 0; h < g; h++) {
        store<f32>(maxes + (<usize>h << 2), -Infinity);
        store<f32>(sums + (<usize>h << 2), 0);
      }
      for (let j0 = 0; j0 < n; j0 += BLOCK) {
        const nb = min(BLOCK, n - j0);
        for (let h = 0; h < g; h++) {
          const qh = qg + <usize>h * hdBytes;
          const sh = scores + ((<usize>h * BLOCK) << 2);
          let blockMax: f32 = -Infinity;
          for (let j = 0; j < nb; j++) {
            let s = dot(qh, kBase + <usize>(j0 + j) * kvRow, hd) * scale;
            if (softcap > 0) s = softcap * tanhf(s / softcap);
            store<f32>(sh + (<usize>j << 2), s);
            blockMax = max(blockMax, s);
          }
          // Rescale what was summed so far to the new running max, once per block.
          const mOld = load<f32>(maxes + (<usize>h << 2));
          const m = max(mOld, blockMax);
          const corr = f32x4.extract_lane(exp4(f32x4.splat(mOld - m)), 0);
          store<f32>(maxes + (<usize>h << 2), m);
          // p = exp(s - m) for the whole block, four scores at a time.
          const m4 = f32x4.splat(m);
          for (let j = 0; j < nb; j += 4) {
            const sp = sh + (<usize>j << 2);
            v128.store(sp, exp4(f32x4.sub(v128.load(sp), m4)));
          }
          const acc = accs + <usize>h * hdBytes;
          // The first key of the block also applies the correction to acc.
          let sum = load<f32>(sums + (<usize>h << 2)) * corr + load<f32>(sh);
          scaleAdd(acc, corr, load<f32>(sh), vBase + <usize>j0 * kvRow, hd);
          for (let j = 1; j < nb; j++) {
            const p = load<f32>(sh + (<usize>j << 2));
            sum += p;
            addScaled(acc, p, vBase + <usize>(j0 + j) * kvRow, hd);
          }
          store<f32>(sums + (<usize>h << 2), sum);
        }
      }
      for (let h = 0; h < g; h++) {
        const inv = f32x4.splat(1 / load<f32>(sums + (<usize>h << 2)));
        const acc = accs + <usize>h * hdBytes;
        const o = out + <usize>t * qRow + <usize>(kh * g + h) * hdBytes;
        let i = 0;
        for (; i + 4 <= hd; i += 4) v128.store(o + (<usize>i << 2), f32x4.mul(v128.load(acc + (<usize>i << 2)), inv));
        for (; i < hd; i++) store<f32>(o + (<usize>i << 2), load<f32>(acc + (<usize>i << 2)) * f32x4.extract_lane(inv, 0));
      }
    }
  }
}
