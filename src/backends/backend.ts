// The small set of ops the model graph (src/model/*) is written in. Two backends
// implement it: WebGPU (src/backends/webgpu, WGSL kernels) and WASM
// (src/backends/wasm, AssemblyScript SIMD). The model never touches a GPU or WASM
// object directly, so one graph serves both.
//
// Conventions for every op:
// - Activations are f32, row-major. A "row" is one token (or one patch).
// - Weights are uploaded once as f16 bits (Uint16Array) or f32; a matrix weight is
//   [N, K] (out features, in features), as in PyTorch's nn.Linear. Matrices may instead
//   be uploaded quantized (q8/q4, src/weights/quantize.ts): only linear and embed take
//   those, and they dequantize in registers, never widening the whole weight.
// - Ops are recorded in call order and take effect in that order; `read` waits for
//   everything recorded before it. Sizes are passed explicitly (`rows`), because
//   buffers are allocated once for the largest call and reused.
// - Integer side inputs (ids, positions, row indices) live in "i32" buffers that
//   the graph fills with `write` before the ops that read them.

import { WeightsError } from "../errors.js";
import type { QuantizedMatrix } from "../weights/quantize.js";

export type BufKind = "f32" | "i32";

/** A device buffer of `length` elements of `kind`. Opaque to the model. */
export interface Buf {
  readonly label: string;
  readonly kind: BufKind;
  readonly length: number;
}

/** An uploaded weight tensor. Opaque to the model except for its shape. */
export interface Weight {
  readonly label: string;
  readonly shape: readonly number[];
}

export interface LinearOptions {
  /** Apply GELU (tanh approximation) to the result before storing it. */
  gelu?: boolean;
  /** y += result instead of y = result (fuses the residual add). */
  accumulate?: boolean;
  /**
   * Gemma's RMSNorm applied to each row of x first: x / sqrt(mean(x²) + eps) * (1 + weight),
   * weight [K] (fuses the norm into the linear that reads it).
   */
  rmsNorm?: { weight: Weight; eps: number };
  /**
   * A residual add folded into the linear's input, before rmsNorm (which it needs): the
   * input is x' = x + add / sqrt(mean(add²) + eps) * (1 + norm) row by row (Gemma's RMSNorm
   * of add, rmsNorm's eps; add [rows, K], norm [K]), and x' is also stored to `out`
   * [rows, K]. Gemma 2 folds each block's post-norm residual add into the next linear
   * that reads the residual stream. `out` must be none of y, x and add.
   */
  residual?: { add: Buf; norm: Weight; out: Buf };
  /**
   * GeGLU: W's rows are pairs (gate_i, up_i) (joinRows with interleave); the result is
   * y[r, i] = gelu_tanh(gate_i · x[r]) * (up_i · x[r]), y [rows, N/2]. No bias,
   * accumulate or softcap with it.
   */
  geglu?: boolean;
  /** If > 0: y = cap * tanh(y / cap) on the result (Gemma 2's final logits); not with accumulate. */
  softcap?: number;
}

export interface RopeAppendOptions {
  heads: number;
  kvHeads: number;
  headDim: number;
  theta: number;
}

export interface AttentionOptions {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Multiplies q·k before the softmax. */
  scale: number;
  /** If > 0: s = cap * tanh(s / cap) after scaling (Gemma 2). */
  softcap?: number;
  /**
   * If > 0, a sliding window: key j is visible only if also j > slot - window (a lower
   * bound per query; the prefix's forward keys stay visible), as transformers' Gemma 2.
   */
  window?: number;
}

export interface SampleOptions {
  temperature: number;
  /** 0 = no top-k limit. */
  topK: number;
  /** 1 = no nucleus limit. */
  topP: number;
}

export interface ConvOptions {
  batch: number;
  /** Input spatial size. */
  height: number;
  width: number;
  /** Square kernel size k. */
  kernel: number;
  stride: number;
  padding: number;
  /** max(0, ·) on the result (before any accumulate). */
  relu?: boolean;
  /** y += result instead of y = result (fuses a residual add). */
  accumulate?: boolean;
}

export type WeightPrecision = "f16" | "f32";

export interface UploadOptions {
  precision?: WeightPrecision;
}

/** Elements of a weight of `shape`; throws when `data` holds another count. */
export function weightLength(label: string, data: ArrayLike<number>, shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`${label}: ${data.length} values for shape [${shape}]`);
  return n;
}

/**
 * The first element a weight stored in `precision` cannot hold, or -1: inf or NaN, and for
 * f16 from f32 data a magnitude that rounds past 65504. Every backend refuses such a weight
 * at upload: a model holding one answers <pad><pad>... rather than fail.
 */
export function firstNonFinite(data: Uint16Array | Float32Array, precision: WeightPrecision): number {
  if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) if ((data[i] & 0x7c00) === 0x7c00) return i;
    return -1;
  }
  const limit = precision === "f16" ? F16_ROUNDS_TO_INF : Number.POSITIVE_INFINITY;
  for (let i = 0; i < data.length; i++) if (!(Math.abs(data[i]) < limit)) return i;
  return -1;
}

/** f32 magnitudes from here on round to an f16 inf: 65504 plus half an f16 step there. */
const F16_ROUNDS_TO_INF = 65520;

export function nonFiniteWeightError(label: string, index: number, data: Uint16Array | Float32Array, precision: WeightPrecision): WeightsError {
  const value = data instanceof Float32Array ? String(data[index]) : `f16 bits 0x${data[index].toString(16)}`;
  const why =
    precision === "f16" && !(data instanceof Float32Array && Number.isNaN(data[index]))
      ? "which is not a finite f16; weights are stored as f16 (largest magnitude 65504), " +
        "so this checkpoint holds values it cannot represent, or is corrupt"
      : "which is not finite; this checkpoint is corrupt";
  return new WeightsError(`${label}: element ${index} is ${value}, ${why}`);
}

/**
 * Caps on single buffers, which the memory plan checks before anything is uploaded. A
 * weight is uploaded in row chunks of at most `weightBytes`: one read in chunks (linear,
 * embed) needs one row (two, where odd rows start mid-word) to fit, one bound whole
 * (norms, biases, convs) all of it. Every activation and KV-cache buffer must fit `bufferBytes`.
 */
export interface BindingLimits {
  weightBytes: number;
  bufferBytes: number;
  /** Where the figures come from, for messages ("this device's maxStorageBufferBindingSize is ..."). */
  source: string;
}

export interface Backend {
  /** "webgpu", "wasm", or "reference" for the plain-TS test oracle. */
  readonly name: string;
  /**
   * Bytes of memory this backend can never exceed, where it has such a cap (wasm32: 4 GiB;
   * WebGPU: the adapter's largest device-local memory heap, where it reports its heaps).
   */
  readonly memoryLimit?: number;
  /** The most bytes one buffer may hold, where the backend caps single buffers (WebGPU's binding limits). */
  readonly bindingLimits?: BindingLimits;
  /** Threads the ops run on, where the backend chooses (WASM; 1 = the calling thread only). */
  readonly threads?: number;
  /** The build of the kernels that runs, where there are several (WASM: cpu, cpu-mt, cpu-relaxed, cpu-mt-relaxed). */
  readonly build?: string;
  /** Why fewer threads run than were asked for (WASM: no SharedArrayBuffer, no workers). */
  readonly threadNote?: string;

  // ---- memory ----
  /**
   * `data` is f16 bits (Uint16Array) or f32; length = product(shape). The backend
   * stores the weight in `precision`: "f16" (the default; half the memory, exact for
   * bf16/f16 checkpoints) or "f32", which keeps f32 data unrounded (f16 bits are
   * widened exactly), for small weights whose f16 rounding alone moves a result too
   * far (the mask decoder's: 1e-2 vs torch). Only embed, conv2d and convTranspose2d
   * (weight and bias) must accept f32 weights; other ops may refuse them.
   */
  uploadWeight(
    label: string,
    data: Uint16Array | Float32Array,
    shape: readonly number[],
    opts?: UploadOptions,
  ): Weight;
  /**
   * A quantized matrix [N, K] = shape (see src/weights/quantize.ts for the layout). The
   * weight computes with exactly q · scale. Only linear (as W) and embed (as the table)
   * take quantized weights; other ops refuse them.
   */
  uploadQuantized(label: string, data: QuantizedMatrix, shape: readonly [number, number]): Weight;
  /**
   * One weight whose rows are the parts' rows (matrices [N_j, K] of one precision and K):
   * stacked in order, [ΣN_j, K]; or with `interleave` (parts of one shape [N, K]) row
   * i·P + j is part j's row i. The parts are consumed: they must not be used again.
   * Built at load, so that one linear reads what several would (Q/K/V, gate/up).
   */
  joinRows(label: string, parts: readonly Weight[], opts?: { interleave?: boolean }): Weight;
  alloc(label: string, length: number, kind?: BufKind): Buf;
  /** Releases a buffer from alloc (its memory may be reused by later allocs). */
  free(buf: Buf): void;
  /** Writes `data` at element `offset`; ordered with the recorded ops. */
  write(buf: Buf, data: Float32Array | Int32Array, offset?: number): void;
  /** Copies `length` elements from element `offset` back to JS after all recorded ops. */
  read(buf: Buf, length?: number, offset?: number): Promise<Float32Array>;
  readI32(buf: Buf, length?: number, offset?: number): Promise<Int32Array>;
  /** Starts executing what was recorded (a no-op where ops run eagerly). */
  submit(): void;
  dispose(): void;

  // ---- ops ----
  /** y[r] = (accumulate ? y[r] : 0) + scale * table[ids[r]]; table [V, D], ids i32 [rows]. */
  embed(y: Buf, ids: Buf, table: Weight, rows: number, opts?: { scale?: number; accumulate?: boolean }): void;

  /**
   * im2col for a stride-P, kernel-P conv: pixels [B, C, S, S] -> y [B * (S/P)^2, C*P*P],
   * patches row-major over the grid, each row ordered (c, py, px) like a PyTorch
   * conv weight [D, C, P, P] flattened.
   */
  patchify(y: Buf, pixels: Buf, batch: number, channels: number, imageSize: number, patchSize: number): void;

  /** y[rows, N] = x[rows, K] · W[N, K]ᵀ + bias[N], with the options (in the order listed there). */
  linear(y: Buf, x: Buf, w: Weight, bias: Weight | null, rows: number, opts?: LinearOptions): void;

  /** y = (x - mean) / sqrt(var + eps) * w + b over the last dim D = w.shape[0]. */
  layerNorm(y: Buf, x: Buf, w: Weight, b: Weight, rows: number, eps: number): void;

  /** y (+)= x / sqrt(mean(x²) + eps) * (1 + w) over D = w.shape[0] (Gemma's RMSNorm). */
  rmsNorm(y: Buf, x: Buf, w: Weight, rows: number, eps: number, opts?: { accumulate?: boolean }): void;

  /**
   * Splits each row of qkv [rows, (heads + 2·kvHeads)·headDim] (q | k | v, as a joined
   * Q/K/V linear writes it): q [rows, heads·headDim] gets its q part rotated (as `rope`),
   * and the KV cache rows kCache[cacheRows[r]] and vCache[cacheRows[r]]
   * ([*, kvHeads·headDim]) get its k part rotated and its v part as it is. The rotation:
   * rotate-half, positions i32 [rows], angle = pos · theta^(-2i/headDim) for i < headDim/2.
   */
  ropeAppend(
    q: Buf,
    kCache: Buf,
    vCache: Buf,
    qkv: Buf,
    positions: Buf,
    cacheRows: Buf,
    rows: number,
    opts: RopeAppendOptions,
  ): void;

  /**
   * out[t, h, :] = softmax over visible keys j of (scale · q[t,h]·k[base+j, h/g]) · v[base+j, h/g],
   * with g = heads/kvHeads. q and out [rows, heads*headDim]; k, v [*, kvHeads*headDim].
   * meta i32 [rows, 3] per query: (base, slot, prefix). Key j (0 <= j) is visible to
   * the query iff j <= slot || j < prefix: full attention over a prefix, causal after;
   * with opts.window > 0, also only if j > slot - window.
   * Must stream over keys (online softmax), never holding a rows x keys matrix.
   * headDim: at most 256 (every PaliGemma has 72 (SigLIP), 128 or 256; odd configs may have any).
   */
  attention(out: Buf, q: Buf, k: Buf, v: Buf, meta: Buf, rows: number, opts: AttentionOptions): void;

  /** dst[idx[r]] = scale * src[r] for r < rows; rows of `width` elements; idx i32 [rows]. */
  scatterRows(dst: Buf, idx: Buf, src: Buf, rows: number, width: number, scale?: number): void;

  /** dst[r] = src[idx[r]] for r < rows; rows of `width` elements; idx i32 [rows]. */
  gatherRows(dst: Buf, src: Buf, idx: Buf, rows: number, width: number): void;

  /**
   * 2-D convolution, NHWC activations: x [B, H, W, Cin] -> y [B, Ho, Wo, Cout] with
   * Ho = (H + 2p - k) / s + 1; w [Cout, Cin, k, k] (PyTorch Conv2d layout), bias [Cout].
   */
  conv2d(y: Buf, x: Buf, w: Weight, bias: Weight, opts: ConvOptions): void;

  /**
   * Transposed 2-D convolution, NHWC: x [B, H, W, Cin] -> y [B, Ho, Wo, Cout] with
   * Ho = (H - 1) * s - 2p + k; w [Cin, Cout, k, k] (PyTorch ConvTranspose2d layout).
   */
  convTranspose2d(y: Buf, x: Buf, w: Weight, bias: Weight, opts: ConvOptions): void;

  /** x = cap * tanh(x / cap) in place, for the first n elements. */
  softcap(x: Buf, n: number, cap: number): void;

  /** ids[r] = argmax(logits[r, 0:vocab]) (lowest index on ties); ids i32 [rows]. */
  argmax(ids: Buf, logits: Buf, rows: number, vocab: number): void;

  /**
   * ids[r] = a token drawn from softmax(logits[r] / temperature) restricted to the
   * topK most likely and to the smallest set whose mass reaches topP; uniforms f32
   * [rows] holds one uniform in [0, 1) per row (drawn by the caller's seeded RNG).
   */
  sample(ids: Buf, logits: Buf, uniforms: Buf, rows: number, vocab: number, opts: SampleOptions): void;
}
