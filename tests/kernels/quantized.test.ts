// The quantized ops (linear and embed over q8/q4 weights) on every backend, against the
// reference backend, which dequantizes (q · scale, exact in f32) and runs the f32 op.
// Shapes are odd on purpose: K not a multiple of 32 (a padded last group), N not a
// multiple of any workgroup or SIMD width, rows on both sides of the GEMV/matmul switch.
// WASM runs twice: the plain-SIMD build and the relaxed-SIMD one (its own GEMV dot
// products), under the same tolerances; each says which build ran.
import { setFlagsFromString } from "node:v8";
import { beforeAll, describe, expect, test } from "vitest";
import type { Backend, Buf, LinearOptions, Weight } from "../../src/backends/backend.js";
import { quantizeMatrix, type QuantBits } from "../../src/weights/quantize.js";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { relaxedSimd } from "../../src/wasm/load.js";
import { backends } from "../harness/backends.js";
import { expectClose } from "../harness/compare.js";
import { randomArray, rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";

interface LinearCase {
  rows: number;
  K: number;
  N: number;
  bias: boolean;
  opts: LinearOptions;
}

async function runLinear(b: Backend, bits: QuantBits, c: LinearCase, seed: number): Promise<Float32Array> {
  const rand = rng(seed);
  const w = quantizeMatrix(randomArray(rand, c.N * c.K, 1 / Math.sqrt(c.K)), c.N, c.K, bits);
  const bias = randomArray(rand, c.N, 0.5);
  const x = randomArray(rand, c.rows * c.K);
  const y0 = randomArray(rand, c.rows * c.N);
  const W = b.uploadQuantized(`w.q${bits}`, w, [c.N, c.K]);
  const B = c.bias ? b.uploadWeight("bias", bias, [c.N]) : null;
  const xb = b.alloc("x", x.length);
  const yb = b.alloc("y", y0.length);
  b.write(xb, x);
  b.write(yb, y0);
  b.linear(yb, xb, W, B, c.rows, c.opts);
  b.submit();
  const out = await b.read(yb);
  b.free(xb);
  b.free(yb);
  return out;
}

async function runEmbed(b: Backend, bits: QuantBits, V: number, D: number, ids: Int32Array, seed: number): Promise<Float32Array> {
  const rand = rng(seed);
  const table: Weight = b.uploadQuantized(`table.q${bits}`, quantizeMatrix(randomArray(rand, V * D), V, D, bits), [V, D]);
  const idb: Buf = b.alloc("ids", ids.length, "i32");
  b.write(idb, ids);
  const y = b.alloc("y", ids.length * D);
  b.write(y, randomArray(rand, ids.length * D));
  b.embed(y, idb, table, ids.length, { scale: 1.5, accumulate: true });
  b.submit();
  const out = await b.read(y);
  b.free(idb);
  b.free(y);
  return out;
}

const LINEAR_CASES: LinearCase[] = [
  { rows: 1, K: 64, N: 37, bias: false, opts: {} },
  { rows: 1, K: 75, N: 19, bias: true, opts: { gelu: true } },
  { rows: 2, K: 1152, N: 97, bias: true, opts: {} },
  { rows: 3, K: 4304, N: 13, bias: true, opts: { accumulate: true } }, // SigLIP fc2's K: 135 groups, the last half padding
  { rows: 1, K: 16400, N: 11, bias: true, opts: {} }, // a row longer than any cache line stream the GEMV keeps in L1, K % 32 = 16
  { rows: 5, K: 33, N: 65, bias: false, opts: { accumulate: true } },
  { rows: 8, K: 200, N: 41, bias: true, opts: { gelu: true } },
  { rows: 9, K: 96, N: 129, bias: true, opts: {} },
  { rows: 70, K: 130, N: 96, bias: true, opts: { gelu: true } },
  { rows: 129, K: 67, N: 31, bias: false, opts: { accumulate: true } },
];

// Node 20's V8 has relaxed SIMD behind a flag (Node >= 21, Deno and Chromium ship it), and
// its baseline compiler gets the dot product wrong (relaxedSimd() checks): both flags here.
if (!relaxedSimd()) setFlagsFromString("--experimental-wasm-relaxed-simd --no-liftoff");
const builds = [
  { name: "wasm", create: () => createWasmBackend({ relaxedSimd: false }) },
  ...(relaxedSimd() ? [{ name: "wasm relaxed-SIMD", create: () => createWasmBackend({ relaxedSimd: true }) }] : []),
  ...backends.filter((f) => f.name !== "wasm"),
];
if (!relaxedSimd()) console.log("quantized: this engine has no relaxed SIMD, only the plain WASM build is tested");

describe.each(builds)("$name backend, quantized weights", ({ create }) => {
  let b: Backend;
  const ref = new ReferenceBackend();
  beforeAll(async () => {
    b = await create();
    if (b.build) console.log(`quantized: WASM build ${b.build}`);
  });

  for (const bits of [8, 4] as const) {
    test.each(LINEAR_CASES)(`q${bits} linear rows=$rows K=$K N=$N bias=$bias $opts`, async (c) => {
      const seed = c.rows * 7919 + c.K * 31 + c.N + bits;
      const got = await runLinear(b, bits, c, seed);
      const want = await runLinear(ref, bits, c, seed);
      expectClose(got, want, { atol: 3e-5, rtol: 2e-4 }, `q${bits} linear`);
    });

    test(`q${bits} embed: rows of a table with D not a multiple of 32, scaled and accumulated`, async () => {
      const ids = Int32Array.of(0, 40, 7, 40, 1, 39);
      const got = await runEmbed(b, bits, 41, 77, ids, 11 + bits);
      const want = await runEmbed(ref, bits, 41, 77, ids, 11 + bits);
      expectClose(got, want, { atol: 1e-6, rtol: 1e-6 }, `q${bits} embed`);
    });

    // Q/K/V-like and gate/up-like joins of quantized parts: words and scales rows move together
    // (K = 75: 3 groups, so odd rows' scales start mid-word), with the fused norm and GeGLU.
    test.each([1, 9])(`q${bits} joinRows, stacked and interleaved, rows=%i, rmsNorm and geglu`, async (rows) => {
      const K = 75;
      const run = async (be: Backend) => {
        const rand = rng(rows * 13 + bits);
        const part = (n: number) => be.uploadQuantized(`p${n}`, quantizeMatrix(randomArray(rand, n * K, 0.3), n, K, bits), [n, K]);
        const rmsNorm = { weight: be.uploadWeight("norm", randomArray(rand, K, 0.2), [K]), eps: 1e-6 };
        const stacked = be.joinRows("qkv", [part(9), part(3), part(3)]);
        const pairs = be.joinRows("gate_up", [part(11), part(11)], { interleave: true });
        const [x, y, act] = [be.alloc("x", rows * K), be.alloc("y", rows * 15), be.alloc("act", rows * 11)];
        be.write(x, randomArray(rand, rows * K, 2));
        be.linear(y, x, stacked, null, rows, { rmsNorm });
        be.linear(act, x, pairs, null, rows, { rmsNorm, geglu: true });
        be.submit();
        return [await be.read(y), await be.read(act)];
      };
      const [got, want] = [await run(b), await run(ref)];
      expectClose(got[0], want[0], { atol: 3e-5, rtol: 2e-4 }, `q${bits} joined, normed`);
      expectClose(got[1], want[1], { atol: 3e-5, rtol: 2e-4 }, `q${bits} joined geglu`);
    });

    test(`q${bits} weights refuse ops that take only f16 weights`, () => {
      const w = b.uploadQuantized("norm.q", quantizeMatrix(new Float32Array(32).fill(0.5), 1, 32, bits), [1, 32]);
      const x = b.alloc("x", 32);
      expect(() => b.rmsNorm(x, x, w, 1, 1e-6)).toThrow(/q[48]/);
      b.free(x);
    });
  }
});
