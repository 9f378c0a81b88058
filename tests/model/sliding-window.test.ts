// PaliGemma 2's sliding window, `attention: { slidingWindow: "config" }`, on a random
// Gemma 2 config with sliding_window 16 and prefixes longer than that. The reference
// is computed another way (ShiftedWindowBackend below: no window in the op, each
// query's keys shifted to start at the window's bound instead), every backend must
// agree with it, and the default ("none", big_vision's) must be left untouched.
import { describe, expect, test } from "vitest";
import type { AttentionOptions, Buf } from "../../src/backends/backend.js";
import { InputError } from "../../src/errors.js";
import { type AttentionChoice, PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { expectClose } from "../harness/compare.js";
import { ReferenceBackend } from "../reference/backend.js";

const IMAGE = 299;
const WINDOW = 16;
const config = (layerTypes?: string[]) => ({
  model_type: "paligemma",
  image_token_index: IMAGE,
  vision_config: { hidden_size: 24, intermediate_size: 40, num_hidden_layers: 1, num_attention_heads: 2, image_size: 9, patch_size: 3 },
  text_config: {
    model_type: "gemma2", hidden_size: 48, intermediate_size: 64, num_hidden_layers: 3, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 16, vocab_size: 300, query_pre_attn_scalar: 16,
    attn_logit_softcapping: 20, final_logit_softcapping: 15, sliding_window: WINDOW,
    ...(layerTypes && { layer_types: layerTypes }),
  },
});
const checkpoint = writeSafetensors(randomCheckpoint(config(), 16));
const files = (layerTypes?: string[]) => ({
  "config.json": new TextEncoder().encode(JSON.stringify(config(layerTypes))),
  "model.safetensors": checkpoint,
});

/** Windowed attention without the op's window: query t's keys start at lo = max(0, slot - window + 1). */
class ShiftedWindowBackend extends ReferenceBackend {
  attention(out: Buf, q: Buf, k: Buf, v: Buf, meta: Buf, rows: number, o: AttentionOptions): void {
    if (!o.window) return super.attention(out, q, k, v, meta, rows, o);
    const m = (meta as unknown as { data: Int32Array }).data;
    const moved = Int32Array.from({ length: rows * 3 }, (_, i) => {
      const [base, slot, prefix] = m.subarray(i - (i % 3), i - (i % 3) + 3);
      const lo = Math.max(0, slot - o.window! + 1);
      return [base + lo, slot - lo, Math.max(prefix - lo, 0)][i % 3];
    });
    const shifted = this.alloc("meta.shifted", rows * 3, "i32");
    this.write(shifted, moved);
    super.attention(out, q, k, v, shifted, rows, { ...o, window: 0 });
  }
}

const N = 9; // (9 / 3)² image tokens
const pixelValues = Float32Array.from({ length: 3 * 9 * 9 }, (_, i) => Math.sin(i * 0.37));
const prompt = (n: number) => Int32Array.from([...Array(N).fill(IMAGE), 2, ...Array.from({ length: n }, (_, i) => 3 + ((i * 37) % 290))]);

/** Every prefix logit, then greedy tokens fed back for `steps`, with their logits. */
async function run(model: PaliGemmaForConditionalGeneration, inputIds: Int32Array, steps: number) {
  const kvCache = model.createKVCache();
  const { logits } = await model.forward({ inputIds, pixelValues, kvCache });
  const V = model.config.text.vocabSize;
  let last = logits.subarray(logits.length - V);
  const tokens: number[] = [];
  const stepLogits: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const next = last.indexOf(Math.max(...last));
    tokens.push(next);
    last = (await model.forward({ inputIds: Int32Array.of(next), kvCache })).logits;
    stepLogits.push(last);
  }
  kvCache.dispose();
  return { logits, tokens, stepLogits };
}

const load = (backend: ReferenceBackend | Awaited<ReturnType<(typeof backends)[number]["create"]>>, attention?: AttentionChoice, layerTypes?: string[]) =>
  PaliGemmaForConditionalGeneration.load(files(layerTypes), { backend, attention });

describe("PaliGemma 2 with its sliding window (16), prefix of 22 then 20 tokens", () => {
  const ids = prompt(12); // 9 image tokens + <bos> + 12: 22 > 16
  const want = (async () => run(await load(new ShiftedWindowBackend(), { slidingWindow: "config" }), ids, 20))();

  test("the reference backend with the window in its op equals the window computed by shifting keys", async () => {
    const got = await run(await load(new ReferenceBackend(), { slidingWindow: "config" }), ids, 20);
    const w = await want;
    expectClose(got.logits, w.logits, { atol: 1e-6 }, "prefix logits");
    got.stepLogits.forEach((l, s) => expectClose(l, w.stepLogits[s], { atol: 1e-6 }, `step ${s}`));
    expect(got.tokens).toEqual(w.tokens);
  });

  test.each(backends)("$name matches it", async ({ create }) => {
    const model = await load(await create(), { slidingWindow: "config" });
    try {
      const got = await run(model, ids, 20);
      const w = await want;
      expectClose(got.logits, w.logits, { atol: 2e-3 }, "prefix logits");
      got.stepLogits.forEach((l, s) => expectClose(l, w.stepLogits[s], { atol: 2e-3 }, `step ${s}`));
      expect(got.tokens).toEqual(w.tokens);
    } finally {
      model.dispose();
    }
  });

  test('"none" (the default) differs once a row is longer than the window, and not before', async () => {
    const none = await run(await load(new ReferenceBackend()), ids, 20);
    const w = await want;
    const diff = Math.max(...none.logits.map((x, i) => Math.abs(x - w.logits[i])));
    expect(diff).toBeGreaterThan(1e-3);
    // 14 prefix tokens and 2 more: no query is ever 16 keys past key 0.
    const short = prompt(4);
    const [a, b] = [await run(await load(new ReferenceBackend()), short, 3), await run(await load(new ReferenceBackend(), { slidingWindow: "config" }), short, 3)];
    expectClose(b.logits, a.logits, { atol: 0 }, "prefix inside the window");
    expectClose(b.stepLogits[0], a.stepLogits[0], { atol: 0 }, "slot 14");
    expectClose(b.stepLogits[1], a.stepLogits[1], { atol: 0 }, "slot 15");
    expect(Math.max(...b.stepLogits[2].map((x, i) => Math.abs(x - a.stepLogits[2][i])))).toBeGreaterThan(1e-4); // slot 16: key 0 leaves
  });

  test('"config" where layer_types makes every layer full attention is "none"', async () => {
    const full = ["full_attention", "full_attention", "full_attention"];
    const a = await run(await load(new ReferenceBackend(), { slidingWindow: "config" }, full), ids, 4);
    const b = await run(await load(new ReferenceBackend(), { slidingWindow: "none" }, full), ids, 4);
    expectClose(a.logits, b.logits, { atol: 0 }, "prefix logits");
    expect(a.tokens).toEqual(b.tokens);
  });

  test("an unknown choice is an InputError", async () => {
    await expect(load(new ReferenceBackend(), { slidingWindow: "keras" as "none" })).rejects.toThrow(InputError);
    await expect(load(new ReferenceBackend(), { slidingWindow: "keras" as "none" })).rejects.toThrow(/"none" or "config"/);
  });
});
