// The decoder's KV cache: per layer, keys and values for every row of the batch.
// Row b's token at slot s lives at cache row b * capacity + s.
//
// Two kinds, as the caller chooses: preallocated for maxLength tokens (generate's:
// decoding never allocates), or growing (the reference implementation's KVCache(),
// made empty and filled without knowing the length in advance). A growing cache
// doubles its capacity when a call needs more, with one device copy per buffer
// (scatterRows into the new layout), so appending n tokens one at a time grows it
// about log2(n) times, never per token.
//
// Besides the buffers it keeps, per batch row, how many tokens are stored and how
// long the full-attention prefix is (image + prompt: PaliGemma is a prefix-LM), and
// how many columns of input (padding included) the caller has fed, which a
// reference-style attention mask (past + new) must span.
import type { Backend, Buf } from "../backends/backend.js";
import type { TextConfig } from "../config.js";
import { DisposedError, InputError } from "../errors.js";

export class KVCache {
  keys: Buf[]; // per layer [batch * capacity, kvHeads * headDim]
  values: Buf[];
  /** Tokens each batch row can hold before the cache grows (or, preallocated, refuses). */
  capacity: number;
  /** Tokens stored per batch row. */
  readonly lengths: Int32Array;
  /** Full-attention prefix length per batch row (0 until the first forward). */
  readonly prefix: Int32Array;
  /** Columns of input ids fed so far (the same for every row; padding counts). */
  columns = 0;
  private disposed = false;
  private readonly width: number;

  /** `maxLength`: preallocate that many tokens per row; undefined: grow on demand, up to the model's context. */
  constructor(
    private readonly backend: Backend,
    private readonly c: TextConfig,
    readonly batch: number,
    readonly maxLength?: number,
  ) {
    this.width = c.numKvHeads * c.headDim;
    this.capacity = maxLength ?? 0;
    this.keys = this.allocLayers("k", this.capacity);
    this.values = this.allocLayers("v", this.capacity);
    this.lengths = new Int32Array(batch);
    this.prefix = new Int32Array(batch);
  }

  get growable(): boolean {
    return this.maxLength === undefined;
  }

  get isEmpty(): boolean {
    return this.lengths.every((n) => n === 0);
  }

  /**
   * Makes room for `needed` tokens in every row: a growing cache doubles (at least to
   * `needed`, at most to the model's context) and copies what it holds; a preallocated
   * one that is too small is an InputError.
   */
  reserve(needed: number): void {
    if (needed <= this.capacity) return;
    const context = this.c.maxPositions;
    if (!this.growable || needed > context) {
      const held = this.growable ? `the model's context of ${context} tokens` : `the KV cache's ${this.capacity}`;
      throw new InputError(
        `a row would need ${needed} positions but ${held} is the limit: the prompt is longer than the context` +
          (this.growable ? "" : "; create a larger cache with createKVCache({ batch, maxLength }), or omit maxLength for one that grows"),
      );
    }
    const capacity = Math.min(Math.max(needed, 2 * this.capacity), context);
    // Stored rows b * old + s move to b * capacity + s: one scatterRows per buffer.
    const stored = this.batch * this.capacity;
    const moves = stored > 0 ? this.backend.alloc("kv.grow.rows", stored, "i32") : null;
    if (moves) {
      const to = Int32Array.from({ length: stored }, (_, r) => Math.floor(r / this.capacity) * capacity + (r % this.capacity));
      this.backend.write(moves, to);
    }
    // Layer by layer, so the old and new buffers of only one layer coexist.
    const move = (old: Buf[], kind: "k" | "v") =>
      this.allocLayers(kind, capacity, (l, to) => {
        if (!moves) return;
        this.backend.scatterRows(to, moves, old[l], stored, this.width);
        this.backend.free(old[l]);
      });
    this.keys = move(this.keys, "k");
    this.values = move(this.values, "v");
    if (moves) this.backend.free(moves);
    this.capacity = capacity;
  }

  /** Forgets the stored tokens; the buffers are kept for the next prompt. */
  clear(): void {
    this.lengths.fill(0);
    this.prefix.fill(0);
    this.columns = 0;
  }

  assertUsable(): void {
    if (this.disposed) throw new DisposedError("this KV cache");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of [...this.keys, ...this.values]) this.backend.free(b);
  }

  private allocLayers(kind: "k" | "v", capacity: number, fill?: (layer: number, buf: Buf) => void): Buf[] {
    if (capacity === 0) return [];
    return Array.from({ length: this.c.numLayers }, (_, l) => {
      const buf = this.backend.alloc(`kv.L${l}.${kind}`, this.batch * capacity * this.width);
      fill?.(l, buf);
      return buf;
    });
  }
}
