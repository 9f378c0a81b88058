// layerNorm and rmsNorm over rows of D f32 (x, y [rows, D]; w, b f16 [D]).
// y may be x (every row is read in full before it is written). Sums are f32 in
// four lanes, then combined: for D in the thousands that is ~1e-7 relative.
// Reads may run up to 16 bytes past w and b (allocator slack).
import { f16, f16x4 } from "./f16";
import { sumLanes } from "./simd";

/** y = (x - mean) / sqrt(var + eps) * w + b, per row. */
export function layerNorm(y: usize, x: usize, w: usize, b: usize, rows: i32, D: i32, eps: f32): void {
  const d4 = D & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * D) << 2);
    const yr = y + ((<usize>r * D) << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i < d4; i += 4) acc = f32x4.add(acc, v128.load(xr + (<usize>i << 2)));
    let sum = sumLanes(acc);
    for (; i < D; i++) sum += load<f32>(xr + (<usize>i << 2));
    const mean = sum / <f32>D;
    const m4 = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (i = 0; i < d4; i += 4) {
      const c = f32x4.sub(v128.load(xr + (<usize>i << 2)), m4);
      acc = f32x4.add(acc, f32x4.mul(c, c));
    }
    let sq = sumLanes(acc);
    for (; i < D; i++) {
      const c = load<f32>(xr + (<usize>i << 2)) - mean;
      sq += c * c;
    }
    const inv: f32 = 1 / Mathf.sqrt(sq / <f32>D + eps);
    const inv4 = f32x4.splat(inv);
    for (i = 0; i < d4; i += 4) {
      const c = f32x4.mul(f32x4.sub(v128.load(xr + (<usize>i << 2)), m4), inv4);
      v128.store(yr + (<usize>i << 2), f32x4.add(f32x4.mul(c, f16x4(w + (<usize>i << 1))), f16x4(b + (<usize>i << 1))));
    }
    for (; i < D; i++) {
      const c = (load<f32>(xr + (<usize>i << 2)) - mean) * inv;
      store<f32>(yr + (<usize>i << 2), c * f16(w + (<usize>i << 1)) + f16(b + (<usize>i << 1)));
    }
  }
}

/** y (+)= x / sqrt(mean(x²) + eps) * (1 + w), per row (Gemma's RMSNorm). */
export function rmsNorm(y: usize, x: usize, w: usize, rows: i32, D: i32, eps: f32, accumulate: bool): void {
  const d4 = D & ~3;
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * D) << 2);
    const yr = y + ((<usize>r * D) << 2);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i < d4; i += 4) {
      const v = v128.load(xr + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let sq = sumLanes(acc);
    for (; i < D; i++) {
      const v = load<f32>(xr + (<usize>i << 2));
      sq += v * v;
    }
    const inv: f32 = 1 / Mathf.sqrt(sq / <f32>D + eps);
    const inv4 = f32x4.splat(inv);
    for (i = 0; i < d4; i += 4) {
      let v = f32x4.mul(f32x4.mul(v128.load(xr + (<usize>i << 2)), inv4), f32x4.add(one, f16x4(w + (<usize>i << 1))));
      if (accumulate) v = f32x4.add(v, v128.load(yr + (<usize>i << 2)));
      v128.store(yr + (<usize>i << 2), v);
    }
    for (; i < D; i++) {
      let v = load<f32>(xr + (<usize>i << 2)) * inv * (<f32>1 + f16(w + (<usize>i << 1)));
      if (accumulate) v += load<f32>(yr + (<usize>i << 2));
      store<f32>(yr + (<usize>i << 2), v);
    }
  }
}
