// The model against the reference PyTorch implementation's goldens (tests/fixtures/
// tiny-pg1: PaliGemma, tiny-pg2: PaliGemma 2), on the plain-TS reference backend and
// on every real backend: SigLIP and projector outputs, logits at every prefix
// position, greedy tokens with the KV cache, and teacher-forced step logits, with a
// preallocated KV cache and with one that grows.
import { describe, expect, test } from "vitest";
import type { KVCache } from "../../src/model/kv-cache.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

// Absolute, on logits of scale ~1: the bar for every backend.
const TOL = { atol: 2e-3 };

const all = [{ name: "reference", create: async () => new ReferenceBackend() }, ...backends];

describe.each(["tiny-pg1", "tiny-pg2"])("%s goldens", (fixture) => {
  const golden = readTensors(`${FIXTURES}${fixture}/golden.safetensors`);
  const g = (name: string) => golden.get(name)!;
  const [B, L] = g("input_ids").shape;
  const steps = g("generated_ids").shape[1];
  const V = g("prefill_logits").shape[2];
  const files = folderFiles(`${FIXTURES}${fixture}`);

  describe.each(all)("on $name", ({ create }) => {
    test("SigLIP, projector and every prefix logit", async () => {
      const model = await PaliGemmaForConditionalGeneration.load(files, { backend: await create() });
      try {
        const pixels = g("pixel_values").data as Float32Array;
        const { vision, projected } = await model.encodeImages(pixels, B);
        expectClose(vision, g("vision_out").data, TOL, "vision_out");
        expectClose(projected, g("projector_out").data, TOL, "projector_out");
        const { logits } = await model.forward({ inputIds: g("input_ids").data as Int32Array, pixelValues: pixels, batch: B });
        expectClose(logits, g("prefill_logits").data, TOL, "prefill_logits");
      } finally {
        model.dispose();
      }
    });

    test("greedy tokens with the KV cache, and teacher-forced step logits", async () => {
      const model = await PaliGemmaForConditionalGeneration.load(files, { backend: await create() });
      try {
        const pixels = g("pixel_values").data as Float32Array;
        const ids = g("input_ids").data as Int32Array;
        const want = g("generated_ids").data as Int32Array;

        // Greedy on the device: argmax after each row's last token, fed back one at a time.
        const cache = model.createKVCache({ batch: B, maxLength: L + steps });
        let next = await model.nextTokens({ inputIds: ids, pixelValues: pixels, batch: B, kvCache: cache });
        const got: number[][] = Array.from({ length: B }, () => []);
        for (let s = 0; s < steps; s++) {
          next.ids.forEach((id, b) => got[b].push(id));
          if (s + 1 < steps) next = await model.nextTokens({ inputIds: next.ids, batch: B, kvCache: cache });
        }
        for (let b = 0; b < B; b++) expect(got[b], `row ${b}`).toEqual(Array.from(want.subarray(b * steps, (b + 1) * steps)));

        // Teacher forcing: the golden tokens fed back give the golden step logits.
        expect(await teacherForced(model, model.createKVCache({ batch: B, maxLength: L + steps }))).toEqual([L + steps]);
      } finally {
        model.dispose();
      }
    });

    test("teacher-forced step logits with a cache that grows (createKVCache() without maxLength)", async () => {
      const model = await PaliGemmaForConditionalGeneration.load(files, { backend: await create() });
      try {
        const cache = model.createKVCache({ batch: B });
        const capacities = await teacherForced(model, cache);
        // L, then 2L once the prefix + one token no longer fits: grown once for the steps, not per token.
        expect(capacities).toEqual([L, 2 * L]);
      } finally {
        model.dispose();
      }
    });
  });

  /** Feeds the golden tokens back, checking each step's logits; returns the cache's capacities as it went. */
  async function teacherForced(model: PaliGemmaForConditionalGeneration, cache: KVCache): Promise<number[]> {
    const want = g("generated_ids").data as Int32Array;
    const stepLogits = g("step_logits").data as Float32Array;
    const inputIds = g("input_ids").data as Int32Array;
    let out = await model.forward({ inputIds, pixelValues: g("pixel_values").data as Float32Array, batch: B, kvCache: cache, logits: "last" });
    const capacities = [cache.capacity];
    for (let s = 0; s < steps; s++) {
      const wantStep = new Float32Array(B * V);
      for (let b = 0; b < B; b++) wantStep.set(stepLogits.subarray((b * steps + s) * V, (b * steps + s + 1) * V), b * V);
      expectClose(out.logits, wantStep, TOL, `step ${s} logits`);
      if (s + 1 < steps) {
        const fed = Int32Array.from({ length: B }, (_, b) => want[b * steps + s]);
        out = await model.forward({ inputIds: fed, batch: B, kvCache: cache });
        if (cache.capacity !== capacities.at(-1)) capacities.push(cache.capacity);
      }
    }
    cache.dispose();
    return capacities;
  }
});
