// The JS side of image.wasm (assembly/image.ts): one instance, scratch buffers
// in its memory that grow and are reused, and resample plans cached per
// (input size, output size) so their coefficients are computed once.
import { instantiateWasm } from "../wasm/load.js";
import type { PixelNormalization } from "./preprocessor-config.js";
import type { RawImage } from "./raw-image.js";

interface ImageExports {
  memory: WebAssembly.Memory;
  allocate(bytes: number): number;
  release(ptr: number): void;
  planResample(inSize: number, outSize: number): number;
  resize(
    src: number,
    srcWidth: number,
    srcHeight: number,
    channels: number,
    planX: number,
    planY: number,
    tmp: number,
    dst: number,
  ): void;
  rgbaToRgb(src: number, pixels: number, dst: number): void;
  normalize(
    src: number, pixels: number, dst: number, rescale: number,
    mean0: number, mean1: number, mean2: number, std0: number, std1: number, std2: number,
  ): void;
}

// Segmentation resizes masks to arbitrary box sizes; keep the most recent plans only.
const MAX_PLANS = 64;

type Slot = "src" | "tmp" | "dst" | "out";

export class ImageKernels {
  private readonly plans = new Map<string, number>();
  private readonly buffers = new Map<Slot, { ptr: number; bytes: number }>();

  constructor(private readonly wasm: ImageExports) {}

  /** Pillow BICUBIC resize; any of 1, 3 or 4 channels, any sizes. */
  resize(image: RawImage, width: number, height: number): RawImage {
    const { channels } = image;
    const src = this.load(image.data);
    const dst = this.scratch("dst", width * height * channels);
    this.resizeIn(src, image.width, image.height, channels, width, height, dst);
    const data = new Uint8Array(this.wasm.memory.buffer, dst, width * height * channels).slice();
    return { width, height, channels, data };
  }

  /**
   * RGB or RGBA pixels -> the model's input: resized to size x size, normalised
   * (PaliGemma's: to [-1, 1]), channels-first, written into `out` [3, size, size].
   */
  pixelValues(image: RawImage, size: number, out: Float32Array, norm: PixelNormalization): void {
    const { width, height, channels } = image;
    if (channels !== 3 && channels !== 4) throw new Error(`pixelValues needs RGB or RGBA, got ${channels} channels`);
    const src = this.load(image.data);
    if (channels === 4) this.wasm.rgbaToRgb(src, width * height, src);
    const rgb = this.scratch("dst", size * size * 3);
    this.resizeIn(src, width, height, 3, size, size, rgb);
    const floats = this.scratch("out", size * size * 3 * 4);
    this.wasm.normalize(rgb, size * size, floats, norm.rescale, ...norm.mean, ...norm.std);
    out.set(new Float32Array(this.wasm.memory.buffer, floats, size * size * 3));
  }

  private resizeIn(src: number, w: number, h: number, channels: number, outW: number, outH: number, dst: number): void {
    const planX = this.plan(w, outW);
    const planY = this.plan(h, outH);
    const tmp = outW !== w && outH !== h ? this.scratch("tmp", outW * h * channels) : 0;
    this.wasm.resize(src, w, h, channels, planX, planY, tmp, dst);
  }

  private load(data: Uint8Array): number {
    // +1: the RGB horizontal pass loads 4 bytes for the last pixel's 3.
    const ptr = this.scratch("src", data.length + 1);
    new Uint8Array(this.wasm.memory.buffer, ptr, data.length).set(data);
    return ptr;
  }

  /** A buffer of at least `bytes` for this slot; it stays valid until the slot is asked for more. */
  private scratch(slot: Slot, bytes: number): number {
    const held = this.buffers.get(slot);
    if (held && held.bytes >= bytes) return held.ptr;
    if (held) this.wasm.release(held.ptr);
    const ptr = this.wasm.allocate(bytes);
    this.buffers.set(slot, { ptr, bytes });
    return ptr;
  }

  private plan(inSize: number, outSize: number): number {
    const key = `${inSize}>${outSize}`;
    let plan = this.plans.get(key);
    if (plan !== undefined) {
      // Re-insert so the Map's order stays least recently used first.
      this.plans.delete(key);
    } else {
      if (this.plans.size >= MAX_PLANS) {
        const [oldest, ptr] = this.plans.entries().next().value!;
        this.wasm.release(ptr);
        this.plans.delete(oldest);
      }
      plan = this.wasm.planResample(inSize, outSize);
    }
    this.plans.set(key, plan);
    return plan;
  }
}

let kernels: Promise<ImageKernels> | undefined;

export function imageKernels(): Promise<ImageKernels> {
  kernels ??= instantiateWasm<ImageExports>("image").then((wasm) => new ImageKernels(wasm));
  return kernels;
}
