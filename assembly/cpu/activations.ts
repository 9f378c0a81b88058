// Elementwise ops on f32 arrays: GeGLU's gelu(gate) * up, and Gemma 2's softcap.
// SIMD over 4 lanes, then the same math one lane at a time for the tail.
import { gelu4, geluf, tanh4, tanhf } from "./math";

/** y[i] = gelu_tanh(gate[i]) * up[i] for i < n; y may be gate or up. */
export function geluMul(y: usize, gate: usize, up: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(gelu4(v128.load(gate + o)), v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, geluf(load<f32>(gate + o)) * load<f32>(up + o));
  }
}

/** x[i] = cap * tanh(x[i] / cap) in place for i < n. */
export function softcap(x: usize, n: i32, cap: f32): void {
  const c = f32x4.splat(cap);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(c, tanh4(f32x4.div(v128.load(p), c))));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, cap * tanhf(load<f32>(p) / cap));
  }
}
