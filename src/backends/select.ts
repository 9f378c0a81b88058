// Picks the backend for `device`: "webgpu" needs an adapter, "wasm" always works,
// "auto" prefers WebGPU on a hardware adapter and falls back to WASM when there is none
// (workerd, most servers, older browsers) or the only one renders on the CPU. Backends are imported on demand, so a bundle that
// only ever runs one of them does not load the other's code at start.
import { PaliGemmaError } from "../errors.js";
import type { GPUSource } from "../web-types.js";
import type { Backend } from "./backend.js";

export type DeviceOption = "webgpu" | "wasm" | "auto";

export class NoWebGPUError extends PaliGemmaError {
  override readonly name: string = "NoWebGPUError";
  constructor() {
    super(
      "NO_WEBGPU",
      'no WebGPU adapter is available here; use device: "wasm" (or "auto" to fall back), or in Node install the optional `webgpu` package',
    );
  }
}

/** Which backend runs the model, on what, and why: what a caller can print or log. */
export interface BackendInfo {
  /** "webgpu", "wasm", or the name of a backend the caller passed. */
  name: string;
  /** The WebGPU adapter, as it describes itself (webgpu only). */
  adapter?: string;
  /** Threads the ops run on (wasm only), and why fewer than asked, if so. */
  threads?: number;
  threadNote?: string;
  /** The kernels' build (wasm only): cpu, cpu-mt (threads), cpu-relaxed, cpu-mt-relaxed (relaxed SIMD). */
  build?: string;
  reason: string;
}

/** What a backend says of itself, for its BackendInfo. */
export function backendDetails(b: Backend): Pick<BackendInfo, "threads" | "threadNote" | "build"> {
  return { ...(b.threads && { threads: b.threads }), ...(b.threadNote && { threadNote: b.threadNote }), ...(b.build && { build: b.build }) };
}

/** Options of the WASM backend that selection passes on. */
export interface WasmSelectOptions {
  /** Threads for the WASM backend: 1 (default), up to 8, or "auto" (the machine's cores, at most 8). */
  threads?: number | "auto";
}

export async function createBackend(device: DeviceOption, gpu?: GPUSource, wasm: WasmSelectOptions = {}): Promise<Backend> {
  return (await selectBackend(device, gpu, wasm)).backend;
}

/**
 * The backend for `device` and why it was chosen. "auto" never picks a software adapter
 * (SwiftShader, llvmpipe: WebGPU on the CPU is far slower than WASM); "webgpu" takes
 * whatever adapter there is.
 */
export async function selectBackend(
  device: DeviceOption, gpu?: GPUSource, wasm: WasmSelectOptions = {},
): Promise<{ backend: Backend; info: BackendInfo }> {
  if (device !== "webgpu" && device !== "wasm" && device !== "auto") {
    throw new PaliGemmaError("INVALID_INPUT", `device must be "webgpu", "wasm" or "auto", got ${JSON.stringify(device)}`);
  }
  let reason = 'device: "wasm" was asked for';
  if (device !== "wasm") {
    const { adapterName, deviceFor, isSoftwareAdapter, requestWebGPUAdapter } = await import("./webgpu/device.js");
    // The public type is structural (no DOM or @webgpu/types needed): the object is the real thing.
    const adapter = await requestWebGPUAdapter(gpu as GPU | GPUAdapter | GPUDevice | undefined);
    if (adapter && (device === "webgpu" || !isSoftwareAdapter(adapter))) {
      const gpuDevice = await deviceFor(adapter);
      const { createWebGPUBackend } = await import("./webgpu/backend.js");
      // A device the caller passed may be shared; one requested here is the backend's own.
      const backend = createWebGPUBackend(gpuDevice, { ownsDevice: gpuDevice !== gpu });
      const why = device === "webgpu" ? 'device: "webgpu" was asked for' : 'device: "auto" found a hardware WebGPU adapter';
      return { backend, info: { name: "webgpu", adapter: adapterName(adapter), reason: why } };
    }
    if (device === "webgpu") throw new NoWebGPUError();
    reason = adapter
      ? `device: "auto" skipped the WebGPU adapter it was offered, ${adapterName(adapter)}: it renders on the CPU, where WASM is faster (device: "webgpu" uses it anyway)`
      : 'device: "auto" found no WebGPU adapter';
  }
  const { createWasmBackend } = await import("./wasm/backend.js");
  const backend = await createWasmBackend({ threads: wasm.threads });
  return { backend, info: { name: "wasm", ...backendDetails(backend), reason } };
}
