// Picks the backend for `device`: "webgpu" needs an adapter, "wasm" always works,
// "auto" prefers WebGPU and falls back to WASM when no adapter exists (workerd,
// most servers, older browsers). Backends are imported on demand, so a bundle that
// only ever runs one of them does not load the other's code at start.
import { PaliGemmaError } from "../errors.js";
import type { Backend } from "./backend.js";

export type DeviceOption = "webgpu" | "wasm" | "auto";

export class NoWebGPUError extends PaliGemmaError {
  constructor() {
    super(
      "NO_WEBGPU",
      'no WebGPU adapter is available here; use device: "wasm" (or "auto" to fall back), or in Node install the optional `webgpu` package',
    );
  }
}

export async function createBackend(
  device: DeviceOption, gpu?: GPU | GPUAdapter | GPUDevice, wasm: { threads?: number | "auto" } = {},
): Promise<Backend> {
  if (device !== "webgpu" && device !== "wasm" && device !== "auto") {
    throw new PaliGemmaError("INVALID_INPUT", `device must be "webgpu", "wasm" or "auto", got ${JSON.stringify(device)}`);
  }
  if (device !== "wasm") {
    const { requestWebGPUDevice } = await import("./webgpu/device.js");
    const gpuDevice = await requestWebGPUDevice(gpu);
    if (gpuDevice) {
      const { createWebGPUBackend } = await import("./webgpu/backend.js");
      // A device the caller passed may be shared; one requested here is the backend's own.
      return createWebGPUBackend(gpuDevice, { ownsDevice: gpuDevice !== gpu });
    }
    if (device === "webgpu") throw new NoWebGPUError();
  }
  const { createWasmBackend } = await import("./wasm/backend.js");
  return createWasmBackend({ threads: wasm.threads });
}
