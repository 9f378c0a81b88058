// Weights on the GPU: f16, packed two per u32 (element e is half e & 1 of word e >> 1,
// which is simply the little-endian bytes of the f16 array), so no shader-f16 feature is
// needed; or, when uploaded with precision "f32" (embed and the convs take those), one
// f32 per u32 word, read with bitcast. A weight larger than one storage binding (browsers
// bind 128 MiB by default; Gemma's embedding is 1 GiB) is split into row chunks, each its
// own buffer, and the ops that take big weights (linear, embed) dispatch once per chunk.
import { firstNonFinite, nonFiniteWeightError, type Weight, type WeightPrecision, weightLength } from "../backend.js";
import { f16ArrayToF32, f32ArrayToF16 } from "../../weights/f16.js";
import { type BufferPool, USAGE } from "./buffers.js";

export interface WeightChunk {
  buffer: GPUBuffer;
  /** First row of the weight in this chunk, and how many rows it holds. */
  row0: number;
  rows: number;
}

export class GPUWeight implements Weight {
  constructor(
    readonly label: string,
    readonly shape: readonly number[],
    /** Leading dimension (out features, table rows); a 1-D weight is one row. */
    readonly rows: number,
    /** Elements per row: the product of the remaining dimensions. */
    readonly rowLength: number,
    readonly chunks: readonly WeightChunk[],
    readonly precision: "f16" | "f32",
  ) {}

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
  let perChunk = Math.floor(maxBindingBytes / (bytesPerValue * rowLength));
  // f16 with an odd row length: odd rows start mid-word, so chunks start on even rows.
  if (precision === "f16" && rowLength % 2 === 1 && perChunk < rows) perChunk -= perChunk % 2;
  if (perChunk < 1) throw new Error(`${label}: one row of ${rowLength} values exceeds the ${maxBindingBytes}-byte binding limit`);
  const chunks: WeightChunk[] = [];
  for (let row0 = 0; row0 < rows || chunks.length === 0; row0 += perChunk) {
    const n = Math.min(perChunk, rows - row0);
    const part = data.subarray(row0 * rowLength, (row0 + n) * rowLength);
    const name = perChunk < rows ? `${label}[${row0}:${row0 + n}]` : label;
    const values = precision === "f32" ? toF32(part) : toF16(part);
    const buffer = pool.create(name, Math.max(16, Math.ceil((values.length * bytesPerValue) / 16) * 16), USAGE.STORAGE | USAGE.COPY_DST);
    // writeBuffer takes whole words: an odd last f16 goes in its own padded word.
    const even = values.length - (values.length % (4 / bytesPerValue));
    if (even > 0) device.queue.writeBuffer(buffer, 0, values as ArrayBufferView<ArrayBuffer>, 0, even);
    if (even < values.length) device.queue.writeBuffer(buffer, even * 2, Uint16Array.of(values[even], 0));
    chunks.push({ buffer, row0, rows: n });
  }
  return new GPUWeight(label, shape, rows, rowLength, chunks, precision);
}

const toF16 = (v: Uint16Array | Float32Array) => (v instanceof Uint16Array ? v : f32ArrayToF16(v));
const toF32 = (v: Uint16Array | Float32Array) => (v instanceof Float32Array ? v : f16ArrayToF32(v));
