// The WASM CPU backend: every op of the Backend contract runs eagerly and
// synchronously in the AssemblyScript kernels of assembly/cpu.ts (SIMD, f32 math
// over f16 weights; embed and the convs also over f32 weights, linear and embed
// also over q8/q4 weights, kept packed and dequantized in registers; other ops
// refuse those). Weights, activations and one shared scratch region live in
// the module's linear memory, managed by WasmHeap; JS keeps no copy of a weight
// after upload. `submit` has nothing to do and `read` copies out at once.
//
// Each op checks that its buffers hold what it will touch, and that indices read
// from i32 buffers stay in range, before calling the kernel: a kernel writing out
// of bounds would silently corrupt a neighbouring buffer, not trap.
//
// With `threads` > 1 the kernels are cpu-mt.wasm on a shared memory and linear and
// attention are split across a thread pool (threads.ts): by output features and by
// query rows, so every output is computed by one thread with the same code as on one
// thread, and results do not depend on the thread count. Other ops are light
// (norms, rope, embed: one row's worth of work per token) and stay on the caller.
//
// Where the engine has relaxed SIMD the kernels are the relaxed build (cpu-relaxed,
// cpu-mt-relaxed: the q8/q4 GEMV's integer dot products, exact and deterministic,
// see assembly/cpu/linear-q.ts); `build` says which runs.
import {
  type AttentionOptions,
  type Backend,
  type Buf,
  type BufKind,
  type ConvOptions,
  type LinearOptions,
  type RopeAppendOptions,
  type SampleOptions,
  type UploadOptions,
  type Weight,
  firstNonFinite,
  nonFiniteWeightError,
  weightLength,
} from "../backend.js";
import { DisposedError, InputError, WeightsError } from "../../errors.js";
import { f16ArrayToF32, f32ArrayToF16 } from "../../weights/f16.js";
import { checkQuantized, groupsPerRow, type QuantizedMatrix, wordsPerRow } from "../../weights/quantize.js";
import { compileWasm, instantiateWasm, relaxedSimd, type WasmName } from "../../wasm/load.js";
import { WASM32_LIMIT, WasmHeap } from "./heap.js";
import type { CpuKernels } from "./kernels.js";
import { controlBlockBytes, ThreadPool, threadsUnavailable, workerParallelism } from "./threads.js";

export interface WasmBackendOptions {
  /** Most bytes of WebAssembly memory to use (default and maximum: 4 GiB, the wasm32 limit). */
  maxMemoryBytes?: number;
  /**
   * Threads to compute on: 1 (the default) runs every op on the calling thread, no
   * workers; a number up to 8; or "auto": the machine's cores, at most 8. Where
   * threads cannot run (no SharedArrayBuffer: a browser page that is not
   * crossOriginIsolated; workerd) the backend runs on 1 and says why once.
   */
  threads?: number | "auto";
  /** Ops with fewer multiply-adds than this run on the calling thread alone (default 2^20: below it the barrier costs more than it saves). */
  minParallelWork?: number;
  /** How long a worker may take past the caller's own share before the pool is declared broken (default 60 s). */
  threadTimeoutMs?: number;
  /**
   * Run the relaxed-SIMD build of the kernels (cpu-relaxed.wasm: the q8/q4 GEMV's dot
   * products in i32x4.relaxed_dot_i8x16_i7x16_add_s). Default: where the engine has
   * relaxed SIMD. true where it has none is an InputError; false forces the plain build.
   */
  relaxedSimd?: boolean;
}

const MAX_THREADS = 8;
/** The kernels the thread pool runs, by index. */
const POOLED = ["linear", "quantGemv", "quantGemm", "attention"] as const;
type Pooled = (typeof POOLED)[number];
/** Where each pooled kernel takes its range [lo, hi) (columns n0, n1; attention's queries t0, t1) among its arguments (kernels.ts). */
const RANGE_AT: Record<Pooled, number> = { linear: 7, quantGemv: 8, quantGemm: 8, attention: 5 };
/** Chunks per thread an op is cut into: enough that a thread that starts late or runs slow leaves no one waiting long. */
const CHUNKS_PER_THREAD = 8;

let noted = false;
function noteOnce(message: string): void {
  if (noted) return;
  noted = true;
  console.warn(`paligemma-edge: ${message}`);
}

function threadCount(threads: number | "auto" | undefined): number {
  if (threads === undefined) return 1;
  if (threads === "auto") return Math.max(1, Math.min(MAX_THREADS, workerParallelism()));
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new InputError(`threads must be "auto" or an integer from 1 to ${MAX_THREADS}, got ${JSON.stringify(threads)}`);
  }
  return threads;
}

export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<Backend> {
  const limit = Math.min(options.maxMemoryBytes ?? WASM32_LIMIT, WASM32_LIMIT);
  let threads = threadCount(options.threads);
  const why = threads > 1 ? threadsUnavailable() : null;
  if (why) {
    noteOnce(`the WASM backend runs on 1 thread: ${why}`);
    threads = 1;
  }
  const hasRelaxed = relaxedSimd();
  if (options.relaxedSimd && !hasRelaxed) throw new InputError("relaxedSimd: true, but this engine has no relaxed SIMD (WebAssembly.validate refuses it)");
  const relaxed = options.relaxedSimd ?? hasRelaxed;
  const build: WasmName = `cpu${threads > 1 ? "-mt" : ""}${relaxed ? "-relaxed" : ""}`;
  const note = why ? `1 thread of ${threadCount(options.threads)} asked: ${why}` : undefined;
  if (threads === 1) return new WasmBackend(await instantiateWasm<CpuKernels>(build), limit, build, note, options);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
  const kernels = await instantiateWasm<CpuKernels>(build, memory);
  const backend = new WasmBackend(kernels, limit, build, note, options);
  const control = backend.reserve(controlBlockBytes(threads));
  const pool = await ThreadPool.start(await compileWasm(build), memory, control, threads, POOLED, {
    timeoutMs: options.threadTimeoutMs,
  });
  backend.attach(pool);
  return backend;
}

class WasmBuf implements Buf {
  constructor(
    readonly label: string,
    readonly kind: BufKind,
    readonly length: number,
    public ptr: number,
  ) {}
}

type Storage = "f16" | "f32" | "q8" | "q4";

class WasmWeight implements Weight {
  constructor(
    readonly label: string,
    readonly shape: readonly number[],
    readonly precision: Storage,
    /** product(shape) f16 bits, f32 values when precision is "f32", or the qweight words of q8/q4. */
    readonly ptr: number,
    /** q8/q4: the f16 scales [N, Kp / 32]. */
    readonly scales = 0,
  ) {}

  get bits(): 0 | 4 | 8 {
    return this.precision === "q4" ? 4 : this.precision === "q8" ? 8 : 0;
  }
}

class WasmBackend implements Backend {
  readonly name = "wasm";
  /** null after dispose(). */
  private live: { kernels: CpuKernels; heap: WasmHeap } | null;
  private scratchPtr = 0;
  private scratchBytes = 0;
  /** Intermediates of the composed (fused-contract) ops, reused by name. */
  private readonly internal = new Map<string, Buf>();
  private readonly minParallelWork: number;

  private pool: ThreadPool | null = null;

  constructor(
    kernels: CpuKernels,
    readonly memoryLimit: number,
    /** Which build of the kernels runs: cpu, cpu-mt, cpu-relaxed or cpu-mt-relaxed. */
    readonly build: WasmName,
    /** Why fewer threads run than were asked for, if so. */
    readonly threadNote: string | undefined,
    options: WasmBackendOptions,
  ) {
    this.live = { kernels, heap: new WasmHeap(kernels.memory, kernels.heapBase(), memoryLimit) };
    this.minParallelWork = options.minParallelWork ?? 2 ** 20;
  }

  get threads(): number {
    return this.pool?.size ?? 1;
  }

  /** Heap bytes that stay allocated for the backend's life (the pool's control block). */
  reserve(bytes: number): number {
    return this.heap.alloc(bytes, "thread control block");
  }

  attach(pool: ThreadPool): void {
    this.pool = pool;
  }

  /**
   * Runs kernel `op` over [0, total): on the caller alone when there is no pool or
   * `work` (multiply-adds) is small, else in chunks (multiples of `align`) that the
   * pool's threads claim. `args(lo, hi, scratch)` gives a range's arguments; each
   * thread gets its own `scratchBytes` of scratch.
   */
  private parallel(
    op: Pooled, work: number, total: number, align: number, scratchBytes: number,
    args: (lo: number, hi: number, scratch: number) => number[],
  ): void {
    const run = this.k[op] as (...a: number[]) => void;
    const pool = this.pool;
    if (!pool || work < this.minParallelWork || total <= align) {
      run(...args(0, total, this.scratch(scratchBytes)));
      return;
    }
    const stride = Math.ceil(scratchBytes / 64) * 64;
    const base = this.scratch(stride * pool.size);
    const chunk = align * Math.ceil(total / align / (pool.size * CHUNKS_PER_THREAD));
    pool.run(POOLED.indexOf(op), (t) => args(0, 0, base + t * stride), RANGE_AT[op], total, chunk, (a) => run(...a));
  }

  private get k(): CpuKernels {
    if (!this.live) throw new DisposedError("the WASM backend");
    return this.live.kernels;
  }

  private get heap(): WasmHeap {
    if (!this.live) throw new DisposedError("the WASM backend");
    return this.live.heap;
  }

  /** Bytes of WebAssembly memory the module holds now (it grows, never shrinks): what the memory plan must bound. */
  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  private get buffer(): ArrayBuffer {
    // Re-read on every use: growing the memory replaces its ArrayBuffer.
    return this.k.memory.buffer;
  }

  /** One region shared by every op that needs scratch; ops run one at a time. */
  private scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratchPtr) this.heap.release(this.scratchPtr);
      this.scratchPtr = 0;
      this.scratchBytes = 0;
      this.scratchPtr = this.heap.alloc(bytes, "scratch");
      this.scratchBytes = bytes;
    }
    return this.scratchPtr;
  }

  // ---- memory ----

  uploadWeight(
    label: string,
    data: Uint16Array | Float32Array,
    shape: readonly number[],
    { precision = "f16" }: UploadOptions = {},
  ): Weight {
    const n = weightLength(label, data, shape);
    if (precision === "f32") {
      const values = data instanceof Uint16Array ? f16ArrayToF32(data) : data;
      const bad = firstNonFinite(values, precision);
      if (bad >= 0) throw nonFiniteWeightError(label, bad, data, precision);
      const ptr = this.heap.alloc(n * 4, label);
      new Float32Array(this.buffer, ptr, n).set(values);
      return new WasmWeight(label, [...shape], precision, ptr);
    }
    const ptr = this.heap.alloc(n * 2, label);
    const view = () => new Uint16Array(this.buffer, ptr, n);
    if (data instanceof Uint16Array) {
      view().set(data);
    } else {
      // In chunks, so no full-size f16 copy exists in JS beside the f32 input.
      const chunk = 1 << 20;
      for (let i = 0; i < n; i += chunk) view().set(f32ArrayToF16(data.subarray(i, i + chunk)), i);
    }
    // The same test as firstNonFinite, in SIMD over the copy in WASM memory.
    const bad = this.k.f16FirstNonFinite(ptr, n);
    if (bad >= 0) {
      this.heap.release(ptr);
      throw nonFiniteWeightError(label, bad, data, precision);
    }
    return new WasmWeight(label, [...shape], precision, ptr);
  }

  uploadQuantized(label: string, data: QuantizedMatrix, shape: readonly [number, number]): Weight {
    const [N, K] = shape;
    const { bits, qweight, scales } = data;
    if (shape.length !== 2 || !(Number.isInteger(N) && N > 0 && Number.isInteger(K) && K > 0)) {
      throw new WeightsError(`${label}: quantized shape [${shape}] is not [N, K] of positive integers`);
    }
    checkQuantized(label, data, N, K); // bits, lengths and finite scales, as every backend checks them
    const words = qweight.length;
    const sp = this.heap.alloc(scales.length * 2, `${label} scales`);
    new Uint16Array(this.buffer, sp, scales.length).set(scales);
    const ptr = this.heap.alloc(words * 4, label);
    new Uint32Array(this.buffer, ptr, words).set(qweight);
    return new WasmWeight(label, [N, K], `q${bits}`, ptr, sp);
  }

  /** Joins by copying the parts' bytes in the heap (f16 values, f32 values, or q words and f16 scales), then frees them. */
  joinRows(label: string, parts: readonly Weight[], { interleave = false }: { interleave?: boolean } = {}): Weight {
    const ps = parts as readonly WasmWeight[];
    const [first] = ps;
    const K = first.shape.slice(1).reduce((a, b) => a * b, 1);
    if (ps.some((p) => p.precision !== first.precision || p.shape.slice(1).reduce((a, b) => a * b, 1) !== K || (interleave && p.shape[0] !== first.shape[0]))) {
      throw new Error(`joinRows ${label}: the parts differ in precision, row length${interleave ? " or rows" : ""}`);
    }
    const N = ps.reduce((n, p) => n + p.shape[0], 0);
    const bits = first.bits;
    // Bytes per row of each array: values (or q words), and a quantized weight's scales.
    const rowBytes = bits ? [4 * wordsPerRow(K, bits), 2 * groupsPerRow(K)] : [(first.precision === "f32" ? 4 : 2) * K];
    const ptrs = rowBytes.map((b, i) => this.heap.alloc(N * b, i ? `${label} scales` : label));
    const bytes = () => new Uint8Array(this.buffer);
    let offset = 0;
    for (const [j, p] of ps.entries()) {
      const rows = p.shape[0];
      rowBytes.forEach((b, i) => {
        const from = i ? p.scales : p.ptr;
        if (!interleave) return bytes().copyWithin(ptrs[i] + offset * b, from, from + rows * b);
        for (let r = 0; r < rows; r++) bytes().copyWithin(ptrs[i] + (r * ps.length + j) * b, from + r * b, from + (r + 1) * b);
      });
      offset += rows;
      this.heap.release(p.ptr);
      if (p.scales) this.heap.release(p.scales);
    }
    return new WasmWeight(label, [N, ...first.shape.slice(1)], first.precision, ptrs[0], ptrs[1] ?? 0);
  }

  alloc(label: string, length: number, kind: BufKind = "f32"): Buf {
    return new WasmBuf(label, kind, length, this.heap.alloc(length * 4, label));
  }

  free(buf: Buf): void {
    const b = buf as WasmBuf;
    if (!this.live || !b.ptr) return;
    this.heap.release(b.ptr);
    b.ptr = 0;
  }

  private view(buf: Buf, offset = 0, length = buf.length - offset): Float32Array | Int32Array {
    if (offset < 0 || length < 0 || offset + length > buf.length) {
      throw new Error(`${buf.label}: elements [${offset}, ${offset + length}) outside its ${buf.length}`);
    }
    const at = this.ptr(buf, 0, buf.kind) + offset * 4;
    return buf.kind === "f32" ? new Float32Array(this.buffer, at, length) : new Int32Array(this.buffer, at, length);
  }

  write(buf: Buf, data: Float32Array | Int32Array, offset = 0): void {
    this.view(buf, offset, data.length).set(data);
  }

  // Copies out (slice is a memcpy); reading a buffer as the other kind converts values, as the reference does.
  async read(buf: Buf, length = buf.length, offset = 0): Promise<Float32Array> {
    const v = this.view(buf, offset, length);
    return v instanceof Float32Array ? v.slice() : Float32Array.from(v);
  }

  async readI32(buf: Buf, length = buf.length, offset = 0): Promise<Int32Array> {
    const v = this.view(buf, offset, length);
    return v instanceof Int32Array ? v.slice() : Int32Array.from(v);
  }

  submit(): void {}

  dispose(): void {
    // Dropping the instances drops their memory, weights and all.
    this.pool?.dispose();
    this.pool = null;
    this.live = null;
    this.internal.clear();
  }

  // ---- checks ----

  /** buf's address, after checking it is live, of `kind`, and holds `elements`. */
  private ptr(buf: Buf, elements: number, kind: BufKind = "f32"): number {
    const b = buf as WasmBuf;
    if (!b.ptr) throw new Error(`${buf.label} was used after free()`);
    if (b.kind !== kind) throw new Error(`${buf.label} is ${b.kind}, the op needs ${kind}`);
    if (elements > b.length) throw new Error(`${buf.label} holds ${b.length} elements, the op touches ${elements}`);
    return b.ptr;
  }

  /** w's address, after checking it is f16: only embed and the convs have an f32 path, linear and embed a q8/q4 one. */
  private f16(w: Weight, op: string): number {
    const weight = this.unquantized(w, op);
    if (weight.precision !== "f16") {
      throw new Error(`${op}: ${w.label} is an f32 weight; ${op} takes f16 weights (upload it without precision "f32")`);
    }
    return weight.ptr;
  }

  /** w, after checking it is not q8/q4: only linear (as W) and embed take quantized weights. */
  private unquantized(w: Weight, op: string): WasmWeight {
    const weight = w as WasmWeight;
    if (weight.bits) {
      throw new Error(`${op}: ${w.label} is a ${weight.precision} weight; only linear (as W) and embed take q8/q4 weights`);
    }
    return weight;
  }

  /** The i32 values of idx[0:n], each checked to lie in [0, limit). */
  private indices(idx: Buf, n: number, limit: number, what: string): void {
    const v = new Int32Array(this.buffer, this.ptr(idx, n, "i32"), n);
    for (let r = 0; r < n; r++) {
      if (v[r] < 0 || v[r] >= limit) throw new Error(`${what}: ${idx.label}[${r}] = ${v[r]} outside [0, ${limit})`);
    }
  }

  // ---- ops ----

  embed(y: Buf, ids: Buf, table: Weight, rows: number, opts: { scale?: number; accumulate?: boolean } = {}): void {
    const [V, D] = table.shape;
    const t = table as WasmWeight;
    const [yp, idp, scale, acc] = [this.ptr(y, rows * D), this.ptr(ids, rows, "i32"), opts.scale ?? 1, opts.accumulate ? 1 : 0];
    const bad = t.bits
      ? this.k.embedQ(yp, idp, t.ptr, t.scales, rows, V, D, t.bits, scale, acc)
      : this.k.embed(yp, idp, t.ptr, rows, V, D, scale, acc, t.precision === "f32" ? 1 : 0);
    if (bad >= 0) {
      const id = new Int32Array(this.buffer, this.ptr(ids, rows, "i32"), rows)[bad];
      throw new Error(`embed: ${ids.label}[${bad}] = ${id} outside [0, ${V}) (${table.label})`);
    }
  }

  patchify(y: Buf, pixels: Buf, batch: number, channels: number, imageSize: number, patchSize: number): void {
    if (imageSize % patchSize) throw new Error(`patchify: image ${imageSize} is not a multiple of patch ${patchSize}`);
    const n = batch * channels * imageSize * imageSize;
    this.k.patchify(this.ptr(y, n), this.ptr(pixels, n), batch, channels, imageSize, patchSize);
  }

  /** A buffer of at least `length` f32s owned by the backend, reused by name. */
  private intermediate(name: string, length: number): Buf {
    let buf = this.internal.get(name);
    if (!buf || buf.length < length) {
      if (buf) this.free(buf);
      buf = this.alloc(name, length);
      this.internal.set(name, buf);
    }
    return buf;
  }

  linear(y: Buf, x: Buf, w: Weight, bias: Weight | null, rows: number, opts: LinearOptions = {}): void {
    const cap = opts.softcap && opts.softcap > 0 ? opts.softcap : 0;
    if (opts.rmsNorm || opts.geglu || cap || opts.residual) {
      // The fused contract, composed of the plain kernels.
      const N = w.shape[0];
      const K = w.shape.slice(1).reduce((a, b) => a * b, 1);
      if (opts.residual) {
        // x' = x + rms(add) into out, which is then the input.
        const { add, norm, out } = opts.residual;
        if (!opts.rmsNorm) throw new Error(`linear: residual needs rmsNorm (${w.label})`);
        this.view(out, 0, rows * K).set(this.view(x, 0, rows * K));
        this.rmsNorm(out, add, norm, rows, opts.rmsNorm.eps, { accumulate: true });
        x = out;
      }
      if (opts.geglu && (bias || opts.accumulate || cap || N % 2 !== 0)) {
        throw new Error(`linear: geglu takes an even number of rows and no bias, accumulate or softcap (${w.label})`);
      }
      if (cap && opts.accumulate) throw new Error(`linear: softcap with accumulate is not supported (${w.label})`);
      let input = x;
      if (opts.rmsNorm) {
        input = this.intermediate("linear.normed", rows * K);
        this.rmsNorm(input, x, opts.rmsNorm.weight, rows, opts.rmsNorm.eps);
      }
      if (!opts.geglu) {
        this.linear(y, input, w, bias, rows, { gelu: opts.gelu, accumulate: opts.accumulate });
        if (cap) this.softcap(y, rows * N, cap);
        return;
      }
      // The linear writes (gate_i, up_i) pairs; geluMul reads them as they are.
      const n = (rows * N) / 2;
      const pairs = this.intermediate("linear.gate_up", 2 * n);
      this.linear(pairs, input, w, null, rows);
      this.k.geluMul(this.ptr(y, n), this.ptr(pairs, 2 * n), n);
      return;
    }
    this.plainLinear(y, x, w, bias, rows, opts);
  }

  private plainLinear(y: Buf, x: Buf, w: Weight, bias: Weight | null, rows: number, opts: LinearOptions): void {
    const N = w.shape[0];
    const K = w.shape.slice(1).reduce((a, b) => a * b, 1);
    if (bias && bias.shape[0] !== N) throw new Error(`linear: bias ${bias.label} [${bias.shape}] for ${N} outputs`);
    const k = this.k;
    const flags = (opts.gelu ? k.LINEAR_GELU.value : 0) | (opts.accumulate ? k.LINEAR_ACCUMULATE.value : 0);
    const [yp, xp, bp] = [this.ptr(y, rows * N), this.ptr(x, rows * K), bias ? this.f16(bias, "linear") : 0];
    const q = w as WasmWeight;
    const work = rows * K * N;
    if (!q.bits) {
      const wp = this.f16(w, "linear");
      this.parallel("linear", work, N, 8, k.linearPanelBytes(K), (n0, n1, panel) => [yp, xp, wp, bp, rows, K, N, n0, n1, flags, panel]);
    } else if (rows < k.QUANT_GEMM_MIN_ROWS.value) {
      // x is prepared once, into the shared scratch; the GEMV shares need no scratch of their own.
      const xq = this.scratch(k.quantGemvScratchBytes(rows, K));
      k.quantGemvPrepare(xq, xp, rows, K, q.bits);
      this.parallel("quantGemv", work, N, 8, 0, (n0, n1) => [yp, xq, q.ptr, q.scales, bp, rows, K, N, n0, n1, q.bits, flags]);
    } else {
      this.parallel("quantGemm", work, N, 8, k.linearPanelBytes(K), (n0, n1, panel) => [
        yp, xp, q.ptr, q.scales, bp, rows, K, N, n0, n1, q.bits, flags, panel,
      ]);
    }
  }

  layerNorm(y: Buf, x: Buf, w: Weight, b: Weight, rows: number, eps: number): void {
    const D = w.shape[0];
    this.k.layerNorm(this.ptr(y, rows * D), this.ptr(x, rows * D), this.f16(w, "layerNorm"), this.f16(b, "layerNorm"), rows, D, eps);
  }

  rmsNorm(y: Buf, x: Buf, w: Weight, rows: number, eps: number, opts: { accumulate?: boolean } = {}): void {
    const D = w.shape[0];
    this.k.rmsNorm(this.ptr(y, rows * D), this.ptr(x, rows * D), this.f16(w, "rmsNorm"), rows, D, eps, opts.accumulate ? 1 : 0);
  }

  ropeAppend(q: Buf, kCache: Buf, vCache: Buf, qkv: Buf, positions: Buf, cacheRows: Buf, rows: number, o: RopeAppendOptions): void {
    const { heads, kvHeads, headDim } = o;
    const [qw, kvw] = [heads * headDim, kvHeads * headDim];
    const width = qw + 2 * kvw;
    const pos = this.ptr(positions, rows, "i32");
    this.indices(cacheRows, rows, Math.floor(Math.min(kCache.length, vCache.length) / kvw), "ropeAppend");
    const [src, qv, kv, vv] = [this.view(qkv, 0, rows * width), this.view(q, 0, rows * qw), this.view(kCache), this.view(vCache)];
    const to = this.view(cacheRows, 0, rows);
    for (let r = 0; r < rows; r++) {
      const row = src.subarray(r * width, (r + 1) * width);
      qv.set(row.subarray(0, qw), r * qw);
      kv.set(row.subarray(qw, qw + kvw), to[r] * kvw);
      vv.set(row.subarray(qw + kvw), to[r] * kvw);
    }
    this.k.rope(this.ptr(q, rows * qw), pos, rows, heads, headDim, o.theta);
    // k is rotated where it landed: cache rows need not be consecutive, so one row at a time.
    const kp = this.ptr(kCache, 0);
    for (let r = 0; r < rows; r++) this.k.rope(kp + to[r] * kvw * 4, pos + 4 * r, 1, kvHeads, headDim, o.theta);
  }

  attention(out: Buf, q: Buf, k: Buf, v: Buf, meta: Buf, rows: number, o: AttentionOptions): void {
    const { heads, kvHeads, headDim } = o;
    if (heads % kvHeads) throw new Error(`attention: ${heads} heads do not split into ${kvHeads} kv heads`);
    const width = kvHeads * headDim;
    const cacheRows = Math.min(k.length, v.length) / width;
    const m = new Int32Array(this.buffer, this.ptr(meta, rows * 3, "i32"), rows * 3);
    let keys = 0;
    for (let t = 0; t < rows; t++) {
      const [base, slot, prefix] = m.subarray(t * 3, t * 3 + 3);
      const end = base + Math.max(slot + 1, prefix);
      if (base < 0 || slot < 0 || end > cacheRows) {
        throw new Error(`attention: query ${t} (base ${base}, slot ${slot}, prefix ${prefix}) reads keys past ${cacheRows} cache rows`);
      }
      keys += Math.max(slot + 1, prefix);
    }
    const [op, qp, kp, vp, mp] = [
      this.ptr(out, rows * heads * headDim), this.ptr(q, rows * heads * headDim), this.ptr(k, 0), this.ptr(v, 0),
      this.ptr(meta, rows * 3, "i32"),
    ];
    this.parallel("attention", 2 * keys * heads * headDim, rows, 1, this.k.attentionScratchBytes(heads, headDim), (t0, t1, scratch) => [
      op, qp, kp, vp, mp, t0, t1, heads, kvHeads, headDim, o.scale, o.softcap ?? 0, o.window ?? 0, scratch,
    ]);
  }

  scatterRows(dst: Buf, idx: Buf, src: Buf, rows: number, width: number, scale = 1): void {
    this.indices(idx, rows, Math.floor(dst.length / width), "scatterRows");
    this.k.scatterRows(this.ptr(dst, 0), this.ptr(idx, rows, "i32"), this.ptr(src, rows * width), rows, width, scale);
  }

  gatherRows(dst: Buf, src: Buf, idx: Buf, rows: number, width: number): void {
    this.indices(idx, rows, Math.floor(src.length / width), "gatherRows");
    this.k.gatherRows(this.ptr(dst, rows * width), this.ptr(src, 0), this.ptr(idx, rows, "i32"), rows, width);
  }

  conv2d(y: Buf, x: Buf, w: Weight, bias: Weight, o: ConvOptions): void {
    const [cout, cin, k] = w.shape;
    const Ho = Math.floor((o.height + 2 * o.padding - k) / o.stride) + 1;
    const Wo = Math.floor((o.width + 2 * o.padding - k) / o.stride) + 1;
    this.conv("conv2d", y, x, w, bias, o, cin, cout, Ho, Wo);
  }

  convTranspose2d(y: Buf, x: Buf, w: Weight, bias: Weight, o: ConvOptions): void {
    const [cin, cout, k] = w.shape;
    const Ho = (o.height - 1) * o.stride - 2 * o.padding + k;
    const Wo = (o.width - 1) * o.stride - 2 * o.padding + k;
    this.conv("convTranspose2d", y, x, w, bias, o, cin, cout, Ho, Wo);
  }

  private conv(
    op: "conv2d" | "convTranspose2d", y: Buf, x: Buf, w: Weight, bias: Weight, o: ConvOptions,
    cin: number, cout: number, Ho: number, Wo: number,
  ): void {
    const [ww, bw] = [this.unquantized(w, op), this.unquantized(bias, op)];
    const k = o.kernel;
    if (w.shape[2] !== k || w.shape[3] !== k) throw new Error(`${op}: weight ${w.label} [${w.shape}] for kernel ${k}`);
    if (bias.shape[0] !== cout) throw new Error(`${op}: bias ${bias.label} [${bias.shape}] for ${cout} outputs`);
    const kernels = this.k;
    const scratch = this.scratch(kernels.convPanelBytes(cin, cout, k));
    kernels[op](
      this.ptr(y, o.batch * Ho * Wo * cout), this.ptr(x, o.batch * o.height * o.width * cin),
      ww.ptr, bw.ptr, o.batch, o.height, o.width, cin, cout,
      k, o.stride, o.padding, o.relu ? 1 : 0, o.accumulate ? 1 : 0, scratch,
      ww.precision === "f32" ? 1 : 0, bw.precision === "f32" ? 1 : 0,
    );
  }

  softcap(x: Buf, n: number, cap: number): void {
    this.k.softcap(this.ptr(x, n), n, cap);
  }

  argmax(ids: Buf, logits: Buf, rows: number, vocab: number): void {
    this.k.argmax(this.ptr(ids, rows, "i32"), this.ptr(logits, rows * vocab), rows, vocab);
  }

  sample(ids: Buf, logits: Buf, uniforms: Buf, rows: number, vocab: number, o: SampleOptions): void {
    if (!(o.temperature > 0)) throw new Error(`sample: temperature ${o.temperature} (use argmax for greedy)`);
    const kernels = this.k;
    const scratch = this.scratch(kernels.sampleScratchBytes(vocab));
    kernels.sample(
      this.ptr(ids, rows, "i32"), this.ptr(logits, rows * vocab), this.ptr(uniforms, rows),
      rows, vocab, o.temperature, o.topK, o.topP, scratch,
    );
  }
}
