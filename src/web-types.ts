// Structural stand-ins for the browser and WebGPU objects the public API accepts, so the
// shipped declarations compile in any consumer project: Node-only (`lib: ["ES2022"]`),
// DOM, Deno, with or without @webgpu/types. Each names only what the SDK tells the object
// apart by; the real objects (navigator.gpu, a GPUDevice, an ImageBitmap, a canvas) fit.

/** navigator.gpu, the `webgpu` package's `create([])`: a GPU. */
export interface GPULike {
  requestAdapter(options?: unknown): Promise<unknown>;
}

/** A GPUAdapter. */
export interface GPUAdapterLike {
  requestDevice(descriptor?: unknown): Promise<unknown>;
}

/** A GPUDevice. */
export interface GPUDeviceLike {
  readonly queue: object;
  createBuffer(descriptor: never): unknown;
}

/** Where the WebGPU backend gets its device: a GPU, an adapter or a device. */
export type GPUSource = GPULike | GPUAdapterLike | GPUDeviceLike;

/** An ImageBitmap (createImageBitmap). */
export interface ImageBitmapLike {
  readonly width: number;
  readonly height: number;
  close(): void;
}

/** An HTMLCanvasElement or OffscreenCanvas with 2D pixels. */
export interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(contextId: "2d", options?: unknown): unknown;
}

/** An <img> element, loaded (naturalWidth/naturalHeight are its pixels). */
export interface ImageElementLike {
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  readonly complete: boolean;
}

/** A compiled WebAssembly.Module (an opaque object in every lib's types). */
export type WasmModuleLike = object;
