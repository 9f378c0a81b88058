// The one buffer pool. Creating a GPU buffer (and binding it the first time) is
// expensive, and a bind group is valid only as long as its buffers live, so released
// buffers are kept and handed out again: a later request of a similar size gets the
// same GPUBuffer back, and the bind groups cached for it stay valid.
import { GPUOutOfMemoryError } from "./errors.js";

/**
 * GPUBufferUsage and GPUMapMode values, fixed by the WebGPU spec. Spelled out because a
 * device handed in from Node's `webgpu` package comes without those globals.
 */
export const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
export const MAP_READ = 0x1; // GPUMapMode.READ

const STORAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
/** Released storage kept for reuse beyond this is destroyed (at the next submit). */
const KEEP_RELEASED_BYTES = 256 * 2 ** 20;
/** Reads larger than this are copied back in pieces, so staging stays small. */
export const STAGING_PIECE_BYTES = 32 * 2 ** 20;

export class BufferPool {
  private readonly released: GPUBuffer[] = [];
  private releasedBytes = 0;
  private readonly staging: GPUBuffer[] = [];
  private readonly live = new Set<GPUBuffer>();

  /**
   * `watch` receives each allocation's out-of-memory scope (WebGPU reports it
   * asynchronously); `onDestroy` runs when buffers are destroyed, to drop what refers to them.
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly watch: (error: Promise<GPUError | null>, what: string, bytes: number) => void,
    private readonly onDestroy: () => void,
  ) {}

  /** A storage buffer of at least `bytes` (a multiple of 16): a released one up to twice the size, or a new one. */
  storage(label: string, bytes: number): GPUBuffer {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new GPUOutOfMemoryError(label, bytes, `this device binds at most ${limit} bytes (maxStorageBufferBindingSize)`);
    }
    let best = -1;
    this.released.forEach((b, i) => {
      if (b.size >= bytes && b.size <= 2 * bytes && (best < 0 || b.size < this.released[best].size)) best = i;
    });
    if (best >= 0) {
      const [buf] = this.released.splice(best, 1);
      this.releasedBytes -= buf.size;
      buf.label = label;
      return buf;
    }
    return this.create(label, bytes, STORAGE);
  }

  release(buf: GPUBuffer): void {
    this.released.push(buf);
    this.releasedBytes += buf.size;
  }

  /** Destroys the oldest released buffers beyond the keep limit. Only call when no recorded work uses them. */
  trim(): void {
    if (this.releasedBytes <= KEEP_RELEASED_BYTES) return;
    while (this.releasedBytes > KEEP_RELEASED_BYTES) {
      const buf = this.released.shift()!;
      this.releasedBytes -= buf.size;
      this.destroy(buf);
    }
    this.onDestroy();
  }

  /** Destroys buffers no recorded work uses any more (submitted work may: WebGPU waits for it). */
  destroyNow(bufs: readonly GPUBuffer[]): void {
    for (const buf of bufs) this.destroy(buf);
    this.onDestroy();
  }

  /** A MAP_READ buffer for copies back to JS, in power-of-two sizes so reads of any length reuse a few. */
  stagingBuffer(bytes: number): GPUBuffer {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
    const i = this.staging.findIndex((b) => b.size === size);
    if (i >= 0) return this.staging.splice(i, 1)[0];
    return this.create(`staging.${size}`, size, USAGE.MAP_READ | USAGE.COPY_DST);
  }

  releaseStaging(buf: GPUBuffer): void {
    this.staging.push(buf);
  }

  /** A buffer outside the reuse lists (weights, the uniform arena), destroyed with the pool. */
  create(label: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.device.pushErrorScope("out-of-memory");
    const buf = this.device.createBuffer({ label, size: bytes, usage });
    this.watch(this.device.popErrorScope(), label, bytes);
    this.live.add(buf);
    return buf;
  }

  destroyAll(): void {
    for (const buf of this.live) buf.destroy();
    this.live.clear();
    this.released.length = 0;
    this.releasedBytes = 0;
    this.staging.length = 0;
    this.onDestroy();
  }

  private destroy(buf: GPUBuffer): void {
    buf.destroy();
    this.live.delete(buf);
  }
}
