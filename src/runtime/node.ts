// Node entry: the portable core plus what Node does differently.
// - .wasm files are read from disk (Node's fetch has no file: URLs).
import { readFile } from "node:fs/promises";
import { setWasmFetcher } from "../wasm/load.js";

setWasmFetcher(async (_name, url) => {
  const bytes = await readFile(url);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
});

export * from "../index.js";
