// Token embedding lookup: y[r] = (accumulate ? y[r] : 0) + scale * table[ids[r]].
// table f16 [V, D]; ids i32 [rows]; y f32 [rows, D].
import { f16, f16x4 } from "./f16";

/** Returns -1, or the first row whose id is outside [0, V) (nothing written from it on). */
export function embed(y: usize, ids: usize, table: usize, rows: i32, V: i32, D: i32, scale: f32, accumulate: bool): i32 {
  const s4 = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const id = load<i32>(ids + (<usize>r << 2));
    if (<u32>id >= <u32>V) return r;
    const src = table + ((<usize>id * D) << 1);
    const dst = y + ((<usize>r * D) << 2);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      let v = f32x4.mul(s4, f16x4(src + (<usize>i << 1)));
      if (accumulate) v = f32x4.add(v, v128.load(dst + (<usize>i << 2)));
      v128.store(dst + (<usize>i << 2), v);
    }
    for (; i < D; i++) {
      let v = scale * f16(src + (<usize>i << 1));
      if (accumulate) v += load<f32>(dst + (<usize>i << 2));
      store<f32>(dst + (<usize>i << 2), v);
    }
  }
  return -1;
}
