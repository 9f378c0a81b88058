// The safetensors format, read as a stream: 8-byte little-endian header length, a
// JSON header { name: { dtype, shape, data_offsets: [begin, end] } }, then the
// tensor bytes. Tensors are handed out one at a time in file order, so a checkpoint
// is never held in memory whole, and every lie a header can tell (overlapping or
// out-of-range offsets, sizes that don't match shape × dtype, a truncated file) is an
// error naming the tensor.
import { WeightsError } from "../errors.js";
import { bf16ToF32, f16ArrayToF32, f32ToF16 } from "./f16.js";

export type DType = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8" | "I8" | "F64" | "BOOL" | "I16" | "U16" | "U32" | "U64";

const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, U8: 1, I8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte range within the data section (after the header). */
  begin: number;
  end: number;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Reads exactly the bytes asked for from a stream, copying into fresh, aligned buffers. */
class StreamReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** Bytes consumed so far. */
  position = 0;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Returns `n` bytes, or as many as the stream had left (fewer means it ended). */
  async read(n: number, keep = true): Promise<Uint8Array> {
    const out = keep ? new Uint8Array(n) : null;
    let filled = 0;
    while (filled < n) {
      if (this.at === this.chunk.length) {
        const { value, done } = await this.reader.read();
        if (done) break;
        this.chunk = value;
        this.at = 0;
        continue;
      }
      const take = Math.min(n - filled, this.chunk.length - this.at);
      out?.set(this.chunk.subarray(this.at, this.at + take), filled);
      this.at += take;
      filled += take;
    }
    this.position += filled;
    return out ? out.subarray(0, filled) : new Uint8Array(filled);
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

export function parseHeader(json: unknown, file: string, dataBytes?: number): TensorInfo[] {
  if (typeof json !== "object" || json === null) throw new WeightsError(`${file}: the header is not a JSON object`);
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bytes = DTYPE_BYTES[e.dtype as DType];
    if (!bytes) throw new WeightsError(`${file}: tensor ${name} has unknown dtype ${JSON.stringify(e.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new WeightsError(`${file}: tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) {
      throw new WeightsError(`${file}: tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const numel = shape.reduce((a: number, b: number) => a * b, 1);
    if (off[1] - off[0] !== numel * bytes) {
      throw new WeightsError(
        `${file}: tensor ${name} [${shape}] ${e.dtype} needs ${numel * bytes} bytes but its data_offsets span ${off[1] - off[0]}`,
      );
    }
    if (dataBytes !== undefined && off[1] > dataBytes) {
      throw new WeightsError(`${file}: tensor ${name} ends at byte ${off[1]} of the data section, which has only ${dataBytes}`);
    }
    tensors.push({ name, dtype: e.dtype as DType, shape, begin: off[0], end: off[1] });
  }
  tensors.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < tensors.length; i++) {
    if (tensors[i].begin < tensors[i - 1].end) {
      throw new WeightsError(`${file}: tensors ${tensors[i - 1].name} and ${tensors[i].name} overlap`);
    }
  }
  return tensors;
}

export interface ReadHandlers {
  /** Called once with every tensor's info before any data. */
  onHeader?(tensors: TensorInfo[]): void | Promise<void>;
  /** Whether the data of this tensor is wanted; skipped tensors are not kept in memory. */
  want(info: TensorInfo): boolean;
  onTensor(info: TensorInfo, bytes: Uint8Array): void | Promise<void>;
}

/**
 * Streams a .safetensors file. `size` (when known) lets the header be checked
 * against the file before any tensor is read.
 */
export async function readSafetensors(
  stream: ReadableStream<Uint8Array>,
  file: string,
  handlers: ReadHandlers,
  opts: { size?: number } = {},
): Promise<void> {
  const r = new StreamReader(stream.getReader());
  try {
    const lenBytes = await r.read(8);
    if (lenBytes.length < 8) throw new WeightsError(`${file}: ${lenBytes.length} bytes is too short for a safetensors file`);
    const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (headerLen > MAX_HEADER_BYTES || (opts.size !== undefined && 8 + headerLen > opts.size)) {
      throw new WeightsError(`${file}: header length ${headerLen} is impossible for a file of ${opts.size ?? "unknown"} bytes`);
    }
    const headerBytes = await r.read(headerLen);
    if (headerBytes.length < headerLen) throw new WeightsError(`${file}: truncated inside the header`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(headerBytes));
    } catch (e) {
      throw new WeightsError(`${file}: the header is not valid JSON (${(e as Error).message})`);
    }
    const dataBytes = opts.size === undefined ? undefined : opts.size - 8 - headerLen;
    const tensors = parseHeader(json, file, dataBytes);
    await handlers.onHeader?.(tensors);
    let at = 0;
    for (const t of tensors) {
      if (t.begin > at) await r.read(t.begin - at, false);
      const keep = handlers.want(t);
      const bytes = await r.read(t.end - t.begin, keep);
      if (bytes.length < t.end - t.begin) {
        throw new WeightsError(
          `${file} is truncated: tensor ${t.name} needs bytes [${t.begin}, ${t.end}) of the data section, but the file ends at ${t.begin + bytes.length}`,
        );
      }
      at = t.end;
      if (keep) await handlers.onTensor(t, bytes);
    }
  } catch (e) {
    await r.cancel().catch(() => {});
    throw e;
  }
}

/**
 * Converts a floating-point tensor's bytes to f16 bits, reusing the input buffer for
 * 16-bit dtypes (bf16 is rewritten in place: the checkpoint's bytes are not kept twice).
 */
export function toF16Bits(dtype: DType, bytes: Uint8Array, name: string): Uint16Array {
  switch (dtype) {
    case "F16":
      return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    case "BF16": {
      const h = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
      for (let i = 0; i < h.length; i++) {
        const b = h[i];
        const e = ((b >>> 7) & 0xff) - 127 + 15;
        // Normal f16 range: rebias the exponent and widen the mantissa, exactly.
        h[i] = e > 0 && e < 31 ? (b & 0x8000) | (e << 10) | ((b & 0x7f) << 3) : f32ToF16(bf16ToF32(b));
      }
      return h;
    }
    case "F32": {
      const f = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const h = new Uint16Array(f.length);
      for (let i = 0; i < f.length; i++) h[i] = f32ToF16(f[i]);
      return h;
    }
    default:
      throw new WeightsError(`tensor ${name} has dtype ${dtype}; weights must be F32, F16 or BF16`);
  }
}

/** Elements [start, start + count) of a floating-point tensor's bytes as f32, exactly. */
export function toF32(dtype: DType, bytes: Uint8Array, start: number, count: number, name: string): Float32Array {
  const width = dtype === "F32" ? 4 : 2;
  const begin = bytes.byteOffset + start * width;
  if ((start + count) * width > bytes.byteLength) throw new Error(`toF32: ${name} has no elements [${start}, ${start + count})`);
  // Typed views need aligned offsets; a tensor at an odd offset is copied first.
  const buffer = begin % width === 0 ? bytes.buffer : bytes.slice(start * width, (start + count) * width).buffer;
  const at = begin % width === 0 ? begin : 0;
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer, at, count);
    case "F16":
      return f16ArrayToF32(new Uint16Array(buffer, at, count));
    case "BF16": {
      const h = new Uint16Array(buffer, at, count);
      const u = new Uint32Array(count);
      for (let i = 0; i < count; i++) u[i] = h[i] << 16; // bf16 is the top half of an f32
      return new Float32Array(u.buffer);
    }
    default:
      throw new WeightsError(`tensor ${name} has dtype ${dtype}; weights must be F32, F16 or BF16`);
  }
}

/**
 * The start of a safetensors file holding `tensors` in this order, back to back: the
 * header length, then the JSON header padded with spaces to a multiple of 8 bytes.
 */
export function encodeHeader(tensors: { name: string; dtype: DType; shape: number[]; bytes: number }[]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.bytes] };
    at += t.bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + length).fill(0x20, 8); // spaces: the padding the format allows
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(json, 8);
  return out;
}
