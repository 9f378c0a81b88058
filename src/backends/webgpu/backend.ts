// The WebGPU backend: every op of src/backends/backend.ts as a WGSL kernel (shaders/),
// recorded into one command encoder until submit() or a read. Weights are f16 packed
// in u32 words, or q8/q4 words and f16 scales as uploaded (src/weights/quantize.ts),
// split into row chunks when larger than one binding; activations are f32.
//
// The design in a few lines (see each shader's header for its kernel):
// - linear: a GEMV kernel for up to 8 rows (decode: the weight is read once, coalesced;
//   partial sums added with subgroupAdd where the device has subgroups, in shared memory
//   elsewhere) and a 64×64-tiled matmul for more (prefill, SigLIP); conv2d and
//   convTranspose2d run through the same matmul as implicit GEMMs. The GEMV loads f16
//   weights 16 bytes at a time and unpacks them; the matmul reads them natively where the
//   device has shader-f16, else unpacks them from u32 words. Quantized
//   weights go through gemv-q (16-byte loads, a scale per group) and the same matmul,
//   dequantized in registers.
// - Decode is fused (issue 15): linear's residual, rmsNorm, geglu and softcap options run
//   inside the GEMVs (`.residual` modules, NORM, PAIRS, SOFTCAP); joinRows builds the
//   joined Q/K/V and gate/up weights at load (copy-rows.wgsl); ropeAppend rotates q/k and
//   appends k/v in one dispatch.
// - attention streams over key tiles with an online softmax; where the queries are too
//   few to fill the GPU (decode), several workgroups split a head's keys and a merge
//   dispatch combines their partial softmaxes. argmax and sampling run on the GPU so
//   that only token ids come back.
// - One pipeline cache, one buffer pool, one uniform arena; bind groups cached by
//   (pipeline, buffers, arena slot): a repeated decode step creates no GPU objects.
// - Allocation failures and device loss reject the next read with errors saying what to do.
import type {
  AttentionOptions,
  Backend,
  BindingLimits,
  Buf,
  BufKind,
  ConvOptions,
  LinearOptions,
  RopeAppendOptions,
  SampleOptions,
  UploadOptions,
  Weight,
} from "../backend.js";
import { groupsPerRow, type QuantizedMatrix } from "../../weights/quantize.js";
import { BufferPool, MAP_READ, STAGING_PIECE_BYTES, USAGE } from "./buffers.js";
import { DisposedError } from "../../errors.js";
import { DeviceLostError, GPUOutOfMemoryError } from "./errors.js";
import { type Kernel, PipelineCache } from "./pipelines.js";
import { Recorder } from "./recorder.js";
import { GPUWeight, joinWeights, uploadQuantized, uploadWeight } from "./weights.js";

export interface WebGPUBackendOptions {
  /**
   * Largest storage binding a weight chunk may take, in bytes (default: the device's
   * maxStorageBufferBindingSize and maxBufferSize). Tests set it small to force splitting.
   */
  maxBindingBytes?: number;
  /**
   * Use the subgroup kernels (default: when the device has the `subgroups` feature).
   * Tests turn it off to run the shared-memory kernels on the same device.
   */
  subgroups?: boolean;
  /** The device was made for this backend alone: dispose() destroys it (a caller's device is left alone). */
  ownsDevice?: boolean;
}

/** GPUHeapProperty DEVICE_LOCAL: memory on (or reserved for) the GPU. */
const DEVICE_LOCAL = 0x1;

/**
 * The largest device-local heap of the adapter, where its info lists memory heaps
 * (Chrome's GPUAdapterInfo.memoryHeaps, with WebGPU developer features on; Dawn's
 * AdapterPropertiesMemoryHeaps). WebGPU itself reports no memory size, so elsewhere
 * this is undefined and a load plans without a total (maxMemoryBytes sets one).
 */
export function deviceLocalMemory(device: GPUDevice): number | undefined {
  const info = (device as { adapterInfo?: { memoryHeaps?: readonly { size: number; properties: number }[] } }).adapterInfo;
  const sizes = (info?.memoryHeaps ?? []).filter((h) => h.properties & DEVICE_LOCAL).map((h) => Number(h.size));
  return sizes.length ? Math.max(...sizes) : undefined;
}

export function createWebGPUBackend(device: GPUDevice, options: WebGPUBackendOptions = {}): WebGPUBackend {
  return new WebGPUBackend(device, options);
}

class GPUBuf implements Buf {
  constructor(
    readonly label: string,
    readonly kind: BufKind,
    readonly length: number,
    readonly buffer: GPUBuffer,
  ) {}
}

/** Up to this many rows a linear is a GEMV (gemv.wgsl's ROWS); above, the tiled matmul. */
const GEMV_MAX_ROWS = 8;
/** Rows of y per matmul workgroup. */
const MATMUL_TILE = 64;
/** Output columns per matmul thread (its TN): narrow tiles for narrow outputs. */
const matmulColumns = (N: number) => (N <= 16 ? 1 : 4);
/** Threads per workgroup of the element-wise kernels. */
const WG = 256;
/** Output features per workgroup of both GEMV kernels (their OUTS). */
const GEMV_OUTS = 4;
/** Shortest f16 row the GEMV reads in vec4<u32>s: 8 halves for each of a team's 64 lanes. */
const GEMV_VEC4_MIN_K = 512;
/** attention.wgsl's query slots per workgroup, keys per tile and largest head dim. */
const ATTENTION_SLOTS = 8;
const ATTENTION_TILE = 64;
const ATTENTION_MAX_HEAD_DIM = 256;
/**
 * Workgroups an attention dispatch should give a GPU (a few per compute unit of a big
 * one): with fewer (decode: one per kv head) the keys are split over more, down to a tile each.
 */
const ATTENTION_WORKGROUPS = 256;
/**
 * Up to this many cached keys (8 tiles: PaliGemma at 224 holds ~330) one workgroup streams
 * them about as fast as split workgroups and the merge dispatch they need would.
 */
const ATTENTION_SPLIT_MIN_KEYS = 512;
/** attention-merge.wgsl's workgroup size. */
const MERGE_WG = 64;

/**
 * Key splits for an attention of `workgroups` (query blocks × kv heads) over a cache of
 * `keyRows` rows: 1 where the dispatch fills the GPU already (prefill, SigLIP) or the keys
 * are few, else enough to reach ATTENTION_WORKGROUPS, at most one per tile the cache holds.
 */
export function attentionSplits(workgroups: number, keyRows: number): number {
  if (workgroups >= ATTENTION_WORKGROUPS || keyRows <= ATTENTION_SPLIT_MIN_KEYS) return 1;
  return Math.max(1, Math.min(Math.ceil(ATTENTION_WORKGROUPS / workgroups), Math.ceil(keyRows / ATTENTION_TILE)));
}

// Bits of the matmul/gemv `flags` parameter.
const BIAS = 1;
const GELU = 2;
const ACCUMULATE = 4;
const RELU = 8;
const SOFTCAP = 16;

// matmul.wgsl's MODE.
const LINEAR = 0;
const CONV = 1;
const CONV_TRANSPOSE = 2;

const gpu = (b: Buf) => (b as GPUBuf).buffer;
const weight = (w: Weight) => w as GPUWeight;
/** 1 for an f32 weight: the kernels' override constants that read words as f32 (bitcast). */
const isF32 = (w: Weight) => (weight(w).precision === "f32" ? 1 : 0);

/**
 * The contract lets only embed and the convs take f32 weights, and only linear and embed
 * quantized ones; `allowed` are the precisions this use of the weights takes besides f16.
 */
function only(op: string, allowed: readonly string[], ...weights: (Weight | null)[]): void {
  for (const w of weights) {
    const p = w && weight(w).precision;
    if (w && p !== "f16" && !allowed.includes(p!)) {
      throw new Error(`${op}: ${w.label} is a ${p} weight; ${op} takes ${["f16", ...allowed].join(" or ")} weights here`);
    }
  }
}
const f16Only = (op: string, ...weights: (Weight | null)[]) => only(op, [], ...weights);

export class WebGPUBackend implements Backend {
  readonly name = "webgpu";
  /** The device-local memory the adapter reports (Chrome lists its heaps with WebGPU developer features); otherwise unknown. */
  readonly memoryLimit?: number;
  readonly bindingLimits: BindingLimits;
  private readonly pool: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly recorder: Recorder;
  private readonly maxBindingBytes: number;
  private readonly subgroups: boolean;
  private readonly ownsDevice: boolean;
  /** Whether the tiled matmul reads weights as native f16 (the device has shader-f16). */
  readonly f16: boolean;
  /** Bound where a kernel reads an optional input that is absent (no bias). */
  private readonly placeholder: GPUBuffer;
  private readonly ropeTables = new Map<string, GPUBuffer>();
  /** Intermediates an op keeps between its dispatches (the many-row linear's normalized x and
   * gate/up pairs, split attention's partials), by name. */
  private readonly scratch = new Map<string, GPUBuf>();
  /** Errors WebGPU reports asynchronously (allocation, pipeline creation): thrown by the next read. */
  private pendingErrors: Promise<Error | null>[] = [];
  private lost: DeviceLostError | null = null;
  private readonly lostPromise: Promise<never>;
  private disposed = false;

  constructor(
    private readonly device: GPUDevice,
    options: WebGPUBackendOptions,
  ) {
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxBindingBytes = Math.floor(Math.min(options.maxBindingBytes ?? limit, limit) / 16) * 16;
    this.bindingLimits = {
      weightBytes: this.maxBindingBytes,
      bufferBytes: limit,
      source: `this device's maxStorageBufferBindingSize is ${device.limits.maxStorageBufferBindingSize} and maxBufferSize ${device.limits.maxBufferSize}` +
        (this.maxBindingBytes < Math.floor(limit / 16) * 16 ? `; weight chunks are capped at ${this.maxBindingBytes} (maxBindingBytes)` : ""),
    };
    this.memoryLimit = deviceLocalMemory(device);
    this.subgroups = device.features.has("subgroups") && options.subgroups !== false;
    this.ownsDevice = options.ownsDevice ?? false;
    this.lostPromise = device.lost.then((info) => {
      this.lost = new DeviceLostError(info.message || info.reason || "unknown reason");
      throw this.lost;
    });
    this.lostPromise.catch(() => {}); // observed by reads; never an unhandled rejection
    this.pool = new BufferPool(
      device,
      (scope, what, bytes) =>
        this.pendingErrors.push(scope.then((e) => e && new GPUOutOfMemoryError(what, bytes, e.message))),
      () => this.recorder.forgetBindGroups(),
    );
    this.pipelines = new PipelineCache(
      device,
      (scope, what) => this.pendingErrors.push(scope.then((e) => e && new Error(`${what}: ${e.message}`))),
      this.subgroups,
    );
    this.f16 = this.pipelines.f16;
    this.recorder = new Recorder(device, this.pool, (scope) =>
      this.pendingErrors.push(scope.then((e) => e && new Error(`recorded ops failed validation: ${e.message}`))),
    );
    this.placeholder = this.pool.create("placeholder", 16, USAGE.STORAGE);
  }

  // ---- memory ----

  uploadWeight(
    label: string,
    data: Uint16Array | Float32Array,
    shape: readonly number[],
    { precision = "f16" }: UploadOptions = {},
  ): Weight {
    return uploadWeight(this.device, this.pool, label, data, shape, this.maxBindingBytes, precision);
  }

  uploadQuantized(label: string, data: QuantizedMatrix, shape: readonly [number, number]): Weight {
    return uploadQuantized(this.device, this.pool, label, data, shape, this.maxBindingBytes);
  }

  joinRows(label: string, parts: readonly Weight[], { interleave = false }: { interleave?: boolean } = {}): Weight {
    const ws = parts.map(weight);
    const joined = joinWeights(this.pool, label, ws, interleave, this.maxBindingBytes, (dst, src, count, len, srcStart, dstStart, stride) => {
      const words = Math.floor(len / 2) + 2;
      this.run("copy-rows", [dst, src], "uuuuuu", [count, len, srcStart, dstStart, stride, words], Math.ceil((count * words) / WG));
    });
    // The copies must be submitted before their sources are destroyed.
    this.submit();
    this.pool.destroyNow(ws.flatMap((w) => w.chunks.flatMap((c) => (c.scales ? [c.buffer, c.scales] : [c.buffer]))));
    return joined;
  }

  alloc(label: string, length: number, kind: BufKind = "f32"): Buf {
    const bytes = Math.max(16, Math.ceil((length * 4) / 16) * 16);
    return new GPUBuf(label, kind, length, this.pool.storage(label, bytes));
  }

  free(buf: Buf): void {
    this.pool.release(gpu(buf));
  }

  write(buf: Buf, data: Float32Array | Int32Array, offset = 0): void {
    if (offset + data.length > buf.length) {
      throw new Error(`write of ${data.length} values at ${offset} overflows ${buf.label} [${buf.length}]`);
    }
    // Small writes are copied in the encoder, in order with the recorded ops. A queue
    // write lands before everything not yet submitted: recorded ops that use this buffer
    // must go first.
    if (this.recorder.upload(gpu(buf), offset * 4, data)) return;
    if (this.recorder.touches(gpu(buf))) this.submit();
    this.device.queue.writeBuffer(gpu(buf), offset * 4, data as Float32Array<ArrayBuffer>);
  }

  async read(buf: Buf, length?: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(buf, length, offset));
  }

  async readI32(buf: Buf, length?: number, offset = 0): Promise<Int32Array> {
    return new Int32Array(await this.readBytes(buf, length, offset));
  }

  submit(): void {
    this.recorder.submit();
    this.pool.trim();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.destroyAll();
    this.ropeTables.clear();
    this.scratch.clear();
    if (this.ownsDevice) this.device.destroy();
  }

  // ---- ops ----

  embed(y: Buf, ids: Buf, table: Weight, rows: number, opts: { scale?: number; accumulate?: boolean } = {}): void {
    const t = weight(table);
    for (const c of t.chunks) {
      const params = [rows, t.rowLength, c.row0, c.rows, opts.scale ?? 1, opts.accumulate ? 1 : 0];
      const buffers = [gpu(y), gpu(ids), c.buffer, c.scales ?? this.placeholder];
      this.run("embed", buffers, "uuuufu", params, Math.ceil((rows * t.rowLength) / WG), { F32: isF32(t), BITS: t.bits });
    }
  }

  patchify(y: Buf, pixels: Buf, batch: number, channels: number, imageSize: number, patchSize: number): void {
    const n = batch * channels * imageSize * imageSize; // every pixel lands in exactly one patch
    this.run("patchify", [gpu(y), gpu(pixels)], "uuuu", [batch, channels, imageSize, patchSize], Math.ceil(n / WG));
  }

  linear(y: Buf, x: Buf, w: Weight, bias: Weight | null, rows: number, opts: LinearOptions = {}): void {
    only("linear", ["q8", "q4"], w);
    f16Only("linear", bias, opts.rmsNorm?.weight ?? null, opts.residual?.norm ?? null);
    if (rows === 0) return; // gemv.wgsl has no 0-row variant
    const W = weight(w);
    const K = W.rowLength;
    const N = W.rows;
    const cap = opts.softcap && opts.softcap > 0 ? opts.softcap : 0;
    if (opts.geglu && (bias || opts.accumulate || cap || W.chunks.some((c) => c.rows % 2 !== 0))) {
      throw new Error(`linear: geglu takes an even number of rows and no bias, accumulate or softcap (${w.label})`);
    }
    if (opts.residual && !opts.rmsNorm) throw new Error(`linear: residual needs rmsNorm (${w.label})`);
    const flags = (bias ? BIAS : 0) | (opts.gelu ? GELU : 0) | (opts.accumulate ? ACCUMULATE : 0) | (cap ? SOFTCAP : 0);
    const b = bias ? weight(bias).whole : this.placeholder;
    const gemv = rows <= GEMV_MAX_ROWS;
    let input = x;
    let residual = opts.residual;
    if (residual && !(gemv && this.residualFits(W))) {
      // x' = x + rms(add) as passes of their own (copied, then accumulated), then the input.
      this.recorder.copy(gpu(x), 0, gpu(residual.out), 0, rows * K * 4);
      this.rmsNorm(residual.out, residual.add, residual.norm, rows, opts.rmsNorm!.eps, { accumulate: true });
      input = residual.out;
      residual = undefined;
    }
    if (gemv) {
      // Decode: the residual add, the norm, the GeGLU and the softcap all happen inside the GEMV.
      const norm = opts.rmsNorm ? weight(opts.rmsNorm.weight).whole : this.placeholder;
      const eps = opts.rmsNorm?.eps ?? 0;
      const fused = { NORM: opts.rmsNorm ? 1 : 0, PAIRS: opts.geglu ? 1 : 0 };
      const extra = residual ? [gpu(residual.add), weight(residual.norm).whole, gpu(residual.out)] : [];
      const per = opts.geglu ? 2 : 1; // weight rows per output
      const ldy = N / per;
      for (const c of W.chunks) {
        const [outs, n0] = [c.rows / per, c.row0 / per];
        const groups = this.grid(Math.ceil(outs / GEMV_OUTS));
        if (W.bits) {
          const params = [outs, K, ldy, n0, flags, groupsPerRow(K), eps, cap];
          const pipeline = this.pipelines.get("gemv-q", { ROWS: rows, BITS: W.bits, ...fused }, !!residual);
          this.recorder.dispatch(pipeline, [gpu(y), gpu(input), c.buffer, c.scales!, b, norm, ...extra], "uuuuuuff", params, groups);
        } else {
          // Halves a lane loads at once (gemv.wgsl's LOAD): a vec4<u32> where every row starts on one
          // and is long enough to give every lane of a team one.
          const load = K % 8 === 0 && K >= GEMV_VEC4_MIN_K ? 8 : K % 2 === 0 ? 2 : 1;
          const pipeline = this.pipelines.get("gemv", { ROWS: rows, LOAD: load, ...fused }, !!residual);
          this.recorder.dispatch(pipeline, [gpu(y), gpu(input), c.buffer, b, norm, ...extra], "uuuuuff", [outs, K, ldy, n0, flags, eps, cap], groups);
        }
      }
      return;
    }
    // Many rows (prefill, SigLIP): the tiled matmul, with the fusions as their own passes.
    if (opts.rmsNorm) {
      const normed = this.scratchBuf("linear.normed", rows * K);
      this.rmsNorm(normed, input, opts.rmsNorm.weight, rows, opts.rmsNorm.eps);
      input = normed;
    }
    const out = opts.geglu ? this.scratchBuf("linear.gate_up", rows * N) : y;
    if (cap && opts.accumulate) throw new Error(`linear: softcap with accumulate over many rows is not supported (${w.label})`);
    const TN = matmulColumns(N);
    const pipeline = this.pipelines.get("matmul", { MODE: LINEAR, K_EVEN: K % 2 === 0 ? 1 : 0, TN, BITS: W.bits });
    for (const c of W.chunks) {
      this.recorder.dispatch(
        pipeline,
        [gpu(out), gpu(input), c.buffer, b, c.scales ?? this.placeholder],
        "uuuuuu",
        [rows, c.rows, K, N, c.row0, flags & ~SOFTCAP],
        [Math.ceil(c.rows / (16 * TN)), Math.ceil(rows / MATMUL_TILE)],
      );
    }
    if (opts.geglu) this.run("gelu-mul", [gpu(y), gpu(out)], "u", [(rows * N) / 2], Math.ceil((rows * N) / 2 / WG));
    if (cap) this.softcap(y, rows * N, cap);
  }

  layerNorm(y: Buf, x: Buf, w: Weight, b: Weight, rows: number, eps: number): void {
    f16Only("layerNorm", w, b);
    const D = weight(w).rowLength;
    this.run("layer-norm", [gpu(y), gpu(x), weight(w).whole, weight(b).whole], "uuf", [rows, D, eps], rows);
  }

  rmsNorm(y: Buf, x: Buf, w: Weight, rows: number, eps: number, opts: { accumulate?: boolean } = {}): void {
    f16Only("rmsNorm", w);
    const D = weight(w).rowLength;
    this.run("rms-norm", [gpu(y), gpu(x), weight(w).whole], "uufu", [rows, D, eps, opts.accumulate ? 1 : 0], rows);
  }

  ropeAppend(q: Buf, kCache: Buf, vCache: Buf, qkv: Buf, positions: Buf, cacheRows: Buf, rows: number, o: RopeAppendOptions): void {
    const pairs = (rows * (o.heads + 2 * o.kvHeads) * o.headDim) / 2;
    const buffers = [gpu(q), gpu(kCache), gpu(vCache), gpu(qkv), gpu(positions), gpu(cacheRows), this.ropeTable(o.theta, o.headDim)];
    this.run("rope-append", buffers, "uuuu", [rows, o.heads, o.kvHeads, o.headDim], Math.ceil(pairs / WG));
  }

  attention(out: Buf, q: Buf, k: Buf, v: Buf, meta: Buf, rows: number, o: AttentionOptions): void {
    const { heads, kvHeads, headDim } = o;
    if (headDim > ATTENTION_MAX_HEAD_DIM || heads % kvHeads !== 0) {
      throw new Error(`attention needs headDim <= 256 and heads % kvHeads == 0; got ${headDim}, ${heads}/${kvHeads}`);
    }
    const group = heads / kvHeads;
    const blocks = Math.ceil((rows * group) / ATTENTION_SLOTS);
    const splits = attentionSplits(blocks * kvHeads, Math.floor(k.length / (kvHeads * headDim)));
    const pipeline = this.pipelines.get("attention", { HD: headDim });
    const params = [rows, heads, kvHeads, group, o.scale, o.softcap ?? 0, o.window ?? 0, splits];
    const inputs = [gpu(q), gpu(k), gpu(v), gpu(meta)];
    if (splits === 1) {
      this.recorder.dispatch(pipeline, [gpu(out), ...inputs, this.placeholder], "uuuuffuu", params, [blocks, kvHeads]);
      return;
    }
    // Split keys: partials [splits, rows, heads, headDim] and (m, l) [splits, rows, heads], then a merge.
    const partial = gpu(this.scratchBuf("attention.partial", splits * rows * heads * headDim));
    const stats = gpu(this.scratchBuf("attention.stats", splits * rows * heads * 2));
    this.recorder.dispatch(pipeline, [partial, ...inputs, stats], "uuuuffuu", params, [blocks, kvHeads * splits]);
    const vec4s = rows * heads * Math.ceil(headDim / 4);
    this.run("attention-merge", [gpu(out), partial, stats], "uuu", [rows, heads, splits], Math.ceil(vec4s / MERGE_WG), { HD: headDim });
  }

  scatterRows(dst: Buf, idx: Buf, src: Buf, rows: number, width: number, scale = 1): void {
    this.run("scatter-rows", [gpu(dst), gpu(idx), gpu(src)], "uuf", [rows, width, scale], Math.ceil((rows * width) / WG));
  }

  gatherRows(dst: Buf, src: Buf, idx: Buf, rows: number, width: number): void {
    this.run("gather-rows", [gpu(dst), gpu(src), gpu(idx)], "uu", [rows, width], Math.ceil((rows * width) / WG));
  }

  conv2d(y: Buf, x: Buf, w: Weight, bias: Weight, o: ConvOptions): void {
    const [Cout, Cin, k] = w.shape;
    const Ho = Math.floor((o.height + 2 * o.padding - k) / o.stride) + 1;
    const Wo = Math.floor((o.width + 2 * o.padding - k) / o.stride) + 1;
    this.conv(CONV, y, x, w, bias, o, [Cout, Cin, Ho, Wo], [Ho, Wo, 0, 0, 0, 0, k, k]);
  }

  convTranspose2d(y: Buf, x: Buf, w: Weight, bias: Weight, o: ConvOptions): void {
    const [Cin, Cout, k] = w.shape;
    const s = o.stride;
    const Ho = (o.height - 1) * s - 2 * o.padding + k;
    const Wo = (o.width - 1) * s - 2 * o.padding + k;
    // One dispatch per output phase (oy mod s, ox mod s), over the taps that reach it.
    const taps = (phase: number) => {
      const first = (phase + o.padding) % s;
      return [first, first < k ? Math.ceil((k - first) / s) : 0];
    };
    for (let py = 0; py < Math.min(s, Ho); py++) {
      for (let px = 0; px < Math.min(s, Wo); px++) {
        const [tapY, tapsY] = taps(py);
        const [tapX, tapsX] = taps(px);
        const grid = [Math.ceil((Ho - py) / s), Math.ceil((Wo - px) / s), py, px, tapY, tapX, tapsY, tapsX];
        this.conv(CONV_TRANSPOSE, y, x, w, bias, o, [Cout, Cin, Ho, Wo], grid);
      }
    }
  }

  softcap(x: Buf, n: number, cap: number): void {
    this.run("softcap", [gpu(x)], "uf", [n, cap], Math.ceil(n / WG));
  }

  argmax(ids: Buf, logits: Buf, rows: number, vocab: number): void {
    this.run("argmax", [gpu(ids), gpu(logits)], "uu", [rows, vocab], rows);
  }

  sample(ids: Buf, logits: Buf, uniforms: Buf, rows: number, vocab: number, o: SampleOptions): void {
    this.run("sample", [gpu(ids), gpu(logits), gpu(uniforms)], "uufuf", [rows, vocab, o.temperature, o.topK, o.topP], rows);
  }

  // ---- internals ----

  /**
   * Whether the GEMV over W can take the residual add itself: its three more bindings
   * (8 storage buffers for f16, 9 for q8/q4) within the device's per-stage limit
   * (WebGPU's default is 8); else the add is a pass of its own.
   */
  private residualFits(W: GPUWeight): boolean {
    return (W.bits ? 9 : 8) <= this.device.limits.maxStorageBuffersPerShaderStage;
  }

  /**
   * Records `kernel` over `workgroups` workgroups, laid out as a 2-D grid within
   * maxComputeWorkgroupsPerDimension (such kernels index wid.y * groups.x + wid.x).
   */
  private run(kernel: Kernel, buffers: GPUBuffer[], format: string, params: number[], workgroups: number, constants?: Record<string, number>): void {
    this.recorder.dispatch(this.pipelines.get(kernel, constants), buffers, format, params, this.grid(workgroups));
  }

  private grid(n: number): [number, number] {
    const x = Math.min(n, this.device.limits.maxComputeWorkgroupsPerDimension);
    return [x, x > 0 ? Math.ceil(n / x) : 1];
  }

  /**
   * One implicit-GEMM dispatch of matmul.wgsl over the output pixels (b, gy, gx) of
   * `grid` = [gridH, gridW, phaseY, phaseX, tapY, tapX, tapsY, tapsX] (see its Params).
   */
  private conv(mode: number, y: Buf, x: Buf, w: Weight, bias: Weight, o: ConvOptions, [Cout, Cin, Ho, Wo]: number[], grid: number[]): void {
    only(mode === CONV ? "conv2d" : "convTranspose2d", ["f32"], w, bias);
    const [gridH, gridW, phaseY, phaseX, tapY, tapX, tapsY, tapsX] = grid;
    const M = o.batch * gridH * gridW;
    const flags = BIAS | (o.relu ? RELU : 0) | (o.accumulate ? ACCUMULATE : 0);
    const TN = matmulColumns(Cout);
    this.recorder.dispatch(
      this.pipelines.get("matmul", { MODE: mode, K_EVEN: 0, TN, W_F32: isF32(w), BIAS_F32: isF32(bias) }),
      [gpu(y), gpu(x), weight(w).whole, weight(bias).whole, this.placeholder],
      "uuuuuuuuuuuuuuuuuuuuu",
      [M, Cout, Cin * tapsY * tapsX, Cout, 0, flags, o.height, o.width, Cin, o.kernel, o.stride, o.padding, Ho, Wo, gridH, gridW, phaseY, phaseX, tapY, tapX, tapsX],
      [Math.ceil(Cout / (16 * TN)), Math.ceil(M / MATMUL_TILE)],
    );
  }

  /** A backend-owned buffer of at least `length` f32s, reused by name. */
  private scratchBuf(name: string, length: number): GPUBuf {
    let buf = this.scratch.get(name);
    if (!buf || buf.length < length) {
      if (buf) this.free(buf);
      buf = this.alloc(name, length) as GPUBuf;
      this.scratch.set(name, buf);
    }
    return buf;
  }

  /** inv_freq[i] = theta^(-2i/headDim), rounded to f32 as the reference implementations compute it; made once per (theta, headDim). */
  private ropeTable(theta: number, headDim: number): GPUBuffer {
    const key = `${theta}/${headDim}`;
    let table = this.ropeTables.get(key);
    if (!table) {
      const inv = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / Math.fround(theta ** ((2 * i) / headDim)));
      table = this.pool.create(`rope.inv_freq.${key}`, Math.max(16, Math.ceil(inv.byteLength / 16) * 16), USAGE.STORAGE | USAGE.COPY_DST);
      this.device.queue.writeBuffer(table, 0, inv);
      this.ropeTables.set(key, table);
    }
    return table;
  }

  /** Copies elements [offset, offset + length) back through pooled staging buffers, in pieces for big reads. */
  private async readBytes(buf: Buf, length: number | undefined, offset: number): Promise<ArrayBuffer> {
    if (this.disposed) throw new DisposedError("the WebGPU backend");
    if (this.lost) throw this.lost;
    const bytes = 4 * Math.max(0, Math.min(length ?? buf.length, buf.length - offset));
    const out = new Uint8Array(bytes);
    if (bytes === 0) this.submit();
    // The first piece's copy goes with the recorded ops: a decode step is one submit.
    for (let done = 0; done < bytes; done += STAGING_PIECE_BYTES) {
      const size = Math.min(STAGING_PIECE_BYTES, bytes - done);
      const staging = this.pool.stagingBuffer(size);
      this.recorder.copy(gpu(buf), offset * 4 + done, staging, 0, size);
      this.submit();
      try {
        await Promise.race([staging.mapAsync(MAP_READ, 0, size), this.lostPromise]);
      } catch (e) {
        // dispose() destroys the device (or, on a caller's device, the buffers): that is no lost device.
        throw this.disposed ? new DisposedError("the model", "a GPU computation") : (this.lost ?? e);
      }
      out.set(new Uint8Array(staging.getMappedRange(0, size)), done);
      staging.unmap();
      this.pool.releaseStaging(staging);
    }
    if (bytes === 0) {
      await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostPromise]).catch((e: unknown) => {
        throw this.disposed ? new DisposedError("the model", "a GPU computation") : e;
      });
    }
    if (this.disposed) throw new DisposedError("the model", "a GPU computation");
    await this.throwPendingErrors();
    return out.buffer;
  }

  private async throwPendingErrors(): Promise<void> {
    if (this.pendingErrors.length === 0) return;
    const errors = await Promise.all(this.pendingErrors);
    this.pendingErrors = [];
    const first = errors.find((e) => e);
    if (first) throw first;
  }
}
