// conv2d and convTranspose2d, NHWC activations (the segmentation mask decoder).
//
// x f32 [B, H, W, Cin] -> y f32 [B, Ho, Wo, Cout]; weights in PyTorch layouts:
// Conv2d [Cout, Cin, k, k], ConvTranspose2d [Cin, Cout, k, k]; bias [Cout]. Weight
// and bias are each f16, or f32 when wF32 / biasF32 (the mask decoder's, whose f16
// rounding alone costs 1e-2). Both first repack the weight into an f32 panel in `scratch`
// (convPanelBytes(Cin, Cout, k)): [CoutP] bias, then [k*k taps][Cin][CoutP] with
// CoutP = Cout rounded up to 8 and zero padding, so for one output pixel and 8
// output channels a (tap, ci) step is a broadcast of x and two vector
// multiply-adds. Output channels past Cout are computed on padding and not stored.
// Reads may run up to 32 bytes past the end of y (accumulate) - allocator slack.
import { f16 } from "./f16";

const TILE = memory.data(32, 16);

@inline
function padded(cout: i32): i32 {
  return (cout + 7) & ~7;
}

export function convPanelBytes(cin: i32, cout: i32, k: i32): usize {
  return (<usize>padded(cout) * (1 + <usize>k * k * cin)) << 2;
}

/** Element i of a weight stored as f16, or as f32 when isF32. */
@inline
function weightAt(ptr: usize, i: usize, isF32: bool): f32 {
  return isF32 ? load<f32>(ptr + (i << 2)) : f16(ptr + (i << 1));
}

/** transposed: w is [Cin, Cout, k, k] instead of [Cout, Cin, k, k]. */
function pack(
  panel: usize, w: usize, bias: usize, cin: i32, cout: i32, k: i32, transposed: bool, wF32: bool, biasF32: bool,
): void {
  const cp = padded(cout);
  const taps = k * k;
  memory.fill(panel, 0, convPanelBytes(cin, cout, k));
  for (let co = 0; co < cout; co++) store<f32>(panel + (<usize>co << 2), weightAt(bias, co, biasF32));
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      const src = transposed ? <usize>(ci * cout + co) * taps : <usize>(co * cin + ci) * taps;
      for (let t = 0; t < taps; t++) {
        const dst = panel + ((<usize>cp * (1 + <usize>t * cin + ci) + co) << 2);
        store<f32>(dst, weightAt(w, src + t, wF32));
      }
    }
  }
}

/** acc (8 output channels from co0) += x[pixel, :] · panel[tap, :, co0:co0+8]. */
@inline
function tapInto(acc: usize, xp: usize, wp: usize, cin: i32, cp: i32): void {
  let a0 = v128.load(acc);
  let a1 = v128.load(acc, 16);
  const step = <usize>cp << 2;
  for (let ci = 0; ci < cin; ci++, wp += step) {
    const a = v128.load32_splat(xp + (<usize>ci << 2));
    a0 = f32x4.add(a0, f32x4.mul(a, v128.load(wp)));
    a1 = f32x4.add(a1, f32x4.mul(a, v128.load(wp, 16)));
  }
  v128.store(acc, a0);
  v128.store(acc, a1, 16);
}

/** y pixel channels [co0, co0 + nc) from the accumulated tile: relu, then accumulate. */
@inline
function finish(yp: usize, nc: i32, relu: bool, accumulate: bool): void {
  let a0 = v128.load(TILE);
  let a1 = v128.load(TILE, 16);
  if (relu) {
    a0 = f32x4.max(a0, f32x4.splat(0));
    a1 = f32x4.max(a1, f32x4.splat(0));
  }
  if (accumulate) {
    a0 = f32x4.add(a0, v128.load(yp));
    a1 = f32x4.add(a1, v128.load(yp, 16));
  }
  v128.store(TILE, a0);
  v128.store(TILE, a1, 16);
  memory.copy(yp, TILE, <usize>nc << 2);
}

export function conv2d(
  y: usize, x: usize, w: usize, bias: usize, batch: i32, H: i32, W: i32, cin: i32, cout: i32,
  k: i32, stride: i32, pad: i32, relu: bool, accumulate: bool, scratch: usize, wF32: bool, biasF32: bool,
): void {
  pack(scratch, w, bias, cin, cout, k, false, wF32, biasF32);
  const cp = padded(cout);
  const Ho = (H + 2 * pad - k) / stride + 1;
  const Wo = (W + 2 * pad - k) / stride + 1;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const yp = y + ((<usize>((b * Ho + oy) * Wo + ox) * cout) << 2);
        for (let co0 = 0; co0 < cout; co0 += 8) {
          memory.copy(TILE, scratch + (<usize>co0 << 2), 32);
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * stride - pad + kx;
              if (ix < 0 || ix >= W) continue;
              const xp = x + ((<usize>((b * H + iy) * W + ix) * cin) << 2);
              const wp = scratch + ((<usize>cp * (1 + <usize>(ky * k + kx) * cin) + co0) << 2);
              tapInto(TILE, xp, wp, cin, cp);
            }
          }
          finish(yp + (<usize>co0 << 2), min(8, cout - co0), relu, accumulate);
        }
      }
    }
  }
}

/** Output (oy, ox) receives input (iy, ix) through tap (ky, kx) when oy = iy * s - p + ky. */
export function convTranspose2d(
  y: usize, x: usize, w: usize, bias: usize, batch: i32, H: i32, W: i32, cin: i32, cout: i32,
  k: i32, stride: i32, pad: i32, relu: bool, accumulate: bool, scratch: usize, wF32: bool, biasF32: bool,
): void {
  pack(scratch, w, bias, cin, cout, k, true, wF32, biasF32);
  const cp = padded(cout);
  const Ho = (H - 1) * stride - 2 * pad + k;
  const Wo = (W - 1) * stride - 2 * pad + k;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const yp = y + ((<usize>((b * Ho + oy) * Wo + ox) * cout) << 2);
        for (let co0 = 0; co0 < cout; co0 += 8) {
          memory.copy(TILE, scratch + (<usize>co0 << 2), 32);
          for (let ky = 0; ky < k; ky++) {
            const ty = oy + pad - ky;
            if (ty < 0 || ty % stride != 0 || ty / stride >= H) continue;
            const iy = ty / stride;
            for (let kx = 0; kx < k; kx++) {
              const tx = ox + pad - kx;
              if (tx < 0 || tx % stride != 0 || tx / stride >= W) continue;
              const ix = tx / stride;
              const xp = x + ((<usize>((b * H + iy) * W + ix) * cin) << 2);
              const wp = scratch + ((<usize>cp * (1 + <usize>(ky * k + kx) * cin) + co0) << 2);
              tapInto(TILE, xp, wp, cin, cp);
            }
          }
          finish(yp + (<usize>co0 << 2), min(8, cout - co0), relu, accumulate);
        }
      }
    }
  }
}
