// The KV cache's two kinds: one that grows on demand (createKVCache() or forward without
// a cache, as the reference's empty KVCache()) and one preallocated for maxLength.
// Growing doubles the capacity and moves each row's keys and values to the new layout
// in one device copy: over many tokens it must match a preallocated cache exactly.
// (tests/model/goldens.test.ts runs the goldens' teacher-forced steps through a growing
// cache on every backend.)
import { describe, expect, test } from "vitest";
import { InputError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

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
