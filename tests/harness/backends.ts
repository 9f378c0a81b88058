// Every backend under test, so one test body runs on each (see tests/kernels/ops.test.ts).
// The plain-TS reference backend (tests/reference/backend.ts) is the ground truth they
// are compared against; it is not listed here.
import type { Backend } from "../../src/backends/backend.js";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { createWebGPUBackend } from "../../src/backends/webgpu/backend.js";
import { testDevice } from "./webgpu.js";

export interface BackendFactory {
  name: string;
  create(): Promise<Backend>;
}

export const backends: BackendFactory[] = [
  { name: "wasm", create: () => createWasmBackend() },
  { name: "webgpu", create: async () => createWebGPUBackend(await testDevice()) },
];
