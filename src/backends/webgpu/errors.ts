// What can go wrong on the GPU that a caller can act on. Both say what to do next.
import { PaliGemmaError } from "../../errors.js";

/** The GPU device stopped working: in practice almost always memory exhaustion. */
export class DeviceLostError extends PaliGemmaError {
  override readonly name: string = "DeviceLostError";
  constructor(reason: string) {
    super(
      "DEVICE_LOST",
      `the WebGPU device was lost (${reason}): this is most often running out of GPU memory; try a smaller model, batch or context, or device: "wasm"`,
    );
  }
}

/** A buffer could not be allocated, or is larger than this device can bind. */
export class GPUOutOfMemoryError extends PaliGemmaError {
  override readonly name: string = "GPUOutOfMemoryError";
  constructor(what: string, bytes: number, detail: string) {
    super(
      "OUT_OF_MEMORY",
      `could not allocate ${what} (${(bytes / 2 ** 20).toFixed(1)} MiB) on the GPU: ${detail}; try a smaller model, batch or context, or device: "wasm"`,
    );
  }
}
