// Pillow's two-pass BICUBIC resize of interleaved uint8 pixels (1, 3 or 4
// channels, each filtered independently): the horizontal pass first into a
// uint8 image, then the vertical pass, each sum done in Pillow's fixed point
// and clipped to 0..255 (libImaging/Resample.c, ImagingResampleInner).
//
// Buffers are the caller's: src [srcHeight, srcWidth, channels],
// dst [outHeight, outWidth, channels], tmp at least outWidth * srcHeight * channels
// bytes (only used when both axes change).

import { PRECISION_BITS, planOutSize, tapCount, tapFirst, tapWeights } from "./resample-plan";

const HALF: i32 = 1 << (PRECISION_BITS - 1);

@inline
function clip8(sum: i32): u8 {
  const v = sum >> PRECISION_BITS;
  return <u8>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/** Resamples rows [firstRow, firstRow + rows) of src along x into dst [rows, outWidth, channels]. */
function horizontalPass(src: usize, srcWidth: i32, channels: i32, firstRow: i32, rows: i32, plan: usize, dst: usize): void {
  const outWidth = planOutSize(plan);
  const srcStride = <usize>(srcWidth * channels);
  const dstStride = <usize>(outWidth * channels);
  for (let y = 0; y < rows; y++) {
    const srcRow = src + <usize>(firstRow + y) * srcStride;
    const dstRow = dst + <usize>y * dstStride;
    for (let x = 0; x < outWidth; x++) {
      const first = tapFirst(plan, x);
      const count = tapCount(plan, x);
      const w = tapWeights(plan, x);
      const from = srcRow + <usize>(first * channels);
      for (let c = 0; c < channels; c++) {
        let sum = HALF;
        for (let t = 0; t < count; t++) {
          sum += <i32>load<u8>(from + <usize>(t * channels + c)) * load<i32>(w + (<usize>t << 2));
        }
        store<u8>(dstRow + <usize>(x * channels + c), clip8(sum));
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
    for (let i = 0; i < rowBytes; i++) {
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
