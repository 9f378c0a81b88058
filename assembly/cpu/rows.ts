// Row moves between f32 matrices of `width` columns, addressed by i32 row
// indices (the KV cache writes and the gathers of the last token per sequence).
// Indices are checked by the JS side before the call.

/** dst[idx[r]] = scale * src[r] for r < rows. */
export function scatterRows(dst: usize, idx: usize, src: usize, rows: i32, width: i32, scale: f32): void {
  const bytes = <usize>width << 2;
  const s4 = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const to = dst + <usize>load<i32>(idx + (<usize>r << 2)) * bytes;
    const from = src + <usize>r * bytes;
    if (scale == 1) {
      memory.copy(to, from, bytes);
      continue;
    }
    let i = 0;
    for (; i + 4 <= width; i += 4) v128.store(to + (<usize>i << 2), f32x4.mul(s4, v128.load(from + (<usize>i << 2))));
    for (; i < width; i++) store<f32>(to + (<usize>i << 2), scale * load<f32>(from + (<usize>i << 2)));
  }
}

/** dst[r] = src[idx[r]] for r < rows. */
export function gatherRows(dst: usize, src: usize, idx: usize, rows: i32, width: i32): void {
  const bytes = <usize>width << 2;
  for (let r = 0; r < rows; r++) {
    memory.copy(dst + <usize>r * bytes, src + <usize>load<i32>(idx + (<usize>r << 2)) * bytes, bytes);
  }
}
