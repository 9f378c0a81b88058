// gemv-out: the GEMVs' epilogue, one copy for gemv.wgsl and gemv-q.wgsl (the pipeline cache,
// pipelines.ts, appends it to both): a feature's sums added, fused ops applied, stored into y.
// Not a kernel of its own: it reads the kernel's p (n0, k, ldy, flags, eps, cap), bias and y
// (bindings as in gemv.wgsl's header), its ROWS, MAX_ROWS, NORM and PAIRS, and team_sum.

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
 * A team's end of a feature: adds the lanes' sums (acc; with PAIRS acc2, the up row's; with
 * NORM ss, Σx²) with team_sum, then `owner` (a team's lane 0, where n is a feature of this
 * chunk) stores y[r, n0 + n] for each row r. Called in uniform control flow: team_sum may
 * hold barriers.
 */
fn finish_feature(n: u32, owner: bool, acc: array<f32, MAX_ROWS>, acc2: array<f32, MAX_ROWS>, ss: array<f32, MAX_ROWS>, lid: u32, lanes: u32) {
  let sums = team_sum(acc, lid, lanes);
  var sums2: array<f32, MAX_ROWS>;
  if (PAIRS) {
    sums2 = team_sum(acc2, lid, lanes);
  }
  var squares: array<f32, MAX_ROWS>;
  if (NORM) {
    squares = team_sum(ss, lid, lanes);
  }
  if (!owner) {
    return;
  }
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
