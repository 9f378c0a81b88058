// The reference backend, recording what the loader hands it: every quantized matrix as
// uploaded (words and scales, to compare bit for bit), every f16 weight's bits, and the
// bytes live on the device as the real backends would store them (f16: 2 per value,
// quantized: words + scales, buffers: 4 per element), with their peak: what the memory
// plan must predict.
import type { Backend, Buf, BufKind, UploadOptions, Weight } from "../../src/backends/backend.js";
import { f32ArrayToF16 } from "../../src/weights/f16.js";
import type { QuantizedMatrix } from "../../src/weights/quantize.js";
import { ReferenceBackend } from "../reference/backend.js";

export class RecordingBackend extends ReferenceBackend implements Backend {
  readonly quantized = new Map<string, QuantizedMatrix>();
  readonly f16 = new Map<string, Uint16Array>();
  liveBytes = 0;
  peakBytes = 0;
  private readonly sizes = new Map<Buf, number>();

  constructor(readonly memoryLimit?: number) {
    super();
  }

  private add(bytes: number) {
    this.liveBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
  }

  override uploadWeight(label: string, data: Uint16Array | Float32Array, shape: readonly number[], opts?: UploadOptions): Weight {
    const w = super.uploadWeight(label, data, shape, opts);
    const f32 = opts?.precision === "f32";
    if (!f32) this.f16.set(label, data instanceof Uint16Array ? data.slice() : f32ArrayToF16(data));
    this.add(data.length * (f32 ? 4 : 2));
    return w;
  }

  override uploadQuantized(label: string, data: QuantizedMatrix, shape: readonly [number, number]): Weight {
    const w = super.uploadQuantized(label, data, shape);
    this.quantized.set(label, { bits: data.bits, qweight: data.qweight.slice(), scales: data.scales.slice() });
    this.add(data.qweight.byteLength + data.scales.byteLength);
    return w;
  }

  override alloc(label: string, length: number, kind?: BufKind): Buf {
    const b = super.alloc(label, length, kind);
    this.sizes.set(b, length * 4);
    this.add(length * 4);
    return b;
  }

  override free(buf?: Buf): void {
    if (!buf) return;
    super.free();
    this.liveBytes -= this.sizes.get(buf) ?? 0;
    this.sizes.delete(buf);
  }
}
