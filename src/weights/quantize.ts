// The quantized weight format (q8, q4): a contract that files on disk, the loader and
// every backend's kernels share, so it lives in one place.
//
// A matrix W [N, K] (nn.Linear's [out, in], or the embedding [V, D]) is cut, per row,
// into groups of GROUP = 32 consecutive elements along K; a row whose K is not a
// multiple of 32 is zero-padded to Kp = ceil(K / 32) * 32. Each group is quantized
// symmetrically, round to nearest (ties to even), all arithmetic in f32:
//   scale = f16(max|w| / 7)                 (q4)     scale = f16(max|w| / 127)       (q8)
//   q = clamp(round(w / scale), -8, 7)               q = clamp(round(w / scale), -127, 127)
// with q = 0 where scale is 0. The value the model computes with is exactly q · scale.
//
// Storage (safetensors, `<name>` the checkpoint's name without `.weight`):
//   <name>.qweight  U32 [N, Kp / 8]  (q4: element k of a row is nibble k % 8 of word k / 8,
//                                     low nibble first, holding q + 8)
//                   U32 [N, Kp / 4]  (q8: byte k % 4 of word k / 4, little-endian first,
//                                     two's complement)
//   <name>.scales   F16 [N, Kp / 32]
// config.json: "quantization_config": { quant_method: "paligemma-edge", bits, group_size: 32, symmetric: true }.
import { ConfigError, WeightsError } from "../errors.js";
import { f16ArrayToF32, f16ToF32, f32ToF16 } from "./f16.js";
import { type DType, toF32 } from "./safetensors.js";

export const GROUP = 32;

export type QuantBits = 4 | 8;

/** How a model's matrices are kept on the device: f16, or quantized to 8 or 4 bits. */
export type WeightDtype = "f16" | "q8" | "q4";

export const bitsOf = (dtype: "q8" | "q4"): QuantBits => (dtype === "q8" ? 8 : 4);
export const dtypeOf = (bits: QuantBits): "q8" | "q4" => (bits === 8 ? "q8" : "q4");

export const QUANT_METHOD = "paligemma-edge";

/** config.json's quantization_config for a checkpoint quantized to `bits`. */
export const quantizationConfig = (bits: QuantBits) => ({ quant_method: QUANT_METHOD, bits, group_size: GROUP, symmetric: true });

/**
 * The bits of config.json's quantization_config, or undefined when it has none. Any
 * other quantization (another quant_method, group size, asymmetric) is a ConfigError:
 * its tensors would be read wrong.
 */
export function parseQuantizationConfig(config: Record<string, unknown>): QuantBits | undefined {
  const q = config.quantization_config as Record<string, unknown> | undefined;
  if (q === undefined || q === null) return undefined;
  const expected = `expected ${JSON.stringify(quantizationConfig(4))} (or bits 8), as \`paligemma-edge quantize\` writes`;
  if (typeof q !== "object") throw new ConfigError(`config.json quantization_config is ${JSON.stringify(q)}; ${expected}`);
  if (q.quant_method !== QUANT_METHOD || (q.bits !== 4 && q.bits !== 8) || q.group_size !== GROUP || q.symmetric !== true) {
    throw new ConfigError(`config.json quantization_config ${JSON.stringify(q)} is not a format this SDK reads; ${expected}`);
  }
  return q.bits;
}

/** A quantized [N, K] matrix, as stored on disk and uploaded to a backend. */
export interface QuantizedMatrix {
  bits: QuantBits;
  /** [N, Kp / (32 / bits)] words. */
  qweight: Uint32Array;
  /** [N, Kp / 32] f16 bits. */
  scales: Uint16Array;
}

/** K padded to whole groups. */
export const paddedK = (K: number) => Math.ceil(K / GROUP) * GROUP;
/** u32 words per row of qweight. */
export const wordsPerRow = (K: number, bits: QuantBits) => (paddedK(K) * bits) / 32;
/** Groups (scales) per row. */
export const groupsPerRow = (K: number) => paddedK(K) / GROUP;
/** The largest |q|: 7 for q4, 127 for q8. */
export const qmax = (bits: QuantBits) => (bits === 4 ? 7 : 127);

/** Bytes a quantized [N, K] matrix takes: its words and its scales. */
export const quantizedBytes = (N: number, K: number, bits: QuantBits) => N * (wordsPerRow(K, bits) * 4 + groupsPerRow(K) * 2);

/**
 * Checks a quantized [N, K] matrix before a backend uploads it: its bits, its word and
 * scale counts, and that every scale is a finite f16 (an inf or NaN scale would turn its
 * whole group into inf/NaN, silently). Errors name the tensor.
 */
export function checkQuantized(label: string, m: QuantizedMatrix, N: number, K: number): void {
  if (m.bits !== 4 && m.bits !== 8) throw new WeightsError(`${label}: quantized to ${m.bits} bits; only q4 and q8 exist`);
  const words = N * wordsPerRow(K, m.bits);
  const scales = N * groupsPerRow(K);
  if (m.qweight.length !== words || m.scales.length !== scales) {
    throw new WeightsError(
      `${label}: q${m.bits} [${N}, ${K}] needs ${words} qweight words and ${scales} scales, got ${m.qweight.length} and ${m.scales.length}`,
    );
  }
  for (let i = 0; i < m.scales.length; i++) {
    if ((m.scales[i] & 0x7c00) === 0x7c00) {
      const [row, group] = [Math.floor(i / groupsPerRow(K)), i % groupsPerRow(K)];
      throw new WeightsError(
        `${label}: the scale of row ${row}, group ${group} is not finite (f16 bits 0x${m.scales[i].toString(16)}); this checkpoint is corrupt`,
      );
    }
  }
}

const fr = Math.fround;

/** 1.5 · 2^52: adding and subtracting it rounds an f64 below 2^51 to an integer, half to even (the FPU's rounding). */
const ROUND = 6755399441055744;

/** Round half to even, as numpy's and torch's round do. */
const roundEven = (x: number) => x + ROUND - ROUND;

/** An all-zero quantized [N, K] matrix, for quantizeRows to fill. */
export function emptyQuantized(N: number, K: number, bits: QuantBits): QuantizedMatrix {
  return { bits, qweight: new Uint32Array(N * wordsPerRow(K, bits)), scales: new Uint16Array(N * groupsPerRow(K)) };
}

/**
 * Quantizes rows of W [N, K] (f32 values, or f16 bits) to `bits`. `values` may hold
 * more rows than N when quantizing part of a tensor: only the first N·K are read.
 */
export function quantizeMatrix(values: Float32Array | Uint16Array, N: number, K: number, bits: QuantBits): QuantizedMatrix {
  if (values.length < N * K) throw new Error(`quantizeMatrix: ${values.length} values for [${N}, ${K}]`);
  const out = emptyQuantized(N, K, bits);
  quantizeRows(out, values instanceof Uint16Array ? f16ArrayToF32(values.subarray(0, N * K)) : values, 0, N, K);
  return out;
}

/**
 * Quantizes `count` rows of W [*, K] into rows n0.. of `out` (a matrix from
 * emptyQuantized): `values` holds those rows' f32 values, count·K of them. A large
 * tensor is quantized a block of rows at a time, never widened to f32 whole.
 */
export function quantizeRows(out: QuantizedMatrix, values: Float32Array, n0: number, count: number, K: number): void {
  const { bits, qweight, scales } = out;
  const groups = groupsPerRow(K);
  const words = wordsPerRow(K, bits);
  if (values.length < count * K || (n0 + count) * words > qweight.length) {
    throw new Error(`quantizeRows: rows [${n0}, ${n0 + count}) of K = ${K} from ${values.length} values into ${qweight.length / words} rows`);
  }
  const lo = bits === 4 ? -8 : -127;
  const hi = qmax(bits);
  const offset = bits === 4 ? 8 : 0; // q4 stores q + 8; q8 stores q's two's-complement byte
  const stored = new Int32Array(GROUP); // one group's q + offset
  const tail = new Float32Array(GROUP); // a row's last group when K is not a multiple of 32, zero-padded
  for (let r = 0; r < count; r++) {
    const n = n0 + r;
    for (let g = 0; g < groups; g++) {
      const k0 = g * GROUP;
      let src = values;
      let at = r * K + k0;
      if (k0 + GROUP > K) {
        tail.fill(0);
        tail.set(values.subarray(at, at + K - k0));
        src = tail;
        at = 0;
      }
      let max = 0;
      let nan = false;
      for (let i = 0; i < GROUP; i++) {
        const a = Math.abs(src[at + i]);
        if (a > max) max = a;
        else if (a !== a) nan = true;
      }
      // A NaN makes the scale NaN, which every backend's upload rejects.
      const scaleBits = f32ToF16(nan ? NaN : fr(max / hi));
      const scale = f16ToF32(scaleBits);
      scales[n * groups + g] = scaleBits;
      for (let i = 0; i < GROUP; i++) {
        const q = scale === 0 ? 0 : roundEven(fr(src[at + i] / scale)) | 0;
        stored[i] = (q > hi ? hi : q < lo ? lo : q) + offset;
      }
      const w0 = n * words + (g * GROUP * bits) / 32;
      const q = stored;
      if (bits === 4) {
        for (let w = 0, b = 0; w < 4; w++, b += 8) {
          qweight[w0 + w] =
            (q[b] | (q[b + 1] << 4) | (q[b + 2] << 8) | (q[b + 3] << 12) | (q[b + 4] << 16) | (q[b + 5] << 20) | (q[b + 6] << 24) | (q[b + 7] << 28)) >>> 0;
        }
      } else {
        for (let w = 0, b = 0; w < 8; w++, b += 4) {
          qweight[w0 + w] = ((q[b] & 255) | ((q[b + 1] & 255) << 8) | ((q[b + 2] & 255) << 16) | ((q[b + 3] & 255) << 24)) >>> 0;
        }
      }
    }
  }
}

/** Values per block when quantizeTensor widens rows to f32. */
const BLOCK_VALUES = 1 << 20;

/**
 * Quantizes a checkpoint tensor W [N, K] from its safetensors bytes (F32, F16 or BF16:
 * exact f32 values), a block of rows at a time. Loading with dtype q8/q4 and the
 * quantize command both quantize through here, so their weights are identical.
 */
export function quantizeTensor(dtype: DType, bytes: Uint8Array, N: number, K: number, bits: QuantBits, name: string): QuantizedMatrix {
  const out = emptyQuantized(N, K, bits);
  const block = Math.max(1, Math.floor(BLOCK_VALUES / K));
  for (let n0 = 0; n0 < N; n0 += block) {
    const count = Math.min(block, N - n0);
    quantizeRows(out, toF32(dtype, bytes, n0 * K, count * K, name), n0, count, K);
  }
  return out;
}

/** The values a quantized [N, K] matrix stands for (q · scale), as f32 [N, K]. */
export function dequantizeMatrix(m: QuantizedMatrix, N: number, K: number): Float32Array {
  const { bits, qweight, scales } = m;
  const groups = groupsPerRow(K);
  const words = wordsPerRow(K, bits);
  if (qweight.length !== N * words || scales.length !== N * groups) {
    throw new Error(`dequantizeMatrix: ${qweight.length} words and ${scales.length} scales for q${bits} [${N}, ${K}]`);
  }
  const perWord = 32 / bits;
  const mask = (1 << bits) - 1;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const word = qweight[n * words + Math.floor(k / perWord)];
      const raw = (word >>> ((k % perWord) * bits)) & mask;
      const q = bits === 4 ? raw - 8 : (raw << 24) >> 24;
      out[n * K + k] = q * f16ToF32(scales[n * groups + Math.floor(k / GROUP)]);
    }
  }
  return out;
}
