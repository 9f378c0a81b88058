// Getting a GPUDevice wherever JavaScript runs: a device, adapter or GPU the caller
// passes, else navigator.gpu (browsers, Deno), else a GPU from the runtime's provider
// (the Node entry registers the optional `webgpu` package). The device asks for the
// adapter's own limits where the model needs more than WebGPU's defaults (a 1 GiB
// embedding, big activations, 16+ KiB of shared memory), and for the optional features
// when present: subgroups (the GEMV kernel uses them) and shader-f16 (the linear kernels
// then read f16 weights natively instead of unpacking u32 words; see pipelines.ts).

let provider: (() => Promise<GPU | undefined>) | undefined;

/** Runtime adapters register where a GPU comes from when navigator.gpu is absent. */
export function setGPUProvider(get: () => Promise<GPU | undefined>): void {
  provider = get;
}

const isDevice = (g: GPU | GPUAdapter | GPUDevice): g is GPUDevice => "createBuffer" in g;
const isAdapter = (g: GPU | GPUAdapter | GPUDevice): g is GPUAdapter => "requestDevice" in g;

/** The limits raised to the adapter's maximum: weights, activations and shared memory. */
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage",
] as const;

/** A device to run the model on, or undefined when this runtime has no WebGPU adapter. */
export async function requestWebGPUDevice(gpu?: GPU | GPUAdapter | GPUDevice): Promise<GPUDevice | undefined> {
  if (gpu && isDevice(gpu)) return gpu;
  let adapter: GPUAdapter | null = null;
  if (gpu && isAdapter(gpu)) {
    adapter = gpu;
  } else {
    const source = gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu ?? (await provider?.());
    adapter = (await source?.requestAdapter({ powerPreference: "high-performance" })) ?? null;
  }
  if (!adapter) return undefined;
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = (["subgroups", "shader-f16"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ label: "paligemma-edge", requiredLimits, requiredFeatures });
}
