// The KV cache's two kinds: one that grows on demand (createKVCache() or forward without
// a cache, as the reference's empty KVCache()) and one preallocated for maxLength.
// Growing doubles the capacity and moves each row's keys and values to the new
// layout in one device copy; the goldens' teacher-forced step logits must not notice,
// on any backend.
import { describe, expect, test } from "vitest";
import { InputError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

const all = [{ name: "reference", create: async () => new ReferenceBackend() }, ...backends];

describe.each(["tiny-pg1", "tiny-pg2"])("%s: a growing KV cache", (fixture) => {
  const golden = readTensors(`${FIXTURES}${fixture}/golden.safetensors`);
  const g = (name: string) => golden.get(name)!;
  const [B, L] = g("input_ids").shape;
  const steps = g("generated_ids").shape[1];
  const V = g("prefill_logits").shape[2];
  const files = folderFiles(`${FIXTURES}${fixture}`);

  test.each(all)("gives the goldens' teacher-forced step logits on $name, doubling as it fills", async ({ create }) => {
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: await create() });
    try {
      const want = g("generated_ids").data as Int32Array;
      const stepLogits = g("step_logits").data as Float32Array;
      // No cache given: forward makes a growing one, sized to the prefix.
      let out = await model.forward({ inputIds: g("input_ids").data as Int32Array, pixelValues: g("pixel_values").data as Float32Array, batch: B, logits: "last" });
      const kvCache = out.kvCache;
      expect(kvCache.growable).toBe(true);
      const capacities = [kvCache.capacity];
      for (let s = 0; s < steps; s++) {
        const wantStep = new Float32Array(B * V);
        for (let b = 0; b < B; b++) wantStep.set(stepLogits.subarray((b * steps + s) * V, (b * steps + s + 1) * V), b * V);
        expectClose(out.logits, wantStep, { atol: 2e-3 }, `step ${s} logits`);
        if (s + 1 < steps) {
          out = await model.forward({ inputIds: Int32Array.from({ length: B }, (_, b) => want[b * steps + s]), batch: B, kvCache });
          if (kvCache.capacity !== capacities.at(-1)) capacities.push(kvCache.capacity);
        }
      }
      // L, then 2L once the prefix + one token no longer fits: grown once for `steps` tokens, not per token.
      expect(capacities).toEqual([L, 2 * L]);
      kvCache.dispose();
    } finally {
      model.dispose();
    }
  });
});

describe("growing and preallocated caches", () => {
  const files = folderFiles(`${FIXTURES}tiny-pg2`);
  const golden = readTensors(`${FIXTURES}tiny-pg2/golden.safetensors`);
  const [B, L] = golden.get("input_ids")!.shape;
  const ids = golden.get("input_ids")!.data as Int32Array;
  const pixelValues = golden.get("pixel_values")!.data as Float32Array;

  test("a growing cache doubles log2(n) times over n tokens and matches a preallocated one exactly", async () => {
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend() });
    try {
      const n = 5 * L; // grows L -> 2L -> 4L -> 8L
      const grown = model.createKVCache({ batch: B });
      const fixed = model.createKVCache({ batch: B, maxLength: L + n });
      const fixedKeys = fixed.keys[0];
      const run = (kvCache: typeof grown, inputIds: Int32Array) =>
        model.forward({ inputIds, pixelValues, batch: B, kvCache, logits: "last" }).then((o) => o.logits);
      expectClose(await run(grown, ids), await run(fixed, ids), { atol: 0 }, "prefix");
      const capacities = new Set([grown.capacity]);
      for (let s = 0; s < n; s++) {
        const step = Int32Array.from({ length: B }, (_, b) => 3 + ((s * 7 + b * 13) % 900));
        expectClose(await run(grown, step), await run(fixed, step), { atol: 0 }, `step ${s}`);
        capacities.add(grown.capacity);
      }
      expect([...capacities]).toEqual([L, 2 * L, 4 * L, 8 * L]);
      expect(fixed.capacity).toBe(L + n);
      expect(fixed.keys[0]).toBe(fixedKeys); // preallocated: the same buffers throughout
      await expect(run(fixed, Int32Array.of(5, 6))).rejects.toThrow(InputError);
      await expect(run(fixed, Int32Array.of(5, 6))).rejects.toThrow(/omit maxLength for one that grows/);
      grown.dispose();
      fixed.dispose();
    } finally {
      model.dispose();
    }
  });

  test("growing stops at the model's context (max_position_embeddings)", async () => {
    const config = JSON.parse(new TextDecoder().decode(files["config.json"]));
    config.text_config.max_position_embeddings = L + 3;
    const small = { ...files, "config.json": new TextEncoder().encode(JSON.stringify(config)) };
    const model = await PaliGemmaForConditionalGeneration.load(small, { backend: new ReferenceBackend() });
    try {
      const { kvCache } = await model.forward({ inputIds: ids, pixelValues, batch: B, logits: "last" });
      for (let s = 0; s < 3; s++) await model.forward({ inputIds: Int32Array.of(5, 6), batch: B, kvCache, logits: "last" });
      expect(kvCache.capacity).toBe(L + 3);
      await expect(model.forward({ inputIds: Int32Array.of(5, 6), batch: B, kvCache })).rejects.toThrow(/model's context of/);
      kvCache.dispose();
    } finally {
      model.dispose();
    }
  });
});
