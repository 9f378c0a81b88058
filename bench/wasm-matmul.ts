// The WASM backend's linear, the model's hot path, against onnxruntime-web's WASM
// build on PaliGemma-3B's shapes, in one run, at 1 thread and at every core:
//   - SigLIP's MLP fc1 at 224 px   [256, 1152] x [1152, 4304]
//   - a prefill projection         [266, 2048] x [2048, 16384]  (256 image + 10 prompt tokens)
//   - a decode GEMV                [1, 2048] x [2048, 16384]
//   - the tied LM head             [1, 2048] x [2048, 257216]
// per weight dtype: ours f16 against ort's f32 MatMul holding the same values (and its
// f16 MatMul where it has one), ours q8 / q4 against ort's MatMulNBits (bits 8 / 4,
// block 32, the same integers and scales: our q4 words are its blob bytes as they
// are, our q8 bytes plus 128 are its unsigned ones with the default zero point).
// ort runs in worker threads (bench/ort-worker.mjs), one per thread count, because it
// fixes its thread count once per module instance; ours runs on two backends (1
// thread, and threads = cores). Every column is checked against ours before timing.
// Figures are the best calls of interleaved bursts (timeInterleaved), one engine at a
// time; ratios: ours on N threads over ours on 1 (targets 1.7x on the many-row shapes,
// 1.4x on decode, on a 2-core machine), and ours over ort at equal threads (target 1.0x).
//   node bench/run.mjs bench/wasm-matmul.ts [--shape NAME] [--dtype f16|q8|q4] [--threads N]
import "../src/runtime/node.js";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Backend, Weight } from "../src/backends/backend.js";
import { createWasmBackend } from "../src/backends/wasm/backend.js";
import { f16ArrayToF32, f32ArrayToF16, f32ToF16 } from "../src/weights/f16.js";
import { groupsPerRow, type QuantBits, quantizedBytes, wordsPerRow } from "../src/weights/quantize.js";

const arg = (name: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : "");
const cores = Number(arg("threads")) || Math.min(8, availableParallelism());

const shapes: [name: string, rows: number, K: number, N: number, target: number][] = [
  ["SigLIP fc1", 256, 1152, 4304, 1.7],
  ["prefill up_proj", 266, 2048, 16384, 1.7],
  ["decode GEMV", 1, 2048, 16384, 1.4],
  ["LM head", 1, 2048, 257216, 1.4],
];
type Dtype = "f16" | "q8" | "q4";
const dtypes = (["f16", "q8", "q4"] as Dtype[]).filter((d) => d.includes(arg("dtype")));

/**
 * Best-of milliseconds per call for each function, measured in interleaved rounds (one
 * burst of each per round, after a warm-up burst each) for at least `minMs` overall: on
 * a shared machine every column then sees the same background load, and the best call
 * is the one least disturbed by it. A function runs a burst of back-to-back calls (at
 * least `BURST_MS` of them, as a forward pass runs its ops) and reports its best call:
 * a single call after another column's would time waking a sleeping thread pool, or
 * another pool still spinning after its run and taking the core this one wanted. One
 * that takes over a second is run twice only (ort's MatMulNBits on many rows takes tens).
 */
async function timeInterleaved(fns: ((burstMs: number) => Promise<number>)[], minMs: number, minRounds: number): Promise<number[]> {
  const best = fns.map(() => Infinity);
  const runs = fns.map(() => 0);
  const once = async (i: number) => {
    const ms = await fns[i](BURST_MS);
    runs[i]++;
    if (runs[i] > 1) best[i] = Math.min(best[i], ms);
  };
  for (const i of fns.keys()) await once(i); // warm-up
  const start = performance.now();
  for (let round = 0; round < minRounds || performance.now() - start < minMs; round++) {
    for (const i of fns.keys()) if (runs[i] < 2 || best[i] < 1000) await once(i);
  }
  return best;
}

/** A burst's length: long enough for several calls of the decode GEMV, short beside a round. */
const BURST_MS = 40;
/**
 * Each engine's rounds last this long: on a shared VM a neighbour's load comes and goes
 * over seconds (with 4 s one op's 2T/1T ranged 1.5-2.0x between runs), and more rounds
 * give every column more chances at an undisturbed call.
 */
const ROUNDS_MS = 12_000;

/** The best of back-to-back calls of `f` over `burstMs` (at least two calls). */
function burst(f: () => void, burstMs: number): number {
  let best = Infinity;
  const start = performance.now();
  for (let n = 0; n < 2 || performance.now() - start < burstMs; n++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

// ---- ONNX models with one op, B a constant initializer, written as protobuf by hand ----
const varint = (n: number) => {
  const b: number[] = [];
  for (; n > 127; n = Math.floor(n / 128)) b.push((n & 127) | 128);
  b.push(n);
  return new Uint8Array(b);
};
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};
const int = (field: number, n: number) => cat(varint(field * 8), varint(n));
const bytes = (field: number, b: Uint8Array) => cat(varint(field * 8 + 2), varint(b.length), b);
const str = (field: number, s: string) => bytes(field, new TextEncoder().encode(s));
const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// TensorProto.DataType
const FLOAT = 1;
const UINT8 = 2;
const FLOAT16 = 10;
const tensor = (name: string, type: number, dims: number[], data: ArrayBufferView) =>
  bytes(5, cat(...dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, asBytes(data)))); // GraphProto.initializer
const attrInt = (name: string, v: number) => bytes(5, cat(str(1, name), int(3, v), int(20, 2))); // NodeProto.attribute, INT

/** ModelProto (IR 8, opset 13 + com.microsoft 1) computing Y[rows, N] from input A[rows, K] of `type`. */
function model(rows: number, K: number, N: number, type: number, node: Uint8Array, initializers: Uint8Array[]): Uint8Array {
  const shape = (dims: number[]) => cat(...dims.map((d) => bytes(1, int(1, d)))); // TensorShapeProto.dim.dim_value
  const valueInfo = (field: number, name: string, dims: number[]) =>
    bytes(field, cat(str(1, name), bytes(2, bytes(1, cat(int(1, type), bytes(2, shape(dims)))))));
  const graph = cat(bytes(1, node), str(2, "g"), ...initializers, valueInfo(11, "A", [rows, K]), valueInfo(12, "Y", [rows, N]));
  const opset = (domain: string, v: number) => bytes(8, cat(domain ? str(1, domain) : new Uint8Array(), int(2, v)));
  return cat(int(1, 8), opset("", 13), opset("com.microsoft", 1), bytes(7, graph));
}

const matmulNode = cat(str(1, "A"), str(1, "B"), str(2, "Y"), str(4, "MatMul"));
/** MatMul with B [K, N] of f32 or f16 bits. */
const matmulModel = (rows: number, K: number, N: number, B: Float32Array | Uint16Array) => {
  const type = B instanceof Float32Array ? FLOAT : FLOAT16;
  return model(rows, K, N, type, matmulNode, [tensor("B", type, [K, N], B)]);
};

/** MatMulNBits: B uint8 [N, Kp / 32, 32 · bits / 8], f32 scales [N · Kp / 32], no zero points (4-bit: 8, 8-bit: 128). */
function matmulNBitsModel(rows: number, K: number, N: number, bits: QuantBits, blob: Uint8Array, scales: Float32Array) {
  const groups = groupsPerRow(K);
  const node = cat(
    str(1, "A"), str(1, "B"), str(1, "scales"), str(2, "Y"), str(4, "MatMulNBits"), str(7, "com.microsoft"),
    attrInt("K", K), attrInt("N", N), attrInt("bits", bits), attrInt("block_size", 32), attrInt("accuracy_level", 4),
  );
  return model(rows, K, N, FLOAT, node, [tensor("B", UINT8, [N, groups, 4 * bits], blob), tensor("scales", FLOAT, [N * groups], scales)]);
}

// ---- onnxruntime-web in a worker per thread count ----
class OrtWorker {
  private readonly worker: Worker;
  constructor(readonly threads: number) {
    this.worker = new Worker(new URL("./ort-worker.mjs", import.meta.url), { workerData: { threads } });
  }
  private ask<T>(message: object, transfer: ArrayBuffer[] = []): Promise<T> {
    return new Promise((resolve, reject) => {
      this.worker.once("message", (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      this.worker.postMessage(message, transfer);
    });
  }
  /** Hands `model` over (transferred, not copied: the LM head's is half a gigabyte). */
  load(model: Uint8Array, x: Float32Array | Uint16Array, dims: number[]): Promise<unknown> {
    return this.ask({ cmd: "load", model, type: x instanceof Float32Array ? "float32" : "float16", x, dims }, [model.buffer as ArrayBuffer]);
  }
  /** The best of back-to-back runs over `burstMs`, timed in the worker (its session.run alone). */
  async run(burstMs: number): Promise<number> {
    return (await this.ask<{ ms: number }>({ cmd: "run", burstMs })).ms;
  }
  async output(): Promise<Float32Array> {
    const { y } = await this.ask<{ y: Float32Array | Uint16Array }>({ cmd: "run", want: true });
    return y instanceof Uint16Array ? f16ArrayToF32(y) : y;
  }
  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/** max |a - b| over max |b|. */
function relError(a: Float32Array, b: Float32Array): number {
  let [m, s] = [0, 0];
  for (let i = 0; i < a.length; i++) ((m = Math.max(m, Math.abs(a[i] - b[i]))), (s = Math.max(s, Math.abs(b[i]))));
  return m / s;
}

/** Prints a table: first column left-aligned, the others right-aligned. */
function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

/** One dtype's weights for one shape: what ours uploads, and ort's models of the same values, tried in order. */
function weightsFor(dtype: Dtype, R: number, K: number, N: number, next: () => number) {
  if (dtype === "f16") {
    const halfTable = f32ArrayToF16(Float32Array.from({ length: 4096 }, (_, i) => (i / 2048 - 1) / Math.sqrt(K)));
    const w = new Uint16Array(N * K);
    for (let i = 0; i < w.length; i++) w[i] = halfTable[next() & 4095];
    const upload = (b: Backend) => b.uploadWeight("w.f16", w, [N, K]);
    // ort's MatMul takes B [K, N]: the same values, transposed, as f32 (and f16 where ort has an f16 MatMul).
    const wT = new Uint16Array(K * N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wT[k * N + n] = w[n * K + k];
    return {
      upload, bytes: N * K * 2,
      ort: [
        { label: "f32 MatMul", f16: false, model: () => matmulModel(R, K, N, f16ArrayToF32(wT)) },
        { label: "f16 MatMul", f16: true, model: () => matmulModel(R, K, N, wT) },
      ],
    };
  }
  const bits: QuantBits = dtype === "q4" ? 4 : 8;
  const qweight = new Uint32Array(N * wordsPerRow(K, bits));
  for (let i = 0; i < qweight.length; i++) qweight[i] = next();
  const scale = f32ToF16(1 / ((bits === 4 ? 7 : 127) * Math.sqrt(K)));
  const q = { bits, qweight, scales: new Uint16Array(N * groupsPerRow(K)).fill(scale) };
  const blob = asBytes(qweight).slice();
  if (bits === 8) for (let i = 0; i < blob.length; i++) blob[i] ^= 0x80;
  return {
    upload: (b: Backend) => b.uploadQuantized(`w.${dtype}`, q, [N, K]),
    bytes: quantizedBytes(N, K, bits),
    ort: [{ label: `MatMulNBits ${bits}`, f16: false, model: () => matmulNBitsModel(R, K, N, bits, blob, f16ArrayToF32(q.scales)) }],
  };
}

const rows: string[][] = [];
const misses: string[] = [];
const ratio = (slow: number, fast: number) => `${(slow / fast).toFixed(2)}x`;

for (const [name, R, K, N, target] of shapes.filter(([n]) => n.includes(arg("shape")))) {
  // Fresh backends and ort workers per shape: the Backend contract frees no weights, ort's
  // WASM memory never shrinks, and the LM head's weights take gigabytes.
  const ours = [await createWasmBackend(), await createWasmBackend({ threads: cores })];
  const orts = [new OrtWorker(1), new OrtWorker(cores)];
  if (ours[1].threads !== cores) throw new Error(`asked for ${cores} threads, the backend runs ${ours[1].threads}`);
  for (const dtype of dtypes) {
    let s = (R * 7919 + K * 31 + N + dtype.length) >>> 0 || 1;
    const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
    const w = weightsFor(dtype, R, K, N, next);
    const x = Float32Array.from({ length: R * K }, () => next() / 2 ** 32 - 0.5);
    const run = ours.map((b) => {
      const weight: Weight = w.upload(b);
      const [xb, yb] = [b.alloc("x", R * K), b.alloc("y", R * N)];
      b.write(xb, x);
      return { fn: () => b.linear(yb, xb, weight, null, R), read: () => b.read(yb), free: () => (b.free(xb), b.free(yb)) };
    });
    run[0].fn();
    run[1].fn();
    const want = await run[0].read();
    const two = await run[1].read();
    if (two.some((v, i) => !Object.is(v, want[i]))) throw new Error(`${name} ${dtype}: ${cores} threads differ from 1`);

    // The first of ort's models that loads and agrees with ours (ort's f16 MatMul, where it lacks one, fails to load).
    let ortLabel = "";
    const ortWhy: string[] = [];
    for (const o of w.ort) {
      try {
        const xo = o.f16 ? f32ArrayToF16(x) : x;
        for (const ort of orts) await ort.load(o.model(), xo, [R, K]); // one fresh copy each, built when needed
        const err = relError(await orts[1].output(), want);
        if (!(err < (o.f16 ? 1e-2 : 1e-4))) throw new Error(`differs from ours by ${err.toExponential(1)} of max|y|`);
        ortLabel = o.label;
        break;
      } catch (e) {
        ortWhy.push(`${o.label}: ${(e as Error).message.split("\n")[0].slice(0, 80)}`);
      }
    }
    // Each engine's 1T and 2T columns interleaved, the engines one after the other: interleaved
    // with ort, our 2T SigLIP fc1 was mostly 10-20% slower than alone (the other engine's threads
    // still spinning, or its working set in the cache), which no model run meets.
    const ms = await timeInterleaved(run.map((r) => async (burstMs: number) => burst(r.fn, burstMs)), ROUNDS_MS, 5);
    if (ortLabel) ms.push(...(await timeInterleaved(orts.map((o) => (burstMs: number) => o.run(burstMs)), ROUNDS_MS, 5)));
    for (const r of run) r.free();
    const gbs = (t: number) => (w.bytes / t / 1e6).toFixed(1);
    const fmt = (t: number | undefined) => (t === undefined ? "n/a" : `${t.toFixed(2)} (${R > 1 ? ((2 * R * K * N) / t / 1e6).toFixed(0) + " GF/s" : gbs(t) + " GB/s"})`);
    const [o1, oN] = [ms[2], ms[3]];
    rows.push([
      `${name} [${R}, ${K}] x [${K}, ${N}]`, dtype, fmt(ms[0]), fmt(ms[1]), ratio(ms[0], ms[1]),
      ortLabel || "n/a", fmt(o1), fmt(oN), o1 ? ratio(o1, oN) : "", o1 ? ratio(o1, ms[0]) : "", oN ? ratio(oN, ms[1]) : "",
    ]);
    console.log(rows.at(-1)!.join(" | ")); // as measured: the whole table takes minutes
    if (!ortLabel) misses.push(`${name} ${dtype}: no onnxruntime-web figure (${ortWhy.join("; ")})`);
    if (ms[0] / ms[1] < target) misses.push(`${name} ${dtype}: ${cores} threads ${ratio(ms[0], ms[1])} of 1 thread, target ${target}x`);
    if (o1 && o1 / ms[0] < 1) misses.push(`${name} ${dtype}: 1 thread ${ratio(o1, ms[0])} of ort-web (${ortLabel})`);
    if (oN && oN / ms[1] < 1) misses.push(`${name} ${dtype}: ${cores} threads ${ratio(oN, ms[1])} of ort-web (${ortLabel})`);
  }
  for (const b of ours) b.dispose();
  await Promise.all(orts.map((o) => o.terminate()));
}

const T = `${cores}T`;
console.log(`WASM linear, ours vs onnxruntime-web's WASM, 1 and ${cores} threads: best ms (GFLOP/s on many rows, GB/s of weights read on one).`);
console.log(`Ratios are speed-ups (>1: the second named is slower): ${T}/1T of the same engine, ours/ort at equal threads.`);
printTable(
  ["shape", "dtype", "ours 1T", `ours ${T}`, `${T}/1T`, "ort op", "ort 1T", `ort ${T}`, `ort ${T}/1T`, "ours/ort 1T", `ours/ort ${T}`],
  rows,
);
console.log(misses.length ? `\nBelow target:\n  ${misses.join("\n  ")}` : "\nEvery target met.");
