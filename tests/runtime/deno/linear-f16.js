// Run by deno-f16.test.ts under Deno: the built SDK (dist/index.js) on a device with
// shader-f16, so the tiled matmul reads weights as native f16 (the GEMV unpacks its
// vec4<u32> loads there too). Runs linear (GEMV for <= 8 rows, the tiled matmul above)
// at odd shapes against a float64 reference in this file, then conv2d (the same matmul) with f16 and f32 weights, and prints, as JSON: the
// adapter, whether the backend uses the f16 kernels (true only when its device has
// shader-f16), and each case's worst error and first mismatches.
import { createBackend } from "../../../dist/index.js";

const ROWS = [1, 3, 70];
const KS = [37, 130, 1152];
const NS = [9, 65];
const TOLERANCE = 1e-4; // relative to Σ|x·w|, the size of the terms the sum cancels

// Deterministic pseudo-random numbers (mulberry32).
let seed = 7;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}

/** f16 bits of v, which must be 0 or a normal f16 value (all this test makes: m / 64, |m| <= 64). */
function f16Bits(v) {
  if (v === 0) return 0;
  const sign = v < 0 ? 0x8000 : 0;
  const e = Math.floor(Math.log2(Math.abs(v)));
  const mantissa = (Math.abs(v) / 2 ** e - 1) * 1024;
  if (!Number.isInteger(mantissa) || e < -14 || e > 15) throw new Error(`${v} is not a normal f16`);
  return sign | ((e + 15) << 10) | mantissa;
}

/** n values that f16 holds exactly: multiples of 1/64 in [-1, 1]. */
const f16Values = (n) => Array.from({ length: n }, () => Math.round((random() * 2 - 1) * 64) / 64);

const adapter = await navigator.gpu.requestAdapter();
const info = adapter.info ?? {};
const backend = await createBackend("webgpu", adapter);
const results = [];
for (const rows of ROWS) {
  for (const K of KS) {
    for (const N of NS) {
      const withBias = (rows + K + N) % 2 === 0;
      const w = f16Values(N * K);
      const bias = f16Values(N);
      const x = Float32Array.from({ length: rows * K }, () => random() * 2 - 1);
      const W = backend.uploadWeight("w", Uint16Array.from(w, f16Bits), [N, K]);
      const B = withBias ? backend.uploadWeight("bias", Uint16Array.from(bias, f16Bits), [N]) : null;
      const xb = backend.alloc("x", rows * K);
      const yb = backend.alloc("y", rows * N);
      backend.write(xb, x);
      backend.linear(yb, xb, W, B, rows, {});
      const y = await backend.read(yb, rows * N);
      let worst = 0;
      const mismatches = [];
      for (let r = 0; r < rows; r++) {
        for (let n = 0; n < N; n++) {
          let sum = withBias ? bias[n] : 0;
          let scale = Math.abs(sum);
          for (let k = 0; k < K; k++) {
            sum += x[r * K + k] * w[n * K + k];
            scale += Math.abs(x[r * K + k] * w[n * K + k]);
          }
          const got = y[r * N + n];
          const error = Math.abs(got - sum) / Math.max(scale, 1e-30);
          worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
          if (!(error <= TOLERANCE) && mismatches.length < 5) mismatches.push({ r, n, got, want: sum });
        }
      }
      results.push({ rows, K, N, bias: withBias, worst, mismatches });
      backend.free(xb);
      backend.free(yb);
    }
  }
}

// conv2d runs the same matmul kernel on its f16 weights (the f16 module) and on f32 ones
// (the u32 module, which reads them with bitcast): both must still compute the conv.
const [H, Cin, Cout, k] = [5, 3, 4, 3]; // stride 1, padding 1: 5x5 out
for (const precision of ["f16", "f32"]) {
  const w = f16Values(Cout * Cin * k * k);
  const bias = f16Values(Cout);
  const x = Float32Array.from({ length: H * H * Cin }, () => random() * 2 - 1);
  const upload = (label, v, shape) =>
    precision === "f16"
      ? backend.uploadWeight(label, Uint16Array.from(v, f16Bits), shape)
      : backend.uploadWeight(label, Float32Array.from(v), shape, { precision });
  const xb = backend.alloc("x", x.length);
  const yb = backend.alloc("y", H * H * Cout);
  backend.write(xb, x);
  const opts = { batch: 1, height: H, width: H, kernel: k, stride: 1, padding: 1 };
  backend.conv2d(yb, xb, upload("conv.w", w, [Cout, Cin, k, k]), upload("conv.b", bias, [Cout]), opts);
  const y = await backend.read(yb, H * H * Cout);
  let worst = 0;
  const mismatches = [];
  for (let oy = 0; oy < H; oy++) {
    for (let ox = 0; ox < H; ox++) {
      for (let n = 0; n < Cout; n++) {
        let sum = bias[n];
        let scale = Math.abs(sum);
        for (let ci = 0; ci < Cin; ci++) {
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const iy = oy - 1 + ky;
              const ix = ox - 1 + kx;
              if (iy < 0 || ix < 0 || iy >= H || ix >= H) continue;
              const t = x[(iy * H + ix) * Cin + ci] * w[((n * Cin + ci) * k + ky) * k + kx];
              sum += t;
              scale += Math.abs(t);
            }
          }
        }
        const got = y[(oy * H + ox) * Cout + n];
        const error = Math.abs(got - sum) / Math.max(scale, 1e-30);
        worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
        if (!(error <= TOLERANCE) && mismatches.length < 5) mismatches.push({ oy, ox, n, got, want: sum });
      }
    }
  }
  results.push({ conv2d: precision, worst, mismatches });
}

backend.dispose();
const adapterName = `${info.vendor ?? ""} ${info.architecture ?? ""} ${info.description ?? ""}`;
console.log(JSON.stringify({ adapter: adapterName, f16: backend.f16, tolerance: TOLERANCE, results }));
