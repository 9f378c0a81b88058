// gemv-out: the GEMVs' epilogue, one copy for gemv.wgsl and gemv-q.wgsl (the pipeline cache,
// pipelines.ts, appends it to both): a feature's sums, fused ops applied, stored into y.
// Not a kernel of its own: it reads the kernel's p (n0, k, ldy, flags, eps, cap), bias and y
// (bindings as in gemv.wgsl's header), and its ROWS, MAX_ROWS, NORM and PAIRS.

const BIAS = 1u;
const GELU = 2u;
const ACCUMULATE = 4u;
const SOFTCAP = 16u;

fn gelu_tanh(v: f32) -> f32 {
  // tanh's argument is clamped: |u| > 10 is ±1 in f32, and some tanh overflow beyond.
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0);
  return 0.5 * v * (1.0 + tanh(u));
}

/**
 * y[r, n0 + n] for each row r from feature n's sums: with PAIRS, sums2 are the up row's;
 * with NORM, squares are Σx² of the row.
 */
fn store_feature(n: u32, sums: array<f32, MAX_ROWS>, sums2: array<f32, MAX_ROWS>, squares: array<f32, MAX_ROWS>) {
  let col = p.n0 + n;
  for (var r = 0u; r < ROWS; r++) {
    var v = sums[r];
    var u = sums2[r];
    if (NORM) {
      let inv = inverseSqrt(squares[r] / f32(p.k) + p.eps);
      v *= inv;
      u *= inv;
    }
    if ((p.flags & BIAS) != 0u) {
      v += unpack2x16float(bias[col >> 1u])[col & 1u];
    }
    if ((p.flags & GELU) != 0u) {
      v = gelu_tanh(v);
    }
    if (PAIRS) {
      v = gelu_tanh(v) * u;
    }
    if ((p.flags & SOFTCAP) != 0u) {
      v = p.cap * tanh(clamp(v / p.cap, -10.0, 10.0));
    }
    let at = r * p.ldy + col;
    if ((p.flags & ACCUMULATE) != 0u) {
      v += y[at];
    }
    y[at] = v;
  }
}
