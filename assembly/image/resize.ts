// Pillow's two-pass BICUBIC resize of interleaved uint8 pixels (1, 3 or 4
// channels, each filtered independently): the horizontal pass first into a
// uint8 image, then the vertical pass, each sum done in Pillow's fixed point
// and clipped to 0..255 (libImaging/Resample.c, ImagingResampleInner).
//
// Buffers are the caller's: src [srcHeight, srcWidth, channels] plus 1 spare byte,
// dst [outHeight, outWidth, channels], tmp at least outWidth * srcHeight * channels
// bytes (only used when both axes change).

import { PRECISION_BITS, planOutSize, tapCount, tapFirst, tapWeights } from "./resample-plan";

const HALF: i32 = 1 << (PRECISION_BITS - 1);

@inline
function clip8(sum: i32): u8 {
  const v = sum >> PRECISION_BITS;
  return <u8>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/** Fixed-point sums (4 lanes) -> bytes, clipped to 0..255 like clip8 (saturating narrows). */
@inline
function clip8x4(sums: v128): v128 {
  const v = i32x4.shr_s(sums, PRECISION_BITS);
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(v, v), v);
}

/**
 * Resamples rows [firstRow, firstRow + rows) of src along x into dst [rows, outWidth, channels].
 * RGB and RGBA pixels are summed 4 lanes at a time, loading 4 bytes a tap: for RGB that
 * reads 1 byte past the last pixel, so src needs 1 readable byte after its end.
 */
function horizontalPass(src: usize, srcWidth: i32, channels: i32, firstRow: i32, rows: i32, plan: usize, dst: usize): void {
  const outWidth = planOutSize(plan);
  const srcStride = <usize>(srcWidth * channels);
  const dstStride = <usize>(outWidth * channels);
  for (let y = 0; y < rows; y++) {
    const srcRow = src + <usize>(firstRow + y) * srcStride;
    const dstRow = dst + <usize>y * dstStride;
    for (let x = 0; x < outWidth; x++) {
      const count = tapCount(plan, x);
      const w = tapWeights(plan, x);
      const from = srcRow + <usize>(tapFirst(plan, x) * channels);
      const to = dstRow + <usize>(x * channels);
      if (channels == 1) {
        let sum = HALF;
        for (let t = 0; t < count; t++) {
          sum += <i32>load<u8>(from + <usize>t) * load<i32>(w + (<usize>t << 2));
        }
        store<u8>(to, clip8(sum));
      } else {
        let sums = i32x4.splat(HALF);
        for (let t = 0; t < count; t++) {
          const pixel = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(from + <usize>(t * channels))));
          sums = i32x4.add(sums, i32x4.mul(pixel, i32x4.splat(load<i32>(w + (<usize>t << 2)))));
        }
        const bytes = i32x4.extract_lane(clip8x4(sums), 0);
        if (channels == 4) {
          store<i32>(to, bytes);
        } else {
          store<u16>(to, <u16>bytes);
          store<u8>(to, <u8>(bytes >>> 16), 2);
        }
      }
    }
  }
}

/** Resamples src along y; src row r holds input row r + rowOffset. Works on whole rows, so channels don't matter. */
function verticalPass(src: usize, rowBytes: i32, rowOffset: i32, plan: usize, dst: usize): void {
  const outHeight = planOutSize(plan);
  const stride = <usize>rowBytes;
  for (let y = 0; y < outHeight; y++) {
    const count = tapCount(plan, y);
    const w = tapWeights(plan, y);
    const top = src + <usize>(tapFirst(plan, y) - rowOffset) * stride;
    const dstRow = dst + <usize>y * stride;
    let i = 0;
    // 16 bytes at a time in four i32x4 sums, then the tail byte by byte.
    for (; i + 16 <= rowBytes; i += 16) {
      let s0 = i32x4.splat(HALF);
      let s1 = s0;
      let s2 = s0;
      let s3 = s0;
      for (let t = 0; t < count; t++) {
        const v = v128.load(top + <usize>t * stride + <usize>i);
        const weight = i32x4.splat(load<i32>(w + (<usize>t << 2)));
        const lo = i16x8.extend_low_i8x16_u(v);
        const hi = i16x8.extend_high_i8x16_u(v);
        s0 = i32x4.add(s0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), weight));
        s1 = i32x4.add(s1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), weight));
        s2 = i32x4.add(s2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), weight));
        s3 = i32x4.add(s3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), weight));
      }
      const a = i16x8.narrow_i32x4_s(i32x4.shr_s(s0, PRECISION_BITS), i32x4.shr_s(s1, PRECISION_BITS));
      const b = i16x8.narrow_i32x4_s(i32x4.shr_s(s2, PRECISION_BITS), i32x4.shr_s(s3, PRECISION_BITS));
      v128.store(dstRow + <usize>i, i8x16.narrow_i16x8_u(a, b));
    }
    for (; i < rowBytes; i++) {
      let sum = HALF;
      for (let t = 0; t < count; t++) {
        sum += <i32>load<u8>(top + <usize>t * stride + <usize>i) * load<i32>(w + (<usize>t << 2));
      }
      store<u8>(dstRow + <usize>i, clip8(sum));
    }
  }
}

/**
 * Resizes src [srcHeight, srcWidth, channels] to dst with the plans for x
 * (srcWidth -> outWidth) and y (srcHeight -> outHeight). Like Pillow, an axis
 * whose size does not change is not filtered.
 */
export function resize(
  src: usize,
  srcWidth: i32,
  srcHeight: i32,
  channels: i32,
  planX: usize,
  planY: usize,
  tmp: usize,
  dst: usize,
): void {
  const outWidth = planOutSize(planX);
  const outHeight = planOutSize(planY);
  const needX = outWidth != srcWidth;
  const needY = outHeight != srcHeight;
  if (!needX && !needY) {
    memory.copy(dst, src, <usize>(srcWidth * srcHeight * channels));
  } else if (!needY) {
    horizontalPass(src, srcWidth, channels, 0, srcHeight, planX, dst);
  } else if (!needX) {
    verticalPass(src, srcWidth * channels, 0, planY, dst);
  } else {
    // Only the input rows the vertical taps reach go through the horizontal pass.
    const firstRow = tapFirst(planY, 0);
    const endRow = tapFirst(planY, outHeight - 1) + tapCount(planY, outHeight - 1);
    horizontalPass(src, srcWidth, channels, firstRow, endRow - firstRow, planX, tmp);
    verticalPass(tmp, outWidth * channels, firstRow, planY, dst);
  }
}
