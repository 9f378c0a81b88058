// Issue 16, item 7: dispose() while a generation runs ends it with a DisposedError
// (DISPOSED), not the DEVICE_LOST "running out of GPU memory" that destroying the device
// used to surface, on a device the backend made and on one the caller passed; on the
// threaded WASM backend it also ends the worker threads. Each runs in a child process.
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { DEMO, reportOf, runChild } from "./child.js";

const SHAPES = resolve("examples/assets/shapes.png");
const WEBGPU = resolve("node_modules/webgpu/index.js");

// `stopTokens: []` keeps every row generating for all maxNewTokens steps, so dispose() lands mid-way.
const body = `const { readFileSync } = await import("node:fs");
const image = new Uint8Array(readFileSync(args.image));
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
let gpu;
if (args.callerDevice) {
  const { create, globals } = await import(args.webgpu);
  Object.assign(globalThis, globals);
  // Dawn aborts the process when the GPU object that made a device is garbage-collected.
  globalThis.callerGpu = create([]);
  gpu = await (await globalThis.callerGpu.requestAdapter()).requestDevice();
}
const before = threads();
const m = await pg.PaliGemma.load(args.model, { device: args.device, threads: args.threads, gpu });
const during = threads();
let steps = 0;
let error;
try {
  for await (const _ of m.stream(image, "caption en", { maxNewTokens: 40, stopTokens: [] })) {
    // WebGPU: from another task while a step is on the GPU; WASM steps run to completion, so between two.
    if (++steps === 3) args.device === "webgpu" ? setTimeout(() => m.dispose(), 0) : m.dispose();
  }
} catch (e) {
  error = { name: e.name, code: e.code, message: e.message };
}
// Workers end asynchronously after terminate(): wait (bounded) for their threads to go.
for (let i = 0; i < 100 && threads() > before; i++) await new Promise((r) => setTimeout(r, 20));
return { steps, error, threads: { before, during, after: threads() }, backend: m.model.backend.name };`;

interface Result {
  steps: number;
  error?: { name: string; code: string; message: string };
  threads: { before: number; during: number; after: number };
  backend: string;
}

const run = async (args: Record<string, unknown>) =>
  (await reportOf(runChild(body, { args: { model: DEMO, image: SHAPES, webgpu: WEBGPU, ...args }, timeoutMs: 90_000, maxHeapMiB: 1024 })))
    .value as Result;

describe("dispose() during a generation", () => {
  test.each([
    ["its own device", false],
    ["the caller's device", true],
  ])("WebGPU on %s: DISPOSED, not DEVICE_LOST", async (_what, callerDevice) => {
    const r = await run({ device: "webgpu", callerDevice });
    expect(r.backend).toBe("webgpu");
    expect(r.steps).toBeGreaterThanOrEqual(3);
    expect(r.steps).toBeLessThan(40);
    expect(r.error).toEqual({
      name: "DisposedError",
      code: "DISPOSED",
      message: "the model was disposed during a GPU computation: dispose() ends the calls in flight",
    });
  });

  test("WASM with 4 threads: DISPOSED, and its 3 worker threads end", async () => {
    const r = await run({ device: "wasm", threads: 4 });
    expect(r.backend).toBe("wasm");
    expect(r.steps).toBe(3);
    expect(r.error).toEqual({ name: "DisposedError", code: "DISPOSED", message: "the model was used after dispose()" });
    // Each worker is one OS thread (Node's workers share the process's V8 platform threads).
    expect(r.threads.during - r.threads.before).toBe(3);
    expect(r.threads.after).toBe(r.threads.before);
  });
});
