// The WASM backend's allocator: weights, activations and scratch all live in the
// kernel module's one linear memory, above its static data. First fit over a free
// list sorted by address, with neighbours merged on free; the memory grows when
// nothing fits. Blocks are 64-byte aligned (cache lines, and v128 loads never
// split a line at a block start) and followed by SLACK bytes that belong to no
// other block, because the kernels may read up to 32 bytes past a buffer's end
// instead of handling every SIMD tail separately.
import { OutOfMemoryError } from "../../errors.js";

const ALIGN = 64;
const SLACK = 64;
const PAGE = 65536;
/** wasm32 addresses 2^32 bytes; engines cap a memory at 65536 pages. */
export const WASM32_LIMIT = 4 * 1024 ** 3;

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

export class WasmHeap {
  /** Free blocks [start, start + size), sorted by start, never adjacent. */
  private readonly free: { start: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private top: number;
  /** Bytes held by live blocks, slack included (for the out-of-memory message). */
  private inUse = 0;

  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
    private readonly limit: number,
  ) {
    this.top = roundUp(base, ALIGN);
  }

  /** A block of at least `bytes` bytes; `label` names it in an out-of-memory error. */
  alloc(bytes: number, label: string): number {
    const size = roundUp(Math.max(bytes, 1), ALIGN) + SLACK;
    let ptr = -1;
    const i = this.free.findIndex((b) => b.size >= size);
    if (i >= 0) {
      const b = this.free[i];
      ptr = b.start;
      if (b.size === size) this.free.splice(i, 1);
      else {
        b.start += size;
        b.size -= size;
      }
    } else {
      // Nothing free fits: extend the top (reusing a free block that ends there).
      const last = this.free.at(-1);
      const start = last && last.start + last.size === this.top ? last.start : this.top;
      this.ensure(start + size, label, bytes);
      if (start !== this.top) this.free.pop();
      ptr = start;
      this.top = start + size;
    }
    this.sizes.set(ptr, size);
    this.inUse += size;
    return ptr;
  }

  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`WasmHeap: ${ptr} is not an allocated block`);
    this.sizes.delete(ptr);
    this.inUse -= size;
    let i = this.free.findIndex((b) => b.start > ptr);
    if (i < 0) i = this.free.length;
    const block = { start: ptr, size };
    const next = this.free[i];
    if (next && block.start + block.size === next.start) {
      block.size += next.size;
      this.free.splice(i, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.start + prev.size === block.start) prev.size += block.size;
    else this.free.splice(i, 0, block);
  }

  /** Grows the memory so that [0, end) is addressable. */
  private ensure(end: number, label: string, bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const fail = (why: string) =>
      new OutOfMemoryError(
        `the WASM backend needs ${mib(end)} of WebAssembly memory to allocate ${label} (${mib(bytes)}; ` +
          `${mib(this.inUse)} already in use), ${why}. wasm32 addresses at most 4 GiB, so models whose ` +
          `f16 weights exceed that (PaliGemma-3B needs ~5.8 GB) cannot run on this backend: use WebGPU.`,
        end,
        this.limit,
      );
    if (end > this.limit) throw fail(`over the limit of ${mib(this.limit)}`);
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      throw fail("but the engine refused to grow the memory");
    }
  }
}
