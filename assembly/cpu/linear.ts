// linear: y[rows, N] = x[rows, K] · W[N, K]ᵀ + bias[N], then GELU and/or y += ·.
//
// Layouts: x, y f32 row-major; W f16 bits row-major [N, K] (PyTorch nn.Linear);
// bias f16 [N] or 0 for none. `panel` is caller-owned scratch of
// linearPanelBytes(K) bytes (one per thread). Only output columns [n0, n1) are
// computed, so threads may split N. Reads may run up to 32 bytes past the end of
// x, y, W and bias (the allocator leaves slack); writes never leave y.
//
// Two paths:
// - rows < 4 (decode, batched decode): one GEMV per row straight over the f16 rows
//   of W, SIMD over K, each weight converted where it is used (gemv, or gemv4 for
//   long rows). Below 4 rows, converting W into panels costs more than it saves.
// - rows >= 4 (prefill, vision): for each block of 8 output columns, W[n0:n0+8, :]
//   is converted once into an f32 panel laid out [k][8] (so a k step is two
//   vector loads), then reused by every group of 4 rows; up to 8 panels are packed
//   per pass (gemmPasses), so a group of 4 rows of x is read from L1 for all of
//   them rather than from L3 once per 8 columns. The 4x8 micro-kernel
//   keeps 8 accumulators in registers and, per k, broadcasts one x value per row
//   and does 8 multiply-adds (XNNPACK's "loadsplat" scheme; wasm SIMD has no FMA
//   without relaxed-simd, so it is a mul then an add).
// Row tails (rows % 4) reuse the last valid row's pointer and skip its stores;
// column tails (N % 8) are zero-padded in the panel and stored through a small
// tile. 6x8 and a k-unrolled 4x8 were tried: V8 spills their registers and both
// ran ~1.5x slower than this 4x8.
import { f16, f16x4, tinyF16, tinyF16x4 } from "./f16";
import { gelu4, geluf } from "./math";
import { MAX_THREADS, perThread } from "./memory";
import { hsum4, sumLanes } from "./simd";
import { packPanelQ } from "./linear-q";

/** flags bit: apply GELU (tanh) to the result. */
export const LINEAR_GELU = 1;
/** flags bit: y += result instead of y = result. */
export const LINEAR_ACCUMULATE = 2;

/** 32 bytes per thread: a partial tile's staging before its in-bounds lanes are copied out. */
const TILES = memory.data(32 * MAX_THREADS, 16);
/** Fewest rows that take the panel path. */
const GEMM_MIN_ROWS = 4;
/** K above which the GEMV reads four rows of W at once (see gemv4). */
const GEMV_LONG_ROWS = 4096;
/** Panel bytes one many-row pass packs: well under L2 (1 MB and up on desktop x86, 512 KB on many phones), beside x's rows. */
const PANEL_PASS_BYTES: usize = 256 << 10;
/** 2^56: the GEMV scales x by it and its sums of x · (w · 2^-112) back by it (see gemv). */
const X_SCALE: f32 = 7.205759403792794e16;

/** Bytes of one panel: [8] bias, then [K][8] weights, f32. */
@inline
function panelBytes(K: i32): usize {
  return (8 + 8 * <usize>K) << 2;
}

/** The panels packed per pass: as many as fit PANEL_PASS_BYTES, at most 8. */
@inline
function panelsPerPass(K: i32): i32 {
  return <i32>max<usize>(1, min<usize>(8, PANEL_PASS_BYTES / panelBytes(K)));
}

export function linearPanelBytes(K: i32): usize {
  return <usize>panelsPerPass(K) * panelBytes(K);
}

/**
 * The many-row paths, f16 (bits 0) and quantized (linear-q.ts: bits 4 or 8, with
 * scales): columns [n0, n1) in passes of panelsPerPass(K) panels of 8; each block of 4
 * rows of x then meets every panel of the pass while it is in L1. With one panel per
 * pass the whole of x came from L3 once per 8 columns, and two threads contended for it.
 */
export function gemmPasses(
  y: usize, x: usize, w: usize, scales: usize, bias: usize, bits: i32, rows: i32, K: i32, N: i32, n0: i32, n1: i32, flags: i32,
  panel: usize,
): void {
  const pb = panelBytes(K);
  const step = 8 * panelsPerPass(K);
  for (let c = n0; c < n1; c += step) {
    const end = min(n1, c + step);
    for (let j = c; j < end; j += 8) {
      const at = panel + <usize>((j - c) >> 3) * pb;
      if (bits) packPanelQ(at, w, scales, bias, j, min(8, end - j), K, bits);
      else packPanel(at, w, bias, j, min(8, end - j), K);
    }
    for (let r0 = 0; r0 < rows; r0 += 4) {
      const mr = min(4, rows - r0);
      const xr = x + ((<usize>r0 * K) << 2);
      for (let j = c; j < end; j += 8) {
        gemm4x8(y + ((<usize>r0 * N + j) << 2), xr, panel + <usize>((j - c) >> 3) * pb, mr, K, N, min(8, end - j), flags);
      }
    }
  }
}

/** Output columns [n0, n1) of y (a thread's share; 0, N for all). */
export function linear(
  y: usize, x: usize, w: usize, bias: usize, rows: i32, K: i32, N: i32, n0: i32, n1: i32, flags: i32, panel: usize,
): void {
  if (rows < GEMM_MIN_ROWS) {
    for (let r = 0; r < rows; r++) {
      const xr = x + ((<usize>r * K) << 2);
      for (let k = 0; k < K; k++) store<f32>(panel + (<usize>k << 2), load<f32>(xr + (<usize>k << 2)) * X_SCALE);
      if (K > GEMV_LONG_ROWS) gemv4(y + ((<usize>r * N) << 2), panel, w, bias, K, n0, n1, flags);
      else gemv(y + ((<usize>r * N) << 2), panel, w, bias, K, n0, n1, flags);
    }
    return;
  }
  gemmPasses(y, x, w, 0, bias, 0, rows, K, N, n0, n1, flags, panel);
}

@inline
function finish(v: v128, yp: usize, flags: i32): v128 {
  if (flags & LINEAR_GELU) v = gelu4(v);
  if (flags & LINEAR_ACCUMULATE) v = f32x4.add(v, v128.load(yp));
  return v;
}

/** Stores the first nc (<= 8) lanes of v0:v1 at yp. */
@inline
function store8(yp: usize, v0: v128, v1: v128, nc: i32): void {
  if (nc == 8) {
    v128.store(yp, v0);
    v128.store(yp, v1, 16);
  } else {
    const tile = perThread(TILES, 32);
    v128.store(tile, v0);
    v128.store(tile, v1, 16);
    memory.copy(yp, tile, <usize>nc << 2);
  }
}

/**
 * Four columns' values at four consecutive k (c_j: column j's k..k+3) into a
 * [k][8] panel at d (column 0 of row k): a 4x4 transpose, one store per k.
 */
@inline
export function storeTransposed(d: usize, c0: v128, c1: v128, c2: v128, c3: v128): void {
  const t0 = i32x4.shuffle(c0, c1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(c2, c3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(c0, c1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(c2, c3, 2, 6, 3, 7);
  v128.store(d, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
  v128.store(d, i32x4.shuffle(t0, t1, 2, 3, 6, 7), 32);
  v128.store(d, i32x4.shuffle(t2, t3, 0, 1, 4, 5), 64);
  v128.store(d, i32x4.shuffle(t2, t3, 2, 3, 6, 7), 96);
}

/** panel = [8] bias, then [K][8] weights of columns n0..n0+8, f32; columns >= nc are 0. */
function packPanel(panel: usize, w: usize, bias: usize, n0: i32, nc: i32, K: i32): void {
  const rowBytes = <usize>K << 1;
  for (let j = 0; j < 8; j++) {
    store<f32>(panel + (<usize>j << 2), j < nc && bias ? f16(bias + (<usize>(n0 + j) << 1)) : 0);
  }
  const dst = panel + 32;
  if (nc < 8) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) {
        const v: f32 = j < nc ? f16(w + <usize>(n0 + j) * rowBytes + (<usize>k << 1)) : 0;
        store<f32>(dst + ((<usize>k * 8 + j) << 2), v);
      }
    }
    return;
  }
  for (let g = 0; g < 8; g += 4) {
    const r0 = w + <usize>(n0 + g) * rowBytes;
    const r1 = r0 + rowBytes;
    const r2 = r1 + rowBytes;
    const r3 = r2 + rowBytes;
    let k = 0;
    // Four columns x four k: convert, then transpose 4x4 so each k gets one vector.
    for (; k + 4 <= K; k += 4) {
      const o = <usize>k << 1;
      const c0 = f16x4(r0 + o);
      const c1 = f16x4(r1 + o);
      const c2 = f16x4(r2 + o);
      const c3 = f16x4(r3 + o);
      storeTransposed(dst + ((<usize>k * 8 + g) << 2), c0, c1, c2, c3);
    }
    for (; k < K; k++) {
      const o = <usize>k << 1;
      const d = dst + ((<usize>k * 8 + g) << 2);
      store<f32>(d, f16(r0 + o));
      store<f32>(d, f16(r1 + o), 4);
      store<f32>(d, f16(r2 + o), 8);
      store<f32>(d, f16(r3 + o), 12);
    }
  }
}

/** y[0:mr, 0:nc] for one panel; x and y point at the block's first row (also linear-q.ts's). */
export function gemm4x8(y: usize, x: usize, panel: usize, mr: i32, K: i32, N: i32, nc: i32, flags: i32): void {
  const xs = <usize>K << 2;
  const x0 = x;
  const x1 = mr > 1 ? x0 + xs : x0;
  const x2 = mr > 2 ? x1 + xs : x1;
  const x3 = mr > 3 ? x2 + xs : x2;
  let a00 = v128.load(panel);
  let a01 = v128.load(panel, 16);
  let a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
  let p = panel + 32;
  const end = x0 + xs;
  let k0 = x0, k1 = x1, k2 = x2, k3 = x3;
  while (k0 < end) {
    const b0 = v128.load(p);
    const b1 = v128.load(p, 16);
    let a = v128.load32_splat(k0);
    a00 = f32x4.add(a00, f32x4.mul(a, b0));
    a01 = f32x4.add(a01, f32x4.mul(a, b1));
    a = v128.load32_splat(k1);
    a10 = f32x4.add(a10, f32x4.mul(a, b0));
    a11 = f32x4.add(a11, f32x4.mul(a, b1));
    a = v128.load32_splat(k2);
    a20 = f32x4.add(a20, f32x4.mul(a, b0));
    a21 = f32x4.add(a21, f32x4.mul(a, b1));
    a = v128.load32_splat(k3);
    a30 = f32x4.add(a30, f32x4.mul(a, b0));
    a31 = f32x4.add(a31, f32x4.mul(a, b1));
    p += 32;
    k0 += 4;
    k1 += 4;
    k2 += 4;
    k3 += 4;
  }
  // Rows past mr repeated the last x row: their results are dropped.
  const ys = <usize>N << 2;
  const y1 = y + ys, y2 = y1 + ys, y3 = y2 + ys;
  store8(y, finish(a00, y, flags), finish(a01, y + 16, flags), nc);
  if (mr > 1) store8(y1, finish(a10, y1, flags), finish(a11, y1 + 16, flags), nc);
  if (mr > 2) store8(y2, finish(a20, y2, flags), finish(a21, y2 + 16, flags), nc);
  if (mr > 3) store8(y3, finish(a30, y3, flags), finish(a31, y3 + 16, flags), nc);
}

/**
 * One output at a time, so W is read as a single sequential stream: four rows at
 * once would be four streams, each a page long, and the hardware prefetcher
 * loses a third of the bandwidth retraining on every page. x arrives scaled by
 * 2^56 and the weights stay "tiny" (· 2^-112), so each weight costs a load, a
 * shift and an and; the sum is scaled back by 2^56. Products only leave the
 * normal f32 range below 2^-70, far under f32 resolution of anything summed.
 */
function gemv(y: usize, xScaled: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32, flags: i32): void {
  const k16 = <usize>(K & ~15) << 1;
  const k4 = <usize>(K & ~3) << 1;
  const rowBytes = <usize>K << 1;
  for (let n = n0; n < n1; n++) {
    const row = w + <usize>n * rowBytes;
    let p = row;
    let xp = xScaled;
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    for (const end = row + k16; p < end; p += 32, xp += 64) {
      s0 = f32x4.add(s0, f32x4.mul(v128.load(xp), tinyF16x4(v128.load16x4_s(p))));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(xp, 16), tinyF16x4(v128.load16x4_s(p, 8))));
      s2 = f32x4.add(s2, f32x4.mul(v128.load(xp, 32), tinyF16x4(v128.load16x4_s(p, 16))));
      s3 = f32x4.add(s3, f32x4.mul(v128.load(xp, 48), tinyF16x4(v128.load16x4_s(p, 24))));
    }
    for (const end = row + k4; p < end; p += 8, xp += 16) {
      s0 = f32x4.add(s0, f32x4.mul(v128.load(xp), tinyF16x4(v128.load16x4_s(p))));
    }
    let t = sumLanes(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
    for (const end = row + rowBytes; p < end; p += 2, xp += 4) {
      t += load<f32>(xp) * tinyF16(p);
    }
    t *= X_SCALE;
    if (bias) t += f16(bias + (<usize>n << 1));
    if (flags & LINEAR_GELU) t = geluf(t);
    if (flags & LINEAR_ACCUMULATE) t += load<f32>(y + (<usize>n << 2));
    store<f32>(y + (<usize>n << 2), t);
  }
}

/**
 * gemv for long rows (K > GEMV_LONG_ROWS): four outputs at a time, so each load of
 * x serves four rows of W. Past ~16 KB, x no longer stays in L1 while W streams
 * through it, and reloading x from L2 for every row costs more than the extra
 * streams do (measured 1.5x faster at K = 9216 and 16384, 1.5x slower at 2048).
 * Same scaling as gemv. Columns past n1 repeat the last row of W and are not stored.
 */
function gemv4(y: usize, xScaled: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32, flags: i32): void {
  const k8 = <usize>(K & ~7) << 1;
  const rowBytes = <usize>K << 1;
  for (; n0 < n1; n0 += 4) {
    const nc = min(4, n1 - n0);
    const r0 = w + <usize>n0 * rowBytes;
    const r1 = nc > 1 ? r0 + rowBytes : r0;
    const r2 = nc > 2 ? r1 + rowBytes : r1;
    const r3 = nc > 3 ? r2 + rowBytes : r2;
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    let o: usize = 0;
    let xp = xScaled;
    for (; o < k8; o += 16, xp += 32) {
      const xa = v128.load(xp);
      const xb = v128.load(xp, 16);
      s0 = f32x4.add(s0, f32x4.add(f32x4.mul(xa, tinyF16x4(v128.load16x4_s(r0 + o))), f32x4.mul(xb, tinyF16x4(v128.load16x4_s(r0 + o, 8)))));
      s1 = f32x4.add(s1, f32x4.add(f32x4.mul(xa, tinyF16x4(v128.load16x4_s(r1 + o))), f32x4.mul(xb, tinyF16x4(v128.load16x4_s(r1 + o, 8)))));
      s2 = f32x4.add(s2, f32x4.add(f32x4.mul(xa, tinyF16x4(v128.load16x4_s(r2 + o))), f32x4.mul(xb, tinyF16x4(v128.load16x4_s(r2 + o, 8)))));
      s3 = f32x4.add(s3, f32x4.add(f32x4.mul(xa, tinyF16x4(v128.load16x4_s(r3 + o))), f32x4.mul(xb, tinyF16x4(v128.load16x4_s(r3 + o, 8)))));
    }
    let s = hsum4(s0, s1, s2, s3);
    for (; o < rowBytes; o += 2, xp += 4) {
      let wk = f32x4.splat(tinyF16(r0 + o));
      wk = f32x4.replace_lane(wk, 1, tinyF16(r1 + o));
      wk = f32x4.replace_lane(wk, 2, tinyF16(r2 + o));
      wk = f32x4.replace_lane(wk, 3, tinyF16(r3 + o));
      s = f32x4.add(s, f32x4.mul(v128.load32_splat(xp), wk));
    }
    s = f32x4.mul(s, f32x4.splat(X_SCALE));
    if (bias) s = f32x4.add(s, f16x4(bias + (<usize>n0 << 1)));
    const yp = y + (<usize>n0 << 2);
    s = finish(s, yp, flags);
    if (nc == 4) {
      v128.store(yp, s);
    } else {
      const tile = perThread(TILES, 32);
      v128.store(tile, s);
      memory.copy(yp, tile, <usize>nc << 2);
    }
  }
}
