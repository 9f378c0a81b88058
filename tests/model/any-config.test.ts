// The same model code loads any PaliGemma config: a random checkpoint with odd sizes
// (hidden not a multiple of 64, head_dim 24, 2 KV heads, 3×3 patches) runs on every
// backend and matches the plain-TS reference backend running the same math; and a
// right-padded batch gives each row what it gets alone.
import { describe, expect, test } from "vitest";
import type { Backend } from "../../src/backends/backend.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { expectClose } from "../harness/compare.js";
import { ReferenceBackend } from "../reference/backend.js";

const IMAGE = 299;
const odd = (generation: 1 | 2) => ({
  model_type: "paligemma",
  image_token_index: IMAGE,
  vision_config: { hidden_size: 36, intermediate_size: 50, num_hidden_layers: 2, num_attention_heads: 3, image_size: 9, patch_size: 3 },
  text_config: {
    model_type: generation === 1 ? "gemma" : "gemma2", hidden_size: 72, intermediate_size: 100, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 24, vocab_size: 300,
    ...(generation === 2 && { query_pre_attn_scalar: 30, attn_logit_softcapping: 2.5, final_logit_softcapping: 5 }),
  },
});

const N = 9; // (9 / 3)² image tokens
const S = 9;
const prompt = (len: number, seed: number) => [
  ...Array(N).fill(IMAGE), 2, ...Array.from({ length: len }, (_, i) => 3 + ((seed * 31 + i * 17) % 290)), 108,
];
const pixels = (seed: number) => Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.7 + seed));

async function load(generation: 1 | 2, backend: Backend) {
  const config = odd(generation);
  return PaliGemmaForConditionalGeneration.load(
    { "config.json": new TextEncoder().encode(JSON.stringify(config)), "model.safetensors": writeSafetensors(randomCheckpoint(config, generation)) },
    { backend },
  );
}

/** Greedy ids for each row, and the logits of the prefix. */
async function run(model: PaliGemmaForConditionalGeneration, rows: number[][], images: Float32Array[], steps: number) {
  const B = rows.length;
  const L = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(B * L);
  const mask = new Int32Array(B * L);
  rows.forEach((r, b) => {
    ids.set(r, b * L);
    mask.fill(1, b * L, b * L + r.length);
  });
  const pixelValues = new Float32Array(B * 3 * S * S);
  images.forEach((p, b) => pixelValues.set(p, b * p.length));
  const kvCache = model.createKVCache({ batch: B, maxLength: L + steps });
  const { logits } = await model.forward({ inputIds: ids, attentionMask: mask, pixelValues, batch: B, kvCache, logits: "last" });
  kvCache.clear();
  let next = await model.nextTokens({ inputIds: ids, attentionMask: mask, pixelValues, batch: B, kvCache });
  const out: number[][] = rows.map(() => []);
  for (let s = 0; s < steps; s++) {
    next.ids.forEach((id, b) => out[b].push(id));
    next = await model.nextTokens({ inputIds: next.ids, batch: B, kvCache });
  }
  return { logits, tokens: out };
}

describe.each([1, 2] as const)("odd-size PaliGemma %i", (generation) => {
  test.each(backends)("$name matches the reference backend", async ({ create }) => {
    const [model, ref] = await Promise.all([load(generation, await create()), load(generation, new ReferenceBackend())]);
    try {
      const rows = [prompt(5, 1), prompt(2, 2)];
      const images = [pixels(1), pixels(2)];
      const got = await run(model, rows, images, 6);
      const want = await run(ref, rows, images, 6);
      expectClose(got.logits, want.logits, { atol: 2e-3 }, "last-token logits");
      expect(got.tokens).toEqual(want.tokens);
    } finally {
      model.dispose();
      ref.dispose();
    }
  });

  test("the WASM and WebGPU backends agree with each other", async () => {
    const [wasm, webgpu] = ["wasm", "webgpu"].map((n) => backends.find((b) => b.name === n)!);
    const [a, b] = await Promise.all([load(generation, await wasm.create()), load(generation, await webgpu.create())]);
    try {
      const rows = [prompt(6, 7)];
      const images = [pixels(7)];
      const [x, y] = [await run(a, rows, images, 6), await run(b, rows, images, 6)];
      expectClose(x.logits, y.logits, { atol: 2e-3 }, "wasm vs webgpu logits");
      expect(x.tokens).toEqual(y.tokens);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test("a right-padded batch of 3 gives each row what it gets alone", async () => {
    const model = await load(generation, new ReferenceBackend());
    try {
      const rows = [prompt(4, 3), prompt(1, 4), prompt(7, 5)];
      const images = [pixels(3), pixels(4), pixels(5)];
      const batched = await run(model, rows, images, 5);
      for (let b = 0; b < 3; b++) {
        const alone = await run(model, [rows[b]], [images[b]], 5);
        expect(batched.tokens[b], `row ${b}`).toEqual(alone.tokens[0]);
        expectClose(batched.logits.subarray(b * 300, (b + 1) * 300), alone.logits, { atol: 1e-5 }, `row ${b} logits`);
      }
    } finally {
      model.dispose();
    }
  });
});
