// NumPy's .npz format: a zip archive holding one .npy file per array (np.savez
// stores them, np.savez_compressed deflates them). PaliGemma's mask decoder ships
// this way (vae-oid.npz). Only Web-standard APIs are used: entries are located
// through the zip's central directory (numpy writes zip64 records, which are
// honoured), and deflated ones are inflated with DecompressionStream("deflate-raw").
import { WeightsError } from "../errors.js";
import { f16ToF32 } from "./f16.js";

export interface NpyTensor {
  /** NumPy's type string as stored, e.g. "<f4". */
  dtype: string;
  shape: number[];
  /** Floating-point arrays are read into f32, integer arrays into i32. */
  data: Float32Array | Int32Array;
}

export interface ReadNpzOptions {
  /** Named in error messages. */
  file?: string;
  /** Which arrays (by name, without ".npy") to read; the rest are not inflated. Default: all. */
  want?(name: string): boolean;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END = 0x06064b50;
const ZIP64_EXTRA = 0x0001;
const STORED = 0;
const DEFLATED = 8;

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Reads the arrays of a .npz file by name. */
export async function readNpz(bytes: Uint8Array | ArrayBuffer, opts: ReadNpzOptions = {}): Promise<Map<string, NpyTensor>> {
  const file = opts.file ?? "the .npz file";
  const zip = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const out = new Map<string, NpyTensor>();
  for (const entry of centralDirectory(zip, file)) {
    if (!entry.name.endsWith(".npy")) continue;
    const name = entry.name.slice(0, -".npy".length);
    if (opts.want && !opts.want(name)) continue;
    out.set(name, parseNpy(await entryBytes(zip, entry, file), `${file}: ${entry.name}`));
  }
  return out;
}

function centralDirectory(zip: Uint8Array, file: string): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const inside = (at: number, n: number) => at >= 0 && at + n <= zip.length;

  // The end record is the last 22 bytes, unless a trailing comment (≤ 65535 bytes) follows it.
  let end = -1;
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (u32(at) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new WeightsError(`${file} is not a zip archive (no end-of-central-directory record); an .npz is one`);
  let count = u16(end + 10);
  let offset = u32(end + 16);
  if ((count === 0xffff || offset === 0xffffffff) && inside(end - 20, 20) && u32(end - 20) === ZIP64_LOCATOR) {
    const end64 = u64(end - 20 + 8);
    if (!inside(end64, 56) || u32(end64) !== ZIP64_END) throw new WeightsError(`${file}: its zip64 end record is corrupt`);
    count = u64(end64 + 32);
    offset = u64(end64 + 48);
  }

  const entries: ZipEntry[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (!inside(at, 46) || u32(at) !== CENTRAL_HEADER) {
      throw new WeightsError(`${file}: the zip central directory is truncated or corrupt at entry ${i} of ${count}`);
    }
    const flags = u16(at + 8);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    if (!inside(at + 46, nameLength + extraLength)) throw new WeightsError(`${file}: zip entry ${i} runs past the end of the file`);
    const name = new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLength));
    if (flags & 1) throw new WeightsError(`${file}: ${name} is encrypted`);
    const entry: ZipEntry = {
      name,
      method: u16(at + 10),
      compressedSize: u32(at + 20),
      size: u32(at + 24),
      localHeaderOffset: u32(at + 42),
    };
    // Fields that overflowed 32 bits are 0xffffffff here and follow, in this order, in the zip64 extra field.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; x += 4 + u16(x + 2)) {
      if (u16(x) !== ZIP64_EXTRA) continue;
      let field = x + 4;
      for (const key of ["size", "compressedSize", "localHeaderOffset"] as const) {
        if (entry[key] === 0xffffffff) {
          entry[key] = u64(field);
          field += 8;
        }
      }
    }
    entries.push(entry);
    at += 46 + nameLength + extraLength + u16(at + 32);
  }
  return entries;
}

async function entryBytes(zip: Uint8Array, e: ZipEntry, file: string): Promise<Uint8Array> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const at = e.localHeaderOffset;
  if (at + 30 > zip.length || view.getUint32(at, true) !== LOCAL_HEADER) {
    throw new WeightsError(`${file}: the local header of ${e.name} is missing or corrupt`);
  }
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + e.compressedSize > zip.length) {
    throw new WeightsError(`${file} is truncated: ${e.name} needs bytes up to ${start + e.compressedSize}, the file has ${zip.length}`);
  }
  const raw = zip.subarray(start, start + e.compressedSize);
  let data: Uint8Array;
  if (e.method === STORED) {
    data = raw;
  } else if (e.method === DEFLATED) {
    try {
      // Blob copies the bytes, so a view into any buffer will do (the cast only satisfies BlobPart's typing).
      const inflated = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      data = new Uint8Array(await new Response(inflated).arrayBuffer());
    } catch (err) {
      throw new WeightsError(`${file}: ${e.name} does not inflate (${(err as Error).message})`);
    }
  } else {
    throw new WeightsError(`${file}: ${e.name} uses zip compression method ${e.method}; only stored (0) and deflated (8) are supported`);
  }
  if (data.length !== e.size) throw new WeightsError(`${file}: ${e.name} holds ${data.length} bytes, its zip entry says ${e.size}`);
  return data;
}

/** Bytes per element of each supported type, without its byte-order character. */
const ITEM_BYTES: Record<string, number> = { f2: 2, f4: 4, f8: 8, i4: 4, i8: 8, u1: 1 };

/**
 * One .npy file: the magic "\x93NUMPY", a version, a header length (2 bytes in
 * version 1, 4 in versions 2 and 3), a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (128, 512), }, then the data.
 */
export function parseNpy(npy: Uint8Array, what: string): NpyTensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (npy.length < 10 || magic.some((b, i) => npy[i] !== b)) throw new WeightsError(`${what} is not a .npy file`);
  const view = new DataView(npy.buffer, npy.byteOffset, npy.byteLength);
  const major = npy[6];
  if (major < 1 || major > 3) throw new WeightsError(`${what}: .npy version ${major} is not supported (1, 2 or 3 are)`);
  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (dataStart > npy.length) throw new WeightsError(`${what}: truncated inside the .npy header`);
  const header = new TextDecoder().decode(npy.subarray(headerStart, dataStart));

  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new WeightsError(`${what}: the .npy header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`);
  }
  if (fortran === "True") {
    throw new WeightsError(`${what} is stored in Fortran (column-major) order; save it with np.ascontiguousarray first`);
  }
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new WeightsError(`${what}: invalid shape (${shapeText})`);

  const order = descr[0];
  const type = descr.slice(1);
  const itemBytes = ITEM_BYTES[type];
  if (!itemBytes || order === ">" || (order === "|" && itemBytes !== 1) || !"<|".includes(order)) {
    throw new WeightsError(
      `${what} has dtype ${descr}; supported are little-endian float32/float16/float64/int32/int64 and uint8 (<f4 <f2 <f8 <i4 <i8 |u1)`,
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (npy.length - dataStart !== count * itemBytes) {
    throw new WeightsError(`${what}: shape (${shape}) of ${descr} needs ${count * itemBytes} bytes of data, the file has ${npy.length - dataStart}`);
  }
  // A copy (new Uint8Array(view) always copies; Node's Buffer.slice would not): the data
  // sits at an arbitrary offset inside the archive, and typed arrays need alignment.
  const buffer = new Uint8Array(npy.subarray(dataStart)).buffer;
  return { dtype: descr, shape, data: convert(type, buffer, count, what) };
}

function convert(type: string, buffer: ArrayBuffer, count: number, what: string): Float32Array | Int32Array {
  switch (type) {
    case "f4":
      return new Float32Array(buffer);
    case "f8":
      return Float32Array.from(new Float64Array(buffer));
    case "f2":
      return Float32Array.from(new Uint16Array(buffer), f16ToF32);
    case "i4":
      return new Int32Array(buffer);
    case "u1":
      return Int32Array.from(new Uint8Array(buffer));
    case "i8": {
      const wide = new BigInt64Array(buffer);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        if (wide[i] < -0x80000000n || wide[i] > 0x7fffffffn) throw new WeightsError(`${what}: int64 value ${wide[i]} at ${i} does not fit in int32`);
        out[i] = Number(wide[i]);
      }
      return out;
    }
  }
  throw new Error(`unreachable: dtype ${type}`);
}
