// Token embedding lookup: y[r] = (accumulate ? y[r] : 0) + scale * table[ids[r]].
// table [V, D], f16 or (f32Table) f32; ids i32 [rows]; y f32 [rows, D].
import { f16, f16x4 } from "./f16";

/** Returns -1, or the first row whose id is outside [0, V) (nothing written from it on). */
export function embed(
  y: usize, ids: usize, table: usize, rows: i32, V: i32, D: i32, scale: f32, accumulate: bool, f32Table: bool,
): i32 {
  const s4 = f32x4.splat(scale);
  const shift: usize = f32Table ? 2 : 1; // log2 of the table's element size
  for (let r = 0; r < rows; r++) {
    const id = load<i32>(ids + (<usize>r << 2));
    if (<u32>id >= <u32>V) return r;
    const src = table + ((<usize>id * D) << shift);
    const dst = y + ((<usize>r * D) << 2);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const at = src + (<usize>i << shift);
      let v = f32x4.mul(s4, f32Table ? v128.load(at) : f16x4(at));
      if (accumulate) v = f32x4.add(v, v128.load(dst + (<usize>i << 2)));
      v128.store(dst + (<usize>i << 2), v);
    }
    for (; i < D; i++) {
      const at = src + (<usize>i << shift);
      let v = scale * (f32Table ? load<f32>(at) : f16(at));
      if (accumulate) v += load<f32>(dst + (<usize>i << 2));
      store<f32>(dst + (<usize>i << 2), v);
    }
  }
  return -1;
}
