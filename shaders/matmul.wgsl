// matmul: y[m, n0 + n] = epilogue(Σ_k a(m, k) · w(n, k) + bias[n0 + n]), tiled for many
// rows: prefill, SigLIP, and the mask decoder's convolutions as implicit GEMMs.
//
// MODE (override) picks how A, W and the rows of y are addressed; the rest is shared:
//   0 linear           a(m, k) = x[m, k] (x [M, K] row-major); w(n, k) = W[n, k] (nn.Linear [N, K]).
//   1 conv2d           a = im2col of NHWC x [B, H, W, Cin]: row m = (b, oy, ox), column
//                      k = (ky, kx, ci), reading x[b, oy*s - p + ky, ox*s - p + kx, ci] (0 outside);
//                      w = Conv2d weight [N, Cin, kh, kw] at (n, ci, ky, kx).
//   2 convTranspose2d  one dispatch per output phase (oy mod s, ox mod s): only the taps
//                      ky ≡ oy + p (mod s) reach such an output, so the dispatch's rows are
//                      that phase's outputs and its columns (ty, tx, ci) only those taps,
//                      ky = tap_y + s*ty: no multiply by the zeros a stride-s upsampling
//                      inserts (3/4 of them for k4 s2). a reads x[b, (oy + p - ky)/s, ., ci];
//                      w = ConvTranspose2d weight [Cin, N, kh, kw] at (ci, n, ky, kx).
// Conv columns are ordered (taps, ci) so that consecutive k are consecutive NHWC channels.
//
// W is f16 packed two per u32: element e is half (e & 1) of word e >> 1. When K is even
// (K_EVEN, mode 0) a word holds the pair (k, k + 1) of one row and is read once. The
// convs also take f32 weights and biases (W_F32, BIAS_F32): one f32 per word. W's words
// are F16Pair, read with f16_pair (f32 ones with f32_word): all defined by the pipeline
// cache (pipelines.ts), a u32 unpacked, or a native vec2<f16> where the device has shader-f16.
// With BITS = 4 or 8 (mode 0) W is quantized (src/weights/quantize.ts), read as u32 words
// (u32_word): rows of Kp / 32 groups of BITS words, q4 nibbles holding q + 8, q8
// two's-complement bytes, both low first; the W tile holds q · scale, exact in f32.
//
// Bindings: 0 params (uniform), 1 y f32 [M, ldy] read_write, 2 x f32, 3 w (this chunk's
// rows of the weight), 4 bias f16 [ldy] packed (read only when flags has BIAS), 5 the
// quantized chunk's scales, f16 [rows, Kp / 32] packed two per u32 (read only with BITS).
//
// Tiling: a 16×16 workgroup computes a 64×BN block of y (BN = 64, or 16 when N is
// small), 4×TN outputs per thread at rows ty + 16i and columns tx + 16j: shared reads
// broadcast along a row of threads and are conflict-free along a column, and stores are
// coalesced. K advances 16 at a time through
// two 16×64 f32 tiles in shared memory (8 KiB, half of WebGPU's 16 KiB default); sums are f32.

override MODE: u32 = 0u;
override K_EVEN: bool = false;
// Output columns per thread, 4 or 1: BN = 16 * TN columns per workgroup. 1 for N <= 16
// (the mask decoder's last convs), where a 64-wide tile would be mostly padding.
override TN: u32 = 4u;
override W_F32: bool = false;
override BIAS_F32: bool = false;
override BN: u32 = 16u * TN;
override BITS: u32 = 0u;

const TILE = 64u;
const TK = 16u;
const WG = 256u;

const BIAS = 1u;
const GELU = 2u;
const ACCUMULATE = 4u;
const RELU = 8u;

struct Params {
  m: u32,        // rows of this dispatch
  n: u32,        // output features in this weight chunk
  k: u32,        // reduction length
  ldy: u32,      // row stride of y (all features of all chunks)
  n0: u32,       // first feature of this chunk
  flags: u32,
  // Conv geometry (modes 1, 2).
  height: u32,   // input H, W, Cin
  width: u32,
  cin: u32,
  kernel: u32,
  stride: u32,
  padding: u32,
  out_h: u32,    // output Ho, Wo
  out_w: u32,
  grid_h: u32,   // this dispatch's rows are (b, gy, gx) over grid_h × grid_w
  grid_w: u32,
  phase_y: u32,  // mode 2: oy = gy * s + phase_y, ox = gx * s + phase_x
  phase_x: u32,
  tap_y: u32,    // mode 2: first tap of the phase, ky = tap_y + s * ty
  tap_x: u32,
  taps_x: u32,   // taps per output column: columns are (ty, tx, ci) with tx < taps_x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<F16Pair>;
@group(0) @binding(4) var<storage, read> bias: array<u32>;
@group(0) @binding(5) var<storage, read> scales: array<u32>;

var<workgroup> a_tile: array<array<f32, TILE>, TK>; // [k][m]
var<workgroup> w_tile: array<array<f32, TILE>, TK>; // [k][n]

/** The output pixel (b, oy, ox) of a conv row m, as a row of NHWC y [B, Ho, Wo, N]. */
fn pixel(m: u32) -> vec3<u32> {
  let gx = m % p.grid_w;
  let gy = (m / p.grid_w) % p.grid_h;
  let b = m / (p.grid_w * p.grid_h);
  if (MODE == 2u) {
    return vec3<u32>(b, gy * p.stride + p.phase_y, gx * p.stride + p.phase_x);
  }
  return vec3<u32>(b, gy, gx);
}

/** The kernel tap (ky, kx) and input channel of a conv column k. */
fn tap(k: u32) -> vec3<u32> {
  let t = k / p.cin;
  let ty = t / p.taps_x;
  let tx = t % p.taps_x;
  if (MODE == 2u) {
    return vec3<u32>(p.tap_y + p.stride * ty, p.tap_x + p.stride * tx, k % p.cin);
  }
  return vec3<u32>(ty, tx, k % p.cin);
}

fn a_at(m: u32, k: u32) -> f32 {
  if (m >= p.m || k >= p.k) {
    return 0.0;
  }
  if (MODE == 0u) {
    return x[m * p.k + k];
  }
  let o = vec2<i32>(pixel(m).yz);
  let t = tap(k);
  let kk = vec2<i32>(t.xy);
  var at: vec2<i32>;
  if (MODE == 1u) {
    at = o * i32(p.stride) - i32(p.padding) + kk;
  } else {
    at = (o + i32(p.padding) - kk) / i32(p.stride); // exact: the phase picks taps that divide
    if (any(o + i32(p.padding) - kk < vec2<i32>(0))) {
      return 0.0;
    }
  }
  if (any(at < vec2<i32>(0)) || at.x >= i32(p.height) || at.y >= i32(p.width)) {
    return 0.0;
  }
  return x[((pixel(m).x * p.height + u32(at.x)) * p.width + u32(at.y)) * p.cin + t.z];
}

fn w_at(n: u32, k: u32) -> f32 {
  if (n >= p.n || k >= p.k) {
    return 0.0;
  }
  var e: u32;
  if (MODE == 0u) {
    e = n * p.k + k;
  } else {
    let t = tap(k);
    let at = t.x * p.kernel + t.y;
    if (MODE == 1u) {
      e = (n * p.cin + t.z) * p.kernel * p.kernel + at;
    } else {
      e = (t.z * p.n + n) * p.kernel * p.kernel + at;
    }
  }
  if (W_F32) {
    return f32_word(w[e]);
  }
  return f16_pair(w[e >> 1u])[e & 1u];
}

/** The row of y that row m of this dispatch writes. */
fn y_row(m: u32) -> u32 {
  if (MODE == 0u) {
    return m;
  }
  let o = pixel(m);
  return (o.x * p.out_h + o.y) * p.out_w + o.z;
}

fn gelu_tanh(v: f32) -> f32 {
  // tanh's argument is clamped: |u| > 10 is ±1 in f32, and some tanh overflow beyond.
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0);
  return 0.5 * v * (1.0 + tanh(u));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % 16u;
  let ty = lid / 16u;
  let n_base = wid.x * BN;
  let m_base = wid.y * TILE;

  // Four rows × four columns of y, one vec4 per row: plain registers, where an indexed
  // array would live in memory on some compilers (SwiftShader).
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    // A tile: 64 rows × 16 columns, 4 per thread, consecutive threads along a row.
    for (var i = 0u; i < 4u; i++) {
      let idx = lid + i * WG;
      let row = idx / TK;
      let col = idx % TK;
      a_tile[col][row] = a_at(m_base + row, k0 + col);
    }
    // W tile: BN features × 16 columns.
    if (BITS != 0u) {
      // A word holds 32 / BITS consecutive elements of one group: one scale per word.
      // Columns past K meet a = 0 in the A tile, whatever the padding holds.
      let per_word = 32u / max(BITS, 1u); // max: BITS = 0 pipelines compile this too
      let groups = (p.k + 31u) / 32u;
      for (var idx = lid; idx < BN * TK / per_word; idx += WG) {
        let row = idx / (TK / per_word);
        let col = (idx % (TK / per_word)) * per_word;
        let n = n_base + row;
        let k = k0 + col;
        var word = 0u;
        var s = 0.0;
        if (n < p.n && k < p.k) {
          word = u32_word(w[n * groups * BITS + k / per_word]);
          let e = n * groups + k / 32u;
          s = unpack2x16float(scales[e >> 1u])[e & 1u];
        }
        for (var i = 0u; i < per_word; i++) {
          let raw = (word >> (i * BITS)) & ((1u << BITS) - 1u);
          var q: f32;
          if (BITS == 4u) {
            q = f32(raw) - 8.0;
          } else {
            q = f32(bitcast<i32>(raw << 24u) >> 24u);
          }
          w_tile[col + i][row] = q * s;
        }
      }
    } else if (MODE == 0u && K_EVEN) {
      for (var idx = lid; idx < BN * TK / 2u; idx += WG) {
        let row = idx / (TK / 2u);
        let col = (idx % (TK / 2u)) * 2u;
        let n = n_base + row;
        let k = k0 + col;
        var pair = vec2<f32>(0.0);
        if (n < p.n && k < p.k) {
          pair = f16_pair(w[(n * p.k + k) >> 1u]);
        }
        w_tile[col][row] = pair.x;
        w_tile[col + 1u][row] = pair.y;
      }
    } else {
      for (var idx = lid; idx < BN * TK; idx += WG) {
        let row = idx / TK;
        let col = idx % TK;
        w_tile[col][row] = w_at(n_base + row, k0 + col);
      }
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      // With TN = 1 only .x is a real column; the other lanes read unused tile entries.
      let b = vec4<f32>(w_tile[k][tx], w_tile[k][tx + 16u], w_tile[k][tx + 32u], w_tile[k][tx + 48u]);
      acc0 = fma(vec4<f32>(a_tile[k][ty]), b, acc0);
      acc1 = fma(vec4<f32>(a_tile[k][ty + 16u]), b, acc1);
      acc2 = fma(vec4<f32>(a_tile[k][ty + 32u]), b, acc2);
      acc3 = fma(vec4<f32>(a_tile[k][ty + 48u]), b, acc3);
    }
    workgroupBarrier();
  }

  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m_base + ty + 16u * i;
    for (var j = 0u; j < TN; j++) {
      let n = n_base + tx + 16u * j;
      if (m < p.m && n < p.n) {
        let col = p.n0 + n;
        var v = acc[i][j];
        if ((p.flags & BIAS) != 0u) {
          if (BIAS_F32) {
            v += bitcast<f32>(bias[col]);
          } else {
            v += unpack2x16float(bias[col >> 1u])[col & 1u];
          }
        }
        if ((p.flags & GELU) != 0u) {
          v = gelu_tanh(v);
        }
        if ((p.flags & RELU) != 0u) {
          v = max(v, 0.0);
        }
        let at = y_row(m) * p.ldy + col;
        if ((p.flags & ACCUMULATE) != 0u) {
          v += y[at];
        }
        y[at] = v;
      }
    }
  }
}
