// Node entry: the portable core plus what Node does differently.
// - .wasm files (ours and the image codecs') are read from disk (Node's fetch has no file: URLs).
// - A model source that is a folder path is read with node:fs, streamed.
// - WebGPU comes from the optional `webgpu` package (Dawn); without it "auto" runs on WASM.
// - Hub downloads are cached in a folder; HF_TOKEN comes from the environment.
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import "../image/node-codecs.js";
import { setGPUProvider } from "../backends/webgpu/device.js";
import { setWasmFetcher, wasmUrl } from "../wasm/load.js";
import { setPathOpener } from "../weights/files.js";
import { setHubRuntime } from "../weights/hub.js";
import { setLocalImageReader } from "../image/input.js";
import { setWorkerSpawner, type WorkerLike } from "../worker/engine.js";
import { folderCache, localFile } from "./fs-cache.js";

setWasmFetcher(async (name) => {
  const bytes = await readFile(wasmUrl(name));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
});

setPathOpener(
  (folder) => {
    const path = typeof folder === "string" ? folder : fileURLToPath(folder);
    return { where: path, open: (name) => localFile(join(path, name)) };
  },
  (path) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false,
);

setLocalImageReader(async (path) => new Uint8Array(await readFile(path)));

// Worker engines run in a worker thread, which keeps the process alive only while a call is pending.
setWorkerSpawner(() => {
  // Node's flags, less the one meant for `node -e` code, which a worker's script file refuses.
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--input-type"));
  const worker = new Worker(new URL("./node-worker.js", import.meta.url), { execArgv });
  return { worker: worker as unknown as WorkerLike, hold: (pending) => (pending ? worker.ref() : worker.unref()) };
});

setHubRuntime({ folderCache, env: (name) => process.env[name] });

// Kept referenced for the life of the process: Dawn aborts the process when the GPU
// object is garbage-collected while devices made from it are still in use.
let gpu: GPU | undefined;
setGPUProvider(async () => {
  if (!gpu) {
    try {
      const { create, globals } = await import("webgpu");
      Object.assign(globalThis, globals);
      gpu = create([]);
    } catch {
      return undefined; // the optional package is not installed
    }
  }
  return gpu;
});

export * from "../index.js";
export { quantize, type QuantizeOptions, type QuantizeResult } from "./quantize.js";
