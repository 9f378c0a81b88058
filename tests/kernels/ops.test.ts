// Every op of the Backend contract, on every registered backend, against the plain-TS
// reference on seeded random inputs. Sizes are deliberately odd (not multiples of
// workgroup or SIMD widths) and large enough to cross tile boundaries.
import { beforeAll, describe, expect, test } from "vitest";
import type { Backend, Buf, ConvOptions } from "../../src/backends/backend.js";
import { f16ArrayToF32, f32ArrayToF16 } from "../../src/weights/f16.js";
import { backends } from "../harness/backends.js";
import { expectClose, mismatches } from "../harness/compare.js";
import { randomArray, rng } from "../harness/random.js";
import { geluTanh, ReferenceBackend } from "../reference/backend.js";

type Inputs = Record<string, Float32Array | Int32Array>;
type Weights = Record<string, { data: Float32Array; shape: number[] }>;
type Op = (b: Backend, bufs: Record<string, Buf>, ws: Record<string, ReturnType<Backend["uploadWeight"]>>) => void;

/**
 * Runs `op` on a backend and on the reference with the same inputs and weights,
 * and returns the contents of `outputs` from both. With `precision`, every weight is
 * uploaded from f32 data with that precision.
 */
async function runBoth(
  backend: Backend,
  inputs: Inputs,
  weights: Weights,
  outputs: Record<string, number | { length: number; kind: "i32" }>,
  op: Op,
  precision?: "f16" | "f32",
): Promise<Record<string, { got: ArrayLike<number>; want: ArrayLike<number> }>> {
  const result: Record<string, { got: ArrayLike<number>; want: ArrayLike<number> }> = {};
  const reference = new ReferenceBackend();
  const run = async (b: Backend) => {
    const bufs: Record<string, Buf> = {};
    for (const [name, data] of Object.entries(inputs)) {
      bufs[name] = b.alloc(name, data.length, data instanceof Int32Array ? "i32" : "f32");
      b.write(bufs[name], data);
    }
    for (const [name, spec] of Object.entries(outputs)) {
      if (bufs[name]) continue;
      const n = typeof spec === "number" ? spec : spec.length;
      bufs[name] = b.alloc(name, n, typeof spec === "number" ? "f32" : "i32");
    }
    const ws: Record<string, ReturnType<Backend["uploadWeight"]>> = {};
    for (const [name, { data, shape }] of Object.entries(weights)) {
      if (precision) ws[name] = b.uploadWeight(name, data, shape, { precision });
      // Half the weights go in as f16 bits, half as f32: both upload paths are covered.
      else ws[name] = b.uploadWeight(name, name.length % 2 ? f32ArrayToF16(data) : data, shape);
    }
    op(b, bufs, ws);
    b.submit();
    const out: Record<string, ArrayLike<number>> = {};
    for (const [name, spec] of Object.entries(outputs)) {
      out[name] = typeof spec === "number" ? await b.read(bufs[name]) : await b.readI32(bufs[name]);
    }
    return out;
  };
  const got = await run(backend);
  const want = await run(reference);
  for (const name of Object.keys(outputs)) result[name] = { got: got[name], want: want[name] };
  return result;
}

const weight = (rand: () => number, shape: number[], scale = 0.5) => ({
  data: randomArray(rand, shape.reduce((a, b) => a * b, 1), scale),
  shape,
});

describe("reference backend (the oracle itself)", () => {
  test("linear, conv and transposed conv agree with hand-computed values", async () => {
    const r = new ReferenceBackend();
    const x = r.alloc("x", 2);
    r.write(x, new Float32Array([1, 2]));
    const y = r.alloc("y", 2);
    r.linear(y, x, r.uploadWeight("w", new Float32Array([1, 0.5, -1, 2]), [2, 2]), r.uploadWeight("b", new Float32Array([0.25, 0]), [2]), 1);
    expect(Array.from(await r.read(y))).toEqual([2.25, 3]);
    // A 1-channel 2x2 input through a 2x2 stride-2 transposed conv of ones tiles each pixel 2x2.
    const img = r.alloc("img", 4);
    r.write(img, new Float32Array([1, 2, 3, 4]));
    const up = r.alloc("up", 16);
    const ones = r.uploadWeight("k", new Float32Array(4).fill(1), [1, 1, 2, 2]);
    const zero = r.uploadWeight("z", new Float32Array(1), [1]);
    r.convTranspose2d(up, img, ones, zero, { batch: 1, height: 2, width: 2, kernel: 2, stride: 2, padding: 0 });
    expect(Array.from(await r.read(up))).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    // A 3x3 box filter with padding 1 at the corner sees 4 pixels.
    const box = r.uploadWeight("box", new Float32Array(9).fill(1), [1, 1, 3, 3]);
    const s = r.alloc("s", 4);
    r.conv2d(s, img, box, zero, { batch: 1, height: 2, width: 2, kernel: 3, stride: 1, padding: 1 });
    expect(Array.from(await r.read(s))).toEqual([10, 10, 10, 10]);
    expect(geluTanh(0)).toBe(0);
    expect(geluTanh(1)).toBeCloseTo(0.841192, 5);
  });
});

describe.each(backends)("$name backend", ({ create }) => {
  let b: Backend;
  beforeAll(async () => {
    b = await create();
  });

  test.each([
    [1, 64, 37],
    [1, 1152, 97],
    [3, 27, 5],
    [17, 33, 65],
    [70, 130, 96],
    [129, 67, 129],
  ])("linear rows=%i K=%i N=%i (bias, gelu, accumulate)", async (rows, K, N) => {
    const rand = rng(rows * 1000 + K + N);
    for (const opts of [{}, { gelu: true }, { accumulate: true }]) {
      const r = await runBoth(
        b,
        { x: randomArray(rand, rows * K), y: randomArray(rand, rows * N) },
        { w: weight(rand, [N, K], 1 / Math.sqrt(K)), bb: weight(rand, [N]) },
        { y: rows * N },
        (be, t, w) => be.linear(t.y, t.x, w.w, w.bb, rows, opts),
      );
      expectClose(r.y.got, r.y.want, { atol: 2e-5, rtol: 1e-4 }, `linear ${JSON.stringify(opts)}`);
    }
    const r = await runBoth(
      b,
      { x: randomArray(rand, rows * K) },
      { w: weight(rand, [N, K], 1 / Math.sqrt(K)) },
      { y: rows * N },
      (be, t, w) => be.linear(t.y, t.x, w.w, null, rows),
    );
    expectClose(r.y.got, r.y.want, { atol: 2e-5, rtol: 1e-4 }, "linear without bias");
  });

  test("linear takes a conv weight [D, C, P, P] as [D, C*P*P]", async () => {
    const rand = rng(7);
    const r = await runBoth(
      b,
      { x: randomArray(rand, 5 * 27) },
      { w: weight(rand, [11, 3, 3, 3]), bb: weight(rand, [11]) },
      { y: 5 * 11 },
      (be, t, w) => be.linear(t.y, t.x, w.w, w.bb, 5),
    );
    expectClose(r.y.got, r.y.want, { atol: 2e-5, rtol: 1e-4 }, "linear conv weight");
  });

  test("embed with scale and accumulate", async () => {
    const rand = rng(11);
    const ids = Int32Array.from({ length: 9 }, () => Math.floor(rand() * 50));
    const r = await runBoth(
      b,
      { ids, y: randomArray(rand, 9 * 24), z: new Float32Array(9 * 24) },
      { table: weight(rand, [50, 24]) },
      { y: 9 * 24, z: 9 * 24 },
      (be, t, w) => {
        be.embed(t.y, t.ids, w.table, 9, { scale: 8, accumulate: true });
        be.embed(t.z, t.ids, w.table, 9, { scale: 0.125 });
      },
    );
    expectClose(r.y.got, r.y.want, { atol: 1e-6, rtol: 1e-6 }, "embed accumulate");
    expectClose(r.z.got, r.z.want, { atol: 1e-6, rtol: 1e-6 }, "embed");
  });

  test.each([
    [2, 3, 12, 4],
    [1, 3, 9, 3],
  ])("patchify B=%i C=%i S=%i P=%i", async (B, C, S, P) => {
    const rand = rng(S * P);
    const n = B * (S / P) ** 2 * C * P * P;
    const r = await runBoth(b, { px: randomArray(rand, B * C * S * S) }, {}, { y: n }, (be, t) =>
      be.patchify(t.y, t.px, B, C, S, P),
    );
    expectClose(r.y.got, r.y.want, { atol: 0 }, "patchify");
  });

  test("layerNorm and rmsNorm (plain and accumulate) over odd widths", async () => {
    const rand = rng(13);
    for (const D of [37, 64, 1152]) {
      const rows = 5;
      const r = await runBoth(
        b,
        { x: randomArray(rand, rows * D, 3), acc: randomArray(rand, rows * D) },
        { w: weight(rand, [D]), bb: weight(rand, [D]) },
        { ln: rows * D, rms: rows * D, acc: rows * D },
        (be, t, w) => {
          be.layerNorm(t.ln, t.x, w.w, w.bb, rows, 1e-6);
          be.rmsNorm(t.rms, t.x, w.w, rows, 1e-6);
          be.rmsNorm(t.acc, t.x, w.w, rows, 1e-6, { accumulate: true });
        },
      );
      for (const k of ["ln", "rms", "acc"]) expectClose(r[k].got, r[k].want, { atol: 1e-5, rtol: 1e-4 }, `${k} D=${D}`);
    }
  });

  test("softcap", async () => {
    const rand = rng(17);
    const n = 1001;
    const r = await runBoth(b, { x: randomArray(rand, n, 20) }, {}, { x: n }, (be, t) => be.softcap(t.x, n, 3));
    expectClose(r.x.got, r.x.want, { atol: 1e-5, rtol: 1e-5 }, "softcap");
  });

  // The decode path's fused linear: weights joined at load (stacked like Q/K/V, or
  // interleaved like gate/up), the input's RMSNorm, the GeGLU and the softcap inside the
  // linear, on both sides of the GEMV/matmul switch, with odd K and part sizes.
  test.each([
    [1, 37],
    [3, 64],
    [8, 130],
    [17, 33],
  ])("fused linear rows=%i K=%i: joinRows, rmsNorm, geglu, softcap", async (rows, K) => {
    const rand = rng(rows * 100 + K);
    const r = await runBoth(
      b,
      { x: randomArray(rand, rows * K, 3), y: randomArray(rand, rows * 11) },
      {
        q: weight(rand, [5, K], 1 / Math.sqrt(K)),
        k: weight(rand, [3, K], 1 / Math.sqrt(K)),
        v: weight(rand, [3, K], 1 / Math.sqrt(K)),
        gate: weight(rand, [7, K], 1 / Math.sqrt(K)),
        up: weight(rand, [7, K], 1 / Math.sqrt(K)),
        head: weight(rand, [13, K], 3 / Math.sqrt(K)),
        norm: weight(rand, [K]),
      },
      { qkv: rows * 11, y: rows * 11, act: rows * 7, logits: rows * 13 },
      (be, t, w) => {
        const rmsNorm = { weight: w.norm, eps: 1e-6 };
        const qkv = be.joinRows("qkv", [w.q, w.k, w.v]);
        const gateUp = be.joinRows("gate_up", [w.gate, w.up], { interleave: true });
        be.linear(t.qkv, t.x, qkv, null, rows, { rmsNorm });
        be.linear(t.y, t.x, qkv, null, rows, { accumulate: true });
        be.linear(t.act, t.x, gateUp, null, rows, { rmsNorm, geglu: true });
        be.linear(t.logits, t.x, w.head, null, rows, { rmsNorm, softcap: 2 });
      },
    );
    for (const k of ["qkv", "y", "act", "logits"]) expectClose(r[k].got, r[k].want, { atol: 2e-5, rtol: 1e-4 }, `fused linear ${k}`);
  });

  // Gemma 2's post-norm residual add folded into the next linear that reads the residual
  // stream: x' = x + rms(add) stored to out and normalized for the dot, on both sides of
  // the GEMV/matmul switch, odd and even K, plain and as the GeGLU, ping-ponged as
  // gemma.ts does (the second reads the first's out and writes another buffer).
  test.each([
    [1, 37],
    [3, 64],
    [8, 130],
    [17, 33],
  ])("linear rows=%i K=%i with a residual add: x' stored, normalized and multiplied", async (rows, K) => {
    const rand = rng(rows * 7 + K);
    const r = await runBoth(
      b,
      { x: randomArray(rand, rows * K, 3), add: randomArray(rand, rows * K, 20) },
      {
        w: weight(rand, [9, K], 1 / Math.sqrt(K)),
        gate: weight(rand, [7, K], 1 / Math.sqrt(K)),
        up: weight(rand, [7, K], 1 / Math.sqrt(K)),
        norm: weight(rand, [K]),
        postNorm: weight(rand, [K]),
      },
      { y: rows * 9, out: rows * K, act: rows * 7, out2: rows * K },
      (be, t, w) => {
        const rmsNorm = { weight: w.norm, eps: 1e-6 };
        be.linear(t.y, t.x, w.w, null, rows, { rmsNorm, residual: { add: t.add, norm: w.postNorm, out: t.out } });
        const gateUp = be.joinRows("gate_up", [w.gate, w.up], { interleave: true });
        be.linear(t.act, t.out, gateUp, null, rows, { rmsNorm, geglu: true, residual: { add: t.add, norm: w.norm, out: t.out2 } });
      },
    );
    for (const k of ["out", "y", "act", "out2"]) expectClose(r[k].got, r[k].want, { atol: 2e-5, rtol: 1e-4 }, `residual linear ${k}`);
  });

  test.each([
    [5, 3, 1, 24],
    [4, 2, 2, 256],
    [3, 4, 1, 16],
  ])("ropeAppend rows=%i heads=%i kvHeads=%i headDim=%i at positions up to 5000", async (rows, heads, kvHeads, hd) => {
    const rand = rng(rows * hd + heads);
    const pos = Int32Array.from({ length: rows }, (_, i) => (i === 0 ? 1 : Math.floor(rand() * 5000)));
    const cacheRows = Int32Array.from({ length: rows }, (_, i) => 2 * rows - 1 - 2 * i); // scattered, backwards
    const kvw = kvHeads * hd;
    const r = await runBoth(
      b,
      {
        qkv: randomArray(rand, rows * (heads + 2 * kvHeads) * hd),
        pos,
        cacheRows,
        kc: randomArray(rand, 2 * rows * kvw),
        vc: randomArray(rand, 2 * rows * kvw),
      },
      {},
      { q: rows * heads * hd, kc: 2 * rows * kvw, vc: 2 * rows * kvw },
      (be, t) => be.ropeAppend(t.q, t.kc, t.vc, t.qkv, t.pos, t.cacheRows, rows, { heads, kvHeads, headDim: hd, theta: 10000 }),
    );
    // The same f32 angles as the reference: cos and sin must be f32-accurate (WGSL's
    // builtins may be 2^-11 off, and SwiftShader's were: Gemma's logits moved 1e-3).
    for (const k of ["q", "kc"]) expectClose(r[k].got, r[k].want, { atol: 2e-6, rtol: 1e-5 }, `ropeAppend ${k}`);
    expectClose(r.vc.got, r.vc.want, { atol: 0 }, "ropeAppend v (copied; rows not appended to are kept)");
  });

  // meta rows: (base, slot, prefix) per query; see Backend.attention.
  const attentionCases: [string, number, number, number, number[][], number, number][] = [
    // name, heads, kvHeads, headDim, meta, keyRows, softcap
    ["prefill B=2 prefix 5 of 7, cache 9", 4, 2, 24, [0, 1, 2, 3, 4, 5, 6].flatMap((s) => [[0, s, 5], [9, s, 4]]), 18, 0],
    ["decode B=2 at slots 7 and 5", 4, 2, 24, [[0, 7, 5], [9, 5, 4]], 18, 0],
    ["multi-query, softcap 3, 300 keys", 8, 1, 16, [[0, 299, 120], [0, 150, 120], [0, 3, 120]], 300, 3],
    ["SigLIP-like full attention 37 keys, headDim 72", 3, 3, 72, Array.from({ length: 37 }, (_, s) => [0, s, 37]), 37, 0],
    ["long prefix 1100 keys, headDim 256", 2, 1, 256, [[0, 1099, 1100], [0, 0, 1100], [0, 1100, 1100]], 1101, 0],
  ];
  test.each(attentionCases)("attention: %s", async (_name, heads, kvHeads, hd, meta, keyRows, softcap) => {
    const rand = rng(heads * hd + keyRows);
    const rows = meta.length;
    const r = await runBoth(
      b,
      {
        q: randomArray(rand, rows * heads * hd),
        k: randomArray(rand, keyRows * kvHeads * hd),
        v: randomArray(rand, keyRows * kvHeads * hd),
        meta: Int32Array.from(meta.flat()),
      },
      {},
      { out: rows * heads * hd },
      (be, t) =>
        be.attention(t.out, t.q, t.k, t.v, t.meta, rows, { heads, kvHeads, headDim: hd, scale: 1 / Math.sqrt(hd), softcap }),
    );
    expectClose(r.out.got, r.out.want, { atol: 2e-5, rtol: 1e-4 }, "attention");
  });

  test("scatterRows and gatherRows", async () => {
    const rand = rng(19);
    const width = 19;
    const idx = Int32Array.from([4, 0, 6, 2]);
    const r = await runBoth(
      b,
      { src: randomArray(rand, 4 * width), dst: randomArray(rand, 8 * width), idx },
      {},
      { dst: 8 * width, g: 4 * width },
      (be, t) => {
        be.scatterRows(t.dst, t.idx, t.src, 4, width, 0.5);
        be.gatherRows(t.g, t.dst, t.idx, 4, width);
      },
    );
    expectClose(r.dst.got, r.dst.want, { atol: 0 }, "scatterRows");
    expectClose(r.g.got, r.g.want, { atol: 0 }, "gatherRows");
  });

  test("argmax picks the lowest index on ties, across a large vocabulary", async () => {
    const rand = rng(23);
    const vocab = 70001;
    const logits = randomArray(rand, 3 * vocab, 5);
    logits[vocab + 60000] = 9;
    logits[vocab + 61000] = 9;
    logits[2 * vocab + vocab - 1] = 7;
    const r = await runBoth(b, { logits }, {}, { ids: { length: 3, kind: "i32" } }, (be, t) =>
      be.argmax(t.ids, t.logits, 3, vocab),
    );
    expect(Array.from(r.ids.got)).toEqual(Array.from(r.ids.want));
    expect(r.ids.want[1]).toBe(60000);
  });

  test.each([
    [{ temperature: 1, topK: 0, topP: 1 }],
    [{ temperature: 0.7, topK: 5, topP: 1 }],
    [{ temperature: 1.3, topK: 0, topP: 0.8 }],
    [{ temperature: 1, topK: 20, topP: 0.5 }],
  ])("sample %o draws the same tokens as the reference for the same uniforms", async (opts) => {
    const rand = rng(29);
    const rows = 6;
    const vocab = 1037;
    const r = await runBoth(
      b,
      { logits: randomArray(rand, rows * vocab, 4), u: Float32Array.from([0.01, 0.2, 0.45, 0.6, 0.83, 0.99]) },
      {},
      { ids: { length: rows, kind: "i32" } },
      (be, t) => be.sample(t.ids, t.logits, t.u, rows, vocab, opts),
    );
    expect(Array.from(r.ids.got)).toEqual(Array.from(r.ids.want));
  });

  const convCases: [string, number[], ConvOptions][] = [
    ["3x3 pad 1, relu", [5, 7, 3, 3], { batch: 2, height: 5, width: 6, kernel: 3, stride: 1, padding: 1, relu: true }],
    ["1x1 accumulate", [6, 7, 1, 1], { batch: 2, height: 4, width: 4, kernel: 1, stride: 1, padding: 0, accumulate: true }],
    ["3x3 stride 2", [4, 3, 3, 3], { batch: 1, height: 7, width: 9, kernel: 3, stride: 2, padding: 0 }],
  ];
  test.each(convCases)("conv2d %s", async (_name, shape, o) => {
    const rand = rng(shape[0] * 31);
    const [Cout, Cin, k] = shape;
    const Ho = Math.floor((o.height + 2 * o.padding - k) / o.stride) + 1;
    const Wo = Math.floor((o.width + 2 * o.padding - k) / o.stride) + 1;
    const r = await runBoth(
      b,
      { x: randomArray(rand, o.batch * o.height * o.width * Cin), y: randomArray(rand, o.batch * Ho * Wo * Cout) },
      { w: weight(rand, shape), bb: weight(rand, [Cout]) },
      { y: o.batch * Ho * Wo * Cout },
      (be, t, w) => be.conv2d(t.y, t.x, w.w, w.bb, o),
    );
    expectClose(r.y.got, r.y.want, { atol: 2e-5, rtol: 1e-4 }, "conv2d");
  });

  const transposedConvCases: [string, number[], ConvOptions][] = [
    ["k4 s2 p1, relu", [6, 5, 4, 4], { batch: 2, height: 3, width: 4, kernel: 4, stride: 2, padding: 1, relu: true }],
    ["k4 s2 p1, 33 to 17 channels", [33, 17, 4, 4], { batch: 1, height: 4, width: 4, kernel: 4, stride: 2, padding: 1 }],
  ];
  test.each(transposedConvCases)("convTranspose2d %s", async (_name, shape, o) => {
    const rand = rng(shape[0] * 37);
    const [Cin, Cout, k] = shape;
    const Ho = (o.height - 1) * o.stride - 2 * o.padding + k;
    const Wo = (o.width - 1) * o.stride - 2 * o.padding + k;
    const r = await runBoth(
      b,
      { x: randomArray(rand, o.batch * o.height * o.width * Cin) },
      { w: weight(rand, shape), bb: weight(rand, [Cout]) },
      { y: o.batch * Ho * Wo * Cout },
      (be, t, w) => be.convTranspose2d(t.y, t.x, w.w, w.bb, o),
    );
    expectClose(r.y.got, r.y.want, { atol: 2e-5, rtol: 1e-4 }, "convTranspose2d");
  });

  // embed and the convs also take f32 weights (the mask decoder's). Every weight here is
  // off the f16 grid, and each test checks that the same op over f16-rounded weights
  // misses the tolerance, so passing shows the values were kept in f32.
  describe("f32 weights", () => {
    const F32 = { atol: 2e-6, rtol: 2e-6 };
    /** Moves the rare random value that an f16 holds exactly off the grid (2^-18 is far below f16's 2^-11 steps). */
    const offF16Grid = (ws: Weights) => {
      for (const { data } of Object.values(ws)) {
        const rounded = f16ArrayToF32(f32ArrayToF16(data));
        for (let i = 0; i < data.length; i++) if (data[i] === rounded[i]) data[i] = data[i] * (1 + 2 ** -18) || 2 ** -30;
      }
    };
    /** Runs `op` with f32 weights (checked against `tol`) and again with f16 ones, which must miss it. */
    async function expectF32Kept(
      inputs: Inputs,
      weights: Weights,
      y: number,
      op: Op,
      tol: { atol: number; rtol?: number },
      what: string,
    ): Promise<void> {
      offF16Grid(weights);
      const f32 = await runBoth(b, inputs, weights, { y }, op, "f32");
      expectClose(f32.y.got, f32.y.want, tol, `${what} f32`);
      const f16 = await runBoth(b, inputs, weights, { y }, op, "f16");
      expect(mismatches(f16.y.got, f32.y.want, tol), `${what}: f16 weights pass the f32 tolerance`).not.toBeNull();
    }

    test("embed copies an f32 table exactly (scale 0.125, and scale 8 with accumulate)", async () => {
      const rand = rng(41);
      const [V, D, rows] = [40, 27, 11]; // D: 6 vectors of 4 and a 3-element tail
      const ids = Int32Array.from({ length: rows }, () => Math.floor(rand() * V));
      const inputs = { ids, y: randomArray(rand, rows * D) };
      const table = { table: weight(rand, [V, D]) };
      // Power-of-two scales keep scale * w exact, so the one rounding is y + that, as in the reference.
      const plain: Op = (be, t, w) => be.embed(t.y, t.ids, w.table, rows, { scale: 0.125 });
      await expectF32Kept(inputs, table, rows * D, plain, { atol: 0 }, "embed");
      const acc: Op = (be, t, w) => be.embed(t.y, t.ids, w.table, rows, { scale: 8, accumulate: true });
      await expectF32Kept(inputs, table, rows * D, acc, { atol: 0 }, "embed accumulate");
    });

    test.each(convCases)("conv2d %s", async (_name, shape, o) => {
      const rand = rng(shape[0] * 43);
      const [Cout, Cin, k] = shape;
      const Ho = Math.floor((o.height + 2 * o.padding - k) / o.stride) + 1;
      const Wo = Math.floor((o.width + 2 * o.padding - k) / o.stride) + 1;
      await expectF32Kept(
        { x: randomArray(rand, o.batch * o.height * o.width * Cin), y: randomArray(rand, o.batch * Ho * Wo * Cout) },
        { w: weight(rand, shape), bb: weight(rand, [Cout]) },
        o.batch * Ho * Wo * Cout,
        (be, t, w) => be.conv2d(t.y, t.x, w.w, w.bb, o),
        F32, "conv2d",
      );
    });

    test.each(transposedConvCases)("convTranspose2d %s", async (_name, shape, o) => {
      const rand = rng(shape[0] * 47);
      const [Cin, Cout, k] = shape;
      const Ho = (o.height - 1) * o.stride - 2 * o.padding + k;
      const Wo = (o.width - 1) * o.stride - 2 * o.padding + k;
      await expectF32Kept(
        { x: randomArray(rand, o.batch * o.height * o.width * Cin) },
        { w: weight(rand, shape), bb: weight(rand, [Cout]) },
        o.batch * Ho * Wo * Cout,
        (be, t, w) => be.convTranspose2d(t.y, t.x, w.w, w.bb, o),
        F32, "convTranspose2d",
      );
    });
  });

  test("write at an offset and partial reads", async () => {
    const buf = b.alloc("partial", 10);
    b.write(buf, new Float32Array(10));
    b.write(buf, new Float32Array([1, 2, 3]), 4);
    expect(Array.from(await b.read(buf, 5, 3))).toEqual([0, 1, 2, 3, 0]);
    const ib = b.alloc("ints", 4, "i32");
    b.write(ib, Int32Array.from([-1, 7, 2 ** 30, 0]));
    expect(Array.from(await b.readI32(ib))).toEqual([-1, 7, 2 ** 30, 0]);
  });
});
