// Reading test fixtures: golden tensors from .safetensors files, and model folders
// as the map-of-files source any runtime accepts.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseHeader } from "../../src/weights/safetensors.js";

export const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

export interface Tensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export function readTensors(path: string): Map<string, Tensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const start = 8 + n;
  const out = new Map<string, Tensor>();
  for (const t of parseHeader(JSON.parse(buf.subarray(8, start).toString("utf8")), path)) {
    const bytes = buf.buffer.slice(buf.byteOffset + start + t.begin, buf.byteOffset + start + t.end);
    const data =
      t.dtype === "F32" ? new Float32Array(bytes) : t.dtype === "I32" ? new Int32Array(bytes) : new Uint8Array(bytes);
    out.set(t.name, { shape: t.shape, data });
  }
  return out;
}

/** Every file of a fixture folder as name -> bytes (the map-of-files model source). */
export function folderFiles(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) files[name] = new Uint8Array(readFileSync(join(dir, name)));
  return files;
}
