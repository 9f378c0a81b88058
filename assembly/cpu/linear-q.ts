// linear over quantized weights (q8, q4; the format is src/weights/quantize.ts):
// y[rows, N] = x[rows, K] · W[N, K]ᵀ + bias[N], then GELU and/or y += ·, W = q · scale.
//
// Layouts: x, y f32 row-major; w the qweight words, u32 [N, Kp · bits / 32] (Kp = K
// padded to whole groups of 32; q4: element k is nibble k % 8 of word k / 8, low
// nibble first, holding q + 8; q8: byte k % 4 of word k / 4, two's complement);
// scales f16 [N, Kp / 32]; bias f16 [N] or 0. Each kernel computes output columns
// [n0, n1) only, so callers may split N. Reads may run up to 32 bytes past the end
// of a buffer (the allocator leaves slack); writes never leave y.
//
// Two paths, like the f16 linear (linear.ts):
// - rows < QUANT_GEMM_MIN_ROWS (decode): quantGemvPrepare turns each row of x, once
//   per call, into per-group fixed point (below); quantGemv then streams W one output
//   at a time and never converts a weight to f32: the q (i16 lanes) meet x in
//   i32x4.dot_i16x8_s, 8 products per instruction, and only a group's two i32 sums are
//   converted, scaled and added in f32.
// - more rows (prefill, vision): each block of 8 output columns is dequantized
//   (q · scale, exact in f32) into the same [k][8] f32 panel the f16 path packs,
//   and linear.ts's 4x8 micro-kernel runs over it.
//
// Fixed-point x (the GEMV's): per group of 32 (zero-padded past K), with m = max|x|
// = f · 2^E (f in [0.5, 1)), e = min(30 - E, 126) and xi = round(x · 2^e), so
// |xi| < 2^30; xi = xh · 2^15 + xl with xh = xi >> 15 (i16) and xl = xi & 0x7fff.
// Then Σ q·x = 2^-e (2^15 Σ q·xh + Σ q·xl) with both sums exact in i32, and x keeps
// 30 bits relative to its group's largest element (f32 keeps 24 per element), so
// the result matches the dequantize-then-f32 reference to f32 rounding. A group that
// holds inf or NaN gets d = NaN, which carries into every output, as f32 would.
// Record per group (XG = 176 bytes, 16-aligned):
//   [0, 64)    xh, four i16x8 in the lane order the unpack below produces
//   [64, 128)  xl, same order
//   [128, 160) q4 only: i32x4 (-8 Σ xh, 0, 0, 0) and (-8 Σ xl, 0, 0, 0), the sums'
//              starting values, because q4 words hold q + 8 (zeros for q8)
//   [160, 164) d = 2^-e, f32
// Lane orders: q4 reads a group (16 bytes) as i16x8 lanes of four nibbles, so vector
// j (nibble j of every lane) holds elements 4i + j; q8 reads two i16x8 of two bytes,
// low byte then high byte: vectors hold elements 2i, 2i + 1, 16 + 2i, 17 + 2i.
import { f16 } from "./f16";
import { geluf } from "./math";
import { sumLanes } from "./simd";
import { LINEAR_ACCUMULATE, LINEAR_GELU, gemm4x8 } from "./linear";

/** Fewest rows that take the panel path. */
export const QUANT_GEMM_MIN_ROWS = 4;
const GROUP = 32;
const XG: usize = 176;
const TWO_15: f32 = 32768;

/** Bytes of the GEMV's prepared x for `rows` rows of K. */
export function quantGemvScratchBytes(rows: i32, K: i32): usize {
  return <usize>rows * <usize>((K + GROUP - 1) / GROUP) * XG;
}

/** Index in the group record's lane order of element i (0..31) of a group. */
@inline
function laneSlot(i: i32, bits: i32): i32 {
  if (bits == 4) return (i & 3) * 8 + (i >> 2); // vector i % 4, lane i / 4
  const half = i >> 4; // q8: vector 2 · half + (i odd), lane (i % 16) / 2
  return (half * 2 + (i & 1)) * 8 + ((i & 15) >> 1);
}

/** Fills `rows` rows of group records at xq from x (see the layout above). */
export function quantGemvPrepare(xq: usize, x: usize, rows: i32, K: i32, bits: i32): void {
  const groups = (K + GROUP - 1) / GROUP;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * K) << 2);
    for (let g = 0; g < groups; g++) {
      const rec = xq + (<usize>(r * groups + g)) * XG;
      const k0 = g * GROUP;
      const len = min(GROUP, K - k0);
      let m: f32 = 0;
      let finite = true;
      for (let i = 0; i < len; i++) {
        const a = abs(load<f32>(xr + (<usize>(k0 + i) << 2)));
        if (!(a <= f32.MAX_VALUE)) finite = false;
        else m = max(m, a);
      }
      let e = 0;
      if (m > 0) {
        const field = <i32>(reinterpret<u32>(m) >> 23); // 0 for subnormal m: e clamps to 126 below
        e = min(30 - (field - 126), 126);
      }
      const up = reinterpret<f64>(<u64>(e + 1023) << 52); // 2^e
      let sh = 0, sl = 0;
      for (let i = 0; i < GROUP; i++) {
        const v: f64 = i < len && finite ? <f64>load<f32>(xr + (<usize>(k0 + i) << 2)) : 0;
        const xi = <i32>nearest(v * up);
        const hi = xi >> 15;
        const lo = xi & 0x7fff;
        sh += hi;
        sl += lo;
        const at = rec + (<usize>laneSlot(i, bits) << 1);
        store<i16>(at, <i16>hi);
        store<i16>(at, <i16>lo, 64);
      }
      const q4 = bits == 4;
      v128.store(rec, q4 ? i32x4.replace_lane(i32x4.splat(0), 0, -8 * sh) : i32x4.splat(0), 128);
      v128.store(rec, q4 ? i32x4.replace_lane(i32x4.splat(0), 0, -8 * sl) : i32x4.splat(0), 144);
      store<f32>(rec, finite ? reinterpret<f32>((127 - e) << 23) : f32.NaN, 160);
    }
  }
}

/** One row's q4 dot product with one prepared x row, f32 (before bias). */
@inline
function dotQ4(p: usize, sp: usize, xp: usize, groups: i32): f32 {
  const m = i16x8.splat(0xf);
  const k15 = f32x4.splat(TWO_15);
  let t = f32x4.splat(0);
  for (let g = 0; g < groups; g++) {
    const v = v128.load(p);
    const u0 = v128.and(v, m);
    const u1 = v128.and(i16x8.shr_u(v, 4), m);
    const u2 = v128.and(i16x8.shr_u(v, 8), m);
    const u3 = i16x8.shr_u(v, 12);
    let h = i32x4.add(v128.load(xp, 128), i32x4.dot_i16x8_s(u0, v128.load(xp)));
    let l = i32x4.add(v128.load(xp, 144), i32x4.dot_i16x8_s(u0, v128.load(xp, 64)));
    h = i32x4.add(h, i32x4.dot_i16x8_s(u1, v128.load(xp, 16)));
    l = i32x4.add(l, i32x4.dot_i16x8_s(u1, v128.load(xp, 80)));
    h = i32x4.add(h, i32x4.dot_i16x8_s(u2, v128.load(xp, 32)));
    l = i32x4.add(l, i32x4.dot_i16x8_s(u2, v128.load(xp, 96)));
    h = i32x4.add(h, i32x4.dot_i16x8_s(u3, v128.load(xp, 48)));
    l = i32x4.add(l, i32x4.dot_i16x8_s(u3, v128.load(xp, 112)));
    const f = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(h), k15), f32x4.convert_i32x4_s(l));
    t = f32x4.add(t, f32x4.mul(f, f32x4.splat(f16(sp) * load<f32>(xp, 160))));
    p += 16;
    sp += 2;
    xp += XG;
  }
  return sumLanes(t);
}

/** One row's q8 dot product with one prepared x row, f32 (before bias). */
@inline
function dotQ8(p: usize, sp: usize, xp: usize, groups: i32): f32 {
  const k15 = f32x4.splat(TWO_15);
  let t = f32x4.splat(0);
  for (let g = 0; g < groups; g++) {
    const v0 = v128.load(p);
    const v1 = v128.load(p, 16);
    const a0 = i16x8.shr_s(i16x8.shl(v0, 8), 8);
    const a1 = i16x8.shr_s(v0, 8);
    const a2 = i16x8.shr_s(i16x8.shl(v1, 8), 8);
    const a3 = i16x8.shr_s(v1, 8);
    let h = i32x4.dot_i16x8_s(a0, v128.load(xp));
    let l = i32x4.dot_i16x8_s(a0, v128.load(xp, 64));
    h = i32x4.add(h, i32x4.dot_i16x8_s(a1, v128.load(xp, 16)));
    l = i32x4.add(l, i32x4.dot_i16x8_s(a1, v128.load(xp, 80)));
    h = i32x4.add(h, i32x4.dot_i16x8_s(a2, v128.load(xp, 32)));
    l = i32x4.add(l, i32x4.dot_i16x8_s(a2, v128.load(xp, 96)));
    h = i32x4.add(h, i32x4.dot_i16x8_s(a3, v128.load(xp, 48)));
    l = i32x4.add(l, i32x4.dot_i16x8_s(a3, v128.load(xp, 112)));
    const f = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(h), k15), f32x4.convert_i32x4_s(l));
    t = f32x4.add(t, f32x4.mul(f, f32x4.splat(f16(sp) * load<f32>(xp, 160))));
    p += 32;
    sp += 2;
    xp += XG;
  }
  return sumLanes(t);
}

/** y[r, n] for r < rows, n in [n0, n1), from x prepared by quantGemvPrepare. */
export function quantGemv(
  y: usize, xq: usize, w: usize, scales: usize, bias: usize, rows: i32, K: i32, N: i32, n0: i32, n1: i32, bits: i32, flags: i32,
): void {
  const groups = (K + GROUP - 1) / GROUP;
  const rowBytes = <usize>groups * (bits == 4 ? 16 : 32);
  const xBytes = <usize>groups * XG;
  for (let r = 0; r < rows; r++) {
    const xr = xq + <usize>r * xBytes;
    const yr = y + ((<usize>r * N) << 2);
    for (let n = n0; n < n1; n++) {
      const p = w + <usize>n * rowBytes;
      const sp = scales + ((<usize>n * groups) << 1);
      let t = bits == 4 ? dotQ4(p, sp, xr, groups) : dotQ8(p, sp, xr, groups);
      if (bias) t += f16(bias + (<usize>n << 1));
      if (flags & LINEAR_GELU) t = geluf(t);
      if (flags & LINEAR_ACCUMULATE) t += load<f32>(yr + (<usize>n << 2));
      store<f32>(yr + (<usize>n << 2), t);
    }
  }
}

/** q · scale of element k of row n (scalar; the panel packer's). */
@inline
function dequant(w: usize, scales: usize, n: i32, k: i32, groups: i32, bits: i32): f32 {
  const s = f16(scales + ((<usize>n * groups + (k >> 5)) << 1));
  let q: i32;
  if (bits == 4) {
    const byte = <i32>load<u8>(w + <usize>n * groups * 16 + (k >> 1));
    q = ((k & 1 ? byte >> 4 : byte) & 0xf) - 8;
  } else {
    q = <i32>load<i8>(w + <usize>n * groups * 32 + k);
  }
  return <f32>q * s;
}

/** panel = [8] bias, then [K][8] dequantized weights of columns n0..n0+nc, f32; columns >= nc are 0. */
function packPanelQ(panel: usize, w: usize, scales: usize, bias: usize, n0: i32, nc: i32, K: i32, bits: i32): void {
  const groups = (K + GROUP - 1) / GROUP;
  for (let j = 0; j < 8; j++) {
    store<f32>(panel + (<usize>j << 2), j < nc && bias ? f16(bias + (<usize>(n0 + j) << 1)) : 0);
    const dst = panel + 32 + (<usize>j << 2);
    if (j >= nc) {
      for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 5), 0);
      continue;
    }
    for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 5), dequant(w, scales, n0 + j, k, groups, bits));
  }
}

/** y[0:rows, n0:n1] through dequantized panels; `panel` holds linearPanelBytes(K). */
export function quantGemm(
  y: usize, x: usize, w: usize, scales: usize, bias: usize, rows: i32, K: i32, N: i32, n0: i32, n1: i32, bits: i32, flags: i32,
  panel: usize,
): void {
  for (let c = n0; c < n1; c += 8) {
    const nc = min(8, n1 - c);
    packPanelQ(panel, w, scales, bias, c, nc, K, bits);
    for (let r0 = 0; r0 < rows; r0 += 4) {
      gemm4x8(y + ((<usize>r0 * N + c) << 2), x + ((<usize>r0 * K) << 2), panel, min(4, rows - r0), K, N, nc, flags);
    }
  }
}

/** q · scale · `scale` (+ y) for the gathered rows; returns -1, or the first row whose id is outside [0, V). */
export function embedQ(
  y: usize, ids: usize, w: usize, scales: usize, rows: i32, V: i32, D: i32, bits: i32, scale: f32, accumulate: bool,
): i32 {
  const groups = (D + GROUP - 1) / GROUP;
  for (let r = 0; r < rows; r++) {
    const id = load<i32>(ids + (<usize>r << 2));
    if (<u32>id >= <u32>V) return r;
    const dst = y + ((<usize>r * D) << 2);
    for (let k = 0; k < D; k++) {
      let v = scale * dequant(w, scales, id, k, groups, bits);
      if (accumulate) v += load<f32>(dst + (<usize>k << 2));
      store<f32>(dst + (<usize>k << 2), v);
    }
  }
  return -1;
}
