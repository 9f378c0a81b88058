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
import { checkQuantized, groupsPerRow, type QuantizedMatrix, wordsPerRow } from "../../weights/quantize.js";
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
