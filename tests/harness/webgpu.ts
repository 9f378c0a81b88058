// The Node WebGPU harness: Dawn (npm `webgpu`) on SwiftShader, Chromium's CPU Vulkan
// driver, so WGSL really runs on machines without a GPU. Model tests share one device.
// It is the production path (requestWebGPUDevice with the GPU the Node entry keeps
// alive, loaded by tests/setup.ts): Dawn aborts the process when the GPU object that
// made a device is garbage-collected, so a harness must not create its own.
import { existsSync } from "node:fs";
import { requestWebGPUDevice } from "../../src/backends/webgpu/device.js";

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

let device: Promise<GPUDevice> | undefined;

export function testDevice(): Promise<GPUDevice> {
  device ??= (async () => {
    // Read when Dawn first starts, i.e. by the first requestWebGPUDevice call.
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    const gpuDevice = await requestWebGPUDevice();
    if (!gpuDevice) {
      throw new Error(
        `no WebGPU adapter: install Debian's chromium (apt-get install -y chromium; it ships ${SWIFTSHADER_ICD}) or point VK_ICD_FILENAMES at a Vulkan driver, and run npm ci for the \`webgpu\` package`,
      );
    }
    return gpuDevice;
  })();
  return device;
}
