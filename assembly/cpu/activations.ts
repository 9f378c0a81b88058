// Elementwise ops on f32 arrays: GeGLU's gelu(gate) * up, and Gemma 2's softcap.
// SIMD over 4 lanes, then the same math one lane at a time for the tail.
import { gelu4, geluf, tanh4, tanhf } from "./math";

/**
 * y[i] = gelu_tanh(pairs[2i]) * pairs[2i + 1] for i < n: Gemma's GeGLU over the (gate, up)
 * pairs that a linear over gate/up rows joined interleaved writes (the layout gelu-mul.wgsl
 * reads too), so no pass splits them first. y may be pairs itself: element i is written
 * after elements 2i and 2i + 1 are read, and 2i >= i.
 */
export function geluMul(y: usize, pairs: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = v128.load(pairs + (<usize>i << 3));
    const b = v128.load(pairs + (<usize>i << 3) + 16);
    const gate = v128.shuffle<f32>(a, b, 0, 2, 4, 6);
    const up = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
    v128.store(y + (<usize>i << 2), f32x4.mul(gelu4(gate), up));
  }
  for (; i < n; i++) {
    const p = pairs + (<usize>i << 3);
    store<f32>(y + (<usize>i << 2), geluf(load<f32>(p)) * load<f32>(p + 4));
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
