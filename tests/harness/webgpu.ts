// The Node WebGPU harness: Dawn (npm `webgpu`) on SwiftShader, Chromium's CPU Vulkan
// driver, so WGSL really runs on machines without a GPU. Model tests share one device.
import { existsSync } from "node:fs";

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

let device: Promise<GPUDevice> | undefined;

export function testDevice(): Promise<GPUDevice> {
  device ??= (async () => {
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    const { create, globals } = await import("webgpu");
    Object.assign(globalThis, globals);
    const adapter = await create([]).requestAdapter();
    if (!adapter) {
      throw new Error(
        `no WebGPU adapter: install Debian's chromium (it ships ${SWIFTSHADER_ICD}) or point VK_ICD_FILENAMES at a Vulkan driver`,
      );
    }
    return adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
      },
    });
  })();
  return device;
}
