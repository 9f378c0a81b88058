// The real size on the CPU: PaliGemma-3B-224's exact config with random weights
// (tests/harness/full-size.ts: bf16, generated while read, never on disk), quantized to
// q4 while loading onto the WASM backend, generates 4 tokens. Nothing independent can
// run a 3B model here (the reference backend would need 12 GB of f32), so what is
// checked is what breaks only at this size: the load fits wasm32 (the memory plan
// bounds the module's memory), weights above 2 GiB of addresses and the 1 GiB
// embedding/LM head are read right, activations stay finite and spread through 27 + 18
// layers, and generation is deterministic (the device's argmax picks the host's tokens).
// Decode is not compared with a prefill over prompt + tokens: PaliGemma's prefix attends
// both ways, so such a forward computes other logits (tests/model/kv-cache.test.ts checks
// the cache at small sizes).
//
// Minutes, not seconds (README "Tests" and "Benchmarks"), so it runs only with
// PALIGEMMA_FULL_SIZE=1, which .ci/run sets for a step of its own after the suite.
import { describe, expect, test } from "vitest";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { fullSizeSource, PALIGEMMA_3B_224 } from "../harness/full-size.js";

const IMAGE = PALIGEMMA_3B_224.image_token_index;
const prompt = Int32Array.from([...Array(256).fill(IMAGE), 2, 10, 20, 30, 40, 50, 60, 70, 80, 108]); // 256 image + 10 prompt tokens
const pixels = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37));
const V = PALIGEMMA_3B_224.vocab_size;
const STEPS = 4;

const argmax = (row: Float32Array) => row.reduce((best, x, i) => (x > row[best] ? i : best), 0);

describe.runIf(process.env.PALIGEMMA_FULL_SIZE === "1")("PaliGemma-3B-224 at full size, q4 on WASM", () => {
  test("loads within wasm32, generates 4 finite, spread, deterministic tokens, the same with argmax on the device", { timeout: 1_800_000 }, async () => {
    const t0 = performance.now();
    const backend = await createWasmBackend();
    const model = await PaliGemmaForConditionalGeneration.load(fullSizeSource(), { backend, dtype: "q4" });
    const memoryBytes = () => (backend as unknown as { memoryBytes: number }).memoryBytes;
    try {
      const t1 = performance.now();
      const plan = model.memory!;
      expect(plan.dtype).toBe("q4");
      expect(memoryBytes()).toBeLessThanOrEqual(plan.weightsBytes + plan.backendBytes);

      // Decode one token at a time, keeping each step's logits.
      const kvCache = model.createKVCache({ maxLength: prompt.length + STEPS });
      let out = await model.forward({ inputIds: prompt, pixelValues: pixels, kvCache, logits: "last" });
      const stepLogits = [out.logits];
      const tokens = [argmax(out.logits)];
      for (let s = 1; s < STEPS; s++) {
        out = await model.forward({ inputIds: Int32Array.of(tokens[s - 1]), kvCache });
        stepLogits.push(out.logits);
        tokens.push(argmax(out.logits));
      }
      kvCache.dispose();
      const t2 = performance.now();
      expect(memoryBytes(), "the module's memory after generating").toBeLessThanOrEqual(plan.totalBytes);
      for (const [s, l] of stepLogits.entries()) {
        expect(l.every(Number.isFinite), `step ${s} logits finite`).toBe(true);
        const mean = l.reduce((a, b) => a + b, 0) / V;
        const std = Math.sqrt(l.reduce((a, b) => a + (b - mean) ** 2, 0) / V);
        expect(std, `step ${s} logits spread`).toBeGreaterThan(1e-2);
      }
      for (const id of tokens) expect(id >= 0 && id < V).toBe(true);

      // The same tokens on the device (argmax there), twice: deterministic.
      for (let run = 0; run < 2; run++) {
        const cache = model.createKVCache({ maxLength: prompt.length + STEPS });
        let next = await model.nextTokens({ inputIds: prompt, pixelValues: pixels, kvCache: cache });
        const got = [next.ids[0]];
        for (let s = 1; s < STEPS; s++) got.push((next = await model.nextTokens({ inputIds: next.ids, kvCache: cache })).ids[0]);
        cache.dispose();
        expect(got, `run ${run}`).toEqual(tokens);
      }

      const t3 = performance.now();
      console.log(
        `full-size q4 on WASM: load (quantizing) ${((t1 - t0) / 1000).toFixed(0)} s, generate ${STEPS} tokens ${((t2 - t1) / 1000).toFixed(0)} s, ` +
          `checks ${((t3 - t2) / 1000).toFixed(0)} s; tokens ${tokens}; wasm memory ${(memoryBytes() / 2 ** 30).toFixed(2)} GiB, plan ${(plan.totalBytes / 2 ** 30).toFixed(2)} GiB`,
      );
    } finally {
      model.dispose();
    }
  });
});
