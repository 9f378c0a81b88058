// What is particular to the WASM backend, beyond the shared op tests
// (tests/kernels/ops.test.ts): f16 weights converted exactly on every path, f32
// weights kept bit for bit where they are taken and refused where they are not, SIMD
// and tile tails that never write outside their output, the heap's reuse and its
// out-of-memory error, and the checks that keep a kernel from touching memory it
// was not given.
import { describe, expect, test } from "vitest";
import type { Backend, Buf } from "../../src/backends/backend.js";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { OutOfMemoryError, PaliGemmaError, WeightsError } from "../../src/errors.js";
import { f16ArrayToF32 } from "../../src/weights/f16.js";
import { quantizeMatrix } from "../../src/weights/quantize.js";
import { expectClose } from "../harness/compare.js";
import { randomArray, rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";

const MiB = 1024 ** 2;

/** Every finite f16 bit pattern (±0, subnormals, normals up to ±65504), zero-padded to a multiple of `width`. */
function allFiniteF16(width: number): Uint16Array {
  const bits: number[] = [];
  for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00) bits.push(h);
  const out = new Uint16Array(Math.ceil(bits.length / width) * width);
  out.set(bits);
  return out;
}

function writeNew(b: Backend, label: string, data: Float32Array | Int32Array): Buf {
  const buf = b.alloc(label, data.length, data instanceof Int32Array ? "i32" : "f32");
  b.write(buf, data);
  return buf;
}

describe("f16 weights are converted exactly", () => {
  test("embed returns every finite f16 value as its exact f32 (SIMD lanes and scalar tail)", async () => {
    const b = await createWasmBackend();
    const D = 31; // 7 vectors of 4, then 3 scalars per row
    const bits = allFiniteF16(D);
    const V = bits.length / D;
    const table = b.uploadWeight("table", bits, [V, D]);
    const y = b.alloc("y", V * D);
    b.embed(y, writeNew(b, "ids", Int32Array.from({ length: V }, (_, i) => i)), table, V);
    expectClose(await b.read(y), f16ArrayToF32(bits), { atol: 0 }, "embed of all finite f16");
  });

  test("linear's panel (rows > 1) and GEMV (rows = 1) paths see every finite f16 value exactly", async () => {
    const b = await createWasmBackend();
    const K = 37;
    const bits = allFiniteF16(K);
    const N = bits.length / K;
    const w = b.uploadWeight("w", bits, [N, K]);
    const want = f16ArrayToF32(bits); // W[n, k] at n * K + k
    // x = identity: y[k, n] = W[n, k], one product of 1 and the weight, plus zeros.
    const eye = new Float32Array(K * K);
    for (let k = 0; k < K; k++) eye[k * K + k] = 1;
    const y = b.alloc("y", K * N);
    b.linear(y, writeNew(b, "eye", eye), w, null, K);
    const got = await b.read(y);
    const transposed = new Float32Array(K * N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) transposed[k * N + n] = want[n * K + k];
    expectClose(got, transposed, { atol: 0 }, "panel path");
    // The GEMV scales x by 2^56 and leaves weights at 2^-112: still exact, subnormals included.
    for (const k of [0, 1, 4, 17, 36]) {
      const x = writeNew(b, "onehot", eye.subarray(k * K, (k + 1) * K));
      const row = b.alloc("row", N);
      b.linear(row, x, w, null, 1);
      expectClose(await b.read(row), transposed.subarray(k * N, (k + 1) * N), { atol: 0 }, `GEMV column ${k}`);
    }
  });

  test("inf and NaN weights are rejected at upload with the tensor and element named", async () => {
    const b = await createWasmBackend();
    const bits = new Uint16Array(21).fill(0x3c00);
    bits[13] = 0x7c00;
    expect(() => b.uploadWeight("layer.0.w", bits, [3, 7])).toThrowError(/layer\.0\.w: element 13 is f16 bits 0x7c00/);
    bits[13] = 0xfe01; // a NaN
    expect(() => b.uploadWeight("n", bits, [21])).toThrowError(WeightsError);
    const big = new Float32Array(10);
    big[9] = 70000; // rounds to +inf in f16
    let err: unknown;
    try {
      b.uploadWeight("big", big, [10]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsError);
    expect((err as PaliGemmaError).code).toBe("INVALID_WEIGHTS");
    expect((err as Error).message).toMatch(/big: element 9 is 70000.*65504/);
    // 65504 is the largest finite f16 and is accepted.
    expect(() => b.uploadWeight("max", new Float32Array([65504, -65504]), [2])).not.toThrow();
  });
});

describe("f32 weights (embed and the convs)", () => {
  test("embed returns f32 table values bit for bit, beyond f16's range and precision (SIMD lanes and scalar tail)", async () => {
    const b = await createWasmBackend();
    const D = 7; // one vector of 4, then 3 scalars per row
    const table = Float32Array.from([
      1 / 3, -70000, 3.4e38, 1e-30, -0, 1.0000001, 65504.5,
      -1 / 7, 2 ** -149, 123456.789, -1e-8, 0.1, 1e20, -3.3e-39,
    ]);
    const w = b.uploadWeight("table", table, [2, D], { precision: "f32" });
    const y = b.alloc("y", 3 * D);
    b.embed(y, writeNew(b, "ids", Int32Array.from([1, 0, 1])), w, 3);
    const got = await b.read(y);
    expect(Array.from(got)).toEqual([...table.subarray(D), ...table.subarray(0, D), ...table.subarray(D)]);
    // f16 bits uploaded as f32 are widened exactly.
    const bits = allFiniteF16(4);
    const wide = b.uploadWeight("bits", bits, [bits.length / 4, 4], { precision: "f32" });
    const all = b.alloc("all", bits.length);
    b.embed(all, writeNew(b, "every", Int32Array.from({ length: bits.length / 4 }, (_, i) => i)), wide, bits.length / 4);
    expectClose(await b.read(all), f16ArrayToF32(bits), { atol: 0 }, "f16 bits as f32");
  });

  test("inf and NaN f32 weights are rejected at upload; the f16 limit does not apply", async () => {
    const b = await createWasmBackend();
    const data = new Float32Array(6).fill(0.5);
    data[4] = Number.NEGATIVE_INFINITY;
    expect(() => b.uploadWeight("vae.w", data, [6], { precision: "f32" })).toThrowError(
      /^vae\.w: element 4 is -Infinity, which is not finite; this checkpoint is corrupt$/,
    );
    data[4] = Number.NaN;
    expect(() => b.uploadWeight("vae.w", data, [6], { precision: "f32" })).toThrowError(WeightsError);
    expect(() => b.uploadWeight("bits", Uint16Array.of(0x3c00, 0x7e00), [2], { precision: "f32" })).toThrowError(
      /bits: element 1 is f16 bits 0x7e00, which is not finite/,
    );
    expect(() => b.uploadWeight("big", new Float32Array([70000, -3e38]), [2], { precision: "f32" })).not.toThrow();
  });

  test("conv2d and convTranspose2d take weight and bias in either precision", async () => {
    const rand = rng(29);
    const o = { batch: 2, height: 3, width: 5, kernel: 3, stride: 1, padding: 1, relu: true };
    const x = randomArray(rand, 2 * 3 * 5 * 6);
    const w = randomArray(rand, 13 * 6 * 9, 0.3); // Conv2d [13, 6, 3, 3]; as ConvTranspose2d [6, 13, 3, 3]
    const bias = randomArray(rand, 13);
    for (const [wp, bp] of [["f32", "f16"], ["f16", "f32"]] as const) {
      for (const op of ["conv2d", "convTranspose2d"] as const) {
        const out: Float32Array[] = [];
        for (const be of [await createWasmBackend(), new ReferenceBackend()] as Backend[]) {
          const y = be.alloc("y", 2 * 3 * 5 * 13);
          const shape = op === "conv2d" ? [13, 6, 3, 3] : [6, 13, 3, 3];
          const weight = be.uploadWeight("w", w, shape, { precision: wp });
          be[op](y, writeNew(be, "x", x), weight, be.uploadWeight("b", bias, [13], { precision: bp }), o);
          out.push(await be.read(y));
        }
        expectClose(out[0], out[1], { atol: 2e-6, rtol: 2e-6 }, `${op} weight ${wp}, bias ${bp}`);
      }
    }
  });

  test("the other ops refuse f32 weights instead of reading them as f16", async () => {
    const b = await createWasmBackend();
    const f32 = b.uploadWeight("vae.w", new Float32Array(12), [3, 4], { precision: "f32" });
    const row32 = b.uploadWeight("row32", new Float32Array(4), [4], { precision: "f32" });
    const row16 = b.uploadWeight("row16", new Float32Array(4), [4]);
    const x = b.alloc("x", 8);
    expect(() => b.linear(b.alloc("y", 6), x, f32, null, 2)).toThrowError(
      'linear: vae.w is an f32 weight; linear takes f16 weights (upload it without precision "f32")',
    );
    const w16 = b.uploadWeight("w16", new Float32Array(16), [4, 4]);
    expect(() => b.linear(b.alloc("y", 8), x, w16, row32, 2)).toThrowError(/linear: row32 is an f32 weight/);
    expect(() => b.layerNorm(x, x, row32, row16, 2, 1e-6)).toThrowError(/layerNorm: row32 is an f32 weight/);
    expect(() => b.layerNorm(x, x, row16, row32, 2, 1e-6)).toThrowError(/layerNorm: row32 is an f32 weight/);
    expect(() => b.rmsNorm(x, x, row32, 2, 1e-6)).toThrowError(/rmsNorm: row32 is an f32 weight/);
  });
});

describe("q8/q4 weights", () => {
  test("uploadQuantized rejects words or scales that do not match the shape, and inf/NaN scales, naming the tensor", async () => {
    const b = await createWasmBackend();
    const good = quantizeMatrix(randomArray(rng(1), 3 * 40), 3, 40, 4); // 2 groups per row, 8 words per row
    expect(() => b.uploadQuantized("l.q", { ...good, qweight: good.qweight.subarray(1) }, [3, 40])).toThrowError(
      /l\.q: q4 \[3, 40\] needs 24 qweight words and 6 scales, got 23 and 6/,
    );
    expect(() => b.uploadQuantized("l.q", good, [4, 40])).toThrowError(WeightsError);
    expect(() => b.uploadQuantized("l.q", { ...good, bits: 2 as 4 }, [3, 40])).toThrowError(/quantized to 2 bits/);
    const scales = good.scales.slice();
    scales[3] = 0x7e00; // NaN
    let err: unknown;
    try {
      b.uploadQuantized("lm.head", { ...good, scales }, [3, 40]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsError);
    expect((err as Error).message).toMatch(/lm\.head: the scale of row 1, group 1 is not finite \(f16 bits 0x7e00\)/);
    expect(() => b.uploadQuantized("ok", good, [3, 40])).not.toThrow();
  });

  test("the q GEMV's fixed-point x keeps outliers and tiny rows to f32 precision", async () => {
    // Gemma's residual stream has outliers hundreds of times its typical value: one
    // in a group of 32 must not cost the others their precision. A row of 1e-30s
    // must come out as 1e-30s, not as zeros.
    const [K, N] = [96, 21];
    const rand = rng(8);
    const x = randomArray(rand, 3 * K);
    for (let g = 0; g < K / 32; g++) x[g * 32 + 5] = 3000;
    for (let k = 0; k < K; k++) x[2 * K + k] *= 1e-30;
    const w = randomArray(rand, N * K, 1 / Math.sqrt(K));
    const b = await createWasmBackend();
    for (const bits of [8, 4] as const) {
      const wq = quantizeMatrix(w, N, K, bits);
      const out: Float32Array[] = [];
      for (const be of [b, new ReferenceBackend()] as Backend[]) {
        const y = be.alloc("y", 3 * N);
        be.linear(y, writeNew(be, "x", x), be.uploadQuantized("w", wq, [N, K]), null, 3);
        out.push(await be.read(y));
      }
      // Each output's error bound is f32 rounding of Σ|x·w|: the outlier's products dominate it.
      const bound = (r: number) => 2e-6 * (r === 2 ? 1e-30 : r === 1 ? 1 : 3000);
      for (let r = 0; r < 3; r++)
        expectClose(out[0].subarray(r * N, (r + 1) * N), out[1].subarray(r * N, (r + 1) * N), { atol: bound(r), rtol: 1e-5 }, `q${bits} row ${r}`);
      expect(Math.max(...out[0].subarray(2 * N).map(Math.abs))).toBeGreaterThan(1e-31);
    }
  });

  test("the other ops, the convs included, refuse q8/q4 weights", async () => {
    const b = await createWasmBackend();
    const q = b.uploadQuantized("w.q8", quantizeMatrix(new Float32Array(4 * 9 * 4).fill(0.25), 4, 36, 8), [4, 36]);
    const bias = b.uploadWeight("b", new Float32Array(4), [4]);
    const x = b.alloc("x", 64);
    expect(() => b.layerNorm(x, x, q, bias, 1, 1e-6)).toThrowError(/layerNorm: w\.q8 is a q8 weight/);
    const o = { batch: 1, height: 2, width: 2, kernel: 3, stride: 1, padding: 1 };
    expect(() => b.conv2d(x, x, q, bias, o)).toThrowError(/conv2d: w\.q8 is a q8 weight/);
    expect(() => b.linear(x, x, b.uploadWeight("w", new Float32Array(16), [4, 4]), q, 1)).toThrowError(/q8/);
  });
});

describe("tails: every size around the SIMD widths, nothing written outside the output", () => {
  test("linear for rows, K, N in 1..9 and 15..17, with bias, GELU and accumulate", async () => {
    const b = await createWasmBackend();
    const ref = new ReferenceBackend();
    const rand = rng(5);
    const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 17];
    for (const rows of [1, 2, 3, 4, 5, 8, 9])
      for (const K of sizes)
        for (const N of sizes) {
          const x = randomArray(rand, rows * K);
          const y0 = randomArray(rand, rows * N);
          const wData = randomArray(rand, N * K, 1 / Math.sqrt(K));
          const bias = randomArray(rand, N);
          for (const opts of [{}, { gelu: true }, { accumulate: true }, { gelu: true, accumulate: true }]) {
            const out: Float32Array[] = [];
            for (const be of [b, ref] as Backend[]) {
              // y has 11 spare elements past rows * N: the op must leave them alone.
              const y = writeNew(be, "y", Float32Array.from([...y0, ...new Array(11).fill(-7)]));
              be.linear(y, writeNew(be, "x", x), be.uploadWeight("w", wData, [N, K]), be.uploadWeight("b", bias, [N]), rows, opts);
              out.push(await be.read(y));
            }
            expectClose(out[0], out[1], { atol: 2e-6, rtol: 1e-5 }, `linear rows=${rows} K=${K} N=${N} ${JSON.stringify(opts)}`);
          }
        }
  });

  test("linear's long-row GEMV (K > 4096, four rows of W at once) with K % 8 and N % 4 tails", async () => {
    const b = await createWasmBackend();
    const ref = new ReferenceBackend();
    const rand = rng(6);
    for (const [rows, K, N] of [[1, 4103, 6], [2, 4097, 1], [3, 8200, 9]]) {
      const x = randomArray(rand, rows * K);
      const y0 = randomArray(rand, rows * N);
      const wData = randomArray(rand, N * K, 1 / Math.sqrt(K));
      const bias = randomArray(rand, N);
      for (const opts of [{ gelu: true }, { accumulate: true }]) {
        const out: Float32Array[] = [];
        for (const be of [b, ref] as Backend[]) {
          const y = writeNew(be, "y", Float32Array.from([...y0, ...new Array(5).fill(-7)]));
          be.linear(y, writeNew(be, "x", x), be.uploadWeight("w", wData, [N, K]), be.uploadWeight("b", bias, [N]), rows, opts);
          out.push(await be.read(y));
        }
        expectClose(out[0], out[1], { atol: 2e-6, rtol: 1e-5 }, `linear rows=${rows} K=${K} N=${N} ${JSON.stringify(opts)}`);
      }
    }
  });

  test("attention with headDim 22 (8 + 8 + 4 + 2 lanes), 3 query heads per kv head, several key blocks", async () => {
    const rand = rng(9);
    const [heads, kvHeads, hd, keys] = [6, 2, 22, 75];
    const meta = [[0, 74, 10], [0, 3, 40], [0, 0, 1], [0, 33, 0]];
    const inputs = {
      q: randomArray(rand, meta.length * heads * hd, 2),
      k: randomArray(rand, keys * kvHeads * hd, 2),
      v: randomArray(rand, keys * kvHeads * hd),
      meta: Int32Array.from(meta.flat()),
    };
    const out: Float32Array[] = [];
    for (const be of [await createWasmBackend(), new ReferenceBackend()] as Backend[]) {
      const t = Object.fromEntries(Object.entries(inputs).map(([n, d]) => [n, writeNew(be, n, d)]));
      const o = be.alloc("out", meta.length * heads * hd);
      be.attention(o, t.q, t.k, t.v, t.meta, meta.length, { heads, kvHeads, headDim: hd, scale: 0.3, softcap: 5 });
      out.push(await be.read(o));
    }
    expectClose(out[0], out[1], { atol: 2e-6, rtol: 1e-5 }, "attention hd=22");
  });

  test("conv2d with Cout 13 (one full block of 8, one partial) writes nothing past y", async () => {
    const rand = rng(3);
    const o = { batch: 1, height: 3, width: 5, kernel: 3, stride: 1, padding: 1, accumulate: true };
    const x = randomArray(rand, 3 * 5 * 6);
    const w = randomArray(rand, 13 * 6 * 9, 0.3);
    const bias = randomArray(rand, 13);
    const y0 = Float32Array.from([...randomArray(rand, 3 * 5 * 13), ...new Array(9).fill(-7)]);
    const out: Float32Array[] = [];
    for (const be of [await createWasmBackend(), new ReferenceBackend()] as Backend[]) {
      const y = writeNew(be, "y", y0);
      be.conv2d(y, writeNew(be, "x", x), be.uploadWeight("w", w, [13, 6, 3, 3]), be.uploadWeight("b", bias, [13]), o);
      out.push(await be.read(y));
    }
    expectClose(out[0], out[1], { atol: 2e-6, rtol: 1e-5 }, "conv2d Cout=13");
  });

  test("sample with topP 0 keeps only the most likely token, as the reference does", async () => {
    const rand = rng(21);
    const logits = randomArray(rand, 2 * 4099, 3);
    const ids: Int32Array[] = [];
    for (const be of [await createWasmBackend(), new ReferenceBackend()] as Backend[]) {
      const out = be.alloc("ids", 2, "i32");
      be.sample(out, writeNew(be, "l", logits), writeNew(be, "u", Float32Array.from([0.5, 0.999])), 2, 4099, {
        temperature: 0.8,
        topK: 0,
        topP: 0,
      });
      ids.push(await be.readI32(out));
    }
    expect(Array.from(ids[0])).toEqual(Array.from(ids[1]));
  });
});

describe("memory", () => {
  test("growth keeps earlier buffers intact, and freed neighbours merge into one reusable block", async () => {
    const b = await createWasmBackend({ maxMemoryBytes: 12 * MiB });
    const keep = writeNew(b, "keep", Float32Array.from({ length: 1000 }, (_, i) => i * 0.5));
    const blocks = [0, 1, 2].map((i) => b.alloc(`block${i}`, (3 * MiB) / 4)); // 9 MiB, growing the memory
    expect(Array.from(await b.read(keep, 4, 996))).toEqual([498, 498.5, 499, 499.5]);
    b.free(blocks[0]);
    b.free(blocks[1]);
    // 5 MiB fits only in the two freed 3 MiB blocks merged.
    const merged = b.alloc("merged", (5 * MiB) / 4);
    b.write(merged, new Float32Array(5).fill(2), (5 * MiB) / 4 - 5);
    expect(Array.from(await b.read(merged, 2, (5 * MiB) / 4 - 2))).toEqual([2, 2]);
  });

  test("an allocation past maxMemoryBytes is an OutOfMemoryError saying how much was needed and why", async () => {
    const b = await createWasmBackend({ maxMemoryBytes: 8 * MiB });
    let err: unknown;
    try {
      b.alloc("kv.L0.k", (16 * MiB) / 4);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    const oom = err as OutOfMemoryError;
    expect(oom.code).toBe("OUT_OF_MEMORY");
    expect(oom.neededBytes).toBeGreaterThan(16 * MiB);
    expect(oom.limitBytes).toBe(8 * MiB);
    expect(oom.message).toMatch(/needs 16\.\d MiB .* to allocate kv\.L0\.k \(16\.0 MiB.*limit of 8\.0 MiB.*4 GiB/);
    // A failed allocation changes nothing: what fits still fits.
    const small = writeNew(b, "small", new Float32Array([1, 2, 3]));
    expect(Array.from(await b.read(small))).toEqual([1, 2, 3]);
  });

  test("an upload too large for the cap is refused the same way", async () => {
    const b = await createWasmBackend({ maxMemoryBytes: 4 * MiB });
    expect(() => b.uploadWeight("embed_tokens", new Uint16Array(3 * MiB), [3 * 1024, 1024])).toThrowError(OutOfMemoryError);
  });
});

describe("ops refuse what would reach outside their buffers", () => {
  test("short buffers, wrong kinds, freed buffers and out-of-range indices throw before the kernel runs", async () => {
    const b = await createWasmBackend();
    const w = b.uploadWeight("w", new Float32Array(12), [3, 4]);
    const x = b.alloc("x", 8);
    expect(() => b.linear(b.alloc("y", 5), x, w, null, 2)).toThrowError(/y holds 5 elements, the op touches 6/);
    const kv8 = b.alloc("kv8", 8);
    const rope = { heads: 1, kvHeads: 1, headDim: 4, theta: 10000 };
    expect(() => b.ropeAppend(x, kv8, kv8, b.alloc("qkv", 12), x, writeNew(b, "rows", Int32Array.of(0)), 1, rope)).toThrowError(
      /x is f32, the op needs i32/,
    );
    const idx = writeNew(b, "idx", Int32Array.from([0, 2]));
    expect(() => b.gatherRows(b.alloc("d", 8), x, idx, 2, 4)).toThrowError(/idx\[1\] = 2 outside \[0, 2\)/);
    const table = b.uploadWeight("table", new Float32Array(8), [2, 4]);
    expect(() => b.embed(x, idx, table, 2)).toThrowError(/idx\[1\] = 2 outside \[0, 2\) \(table\)/);
    const meta = writeNew(b, "meta", Int32Array.from([0, 4, 0]));
    const kv = b.alloc("kv", 4 * 4);
    expect(() => b.attention(x, x, kv, kv, meta, 1, { heads: 1, kvHeads: 1, headDim: 4, scale: 1 })).toThrowError(
      /reads keys past 4 cache rows/,
    );
    b.free(x);
    expect(() => b.softcap(x, 4, 3)).toThrowError(/x was used after free\(\)/);
    b.dispose();
    expect(() => b.alloc("late", 4)).toThrowError(/used after dispose/);
  });
});
