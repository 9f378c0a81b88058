// The generation loop on the tiny PaliGemma: greedy equals the reference's tokens,
// sampling is reproducible from a seed, stop tokens end a row, an AbortSignal stops
// it before the next step, and bad options are typed errors.
import { describe, expect, test } from "vitest";
import { AbortedError, InputError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { generateTokens, type GenerationOptions } from "../../src/tasks/generate.js";
import { backends } from "../harness/backends.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

const golden = readTensors(`${FIXTURES}tiny-pg1/golden.safetensors`);
const prompt = {
  inputIds: golden.get("input_ids")!.data as Int32Array,
  pixelValues: golden.get("pixel_values")!.data as Float32Array,
  batch: 2,
};
const want = golden.get("generated_ids")!.data as Int32Array;
const STEPS = 24;

async function collect(model: PaliGemmaForConditionalGeneration, opts: GenerationOptions) {
  const rows: number[][] = [[], []];
  for await (const ids of generateTokens(model, prompt, opts)) ids.forEach((id, b) => rows[b].push(id));
  return rows;
}

describe.each([{ name: "reference", create: async () => new ReferenceBackend() }, ...backends])("generation on $name", ({ create }) => {
  test("greedy, seeded sampling, stop tokens, abort", async () => {
    const model = await PaliGemmaForConditionalGeneration.load(folderFiles(`${FIXTURES}tiny-pg1`), { backend: await create() });
    try {
      const greedy = await collect(model, { maxNewTokens: STEPS });
      expect(greedy).toEqual([Array.from(want.subarray(0, STEPS)), Array.from(want.subarray(STEPS))]);

      const sampled = { maxNewTokens: 12, temperature: 1.5, topK: 50, topP: 0.95 };
      const a = await collect(model, { ...sampled, seed: 7 });
      expect(await collect(model, { ...sampled, seed: 7 })).toEqual(a);
      expect(await collect(model, { ...sampled, seed: 8 })).not.toEqual(a);

      // Row 0 stops at its 4th token (159); row 1 never produces 159 and runs on.
      const stopped = await collect(model, { maxNewTokens: STEPS, stopTokens: [159] });
      expect(stopped[0]).toEqual([...want.subarray(0, 4), ...Array(STEPS - 4).fill(-1)]);
      expect(stopped[1]).toEqual(Array.from(want.subarray(STEPS)));

      const ctl = new AbortController();
      const seen: number[] = [];
      await expect(
        (async () => {
          for await (const ids of generateTokens(model, prompt, { maxNewTokens: STEPS, signal: ctl.signal })) {
            seen.push(ids[0]);
            if (seen.length === 3) ctl.abort();
          }
        })(),
      ).rejects.toThrow(AbortedError);
      expect(seen).toEqual(Array.from(want.subarray(0, 3)));
    } finally {
      model.dispose();
    }
  });
});

test("bad options and a prompt longer than the context are typed errors", async () => {
  const model = await PaliGemmaForConditionalGeneration.load(folderFiles(`${FIXTURES}tiny-pg1`), { backend: new ReferenceBackend() });
  const first = (opts: GenerationOptions) => generateTokens(model, prompt, opts).next();
  await expect(first({ maxNewTokens: 0 })).rejects.toThrow(InputError);
  await expect(first({ temperature: -1 })).rejects.toThrow(/temperature must be a number >= 0/);
  await expect(first({ topP: 0 })).rejects.toThrow(/topP must be a number in \(0, 1\]/);
  await expect(first({ topK: 1.5 })).rejects.toThrow(/topK/);
  await expect(first({ maxNewTokens: 9000 })).rejects.toThrow(/exceeds the model's context of 8192 tokens/);
  model.dispose();
  await expect(first({})).rejects.toThrow(/used after dispose/);
});
