// The filter taps for resampling one axis exactly as Pillow does
// (libImaging/Resample.c: precompute_coeffs, then normalize_coeffs_8bpc), so
// our uint8 output equals Image.resize(size, Image.BICUBIC) bit for bit.
//
// A plan depends only on (inSize, outSize); callers build it once and reuse it.
// Layout, all i32:
//   [0] inSize  [1] outSize  [2] taps (the most taps any output uses)
//   [3 + 2*o], [4 + 2*o]          first input index and tap count of output o
//   [3 + 2*outSize + o*taps + t]  fixed-point weight of tap t of output o

// Pillow's fixed point: 8 bits of pixel, 2 of headroom for negative lobes and
// overshoot, the rest fraction.
export const PRECISION_BITS: i32 = 22;

// Keys' cubic with a = -0.5 (Pillow's bicubic_filter); support 2 input pixels.
const A: f64 = -0.5;
const SUPPORT: f64 = 2.0;

@inline
function bicubic(x: f64): f64 {
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * A;
  return 0.0;
}

export const HEADER: i32 = 3;

@inline
export function planTaps(plan: usize): i32 {
  return load<i32>(plan, 8);
}

@inline
export function planOutSize(plan: usize): i32 {
  return load<i32>(plan, 4);
}

@inline
export function tapFirst(plan: usize, o: i32): i32 {
  return load<i32>(plan + (<usize>(HEADER + 2 * o) << 2));
}

@inline
export function tapCount(plan: usize, o: i32): i32 {
  return load<i32>(plan + (<usize>(HEADER + 2 * o + 1) << 2));
}

/** Address of output o's first weight. */
@inline
export function tapWeights(plan: usize, o: i32): usize {
  const outSize = planOutSize(plan);
  return plan + (<usize>(HEADER + 2 * outSize + o * planTaps(plan)) << 2);
}

export function planResample(inSize: i32, outSize: i32): usize {
  // Downscaling widens the filter so every input pixel contributes (antialiasing).
  const scale: f64 = <f64>inSize / <f64>outSize;
  const filterScale: f64 = scale < 1.0 ? 1.0 : scale;
  const support: f64 = SUPPORT * filterScale;
  const taps: i32 = <i32>Math.ceil(support) * 2 + 1;

  const plan = heap.alloc(<usize>(HEADER + 2 * outSize + outSize * taps) << 2);
  store<i32>(plan, inSize, 0);
  store<i32>(plan, outSize, 4);
  store<i32>(plan, taps, 8);

  const weights = new StaticArray<f64>(taps);
  const invFilterScale: f64 = 1.0 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center: f64 = (<f64>o + 0.5) * scale;
    // C's (int) cast truncates toward zero; Pillow relies on it, then clamps.
    let first = <i32>(center - support + 0.5);
    if (first < 0) first = 0;
    let last = <i32>(center + support + 0.5);
    if (last > inSize) last = inSize;
    const count = last - first;

    let sum: f64 = 0.0;
    for (let t = 0; t < count; t++) {
      const w = bicubic((<f64>(t + first) - center + 0.5) * invFilterScale);
      unchecked((weights[t] = w));
      sum += w;
    }
    const out = tapWeights(plan, o);
    for (let t = 0; t < taps; t++) {
      let w: f64 = 0.0;
      if (t < count) {
        w = unchecked(weights[t]);
        if (sum != 0.0) w /= sum;
      }
      // Round half away from zero, as normalize_coeffs_8bpc does.
      const fixed = w < 0.0 ? <i32>(-0.5 + w * <f64>(1 << PRECISION_BITS)) : <i32>(0.5 + w * <f64>(1 << PRECISION_BITS));
      store<i32>(out + (<usize>t << 2), fixed);
    }
    store<i32>(plan + (<usize>(HEADER + 2 * o) << 2), first);
    store<i32>(plan + (<usize>(HEADER + 2 * o + 1) << 2), count);
  }
  return plan;
}
