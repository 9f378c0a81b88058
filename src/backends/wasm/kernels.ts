// The exports of assembly/cpu.ts (built to src/wasm/cpu.wasm), typed. Every
// pointer is a byte address in the module's memory; bool parameters take 0 or 1.
import type { AsRuntime } from "../../wasm/load.js";

export interface CpuKernels extends AsRuntime {
  heapBase(): number;
  /** Thread pool: makes this instance thread i (its share of static scratch). */
  setThread(i: number): void;
  f16FirstNonFinite(src: number, n: number): number;

  /** Returns -1, or the first row whose id is outside [0, V). f32Table: the table is f32, not f16. */
  embed(
    y: number, ids: number, table: number, rows: number, V: number, D: number, scale: number, accumulate: number,
    f32Table: number,
  ): number;
  patchify(y: number, pixels: number, batch: number, channels: number, imageSize: number, patchSize: number): void;

  /** Output columns [n0, n1) only. */
  linear(
    y: number, x: number, w: number, bias: number, rows: number, K: number, N: number, n0: number, n1: number,
    flags: number, panel: number,
  ): void;
  linearPanelBytes(K: number): number;
  readonly LINEAR_GELU: WebAssembly.Global;
  readonly LINEAR_ACCUMULATE: WebAssembly.Global;

  /** Quantized linear (q8/q4, assembly/cpu/linear-q.ts): columns [n0, n1) of y; bits 4 or 8. */
  quantGemvPrepare(xq: number, x: number, rows: number, K: number, bits: number): void;
  quantGemv(
    y: number, xq: number, w: number, scales: number, bias: number, rows: number, K: number, N: number,
    n0: number, n1: number, bits: number, flags: number,
  ): void;
  quantGemm(
    y: number, x: number, w: number, scales: number, bias: number, rows: number, K: number, N: number,
    n0: number, n1: number, bits: number, flags: number, panel: number,
  ): void;
  quantGemvScratchBytes(rows: number, K: number): number;
  readonly QUANT_GEMM_MIN_ROWS: WebAssembly.Global;
  /** Returns -1, or the first row whose id is outside [0, V). */
  embedQ(
    y: number, ids: number, w: number, scales: number, rows: number, V: number, D: number, bits: number,
    scale: number, accumulate: number,
  ): number;

  layerNorm(y: number, x: number, w: number, b: number, rows: number, D: number, eps: number): void;
  rmsNorm(y: number, x: number, w: number, rows: number, D: number, eps: number, accumulate: number): void;
  geluMul(y: number, pairs: number, n: number): void;
  softcap(x: number, n: number, cap: number): void;
  rope(x: number, positions: number, rows: number, heads: number, headDim: number, theta: number): void;

  /** Queries [t0, t1) only. */
  attention(
    out: number, q: number, k: number, v: number, meta: number, t0: number, t1: number,
    heads: number, kvHeads: number, headDim: number, scale: number, softcap: number, window: number, scratch: number,
  ): void;
  attentionScratchBytes(heads: number, headDim: number): number;

  scatterRows(dst: number, idx: number, src: number, rows: number, width: number, scale: number): void;
  gatherRows(dst: number, src: number, idx: number, rows: number, width: number): void;

  /** wF32, biasF32: that weight is f32, not f16. */
  conv2d(
    y: number, x: number, w: number, bias: number, batch: number, H: number, W: number, cin: number, cout: number,
    k: number, stride: number, pad: number, relu: number, accumulate: number, scratch: number, wF32: number, biasF32: number,
  ): void;
  convTranspose2d(
    y: number, x: number, w: number, bias: number, batch: number, H: number, W: number, cin: number, cout: number,
    k: number, stride: number, pad: number, relu: number, accumulate: number, scratch: number, wF32: number, biasF32: number,
  ): void;
  convPanelBytes(cin: number, cout: number, k: number): number;

  argmax(ids: number, logits: number, rows: number, vocab: number): void;
  sample(
    ids: number, logits: number, uniforms: number, rows: number, vocab: number,
    temperature: number, topK: number, topP: number, scratch: number,
  ): void;
  sampleScratchBytes(vocab: number): number;
}
