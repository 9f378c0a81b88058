// The decoder's KV cache: per layer, keys and values for every row of the batch,
// preallocated for maxLength tokens so decoding never allocates. Row b's token at
// slot s lives at cache row b * maxLength + s.
//
// Besides the buffers it keeps, per batch row, how many tokens are stored and how
// long the full-attention prefix is (image + prompt: PaliGemma is a prefix-LM).
import type { Backend, Buf } from "../backends/backend.js";
import type { TextConfig } from "../config.js";
import { DisposedError } from "../errors.js";

export class KVCache {
  readonly keys: Buf[]; // per layer [batch * maxLength, kvHeads * headDim]
  readonly values: Buf[];
  /** Tokens stored per batch row. */
  readonly lengths: Int32Array;
  /** Full-attention prefix length per batch row (0 until the first forward). */
  readonly prefix: Int32Array;
  private disposed = false;

  constructor(
    private readonly backend: Backend,
    c: TextConfig,
    readonly batch: number,
    readonly maxLength: number,
  ) {
    const n = batch * maxLength * c.numKvHeads * c.headDim;
    this.keys = Array.from({ length: c.numLayers }, (_, l) => backend.alloc(`kv.L${l}.k`, n));
    this.values = Array.from({ length: c.numLayers }, (_, l) => backend.alloc(`kv.L${l}.v`, n));
    this.lengths = new Int32Array(batch);
    this.prefix = new Int32Array(batch);
  }

  get isEmpty(): boolean {
    return this.lengths.every((n) => n === 0);
  }

  /** Forgets the stored tokens; the buffers are kept for the next prompt. */
  clear(): void {
    this.lengths.fill(0);
    this.prefix.fill(0);
  }

  assertUsable(): void {
    if (this.disposed) throw new DisposedError("this KV cache");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of [...this.keys, ...this.values]) this.backend.free(b);
  }
}
