// Weights on the GPU: f16, packed two per u32 (element e is half e & 1 of word e >> 1,
// which is simply the little-endian bytes of the f16 array), so no shader-f16 feature is
// needed; or, when uploaded with precision "f32" (embed and the convs take those), one
// f32 per u32 word, read with bitcast. A weight larger than one storage binding (browsers
// bind 128 MiB by default; Gemma's embedding is 1 GiB) is split into row chunks, each its
// own buffer, and the ops that take big weights (linear, embed) dispatch once per chunk.
// Quantized matrices (q8/q4, src/weights/quantize.ts) keep their layout as it is: each
// chunk is the rows' qweight words and, in a second buffer, their f16 scales packed two
// per u32; the kernels dequantize in registers.
import { firstNonFinite, nonFiniteWeightError, type Weight, type WeightPrecision, weightLength } from "../backend.js";
import { f16ArrayToF32, f32ArrayToF16 } from "../../weights/f16.js";
import { checkQuantized, groupsPerRow, type QuantBits, type QuantizedMatrix, wordsPerRow } from "../../weights/quantize.js";
import { type BufferPool, USAGE } from "./buffers.js";

export interface WeightChunk {
  buffer: GPUBuffer;
  /** A quantized chunk's scales: f16 [rows, groups] packed two per u32. */
  scales?: GPUBuffer;
  /** First row of the weight in this chunk, and how many rows it holds. */
  row0: number;
  rows: number;
}

export type GPUWeightPrecision = WeightPrecision | "q8" | "q4";

export class GPUWeight implements Weight {
  constructor(
    readonly label: string,
    readonly shape: readonly number[],
    /** Leading dimension (out features, table rows); a 1-D weight is one row. */
    readonly rows: number,
    /** Elements per row: the product of the remaining dimensions. */
    readonly rowLength: number,
    readonly chunks: readonly WeightChunk[],
    readonly precision: GPUWeightPrecision,
  ) {}

  /** 4 or 8 for a quantized weight, else 0 (the kernels' BITS override). */
  get bits(): number {
    return this.precision === "q4" ? 4 : this.precision === "q8" ? 8 : 0;
  }

  /** The weight's only buffer; for ops whose weights are never split (norms, biases, convs). */
  get whole(): GPUBuffer {
    if (this.chunks.length !== 1) {
      throw new Error(`${this.label} is split over ${this.chunks.length} bindings; this op takes it whole`);
    }
    return this.chunks[0].buffer;
  }
}

export function uploadWeight(
  device: GPUDevice,
  pool: BufferPool,
  label: string,
  data: Uint16Array | Float32Array,
  shape: readonly number[],
  maxBindingBytes: number,
  precision: WeightPrecision,
): GPUWeight {
  const count = weightLength(label, data, shape);
  const bad = firstNonFinite(data, precision);
  if (bad >= 0) throw nonFiniteWeightError(label, bad, data, precision);
  const rows = shape.length > 1 ? shape[0] : 1;
  const rowLength = count / Math.max(rows, 1);
  const bytesPerValue = precision === "f32" ? 4 : 2;
  // f16 with an odd row length: odd rows start mid-word, so chunks start on even rows.
  const perChunk = rowsPerChunk(label, rows, bytesPerValue * rowLength, precision === "f16" && rowLength % 2 === 1, maxBindingBytes);
  const chunks: WeightChunk[] = [];
  for (let row0 = 0; row0 < rows || chunks.length === 0; row0 += perChunk) {
    const n = Math.min(perChunk, rows - row0);
    const part = data.subarray(row0 * rowLength, (row0 + n) * rowLength);
    const name = perChunk < rows ? `${label}[${row0}:${row0 + n}]` : label;
    const buffer = precision === "f32" ? storage(device, pool, name, toF32(part)) : halves(device, pool, name, toF16(part));
    chunks.push({ buffer, row0, rows: n });
  }
  return new GPUWeight(label, shape, rows, rowLength, chunks, precision);
}

/** A quantized [N, K] matrix, checked (sizes, finite scales), in row chunks of words and scales. */
export function uploadQuantized(
  device: GPUDevice,
  pool: BufferPool,
  label: string,
  m: QuantizedMatrix,
  [N, K]: readonly [number, number],
  maxBindingBytes: number,
): GPUWeight {
  checkQuantized(label, m, N, K);
  const words = wordsPerRow(K, m.bits);
  const groups = groupsPerRow(K);
  // An odd number of scales per row: odd rows' scales start mid-word, so chunks start on even rows.
  const perChunk = rowsPerChunk(label, N, 4 * words, groups % 2 === 1, maxBindingBytes);
  const chunks: WeightChunk[] = [];
  for (let row0 = 0; row0 < N || chunks.length === 0; row0 += perChunk) {
    const n = Math.min(perChunk, N - row0);
    const name = perChunk < N ? `${label}[${row0}:${row0 + n}]` : label;
    const buffer = storage(device, pool, name, m.qweight.subarray(row0 * words, (row0 + n) * words));
    const scales = halves(device, pool, `${name}.scales`, m.scales.subarray(row0 * groups, (row0 + n) * groups));
    chunks.push({ buffer, scales, row0, rows: n });
  }
  return new GPUWeight(label, [N, K], N, K, chunks, m.bits === 4 ? "q4" : "q8");
}

/**
 * Records copying spans of f16 halves (copy-rows.wgsl): `count` spans of `len` halves,
 * span s from half srcStart + s·len of `src` to half dstStart + s·dstStride of `dst`.
 */
export type CopyHalves = (dst: GPUBuffer, src: GPUBuffer, count: number, len: number, srcStart: number, dstStart: number, dstStride: number) => void;

/**
 * Backend.joinRows: a new weight whose rows are the parts' rows, stacked or interleaved,
 * in new row chunks (of whole groups of parts when interleaved, so that a GEMV over
 * (gate_i, up_i) pairs never finds a pair split over two chunks), filled by `copy` on the
 * device. The caller submits the copies and then destroys the parts.
 */
export function joinWeights(
  pool: BufferPool,
  label: string,
  parts: readonly GPUWeight[],
  interleave: boolean,
  maxBindingBytes: number,
  copy: CopyHalves,
): GPUWeight {
  const [first] = parts;
  const { precision, rowLength: K } = first;
  if (parts.some((p) => p.precision !== precision || p.rowLength !== K || (interleave && p.rows !== first.rows))) {
    throw new Error(`joinRows ${label}: the parts differ in precision, row length${interleave ? " or rows" : ""}`);
  }
  const P = parts.length;
  const N = parts.reduce((n, p) => n + p.rows, 0);
  const bits = first.bits;
  // Halves per row of each buffer of a chunk: the values (or q words), and a quantized weight's scales.
  const lens = bits ? [2 * wordsPerRow(K, bits as QuantBits), groupsPerRow(K)] : [precision === "f32" ? 2 * K : K];
  const evenRows = lens[lens.length - 1] % 2 === 1;
  let perChunk = rowsPerChunk(label, N, 2 * lens[0], evenRows, maxBindingBytes);
  const whole = (interleave ? P : 1) * (evenRows && (!interleave || P % 2 === 1) ? 2 : 1);
  if (perChunk < N) perChunk -= perChunk % whole;
  if (perChunk < 1) throw new Error(`${label}: ${whole} rows exceed the ${maxBindingBytes}-byte binding limit`);
  const chunks: WeightChunk[] = [];
  for (let row0 = 0; row0 < N; row0 += perChunk) {
    const rows = Math.min(perChunk, N - row0);
    const name = perChunk < N ? `${label}[${row0}:${row0 + rows}]` : label;
    const [buffer, scales] = lens.map((len, i) =>
      pool.create(i ? `${name}.scales` : name, Math.max(16, Math.ceil((rows * len * 2) / 16) * 16), USAGE.STORAGE | USAGE.COPY_DST),
    );
    chunks.push({ buffer, scales, row0, rows });
  }
  let offset = 0; // stacked: the part's first row
  parts.forEach((part, j) => {
    for (const c of part.chunks) {
      for (const d of chunks) {
        // Part rows i in [i0, i1] land in this destination chunk, at rows to(i).
        const to = (i: number) => (interleave ? i * P + j : offset + i);
        const i0 = Math.max(c.row0, interleave ? Math.ceil((d.row0 - j) / P) : d.row0 - offset);
        const i1 = Math.min(c.row0 + c.rows - 1, interleave ? Math.floor((d.row0 + d.rows - 1 - j) / P) : d.row0 + d.rows - 1 - offset);
        if (i1 < i0) continue;
        lens.forEach((len, b) => {
          const [dst, src] = b ? [d.scales!, c.scales!] : [d.buffer, c.buffer];
          const srcStart = (i0 - c.row0) * len;
          const dstStart = (to(i0) - d.row0) * len;
          if (!interleave) return copy(dst, src, 1, (i1 - i0 + 1) * len, srcStart, dstStart, 0);
          // Spans one half apart would share a word: those go one per dispatch.
          const stride = P * len;
          if (stride >= len + 2) return copy(dst, src, i1 - i0 + 1, len, srcStart, dstStart, stride);
          for (let i = 0; i <= i1 - i0; i++) copy(dst, src, 1, len, srcStart + i * len, dstStart + i * stride, 0);
        });
      }
    }
    offset += part.rows;
  });
  return new GPUWeight(label, [N, ...first.shape.slice(1)], N, K, chunks, precision);
}

/** Rows per chunk for rows of `rowBytes`; `evenRows` when odd rows would start mid-word. */
function rowsPerChunk(label: string, rows: number, rowBytes: number, evenRows: boolean, maxBindingBytes: number): number {
  let perChunk = Math.floor(maxBindingBytes / rowBytes);
  if (evenRows && perChunk < rows) perChunk -= perChunk % 2;
  if (perChunk < 1) throw new Error(`${label}: one row of ${rowBytes} bytes exceeds the ${maxBindingBytes}-byte binding limit`);
  return perChunk;
}

/** A storage buffer holding 4-byte values (f32 or u32 words), padded to 16 bytes. */
function storage(device: GPUDevice, pool: BufferPool, name: string, values: Float32Array | Uint32Array): GPUBuffer {
  const buffer = pool.create(name, Math.max(16, Math.ceil(values.byteLength / 16) * 16), USAGE.STORAGE | USAGE.COPY_DST);
  if (values.length > 0) device.queue.writeBuffer(buffer, 0, values as ArrayBufferView<ArrayBuffer>);
  return buffer;
}

/** A storage buffer holding f16 values two per u32 word, padded to 16 bytes. */
function halves(device: GPUDevice, pool: BufferPool, name: string, values: Uint16Array): GPUBuffer {
  const buffer = pool.create(name, Math.max(16, Math.ceil(values.byteLength / 16) * 16), USAGE.STORAGE | USAGE.COPY_DST);
  // writeBuffer takes whole words: an odd last f16 goes in its own padded word.
  const even = values.length - (values.length % 2);
  if (even > 0) device.queue.writeBuffer(buffer, 0, values as ArrayBufferView<ArrayBuffer>, 0, even);
  if (even < values.length) device.queue.writeBuffer(buffer, even * 2, Uint16Array.of(values[even], 0));
  return buffer;
}

const toF16 = (v: Uint16Array | Float32Array) => (v instanceof Uint16Array ? v : f32ArrayToF16(v));
const toF32 = (v: Uint16Array | Float32Array) => (v instanceof Float32Array ? v : f16ArrayToF32(v));
