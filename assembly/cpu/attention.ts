// Attention for one layer under the prefix-LM mask, streaming over keys with an
// online softmax (never a rows x keys matrix).
//
// q, out [rows, heads * hd]; k, v [*, kvHeads * hd] (the KV cache); meta i32
// [rows, 3] = (base, slot, prefix) per query. Key j of the query's sequence lives
// at cache row base + j and is visible iff j <= slot || j < prefix, i.e. exactly
// j < max(slot + 1, prefix). A sliding window (window > 0, Gemma 2) is a lower bound
// on top: j > slot - window, so the key loop just starts later; it stays one stream.
// Query head h reads kv head h / g, g = heads / kvHeads.
//
// Per query and kv head, keys go in blocks of BLOCK, for each of the g query heads
// that share the kv head (so a block of K and V comes from memory once and from
// cache for the rest of the group):
//   1. scores s = scale · q·k (then softcap) four keys at a time: each q vector
//      load serves four dot products, folded into one vector of four scores;
//   2. one running-max update per block, rescaling the sum and accumulator once;
//   3. p = exp(s - max), four at a time;
//   4. acc += Σ_j p_j v_j with acc held in registers 8 floats at a time across
//      the whole block, instead of a load and store of acc per key.
// `scratch` holds, per head of the group, hd accumulators, BLOCK scores, and the
// running max and sum: attentionScratchBytes(heads, hd). Only queries [t0, t1) are
// computed, so threads may split the rows (each with its own scratch): by queries,
// not heads, because Gemma-2B has a single kv head.
import { exp4, expf, tanh4 } from "./math";
import { hsum4, sumLanes } from "./simd";

const BLOCK = 32;

export function attentionScratchBytes(heads: i32, hd: i32): usize {
  return (<usize>heads * (hd + BLOCK + 2)) << 2;
}

/**
 * scores[0:nb] for one query head against keys k0, k0 + stride, ...; scores are
 * written in fours, so up to 3 slots past nb (inside the BLOCK) get junk.
 */
function scoreBlock(scores: usize, q: usize, k0: usize, stride: usize, nb: i32, hd: i32, scale: f32, softcap: f32): void {
  const hd4 = <usize>(hd & ~3) << 2;
  const hdBytes = <usize>hd << 2;
  for (let j = 0; j < nb; j += 4) {
    // Keys past nb repeat the last one; their scores land in the junk slots.
    const ka = k0 + <usize>j * stride;
    const kb = j + 1 < nb ? ka + stride : ka;
    const kc = j + 2 < nb ? kb + stride : kb;
    const kd = j + 3 < nb ? kc + stride : kc;
    let a = f32x4.splat(0), b = a, c = a, d = a;
    let o: usize = 0;
    for (; o < hd4; o += 16) {
      const qv = v128.load(q + o);
      a = f32x4.add(a, f32x4.mul(qv, v128.load(ka + o)));
      b = f32x4.add(b, f32x4.mul(qv, v128.load(kb + o)));
      c = f32x4.add(c, f32x4.mul(qv, v128.load(kc + o)));
      d = f32x4.add(d, f32x4.mul(qv, v128.load(kd + o)));
    }
    let s = hsum4(a, b, c, d);
    for (; o < hdBytes; o += 4) {
      let kv = f32x4.splat(load<f32>(ka + o));
      kv = f32x4.replace_lane(kv, 1, load<f32>(kb + o));
      kv = f32x4.replace_lane(kv, 2, load<f32>(kc + o));
      kv = f32x4.replace_lane(kv, 3, load<f32>(kd + o));
      s = f32x4.add(s, f32x4.mul(v128.load32_splat(q + o), kv));
    }
    s = f32x4.mul(s, f32x4.splat(scale));
    if (softcap > 0) s = f32x4.mul(f32x4.splat(softcap), tanh4(f32x4.div(s, f32x4.splat(softcap))));
    v128.store(scores + (<usize>j << 2), s);
  }
}

/** acc[0:hd] = corr · acc + Σ_{j < nb} p[j] · v(j), v(j) = v0 + j · stride. */
function accumulateBlock(acc: usize, p: usize, v0: usize, stride: usize, nb: i32, hd: i32, corr: f32): void {
  const c4 = f32x4.splat(corr);
  let d = 0;
  for (; d + 8 <= hd; d += 8) {
    const ap = acc + (<usize>d << 2);
    let a0 = f32x4.mul(v128.load(ap), c4);
    let a1 = f32x4.mul(v128.load(ap, 16), c4);
    let vp = v0 + (<usize>d << 2);
    for (let j = 0; j < nb; j++, vp += stride) {
      const pj = v128.load32_splat(p + (<usize>j << 2));
      a0 = f32x4.add(a0, f32x4.mul(pj, v128.load(vp)));
      a1 = f32x4.add(a1, f32x4.mul(pj, v128.load(vp, 16)));
    }
    v128.store(ap, a0);
    v128.store(ap, a1, 16);
  }
  for (; d + 4 <= hd; d += 4) {
    const ap = acc + (<usize>d << 2);
    let a0 = f32x4.mul(v128.load(ap), c4);
    let vp = v0 + (<usize>d << 2);
    for (let j = 0; j < nb; j++, vp += stride) a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(p + (<usize>j << 2)), v128.load(vp)));
    v128.store(ap, a0);
  }
  for (; d < hd; d++) {
    const ap = acc + (<usize>d << 2);
    let a = load<f32>(ap) * corr;
    let vp = v0 + (<usize>d << 2);
    for (let j = 0; j < nb; j++, vp += stride) a += load<f32>(p + (<usize>j << 2)) * load<f32>(vp);
    store<f32>(ap, a);
  }
}

export function attention(
  out: usize, q: usize, k: usize, v: usize, meta: usize, t0: i32, t1: i32,
  heads: i32, kvHeads: i32, hd: i32, scale: f32, softcap: f32, window: i32, scratch: usize,
): void {
  const g = heads / kvHeads;
  const hdBytes = <usize>hd << 2;
  const kvRow = <usize>kvHeads * hdBytes;
  const qRow = <usize>heads * hdBytes;
  const accs = scratch; // [g][hd]
  const scores = accs + <usize>g * hdBytes; // [g][BLOCK]
  const maxes = scores + ((<usize>g * BLOCK) << 2); // [g]
  const sums = maxes + (<usize>g << 2); // [g]
  for (let t = t0; t < t1; t++) {
    const base = load<i32>(meta + (<usize>t * 12));
    const slot = load<i32>(meta + (<usize>t * 12), 4);
    const prefix = load<i32>(meta + (<usize>t * 12), 8);
    const n = max(slot + 1, prefix);
    const first = window > 0 ? max(0, slot - window + 1) : 0; // the window's lower bound
    for (let kh = 0; kh < kvHeads; kh++) {
      const qg = q + <usize>t * qRow + <usize>(kh * g) * hdBytes; // first query head of the group
      const kBase = k + <usize>base * kvRow + <usize>kh * hdBytes;
      const vBase = v + <usize>base * kvRow + <usize>kh * hdBytes;
      memory.fill(accs, 0, <usize>g * hdBytes);
      for (let h = 0; h < g; h++) {
        store<f32>(maxes + (<usize>h << 2), -Infinity);
        store<f32>(sums + (<usize>h << 2), 0);
      }
      for (let j0 = first; j0 < n; j0 += BLOCK) {
        const nb = min(BLOCK, n - j0);
        for (let h = 0; h < g; h++) {
          const sh = scores + ((<usize>h * BLOCK) << 2);
          scoreBlock(sh, qg + <usize>h * hdBytes, kBase + <usize>j0 * kvRow, kvRow, nb, hd, scale, softcap);
          let blockMax: f32 = -Infinity;
          for (let j = 0; j < nb; j++) blockMax = max(blockMax, load<f32>(sh + (<usize>j << 2)));
          const mOld = load<f32>(maxes + (<usize>h << 2));
          const m = max(mOld, blockMax);
          store<f32>(maxes + (<usize>h << 2), m);
          const m4 = f32x4.splat(m);
          let sum4 = f32x4.splat(0);
          for (let j = 0; j < nb; j += 4) {
            const sp = sh + (<usize>j << 2);
            // Slots past nb hold junk scores: zero their p so the sum ignores them.
            const live = i32x4.lt_s(i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)), i32x4.splat(nb));
            const p = v128.and(exp4(f32x4.sub(v128.load(sp), m4)), live);
            v128.store(sp, p);
            sum4 = f32x4.add(sum4, p);
          }
          const corr = expf(mOld - m); // 0 on the first block (mOld = -inf)
          store<f32>(sums + (<usize>h << 2), load<f32>(sums + (<usize>h << 2)) * corr + sumLanes(sum4));
          accumulateBlock(accs + <usize>h * hdBytes, sh, vBase + <usize>j0 * kvRow, kvRow, nb, hd, corr);
        }
      }
      for (let h = 0; h < g; h++) {
        const inv: f32 = 1 / load<f32>(sums + (<usize>h << 2));
        const acc = accs + <usize>h * hdBytes;
        const o = out + <usize>t * qRow + <usize>(kh * g + h) * hdBytes;
        let i = 0;
        for (; i + 4 <= hd; i += 4) v128.store(o + (<usize>i << 2), f32x4.mul(v128.load(acc + (<usize>i << 2)), f32x4.splat(inv)));
        for (; i < hd; i++) store<f32>(o + (<usize>i << 2), load<f32>(acc + (<usize>i << 2)) * inv);
      }
    }
  }
}
