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
// Record per group (XG = 144 bytes, 16-aligned):
//   [0, 64)    xh, four i16x8 in the lane order the unpack below produces
//   [64, 128)  xl, same order
//   [128, 132) d = 2^-e, f32
// Lane orders: q4 reads a group (16 bytes) as i16x8 lanes of four nibbles, so vector
// j (nibble j of every lane) holds elements 4i + j; q8 reads two i16x8 of two bytes,
// low byte then high byte: vectors hold elements 2i, 2i + 1, 16 + 2i, 17 + 2i.
// q4 nibbles hold q + 8: flipping bit 3 of each (xor 0x8888) makes them q in 4-bit
// two's complement, which shl-then-arithmetic-shr sign-extends. (Starting each sum
// at -8 Σx instead, loaded from the record, cost a third of the GEMV's speed.)
//
// The relaxed-SIMD build (ASC_FEATURE_RELAXED_SIMD: cpu-relaxed.wasm, cpu-mt-relaxed.wasm)
// has its own GEMV records, made for i32x4.relaxed_dot_i8x16_i7x16_add_s (16 i8 · i7
// products per instruction, summed in fours into i32 lanes). That instruction is exact
// and the same on every engine when its second operand's lanes are in [0, 127] (the
// only implementation-defined cases are a set top bit and i16 pair sums past 32767;
// |a · b| ≤ 128 · 127 keeps a pair at 32512). So each product puts its 7-bit operand
// second, splits the other into base-2^8 or 2^7 digits, and recombines the digit sums
// in i32 (shifts and adds are modular: the exact final sum fits, so overflowed
// intermediates do not matter):
// - q4: the stored nibble q + 8 (in [0, 15]) is the 7-bit operand, as it is; x is
//   xi = round(x · 2^e) with |xi| ≤ 2^22 (e = min(22 - E, 126)) in three signed
//   base-256 digits, and the record's -8 Σxi per lane starts the low digit's sum.
// - q8: q (two's complement i8) is the first operand; x is xi = round(x · 2^e) with
//   |xi| < 2^20 (e = min(20 - E, 126), clamped), offset to xu = xi + 2^20 in [1, 2^21)
//   and split into three base-128 digits; Σq·xi = Σq·xu - 2^20 Σq, with Σq from one
//   more product with ones.
// x then keeps 22 (q4) or 20 (q8) bits relative to its group's largest element, not 30:
// within the same tolerances of the dequantize-then-f32 reference, deterministic, but
// not bit-equal to the plain build.
// Records (XG = 128 bytes):
//   q4: [0, 96) digits 0, 1, 2 of xi, 32 i8 each: elements 0, 2, .., 30 (low nibbles),
//       then 1, 3, .., 31 (high nibbles); [96, 112) -8 Σxi over elements 8j..8j+7, i32x4
//       (lane j of a sum over both nibble halves); [112, 116) d = 2^-e, f32.
//   q8: [0, 96) digits 0, 1, 2 of xu, 32 u7 each, elements in order; [112, 116) d.
import { f16 } from "./f16";
import { MAX_THREADS, perThread } from "./memory";
import { geluf } from "./math";
import { sumLanes } from "./simd";
import { LINEAR_ACCUMULATE, LINEAR_GELU, gemmPasses, storeTransposed } from "./linear";

/** Fewest rows that take the panel path. */
export const QUANT_GEMM_MIN_ROWS = 4;
const GROUP = 32;
const XG: usize = ASC_FEATURE_RELAXED_SIMD ? 128 : 144;
/** Where a record keeps d = 2^-e. */
const XD: usize = ASC_FEATURE_RELAXED_SIMD ? 112 : 128;
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
  // Bits xi keeps below its group's largest element: the record's digits hold that many.
  const top = ASC_FEATURE_RELAXED_SIMD ? (bits == 4 ? 22 : 20) : 30;
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
        e = min(top - (field - 126), 126);
      }
      const up = reinterpret<f64>(<u64>(e + 1023) << 52); // 2^e
      if (ASC_FEATURE_RELAXED_SIMD) {
        for (let j = 0; j < 4; j++) store<i32>(rec + (<usize>j << 2), 0, 96);
      }
      for (let i = 0; i < GROUP; i++) {
        const v: f64 = i < len && finite ? <f64>load<f32>(xr + (<usize>(k0 + i) << 2)) : 0;
        const xi = <i32>nearest(v * up);
        if (ASC_FEATURE_RELAXED_SIMD) storeDigits(rec, i, xi, bits);
        else {
          const at = rec + (<usize>laneSlot(i, bits) << 1);
          store<i16>(at, <i16>(xi >> 15));
          store<i16>(at, <i16>(xi & 0x7fff), 64);
        }
      }
      store<f32>(rec, finite ? reinterpret<f32>((127 - e) << 23) : f32.NaN, XD);
    }
  }
}

/** The relaxed build's record entries for element i of a group (see the layout above). */
@inline
function storeDigits(rec: usize, i: i32, xi: i32, bits: i32): void {
  if (bits == 4) {
    const at = rec + <usize>((i & 1) * 16 + (i >> 1));
    const d0 = ((xi + 128) & 255) - 128;
    const r = (xi - d0) >> 8;
    const d1 = ((r + 128) & 255) - 128;
    store<i8>(at, <i8>d0);
    store<i8>(at, <i8>d1, 32);
    store<i8>(at, <i8>((r - d1) >> 8), 64);
    const sum = rec + 96 + (<usize>(i >> 3) << 2);
    store<i32>(sum, load<i32>(sum) - 8 * xi);
  } else {
    const xu = min(max(xi, -0xfffff), 0xfffff) + 0x100000;
    const at = rec + <usize>i;
    store<u8>(at, <u8>(xu & 127));
    store<u8>(at, <u8>((xu >> 7) & 127), 32);
    store<u8>(at, <u8>(xu >> 14), 64);
  }
}

/**
 * Σ q·x of a group whose q are four i16x8 vectors in the record's lane order, against its
 * record at xp (xh and xl), in units of 2^-e, spread over four lanes: groupQ4's and groupQ8's.
 */
@inline
function groupDot(q0: v128, q1: v128, q2: v128, q3: v128, xp: usize): v128 {
  let h = i32x4.dot_i16x8_s(q0, v128.load(xp));
  let l = i32x4.dot_i16x8_s(q0, v128.load(xp, 64));
  h = i32x4.add(h, i32x4.dot_i16x8_s(q1, v128.load(xp, 16)));
  l = i32x4.add(l, i32x4.dot_i16x8_s(q1, v128.load(xp, 80)));
  h = i32x4.add(h, i32x4.dot_i16x8_s(q2, v128.load(xp, 32)));
  l = i32x4.add(l, i32x4.dot_i16x8_s(q2, v128.load(xp, 96)));
  h = i32x4.add(h, i32x4.dot_i16x8_s(q3, v128.load(xp, 48)));
  l = i32x4.add(l, i32x4.dot_i16x8_s(q3, v128.load(xp, 112)));
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(h), f32x4.splat(TWO_15)), f32x4.convert_i32x4_s(l));
}

/** Σ q·x of one q4 group (16 bytes at p) with its record at xp, in units of 2^-e, spread over four lanes. */
@inline
function groupQ4(p: usize, xp: usize): v128 {
  const v = v128.xor(v128.load(p), i16x8.splat(<i16>0x8888));
  const u0 = i16x8.shr_s(i16x8.shl(v, 12), 12);
  const u1 = i16x8.shr_s(i16x8.shl(v, 8), 12);
  const u2 = i16x8.shr_s(i16x8.shl(v, 4), 12);
  const u3 = i16x8.shr_s(v, 12);
  return groupDot(u0, u1, u2, u3, xp);
}

/** groupQ4 for a q8 group (32 bytes at p). */
@inline
function groupQ8(p: usize, xp: usize): v128 {
  const v0 = v128.load(p);
  const v1 = v128.load(p, 16);
  const a0 = i16x8.shr_s(i16x8.shl(v0, 8), 8);
  const a1 = i16x8.shr_s(v0, 8);
  const a2 = i16x8.shr_s(i16x8.shl(v1, 8), 8);
  const a3 = i16x8.shr_s(v1, 8);
  return groupDot(a0, a1, a2, a3, xp);
}

/** groupQ4 in the relaxed build: three digit sums over the nibbles as stored. */
@inline
function groupQ4r(p: usize, xp: usize): v128 {
  const v = v128.load(p);
  const lo = v128.and(v, i8x16.splat(0x0f));
  const hi = v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
  // Digits 2 and 1 by Horner (· 2^8 between), digit 0 from -8 Σxi: two independent chains.
  let a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 64), lo, i32x4.splat(0));
  a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 80), hi, a);
  a = i32x4.shl(a, 8);
  a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 32), lo, a);
  a = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 48), hi, a);
  let b = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp), lo, v128.load(xp, 96));
  b = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 16), hi, b);
  return f32x4.convert_i32x4_s(i32x4.add(i32x4.shl(a, 8), b));
}

/** groupQ8 in the relaxed build: q against three base-128 digits of xu, less 2^20 Σq. */
@inline
function groupQ8r(p: usize, xp: usize): v128 {
  const q0 = v128.load(p);
  const q1 = v128.load(p, 16);
  let a = i32x4.relaxed_dot_i8x16_i7x16_add_s(q0, v128.load(xp, 64), i32x4.splat(0));
  a = i32x4.relaxed_dot_i8x16_i7x16_add_s(q1, v128.load(xp, 80), a);
  a = i32x4.shl(a, 7);
  a = i32x4.relaxed_dot_i8x16_i7x16_add_s(q0, v128.load(xp, 32), a);
  a = i32x4.relaxed_dot_i8x16_i7x16_add_s(q1, v128.load(xp, 48), a);
  a = i32x4.shl(a, 7);
  let b = i32x4.relaxed_dot_i8x16_i7x16_add_s(q0, v128.load(xp), i32x4.splat(0));
  b = i32x4.relaxed_dot_i8x16_i7x16_add_s(q1, v128.load(xp, 16), b);
  let sq = i32x4.relaxed_dot_i8x16_i7x16_add_s(q0, i8x16.splat(1), i32x4.splat(0));
  sq = i32x4.relaxed_dot_i8x16_i7x16_add_s(q1, i8x16.splat(1), sq);
  return f32x4.convert_i32x4_s(i32x4.sub(i32x4.add(a, b), i32x4.shl(sq, 20)));
}

/** One group's Σ q·x in units of 2^-e, spread over four lanes, in this build's way. */
@inline
function groupQ(p: usize, xp: usize, bits: i32): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return bits == 4 ? groupQ4r(p, xp) : groupQ8r(p, xp);
  return bits == 4 ? groupQ4(p, xp) : groupQ8(p, xp);
}

/** A group's factor: its weight scale times its x's 2^-e. */
@inline
function groupScale(sp: usize, xp: usize): v128 {
  return f32x4.splat(f16(sp) * load<f32>(xp, XD));
}

/**
 * One row's dot product with one prepared x row, f32 (before bias). Two groups per
 * step, summed before they meet the running total: V8 keeps that total in a stack
 * slot, and one store-load round trip per group was the loop's critical path.
 */
@inline
function dotQ(p: usize, sp: usize, xp: usize, groups: i32, bits: i32): f32 {
  const gb: usize = bits == 4 ? 16 : 32;
  let t = f32x4.splat(0);
  let g = 0;
  for (; g + 2 <= groups; g += 2) {
    const fa = groupQ(p, xp, bits);
    const fb = groupQ(p + gb, xp + XG, bits);
    t = f32x4.add(t, f32x4.add(f32x4.mul(fa, groupScale(sp, xp)), f32x4.mul(fb, groupScale(sp + 2, xp + XG))));
    p += gb << 1;
    sp += 4;
    xp += XG << 1;
  }
  if (g < groups) t = f32x4.add(t, f32x4.mul(groupQ(p, xp, bits), groupScale(sp, xp)));
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
      let t = bits == 4 ? dotQ(p, sp, xr, groups, 4) : dotQ(p, sp, xr, groups, 8);
      if (bias) t += f16(bias + (<usize>n << 1));
      if (flags & LINEAR_GELU) t = geluf(t);
      if (flags & LINEAR_ACCUMULATE) t += load<f32>(yr + (<usize>n << 2));
      store<f32>(yr + (<usize>n << 2), t);
    }
  }
}

/** q · scale of element k of row n (scalar; embedQ's). */
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

/** Per thread, four rows' q4 groups expanded to i8 in k order for packPanelQ. */
const Q4ROWS = memory.data(4 * GROUP * MAX_THREADS, 16);

/** The 32 q of a q4 group (16 bytes at p) as i8 in k order at dst. */
@inline
function expandQ4(dst: usize, p: usize): void {
  const v = v128.load(p);
  const lo = i8x16.sub(v128.and(v, i8x16.splat(0x0f)), i8x16.splat(8)); // even k
  const hi = i8x16.sub(v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f)), i8x16.splat(8)); // odd k
  v128.store(dst, i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
  v128.store(dst, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
}

/** Four i8 q at src as f32x4, times the group's scale s. */
@inline
function dq4(src: usize, s: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(src)))), s);
}

/**
 * panel = [8] bias, then [K][8] dequantized weights of columns n0..n0+nc, f32
 * (linear.ts's layout); columns >= nc are 0. Four columns at a time: each group's
 * q as i8 in k order (q8 rows already are; q4 rows are expanded), four k per
 * vector, transposed into the panel.
 */
export function packPanelQ(panel: usize, w: usize, scales: usize, bias: usize, n0: i32, nc: i32, K: i32, bits: i32): void {
  const groups = (K + GROUP - 1) / GROUP;
  const gb: usize = bits == 4 ? 16 : 32;
  const rowBytes = <usize>groups * gb;
  for (let j = 0; j < 8; j++) {
    store<f32>(panel + (<usize>j << 2), j < nc && bias ? f16(bias + (<usize>(n0 + j) << 1)) : 0);
  }
  const dst = panel + 32;
  for (let c = 0; c < nc; c += 4) {
    // Columns past nc repeat the last valid one and are zeroed below.
    const n_0 = n0 + c;
    const n_1 = n0 + min(c + 1, nc - 1);
    const n_2 = n0 + min(c + 2, nc - 1);
    const n_3 = n0 + min(c + 3, nc - 1);
    for (let g = 0; g < groups; g++) {
      let s0 = w + <usize>n_0 * rowBytes + <usize>g * gb;
      let s1 = w + <usize>n_1 * rowBytes + <usize>g * gb;
      let s2 = w + <usize>n_2 * rowBytes + <usize>g * gb;
      let s3 = w + <usize>n_3 * rowBytes + <usize>g * gb;
      if (bits == 4) {
        const q = perThread(Q4ROWS, 4 * GROUP);
        expandQ4(q, s0);
        expandQ4(q + GROUP, s1);
        expandQ4(q + 2 * GROUP, s2);
        expandQ4(q + 3 * GROUP, s3);
        s0 = q;
        s1 = q + GROUP;
        s2 = q + 2 * GROUP;
        s3 = q + 3 * GROUP;
      }
      const f0 = f16(scales + ((<usize>n_0 * groups + g) << 1));
      const f1 = f16(scales + ((<usize>n_1 * groups + g) << 1));
      const f2 = f16(scales + ((<usize>n_2 * groups + g) << 1));
      const f3 = f16(scales + ((<usize>n_3 * groups + g) << 1));
      const k0 = g * GROUP;
      const len = min(GROUP, K - k0);
      let kk = 0;
      for (; kk + 4 <= len; kk += 4) {
        const o = <usize>kk;
        storeTransposed(
          dst + ((<usize>(k0 + kk) * 8 + c) << 2),
          dq4(s0 + o, f32x4.splat(f0)), dq4(s1 + o, f32x4.splat(f1)), dq4(s2 + o, f32x4.splat(f2)), dq4(s3 + o, f32x4.splat(f3)),
        );
      }
      for (; kk < len; kk++) {
        const d = dst + ((<usize>(k0 + kk) * 8 + c) << 2);
        store<f32>(d, <f32>load<i8>(s0 + kk) * f0);
        store<f32>(d, <f32>load<i8>(s1 + kk) * f1, 4);
        store<f32>(d, <f32>load<i8>(s2 + kk) * f2, 8);
        store<f32>(d, <f32>load<i8>(s3 + kk) * f3, 12);
      }
    }
  }
  for (let j = nc; j < 8; j++) {
    for (let k = 0; k < K; k++) store<f32>(dst + ((<usize>k * 8 + j) << 2), 0);
  }
}

/** y[0:rows, n0:n1] through dequantized panels; `panel` holds linearPanelBytes(K). */
export function quantGemm(
  y: usize, x: usize, w: usize, scales: usize, bias: usize, rows: i32, K: i32, N: i32, n0: i32, n1: i32, bits: i32, flags: i32,
  panel: usize,
): void {
  gemmPasses(y, x, w, scales, bias, bits, rows, K, N, n0, n1, flags, panel);
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
