// Getting a GPUDevice wherever JavaScript runs: a device, adapter or GPU the caller
// passes, else navigator.gpu (browsers, Deno), else a GPU from the runtime's provider
// (the Node entry registers the optional `webgpu` package). The device asks for the
// adapter's own limits where the model needs more than WebGPU's defaults (a 1 GiB
// embedding, big activations, 16+ KiB of shared memory), and for the optional features
// when present: subgroups (the GEMV kernel uses them) and shader-f16 (the tiled
// matmul then reads f16 weights natively instead of unpacking u32 words; see pipelines.ts).

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
  const found = await requestWebGPUAdapter(gpu);
  return found && deviceFor(found);
}

/** The adapter (or the caller's device) WebGPU would run on, without making a device yet. */
export async function requestWebGPUAdapter(gpu?: GPU | GPUAdapter | GPUDevice): Promise<GPUAdapter | GPUDevice | undefined> {
  if (gpu && (isDevice(gpu) || isAdapter(gpu))) return gpu;
  const source = gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu ?? (await provider?.());
  return (await source?.requestAdapter({ powerPreference: "high-performance" })) ?? undefined;
}

/** A device on `adapter` with the limits and features the model uses; a device is passed through. */
export async function deviceFor(adapter: GPUAdapter | GPUDevice): Promise<GPUDevice> {
  if (isDevice(adapter)) return adapter;
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = (["subgroups", "shader-f16"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ label: "paligemma-edge", requiredLimits, requiredFeatures });
}

/** Names drivers that render on the CPU report in their adapter info. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|basic render driver|\bwarp\b/i;

/** How an adapter describes itself: "vendor architecture (description)", what a log should print. */
export function adapterName(adapter: GPUAdapter | GPUDevice): string {
  const info = "info" in adapter ? adapter.info : adapter.adapterInfo;
  const parts = [info.vendor, info.architecture].filter(Boolean).join(" ");
  return info.description ? `${parts} (${info.description})`.trim() : parts || "an unnamed adapter";
}

/**
 * Whether an adapter renders on the CPU (SwiftShader, llvmpipe, lavapipe, WARP): it says
 * so with isFallbackAdapter, or its info names such a driver. WASM is faster there.
 */
export function isSoftwareAdapter(adapter: GPUAdapter | GPUDevice): boolean {
  const info = "info" in adapter ? adapter.info : adapter.adapterInfo;
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return fallback === true || SOFTWARE.test([info.vendor, info.architecture, info.device, info.description].join(" "));
}
