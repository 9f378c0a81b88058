// Node entry: the portable core plus what Node does differently.
// - .wasm files (ours and the image codecs') are read from disk (Node's fetch has no file: URLs).
// - A model source that is a folder path is read with node:fs, streamed (fs-folder.ts).
// - WebGPU comes from the optional `webgpu` package (Dawn); without it "auto" runs on WASM.
// - Hub downloads are cached in a folder; HF_TOKEN comes from the environment.
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import "../image/node-codecs.js";
import { setGPUProvider } from "../backends/webgpu/device.js";
import { setWasmFetcher, wasmUrl } from "../wasm/load.js";
import { setPathOpener } from "../weights/files.js";
import { setHubRuntime } from "../weights/hub.js";
import { folderCache } from "./fs-cache.js";
import { folderFiles } from "./fs-folder.js";

setWasmFetcher(async (name) => {
  const bytes = await readFile(wasmUrl(name));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
});

setPathOpener(
  folderFiles,
  (path) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false,
);

setHubRuntime({ folderCache, env: (name) => process.env[name] });

// Kept referenced for the life of the process: Dawn aborts the process when the GPU
// object is garbage-collected while devices made from it are still in use. One promise,
// so concurrent first loads share one GPU: two Dawn instances at once abort the process.
let gpu: Promise<GPU | undefined> | undefined;
setGPUProvider(() => {
  gpu ??= import("webgpu")
    .then(({ create, globals }) => {
      Object.assign(globalThis, globals);
      return create([]);
    })
    .catch(() => undefined); // the optional package is not installed
  return gpu;
});

export * from "../index.js";
export { quantize, type QuantizeOptions, type QuantizeResult } from "./quantize.js";
