// What only the WebGPU backend has to get right, beyond the shared op tests
// (tests/kernels/ops.test.ts): weights split over several bindings (f16 and quantized),
// the f16 GEMV's three weight loads (vec4<u32>, u32, one half), the residual add inside the
// GEMVs (and as its own pass where a device binds too few buffers), f16 pairs with odd row lengths, quantized kernels with and without subgroups, no GPU
// objects created by a repeated decode step, attention streamed over 4100 keys and split
// over workgroups for decode, queue
// writes ordered with recorded ops, and errors that say what happened.
//
// The device comes from the production path (requestWebGPUDevice and the Node entry's
// provider, loaded by tests/setup.ts), on SwiftShader when no Vulkan driver is configured.
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import type { Backend, Buf, Weight } from "../../src/backends/backend.js";
import { attentionSplits, createWebGPUBackend, type WebGPUBackend } from "../../src/backends/webgpu/backend.js";
import { requestWebGPUDevice } from "../../src/backends/webgpu/device.js";
import { DeviceLostError, GPUOutOfMemoryError } from "../../src/backends/webgpu/errors.js";
import type { GPUWeight } from "../../src/backends/webgpu/weights.js";
import { WeightsError } from "../../src/errors.js";
import { f32ArrayToF16 } from "../../src/weights/f16.js";
import { type QuantBits, quantizeMatrix } from "../../src/weights/quantize.js";
import { expectClose } from "../harness/compare.js";
import { countingDevice } from "../harness/counting-device.js";
import { randomArray, rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;

let device: GPUDevice;
beforeAll(async () => {
  const d = await requestWebGPUDevice();
  if (!d) throw new Error("no WebGPU adapter: install the `webgpu` package and Chromium's SwiftShader");
  device = d;
});

/** Uploads the same inputs to both backends, runs `op` on each, and returns `out` from both. */
async function both(
  gpu: Backend,
  inputs: Record<string, Float32Array | Int32Array>,
  weights: Record<string, { data: Uint16Array | Float32Array; shape: number[] }>,
  out: { name: string; length: number },
  op: (b: Backend, t: Record<string, Buf>, w: Record<string, Weight>) => void,
): Promise<{ got: Float32Array; want: Float32Array; weights: Record<string, Weight> }> {
  const run = async (b: Backend) => {
    const t: Record<string, Buf> = {};
    for (const [name, data] of Object.entries(inputs)) {
      t[name] = b.alloc(name, data.length, data instanceof Int32Array ? "i32" : "f32");
      b.write(t[name], data);
    }
    t[out.name] ??= b.alloc(out.name, out.length);
    const w: Record<string, Weight> = {};
    for (const [name, { data, shape }] of Object.entries(weights)) w[name] = b.uploadWeight(name, data, shape);
    op(b, t, w);
    return { result: await b.read(t[out.name], out.length), w };
  };
  const g = await run(gpu);
  const r = await run(new ReferenceBackend());
  return { got: g.result, want: r.result, weights: g.w };
}

describe("device", () => {
  test("requestWebGPUDevice raises the limits the model needs to the adapter's and passes devices through", async () => {
    // SwiftShader here; bench/gpu.sh runs these tests on a real GPU's ICD.
    if (process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD) expect(device.adapterInfo.description).toMatch(/SwiftShader/);
    // SwiftShader binds 1 GiB (as does every discrete GPU); WebGPU's default is 128 MiB.
    expect(device.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 2 ** 20);
    expect(device.limits.maxComputeWorkgroupStorageSize).toBeGreaterThan(16384);
    expect(device.features.has("subgroups")).toBe(true); // so both GEMV kernels run here
    expect(await requestWebGPUDevice(device)).toBe(device);
  });
  test("dispose() destroys a device the backend owns and leaves a caller's device working", async () => {
    const own = (await requestWebGPUDevice())!;
    createWebGPUBackend(own, { ownsDevice: true }).dispose();
    expect((await own.lost).reason).toBe("destroyed");
    const shared = createWebGPUBackend(device);
    shared.dispose();
    const b = createWebGPUBackend(device);
    const x = b.alloc("x", 3);
    b.write(x, Float32Array.of(1, 2, 3));
    expect(Array.from(await b.read(x))).toEqual([1, 2, 3]);
    b.dispose();
  });
});

describe("weights larger than one binding", () => {
  // 600 bytes per binding: 8 rows of K=37 (odd K: an even count of rows, so chunks start on whole words), 4 of K=64.
  const SMALL = 600;

  test.each([
    [1, 37, 61],
    [5, 37, 61],
    [70, 37, 61],
    [70, 64, 130],
  ])("linear rows=%i K=%i N=%i over row chunks equals the unsplit weight", async (rows, K, N) => {
    const rand = rng(rows + K + N);
    const gpu = createWebGPUBackend(device, { maxBindingBytes: SMALL });
    const r = await both(
      gpu,
      { x: randomArray(rand, rows * K), y: randomArray(rand, rows * N) },
      { w: { data: randomArray(rand, N * K, 0.2), shape: [N, K] }, b: { data: randomArray(rand, N), shape: [N] } },
      { name: "y", length: rows * N },
      (b, t, w) => b.linear(t.y, t.x, w.w, w.b, rows, { accumulate: true }),
    );
    const chunks = (r.weights.w as GPUWeight).chunks;
    const fit = Math.floor(SMALL / (2 * K));
    expect(chunks.length).toBe(Math.ceil(N / (K % 2 ? fit - (fit % 2) : fit)));
    expect(chunks.every((c) => (c.row0 * K) % 2 === 0)).toBe(true); // every chunk starts on a whole u32
    expectClose(r.got, r.want, { atol: 2e-5, rtol: 1e-4 }, "split linear");
    gpu.dispose();
  });

  test.each([
    [1, 37, 31],
    [3, 64, 61],
    [40, 37, 31],
  ])("joinRows over row chunks: stacked and interleaved rows=%i K=%i N=%i, with the fused norm and GeGLU", async (rows, K, N) => {
    const rand = rng(rows * K * N);
    const gpu = createWebGPUBackend(device, { maxBindingBytes: SMALL });
    const data = ["a", "b", "c", "norm"].map((n) => ({ n, data: randomArray(rand, n === "norm" ? K : N * K, 0.3) }));
    const x = randomArray(rand, rows * K);
    const run = async (b: Backend) => {
      const [a, c, d, norm] = data.map(({ n, data }) => b.uploadWeight(n, data, n === "norm" ? [K] : [N, K]));
      const stacked = b.joinRows("abc", [a, c, d]);
      const [e, f] = data.slice(0, 2).map(({ n, data }) => b.uploadWeight(`${n}2`, data, [N, K]));
      const pairs = b.joinRows("pairs", [e, f], { interleave: true });
      const t = { x: b.alloc("x", rows * K), y: b.alloc("y", rows * 3 * N), act: b.alloc("act", rows * N) };
      b.write(t.x, x);
      b.linear(t.y, t.x, stacked, null, rows, { rmsNorm: { weight: norm, eps: 1e-6 } });
      b.linear(t.act, t.x, pairs, null, rows, { geglu: true });
      return { y: await b.read(t.y), act: await b.read(t.act), stacked, pairs };
    };
    const got = await run(gpu);
    const want = await run(new ReferenceBackend());
    expect((got.stacked as GPUWeight).chunks.length).toBeGreaterThan(3);
    expect((got.pairs as GPUWeight).chunks.every((c) => c.rows % 2 === 0 && (c.row0 * K) % 2 === 0)).toBe(true);
    expectClose(got.y, want.y, { atol: 2e-5, rtol: 1e-4 }, "joined stacked");
    expectClose(got.act, want.act, { atol: 2e-5, rtol: 1e-4 }, "joined interleaved, geglu");
    gpu.dispose();
  });

  test.each(["f16", "f32"] as const)("embed reads each id from the chunk that holds its row (%s table)", async (precision) => {
    const rand = rng(3);
    const [V, D, rows] = [50, 37, 23];
    const ids = Int32Array.from({ length: rows }, (_, i) => (i === 0 ? 0 : i === 1 ? V - 1 : Math.floor(rand() * V)));
    const table = randomArray(rand, V * D);
    const gpu = createWebGPUBackend(device, { maxBindingBytes: SMALL });
    const run = async (b: Backend) => {
      const t = { ids: b.alloc("ids", rows, "i32"), y: b.alloc("y", rows * D) };
      b.write(t.ids, ids);
      b.write(t.y, Float32Array.from({ length: rows * D }, (_, i) => i / 7));
      const w = b.uploadWeight("table", table, [V, D], { precision });
      b.embed(t.y, t.ids, w, rows, { scale: 3, accumulate: true });
      return { y: await b.read(t.y), w };
    };
    const got = await run(gpu);
    const want = await run(new ReferenceBackend());
    expect((got.w as GPUWeight).chunks.length).toBeGreaterThan(precision === "f32" ? 10 : 5);
    expectClose(got.y, want.y, { atol: 1e-6, rtol: 1e-6 }, `split ${precision} embed`);
    gpu.dispose();
  });
});

describe("quantized weights over row chunks, with and without subgroups", () => {
  // 600 bytes per binding: q4 K=75 (3 groups, 48 bytes a row) is 12 rows a chunk, q8 6 rows.
  const SMALL = 600;
  const variants = [
    { maxBindingBytes: SMALL, subgroups: true },
    { subgroups: false },
    { maxBindingBytes: SMALL, subgroups: false },
  ];
  const run = async (b: Backend, bits: QuantBits, rows: number, K: number, N: number, seed: number) => {
    const rand = rng(seed);
    const w = b.uploadQuantized("w", quantizeMatrix(randomArray(rand, N * K, 0.3), N, K, bits), [N, K]);
    const bias = b.uploadWeight("b", randomArray(rand, N), [N]);
    const x = b.alloc("x", rows * K);
    const y = b.alloc("y", rows * N);
    b.write(x, randomArray(rand, rows * K));
    b.write(y, randomArray(rand, rows * N));
    b.linear(y, x, w, bias, rows, { accumulate: true, gelu: true });
    const table = b.uploadQuantized("table", quantizeMatrix(randomArray(rand, N * K), N, K, bits), [N, K]);
    const ids = b.alloc("ids", 4, "i32");
    b.write(ids, Int32Array.of(0, N - 1, 7, N >> 1));
    const e = b.alloc("e", 4 * K);
    b.embed(e, ids, table, 4, { scale: 2 });
    // Joined at load, split into new chunks: stacked (Q/K/V-like) and interleaved (gate/up) with the fused norm and GeGLU.
    const part = (n: number, name: string) => b.uploadQuantized(name, quantizeMatrix(randomArray(rand, n * K, 0.3), n, K, bits), [n, K]);
    const norm = { weight: b.uploadWeight("norm", randomArray(rand, K), [K]), eps: 1e-6 };
    const stacked = b.joinRows("qkv", [part(N, "q"), part(5, "k"), part(5, "v")]);
    const pairs = b.joinRows("gate_up", [part(N, "gate"), part(N, "up")], { interleave: true });
    const [qkv, act] = [b.alloc("qkv", rows * (N + 10)), b.alloc("act", rows * N)];
    b.linear(qkv, x, stacked, null, rows, { rmsNorm: norm });
    b.linear(act, x, pairs, null, rows, { rmsNorm: norm, geglu: true });
    // With a residual add before the norm (x' kept), over the split weight.
    const [add, kept, added] = [b.alloc("add", rows * K), b.alloc("kept", rows * K), b.alloc("added", rows * N)];
    b.write(add, randomArray(rand, rows * K, 10));
    b.linear(added, x, w, null, rows, { rmsNorm: norm, residual: { add, norm: b.uploadWeight("add_norm", randomArray(rand, K), [K]), out: kept } });
    return {
      ...{ y: await b.read(y), e: await b.read(e), qkv: await b.read(qkv), act: await b.read(act) },
      ...{ kept: await b.read(kept), added: await b.read(added), w, pairs },
    };
  };

  for (const options of variants) {
    for (const bits of [4, 8] as const) {
      test.each([
        [1, 75, 61],
        [5, 75, 61],
        [70, 75, 61],
        [2, 64, 130],
      ])(`q${bits} ${JSON.stringify(options)}: linear rows=%i K=%i N=%i and embed equal the reference`, async (rows, K, N) => {
        const gpu = createWebGPUBackend(device, options);
        const got = await run(gpu, bits, rows, K, N, rows * K + N + bits);
        const want = await run(new ReferenceBackend(), bits, rows, K, N, rows * K + N + bits);
        const chunks = (got.w as GPUWeight).chunks;
        if (options.maxBindingBytes) {
          expect(chunks.length).toBeGreaterThan(1);
          expect(chunks.every((c) => (c.row0 * Math.ceil(K / 32)) % 2 === 0)).toBe(true); // scales start on a whole u32
        }
        expectClose(got.y, want.y, { atol: 3e-5, rtol: 2e-4 }, `q${bits} linear`);
        expectClose(got.e, want.e, { atol: 1e-6, rtol: 1e-6 }, `q${bits} embed`);
        expectClose(got.qkv, want.qkv, { atol: 3e-5, rtol: 2e-4 }, `q${bits} joined, normed linear`);
        expectClose(got.act, want.act, { atol: 3e-5, rtol: 2e-4 }, `q${bits} joined geglu`);
        expectClose(got.kept, want.kept, { atol: 2e-5, rtol: 1e-4 }, `q${bits} residual's x'`);
        expectClose(got.added, want.added, { atol: 3e-5, rtol: 2e-4 }, `q${bits} linear after the residual add`);
        if (options.maxBindingBytes) expect((got.pairs as GPUWeight).chunks.every((c) => c.rows % 2 === 0)).toBe(true); // whole (gate, up) pairs
        gpu.dispose();
      });
    }
  }

  test("with WebGPU's default 8 storage buffers a stage, the q GEMV's residual add is a pass of its own; the f16 GEMV's fits", async () => {
    const own = await (await navigatorlessAdapter()).requestDevice();
    expect(own.limits.maxStorageBuffersPerShaderStage).toBe(8);
    const { device: small, labels } = recordingPipelines(own);
    const [rows, K, N] = [3, 75, 61];
    const got = await run(createWebGPUBackend(small), 4, rows, K, N, 5);
    const want = await run(new ReferenceBackend(), 4, rows, K, N, 5);
    expectClose(got.kept, want.kept, { atol: 2e-5, rtol: 1e-4 }, "unfused residual's x'");
    expectClose(got.added, want.added, { atol: 3e-5, rtol: 2e-4 }, "q4 linear after the unfused residual add");
    expect(labels.filter((l) => l.includes("residual"))).toEqual([]);
    const f16 = await both(
      createWebGPUBackend(small),
      { x: randomArray(rng(6), rows * K), add: randomArray(rng(7), rows * K, 10) },
      { w: { data: randomArray(rng(8), N * K, 0.3), shape: [N, K] }, norm: { data: randomArray(rng(9), K), shape: [K] } },
      { name: "out", length: rows * K },
      (b, t, w) => b.linear(b.alloc("y", rows * N), t.x, w.w, null, rows, { rmsNorm: { weight: w.norm, eps: 1e-6 }, residual: { add: t.add, norm: w.norm, out: t.out } }),
    );
    expectClose(f16.got, f16.want, { atol: 2e-5, rtol: 1e-4 }, "f16 residual's x'");
    expect(labels.filter((l) => l.startsWith("gemv.residual"))).toHaveLength(1);
    own.destroy();
  });

  test("a non-finite scale is refused at upload, naming the tensor", () => {
    const gpu = createWebGPUBackend(device);
    const m = quantizeMatrix(new Float32Array(3 * 40).fill(0.25), 3, 40, 4);
    m.scales[3] = 0x7c00; // +inf: row 1, group 1
    expect(() => gpu.uploadQuantized("layers.0.mlp.up_proj", m, [3, 40])).toThrow(WeightsError);
    expect(() => gpu.uploadQuantized("layers.0.mlp.up_proj", m, [3, 40])).toThrow(/layers\.0\.mlp\.up_proj: the scale of row 1, group 1 is not finite/);
    expect(() => gpu.uploadQuantized("short", { ...m, scales: m.scales.subarray(1) }, [3, 40])).toThrow(/needs 24 qweight words and 6 scales/);
    gpu.dispose();
  });
});

/** `d`, recording the label of every compute pipeline made through it (kernel + override constants). */
function recordingPipelines(d: GPUDevice): { device: GPUDevice; labels: string[] } {
  const labels: string[] = [];
  const device = new Proxy(d, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "createComputePipeline") labels.push(String((args[0] as GPUComputePipelineDescriptor).label));
        return value.apply(t, args);
      };
    },
  });
  return { device, labels };
}

describe("f16 pairs", () => {
  // gemv.wgsl's three loads: a vec4<u32> (8 halves) per lane where K % 8 == 0, a u32 where
  // K is even, one half where K is odd; each plain (bias, GELU, accumulate), with the fused
  // RMSNorm, as GeGLU pairs with it, and with a residual add before it (x' kept), over 1
  // and several rows, both team kernels.
  test.each([
    [1, 512, true, 8],
    [1, 520, false, 8],
    [5, 512, true, 8],
    [8, 1032, false, 8],
    [2, 64, true, 2], // K % 8 == 0, too short for every lane to take a vec4
    [1, 130, true, 2], // K % 8 == 2
    [3, 76, false, 2], // 4
    [6, 38, true, 2], // 6
    [1, 37, false, 1],
    [7, 37, true, 1],
  ])("gemv rows=%i K=%i subgroups=%s loads %i halves per lane and equals the reference", async (rows, K, subgroups, load) => {
    const N = 11;
    const rand = rng(rows * 1000 + K);
    const data = { w: randomArray(rand, N * K, 0.3), gate: randomArray(rand, N * K, 0.3), up: randomArray(rand, N * K, 0.3) };
    const [bias, norm, x, y0] = [randomArray(rand, N), randomArray(rand, K), randomArray(rand, rows * K, 2), randomArray(rand, rows * N)];
    const [addData, addNorm] = [randomArray(rand, rows * K, 10), randomArray(rand, K)];
    const run = async (b: Backend) => {
      const [w, gate, up] = Object.entries(data).map(([n, d]) => b.uploadWeight(n, d, [N, K]));
      const rmsNorm = { weight: b.uploadWeight("norm", norm, [K]), eps: 1e-6 };
      const pairs = b.joinRows("gate_up", [gate, up], { interleave: true });
      const t = { x: b.alloc("x", rows * K), y: b.alloc("y", rows * N), normed: b.alloc("normed", rows * N), act: b.alloc("act", rows * N) };
      b.write(t.x, x);
      b.write(t.y, y0);
      b.linear(t.y, t.x, w, b.uploadWeight("bias", bias, [N]), rows, { accumulate: true, gelu: true });
      b.linear(t.normed, t.x, w, null, rows, { rmsNorm });
      b.linear(t.act, t.x, pairs, null, rows, { rmsNorm, geglu: true });
      const [add, kept, added] = [b.alloc("add", rows * K), b.alloc("kept", rows * K), b.alloc("added", rows * N)];
      b.write(add, addData);
      b.linear(added, t.x, w, null, rows, { rmsNorm, residual: { add, norm: b.uploadWeight("add_norm", addNorm, [K]), out: kept } });
      return { y: await b.read(t.y), normed: await b.read(t.normed), act: await b.read(t.act), kept: await b.read(kept), added: await b.read(added) };
    };
    const { device: recorded, labels } = recordingPipelines(device);
    const gpu = createWebGPUBackend(recorded, { subgroups });
    const got = await run(gpu);
    const want = await run(new ReferenceBackend());
    const gemvs = labels.filter((l) => l.startsWith("gemv"));
    expect(gemvs).toHaveLength(4); // plain, NORM, NORM + PAIRS, residual + NORM
    expect(gemvs.every((l) => l.includes(`"LOAD":${load}`) && l.includes(`"ROWS":${rows}`) && l.includes("subgroups") === subgroups)).toBe(true);
    expect(gemvs.filter((l) => l.includes(".residual"))).toHaveLength(1);
    for (const k of ["y", "normed", "act", "kept", "added"] as const) expectClose(got[k], want[k], { atol: 2e-5, rtol: 1e-4 }, `gemv ${k}`);
    gpu.dispose();
  });


  test.each([
    [1, 37, 9, true],
    [1, 37, 9, false],
    [2, 130, 9, true], // even K, not a multiple of 8
    [3, 130, 9, false],
    [33, 129, 70, true],
  ])("rows=%i K=%i N=%i subgroups=%s: f16 bits and f32 uploads give the reference's f16-rounded result", async (rows, K, N, subgroups) => {
    const rand = rng(K * N);
    const w32 = randomArray(rand, N * K, 1);
    const x = randomArray(rand, rows * K);
    const gpu = createWebGPUBackend(device, { subgroups });
    const bits = await both(gpu, { x }, { w: { data: f32ArrayToF16(w32), shape: [N, K] } }, { name: "y", length: rows * N }, (b, t, w) =>
      b.linear(t.y, t.x, w.w, null, rows),
    );
    const f32 = await both(gpu, { x }, { w: { data: w32, shape: [N, K] } }, { name: "y", length: rows * N }, (b, t, w) =>
      b.linear(t.y, t.x, w.w, null, rows),
    );
    expectClose(bits.got, bits.want, { atol: 2e-5, rtol: 1e-4 }, "f16 bits");
    expect(Array.from(f32.got)).toEqual(Array.from(bits.got)); // the upload rounds f32 to f16 exactly as given bits
    gpu.dispose();
  });
});

describe("transposed convolutions by output phase", () => {
  // k4 s2 p1 is the mask decoder's; the others give phases with different tap counts,
  // phases no tap reaches (k2 s3: bias only), and odd output sizes.
  test.each([
    [4, 2, 1, 3, 5],
    [3, 2, 1, 4, 3],
    [2, 3, 0, 3, 2],
    [5, 3, 2, 2, 4],
  ])("k=%i s=%i p=%i from %ix%i", async (k, stride, padding, height, width) => {
    const rand = rng(k * 100 + stride * 10 + padding);
    const [Cin, Cout, batch] = [5, 7, 2];
    const Ho = (height - 1) * stride - 2 * padding + k;
    const Wo = (width - 1) * stride - 2 * padding + k;
    const o = { batch, height, width, kernel: k, stride, padding, relu: true, accumulate: true };
    const gpu = createWebGPUBackend(device);
    const r = await both(
      gpu,
      { x: randomArray(rand, batch * height * width * Cin), y: randomArray(rand, batch * Ho * Wo * Cout) },
      { w: { data: randomArray(rand, Cin * Cout * k * k), shape: [Cin, Cout, k, k] }, b: { data: randomArray(rand, Cout), shape: [Cout] } },
      { name: "y", length: batch * Ho * Wo * Cout },
      (b, t, w) => b.convTranspose2d(t.y, t.x, w.w, w.b, o),
    );
    expectClose(r.got, r.want, { atol: 2e-5, rtol: 1e-4 }, "convTranspose2d");
    gpu.dispose();
  });
});

describe("a repeated decode step", () => {
  test("creates no GPU objects after the first step, and computes the same as the reference", async () => {
    const { device: counted, counts } = countingDevice(device);
    const gpu = createWebGPUBackend(counted);
    const ref = new ReferenceBackend();
    const rand = rng(41);
    const [D, H, KV, hd, V, I, L] = [24, 4, 2, 8, 97, 40, 16];
    const weights = {
      embed: { data: randomArray(rand, V * D), shape: [V, D] },
      norm: { data: randomArray(rand, D, 0.1), shape: [D] },
      q: { data: randomArray(rand, H * hd * D, 0.3), shape: [H * hd, D] },
      k: { data: randomArray(rand, KV * hd * D, 0.3), shape: [KV * hd, D] },
      v: { data: randomArray(rand, KV * hd * D, 0.3), shape: [KV * hd, D] },
      o: { data: randomArray(rand, D * H * hd, 0.3), shape: [D, H * hd] },
      gate: { data: randomArray(rand, I * D, 0.3), shape: [I, D] },
      up: { data: randomArray(rand, I * D, 0.3), shape: [I, D] },
      down: { data: randomArray(rand, D * I, 0.3), shape: [D, I] },
    };
    const setUp = (b: Backend) => {
      const w = Object.fromEntries(Object.entries(weights).map(([n, { data, shape }]) => [n, b.uploadWeight(n, data, shape)]));
      w.qkv = b.joinRows("qkv", [w.q, w.k, w.v]);
      w.gateUp = b.joinRows("gate_up", [w.gate, w.up], { interleave: true });
      const t = {
        ids: b.alloc("ids", 1, "i32"),
        pos: b.alloc("pos", 1, "i32"),
        slot: b.alloc("slot", 1, "i32"),
        meta: b.alloc("meta", 3, "i32"),
        h: b.alloc("h", D),
        qkv: b.alloc("qkv", (H + 2 * KV) * hd),
        q: b.alloc("q", H * hd),
        cacheK: b.alloc("cacheK", L * KV * hd),
        cacheV: b.alloc("cacheV", L * KV * hd),
        attn: b.alloc("attn", H * hd),
        act: b.alloc("act", I),
        logits: b.alloc("logits", V),
        next: b.alloc("next", 1, "i32"),
      };
      return { w, t };
    };
    const step = async (b: Backend, { w, t }: ReturnType<typeof setUp>, token: number, s: number) => {
      b.write(t.ids, Int32Array.of(token));
      b.write(t.pos, Int32Array.of(s + 1));
      b.write(t.slot, Int32Array.of(s));
      b.write(t.meta, Int32Array.of(0, s, 0));
      b.embed(t.h, t.ids, w.embed, 1, { scale: Math.sqrt(D) });
      const rmsNorm = { weight: w.norm, eps: 1e-6 };
      b.linear(t.qkv, t.h, w.qkv, null, 1, { rmsNorm });
      b.ropeAppend(t.q, t.cacheK, t.cacheV, t.qkv, t.pos, t.slot, 1, { heads: H, kvHeads: KV, headDim: hd, theta: 10000 });
      b.attention(t.attn, t.q, t.cacheK, t.cacheV, t.meta, 1, { heads: H, kvHeads: KV, headDim: hd, scale: 0.3, softcap: 5 });
      b.linear(t.h, t.attn, w.o, null, 1, { accumulate: true });
      b.linear(t.act, t.h, w.gateUp, null, 1, { rmsNorm, geglu: true });
      b.linear(t.h, t.act, w.down, null, 1, { accumulate: true });
      b.linear(t.logits, t.h, w.embed, null, 1, { rmsNorm, softcap: 30 });
      b.argmax(t.next, t.logits, 1, V);
      b.submit();
      return { next: (await b.readI32(t.next))[0], logits: await b.read(t.logits) };
    };
    const g = setUp(gpu);
    const r = setUp(ref);
    let token = 2;
    const created: number[] = [];
    for (let s = 0; s < 5; s++) {
      const creations = () => [...counts].reduce((a, [name, n]) => a + (name.startsWith("create") ? n : 0), 0);
      const before = creations();
      const got = await step(gpu, g, token, s);
      const want = await step(ref, r, token, s);
      expectClose(got.logits, want.logits, { atol: 1e-4, rtol: 1e-4 }, `logits at step ${s}`);
      created.push(creations() - before);
      token = want.next;
    }
    expect(counts.get("createBindGroup")).toBeGreaterThan(10);
    expect(created.slice(1)).toEqual([0, 0, 0, 0]);

    // A released buffer comes back for the next allocation of its size: no new buffer.
    const buffers = counts.get("createBuffer");
    gpu.free(g.t.act);
    gpu.alloc("act again", I);
    expect(counts.get("createBuffer")).toBe(buffers);
    gpu.dispose();
  });
});

describe("attention streams over long key ranges", () => {
  test("4100 keys, 8 heads sharing one kv head, headDim 256", async () => {
    const rand = rng(4100);
    const [heads, kvHeads, hd, keys] = [8, 1, 256, 4100];
    // Two queries deep into the cache and one that sees only the prefix.
    const meta = [
      [0, keys - 1, 1000],
      [0, 2500, 1000],
      [0, 10, 1000],
    ];
    const rows = meta.length;
    const gpu = createWebGPUBackend(device);
    const r = await both(
      gpu,
      {
        q: randomArray(rand, rows * heads * hd, 0.5),
        k: randomArray(rand, keys * kvHeads * hd, 0.5),
        v: randomArray(rand, keys * kvHeads * hd),
        meta: Int32Array.from(meta.flat()),
      },
      {},
      { name: "out", length: rows * heads * hd },
      (b, t) => b.attention(t.out, t.q, t.k, t.v, t.meta, rows, { heads, kvHeads, headDim: hd, scale: hd ** -0.5 }),
    );
    expectClose(r.got, r.want, { atol: 2e-5, rtol: 1e-4 }, "attention over 4100 keys");
    gpu.dispose();
  });

  test("queries of one workgroup reading different cache regions, over several key tiles", async () => {
    const rand = rng(77);
    const [heads, kvHeads, hd, region] = [2, 2, 24, 200];
    // Batch rows alternate, so every workgroup of 8 query slots spans both regions.
    const meta = Array.from({ length: 10 }, (_, i) => [(i % 2) * region, 150 + i, 130 - 3 * i]);
    const rows = meta.length;
    const gpu = createWebGPUBackend(device);
    const r = await both(
      gpu,
      {
        q: randomArray(rand, rows * heads * hd),
        k: randomArray(rand, 2 * region * kvHeads * hd),
        v: randomArray(rand, 2 * region * kvHeads * hd),
        meta: Int32Array.from(meta.flat()),
      },
      {},
      { name: "out", length: rows * heads * hd },
      (b, t) => b.attention(t.out, t.q, t.k, t.v, t.meta, rows, { heads, kvHeads, headDim: hd, scale: 0.2, softcap: 2 }),
    );
    expectClose(r.got, r.want, { atol: 2e-5, rtol: 1e-4 }, "attention across regions");
    gpu.dispose();
  });
});

describe("split-key attention (decode over long prefixes)", () => {
  // (name, heads, kvHeads, headDim, meta rows (base, slot, prefix), key rows, softcap, window)
  const cases: [string, number, number, number, number[][], number, number, number][] = [
    ["PaliGemma-3B at 448: 8 heads on 1 kv head, headDim 256, 1037 keys", 8, 1, 256, [[0, 1036, 1030]], 1037, 0, 0],
    ["the odd config: GQA 6/2, headDim 24, 2 rows in their own regions", 6, 2, 24, [[0, 1500, 1201], [1601, 1100, 1100]], 3202, 0, 0],
    ["Gemma 2: softcap 50, window 512 past a 1100-key prefix, headDim 20", 4, 2, 20, [[0, 1300, 1100], [0, 700, 1100]], 1301, 50, 512],
    ["headDim 4, a few visible keys in a 3000-row cache (most splits empty)", 3, 1, 4, [[0, 69, 40], [0, 5, 0]], 3000, 0, 0],
    ["headDim 12, window 100 near the end of 4100 keys", 2, 2, 12, [[0, 4099, 300]], 4100, 30, 100],
    ["headDim 36, prefill rows inside a 1000-key prefix and causal after it", 5, 1, 36, [[0, 0, 999], [0, 998, 999], [0, 999, 999], [0, 1000, 999]], 1001, 0, 0],
    ["headDim 72, 4 decode rows of a batch at slots not on tile boundaries", 2, 1, 72, [0, 1, 2, 3].map((b) => [b * 700, 129 + 190 * b, 65]), 2800, 0, 0],
    // Head dims not a multiple of 4: rows gathered as f32s (the `.unaligned` modules).
    ["headDim 22, GQA 6/3, softcap 5, 1200 keys", 6, 3, 22, [[0, 1199, 1000], [0, 640, 1000]], 1200, 5, 0],
    ["headDim 30, window 300, 2 rows in their own regions", 4, 1, 30, [[0, 1500, 1100], [1501, 1033, 40]], 3002, 0, 300],
    ["headDim 2, 3 heads on 1 kv head, 700 keys", 3, 1, 2, [[0, 699, 512]], 700, 0, 0],
  ];
  test.each(cases)("%s", async (_name, heads, kvHeads, hd, meta, keyRows, softcap, window) => {
    const rand = rng(heads * 1000 + hd + keyRows);
    const rows = meta.length;
    const { device: counted, counts } = countingDevice(device);
    const gpu = createWebGPUBackend(counted);
    const r = await both(
      gpu,
      {
        q: randomArray(rand, rows * heads * hd, 1.5),
        k: randomArray(rand, keyRows * kvHeads * hd),
        v: randomArray(rand, keyRows * kvHeads * hd),
        meta: Int32Array.from(meta.flat()),
      },
      {},
      { name: "out", length: rows * heads * hd },
      (b, t) => b.attention(t.out, t.q, t.k, t.v, t.meta, rows, { heads, kvHeads, headDim: hd, scale: hd ** -0.5, softcap, window }),
    );
    expectClose(r.got, r.want, { atol: 2e-5, rtol: 1e-4 }, "split-key attention");
    // The split path ran: its keys over many workgroups, then the merge (2 dispatches, not 1).
    const blocks = Math.ceil((rows * heads) / kvHeads / 8) * kvHeads;
    expect(attentionSplits(blocks, keyRows)).toBeGreaterThan(8);
    expect(counts.get("dispatchWorkgroups")).toBe(2);
    gpu.dispose();
  });

  test("prefill with headDim 10 (SigLIP-like, 40 heads: no split) and headDim 26 (split)", async () => {
    for (const [heads, hd, keys] of [[40, 10, 300], [2, 26, 600]]) {
      const rand = rng(hd);
      const meta = Array.from({ length: keys }, (_, s) => [0, s, keys - 20]);
      const gpu = createWebGPUBackend(device);
      const r = await both(
        gpu,
        { q: randomArray(rand, keys * heads * hd), k: randomArray(rand, keys * heads * hd), v: randomArray(rand, keys * heads * hd), meta: Int32Array.from(meta.flat()) },
        {},
        { name: "out", length: keys * heads * hd },
        (b, t) => b.attention(t.out, t.q, t.k, t.v, t.meta, keys, { heads, kvHeads: heads, headDim: hd, scale: hd ** -0.5 }),
      );
      expectClose(r.got, r.want, { atol: 2e-5, rtol: 1e-4 }, `prefill attention headDim ${hd}`);
      expect(attentionSplits(Math.ceil(keys / 8) * heads, keys)).toBe(hd === 10 ? 1 : 2);
      gpu.dispose();
    }
  });

  test("prefill and SigLIP-sized dispatches keep one workgroup per query block and kv head", () => {
    expect(attentionSplits(Math.ceil((1030 * 8) / 8), 1030)).toBe(1); // PaliGemma-3B prefill at 448
    expect(attentionSplits((256 / 8) * 16, 256)).toBe(1); // SigLIP at 224: 16 heads
    expect(attentionSplits(1, 330)).toBe(1); // PaliGemma-3B decode at 224: few keys, no merge dispatch
    expect(attentionSplits(1, 4100)).toBe(65); // one tile per split at most
    expect(attentionSplits(4, 4100)).toBe(64); // PaliGemma 2 decode: 4 kv heads, 256 workgroups
  });
});

describe("ordering and errors", () => {
  test("a write to a buffer that recorded ops still read waits for them", async () => {
    const gpu = createWebGPUBackend(device);
    const x = gpu.alloc("x", 3);
    const y = gpu.alloc("y", 3);
    const z = gpu.alloc("z", 3);
    gpu.write(x, Float32Array.of(1, 2, 3));
    gpu.scatterRows(y, gpu.alloc("idx", 1, "i32"), x, 1, 3, 2); // idx is zeros: y = 2x
    gpu.write(x, Float32Array.of(10, 20, 30));
    gpu.gatherRows(z, x, gpu.alloc("idx0", 1, "i32"), 1, 3);
    expect(Array.from(await gpu.read(y))).toEqual([2, 4, 6]);
    expect(Array.from(await gpu.read(z))).toEqual([10, 20, 30]);
    gpu.dispose();
  });

  test("more dispatches than the uniform arena has slots, before one read", async () => {
    const gpu = createWebGPUBackend(device);
    const y = gpu.alloc("y", 3);
    const ids = gpu.alloc("ids", 1, "i32");
    const table = gpu.uploadWeight("table", Float32Array.of(0.5, -0.25, 2), [1, 3]);
    gpu.write(y, new Float32Array(3));
    for (let i = 0; i < 1100; i++) gpu.embed(y, ids, table, 1, { accumulate: true });
    expect(Array.from(await gpu.read(y))).toEqual([550, -275, 2200]);
    gpu.dispose();
  });

  test("a buffer larger than the device can bind is refused with what to do", () => {
    const gpu = createWebGPUBackend(device);
    const tooMany = device.limits.maxStorageBufferBindingSize / 4 + 1;
    expect(() => gpu.alloc("huge", tooMany)).toThrow(GPUOutOfMemoryError);
    expect(() => gpu.alloc("huge", tooMany)).toThrow(/maxStorageBufferBindingSize.*try a smaller model/);
    gpu.dispose();
  });

  test("a lost device rejects reads with DeviceLostError", async () => {
    const own = await requestWebGPUDevice(await navigatorlessAdapter());
    const gpu: WebGPUBackend = createWebGPUBackend(own!);
    const x = gpu.alloc("x", 4);
    gpu.write(x, Float32Array.of(1, 2, 3, 4));
    own!.destroy();
    await expect(gpu.read(x)).rejects.toThrow(DeviceLostError);
    await expect(gpu.read(x)).rejects.toThrow(/most often running out of GPU memory/);
  });
});

/** A second adapter from the same GPU, for a device this test may destroy. */
async function navigatorlessAdapter(): Promise<GPUAdapter> {
  const { create } = await import("webgpu");
  const adapter = await keep(create([])).requestAdapter();
  if (!adapter) throw new Error("no adapter");
  return adapter;
}

// Dawn aborts the process if a GPU object is collected while its devices live.
const kept: GPU[] = [];
function keep(g: GPU): GPU {
  kept.push(g);
  return g;
}
