// Attention with a sliding window (Gemma 2's, AttentionOptions.window) on every backend,
// against the same attention computed another way: a window only moves where a query's
// keys start (lo = max(0, slot - window + 1)), so it equals the unwindowed op with that
// query's placement shifted to (base + lo, slot - lo, max(prefix - lo, 0)). Sizes cross
// the WASM kernel's 32-key blocks and the WGSL kernel's 64-key tiles.
import { describe, expect, test } from "vitest";
import type { Backend } from "../../src/backends/backend.js";
import { backends } from "../harness/backends.js";
import { expectClose } from "../harness/compare.js";
import { randomArray, rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";

const all = [{ name: "reference", create: async () => new ReferenceBackend() }, ...backends];
const [heads, kvHeads, hd, window] = [4, 2, 16, 16];

// (base, slot, prefix) per query: a batch row at 0 with a 40-token prefix (prefill
// queries inside it, then decode slots far past the window), another at base 150.
const meta = [
  ...[0, 7, 15, 16, 30, 39].map((s) => [0, s, 40]),
  ...[40, 41, 63, 64, 65, 100, 129].map((s) => [0, s, 40]),
  [150, 3, 5], [150, 20, 5], [150, 90, 5],
];
const keyRows = 250;

function shifted(m: number[][]): number[][] {
  return m.map(([base, slot, prefix]) => {
    const lo = Math.max(0, slot - window + 1);
    return [base + lo, slot - lo, Math.max(prefix - lo, 0)];
  });
}

async function attend(b: Backend, placement: number[][], w: number): Promise<Float32Array> {
  const rand = rng(5);
  const rows = placement.length;
  const buf = (name: string, data: Float32Array | Int32Array) => {
    const x = b.alloc(name, data.length, data instanceof Int32Array ? "i32" : "f32");
    b.write(x, data);
    return x;
  };
  const q = buf("q", randomArray(rand, rows * heads * hd, 2));
  const k = buf("k", randomArray(rand, keyRows * kvHeads * hd, 2));
  const v = buf("v", randomArray(rand, keyRows * kvHeads * hd));
  const out = b.alloc("out", rows * heads * hd);
  b.attention(out, q, k, v, buf("meta", Int32Array.from(placement.flat())), rows, { heads, kvHeads, headDim: hd, scale: 0.25, softcap: 3, window: w });
  return b.read(out);
}

describe.each(all)("attention with a sliding window of 16 on $name", ({ create }) => {
  test("equals the unwindowed op over each query's shifted keys", async () => {
    const b = await create();
    try {
      const want = await attend(new ReferenceBackend(), shifted(meta), 0);
      const got = await attend(b, meta, window);
      expectClose(got, want, { atol: 2e-5, rtol: 1e-4 }, "windowed attention");
      // The window changes what a query past it sees (else this test could not fail).
      const unwindowed = await attend(b, meta, 0);
      expect(Math.max(...unwindowed.map((x, i) => Math.abs(x - want[i])))).toBeGreaterThan(1e-2);
    } finally {
      b.dispose();
    }
  });
});
