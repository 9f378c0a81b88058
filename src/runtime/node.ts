// Node entry: the portable core plus what Node does differently.
// - .wasm files (ours and the image codecs') are read from disk (Node's fetch has no file: URLs).
// - A model source that is a folder path is read with node:fs, streamed (fs-folder.ts).
// - WebGPU comes from the optional `webgpu` package (Dawn); without it "auto" runs on WASM.
// - Hub downloads are cached in a folder; HF_TOKEN comes from the environment.
// - The WASM backend's threads are worker_threads.
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import "../image/node-codecs.js";
import { setGPUProvider } from "../backends/webgpu/device.js";
import { availableParallelism, tmpdir } from "node:os";
import { setThreadSpawner } from "../backends/wasm/threads.js";
import { setWasmFetcher, wasmUrl } from "../wasm/load.js";
import { setPathOpener } from "../weights/files.js";
import { setHubRuntime } from "../weights/hub.js";
import { setSha256Provider } from "../weights/sha256.js";
import { setLocalImageReader } from "../image/input.js";
import { setWorkerSpawner, type WorkerLike } from "../worker/engine.js";
import { folderCache } from "./fs-cache.js";
import { folderFiles } from "./fs-folder.js";

setWasmFetcher(async (name) => {
  const bytes = await readFile(wasmUrl(name));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
});

// The WASM backend's threads: worker_threads, unref'd once started so an idle pool never keeps the process alive.
setThreadSpawner((body) => {
  const w = new Worker(
    // import(), not require: eval code is a module when the parent runs with --input-type=module.
    `import("node:worker_threads").then(({ parentPort }) => {
  const port = { on: (f) => parentPort.on("message", f), post: (m) => parentPort.postMessage(m), close: () => parentPort.close() };
  (${body})(port);
});`,
    { eval: true },
  );
  return {
    post: (m) => w.postMessage(m),
    onMessage: (f) => w.on("message", f),
    onExit: (f) => {
      w.on("error", (e) => f(String(e)));
      w.on("exit", (code) => f(`exit code ${code}`));
    },
    unref: () => w.unref(),
    terminate: () => void w.terminate(),
  };
}, availableParallelism);

setPathOpener(
  (folder) => folderFiles(typeof folder === "string" ? folder : fileURLToPath(folder)),
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

// Downloads are checked with node:crypto's SHA-256 (~1.5 GB/s; the portable one does ~170 MB/s).
setSha256Provider(() => {
  const hash = createHash("sha256");
  return { update: (bytes) => hash.update(bytes), hex: () => hash.digest("hex") };
});

// Kept referenced for the life of the process: Dawn aborts the process when the GPU
// object is garbage-collected while devices made from it are still in use. One promise,
// so concurrent first loads share one GPU: two Dawn instances at once abort the process.
let gpu: Promise<GPU | undefined> | undefined;
setGPUProvider(() => {
  gpu ??= import("webgpu")
    .then(async ({ create, globals }) => {
      Object.assign(globalThis, globals);
      const instance = create([]);
      await withRuntimeDir(() => instance.requestAdapter());
      return instance;
    })
    .catch(() => undefined); // the optional package is not installed
  return gpu;
});

/**
 * Runs Dawn's first adapter request, when it enumerates the Vulkan drivers once for the
 * process, with XDG_RUNTIME_DIR set: each driver's Wayland support prints "error:
 * XDG_RUNTIME_DIR is invalid or not set" when it is not an absolute path (servers,
 * containers, CI), though nothing here needs a display. Any absolute path silences
 * it; the variable is restored afterwards, so child processes see the user's own.
 */
async function withRuntimeDir<T>(probe: () => Promise<T>): Promise<T> {
  const own = process.env.XDG_RUNTIME_DIR;
  if (own?.startsWith("/")) return probe();
  process.env.XDG_RUNTIME_DIR = tmpdir();
  try {
    return await probe();
  } finally {
    if (own === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = own;
  }
}

export * from "../index.js";
export { quantize, type QuantizeOptions, type QuantizeResult } from "./quantize.js";
