// The reference implementation's generation loop (hkproj/pytorch-paligemma,
// inference.py's test_inference), transcribed line for line: an empty KVCache(), the
// whole prompt with its pixel values and attention mask on the first call, then one
// token at a time with pixel_values passed again and the mask grown by one each step,
// the next token the argmax of logits[:, -1, :]. It must give the goldens' greedy
// tokens on every backend (tiny-pg1: PaliGemma, tiny-pg2: PaliGemma 2).
import { describe, expect, test } from "vitest";
import { InputError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

const all = [{ name: "reference", create: async () => new ReferenceBackend() }, ...backends];

/** torch.argmax over a [V] row: the first index of the maximum. */
function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** inference.py's loop for one prompt (batch 1, as it asserts). */
async function testInference(
  model: PaliGemmaForConditionalGeneration,
  modelInputs: { inputIds: Int32Array; attentionMask: Int32Array; pixelValues: Float32Array },
  maxTokensToGenerate: number,
): Promise<number[]> {
  let { inputIds, attentionMask } = modelInputs;
  const { pixelValues } = modelInputs;
  let kvCache = model.createKVCache(); // KVCache()
  const stopToken = model.config.eosTokenIds[0];
  const generatedTokens: number[] = [];
  const V = model.config.text.vocabSize;

  for (let i = 0; i < maxTokensToGenerate; i++) {
    const outputs = await model.forward({ inputIds, pixelValues, attentionMask, kvCache });
    kvCache = outputs.kvCache;
    const nextTokenLogits = outputs.logits.subarray(outputs.logits.length - V); // logits[:, -1, :]
    const nextToken = argmax(nextTokenLogits);
    generatedTokens.push(nextToken);
    if (nextToken === stopToken) break;
    inputIds = Int32Array.of(nextToken);
    attentionMask = Int32Array.from([...attentionMask, 1]); // cat([attention_mask, ones((1, 1))], dim=-1)
  }
  kvCache.dispose();
  return generatedTokens;
}

describe.each(["tiny-pg1", "tiny-pg2"])("%s: the reference's generation loop", (fixture) => {
  const golden = readTensors(`${FIXTURES}${fixture}/golden.safetensors`);
  const g = (name: string) => golden.get(name)!;
  const [B, L] = g("input_ids").shape;
  const steps = g("generated_ids").shape[1];
  const plane = g("pixel_values").data.length / B;
  const files = folderFiles(`${FIXTURES}${fixture}`);
  const sample = (b: number) => ({
    inputIds: (g("input_ids").data as Int32Array).slice(b * L, (b + 1) * L),
    attentionMask: new Int32Array(L).fill(1),
    pixelValues: (g("pixel_values").data as Float32Array).slice(b * plane, (b + 1) * plane),
  });

  test.each(all)("gives the goldens' greedy tokens on $name", async ({ create }) => {
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: await create() });
    try {
      const stop = model.config.eosTokenIds[0];
      for (let b = 0; b < B; b++) {
        const want = Array.from((g("generated_ids").data as Int32Array).subarray(b * steps, (b + 1) * steps));
        const end = want.indexOf(stop);
        expect(await testInference(model, sample(b), steps), `sample ${b}`).toEqual(end < 0 ? want : want.slice(0, end + 1));
      }
    } finally {
      model.dispose();
    }
  });
});

describe("the attention mask: of the new tokens, or of past + new", () => {
  const golden = readTensors(`${FIXTURES}tiny-pg1/golden.safetensors`);
  const g = (name: string) => golden.get(name)!;
  const [B, L] = g("input_ids").shape;
  const ids = g("input_ids").data as Int32Array;
  const pixelValues = g("pixel_values").data as Float32Array;
  const files = folderFiles(`${FIXTURES}tiny-pg1`);

  test("a right-padded batch decodes the same with either mask", async () => {
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend() });
    try {
      // Row 1 is padded by 3: its last 3 columns are <pad> with mask 0.
      const padded = ids.slice();
      padded.fill(0, 2 * L - 3, 2 * L);
      const prefixMask = Int32Array.from({ length: B * L }, (_, i) => (i >= 2 * L - 3 ? 0 : 1));
      const fed = [Int32Array.of(5, 6), Int32Array.of(7, 8), Int32Array.of(9, 10)];
      const run = async (grown: boolean) => {
        const kvCache = model.createKVCache({ batch: B });
        const out = [(await model.forward({ inputIds: padded, attentionMask: prefixMask, pixelValues, batch: B, kvCache, logits: "last" })).logits];
        let mask = prefixMask;
        for (const step of fed) {
          // Past + new: each row's mask so far with a 1 appended, as the reference grows it.
          mask = Int32Array.from({ length: B * (mask.length / B + 1) }, (_, i) => {
            const w = mask.length / B;
            const [b, c] = [Math.floor(i / (w + 1)), i % (w + 1)];
            return c === w ? 1 : mask[b * w + c];
          });
          const attentionMask = grown ? mask : Int32Array.of(1, 1);
          out.push((await model.forward({ inputIds: step, attentionMask, batch: B, kvCache, pixelValues })).logits);
        }
        kvCache.dispose();
        return out;
      };
      const [withNew, withAll] = [await run(false), await run(true)];
      withNew.forEach((logits, s) => expectClose(withAll[s], logits, { atol: 0 }, `step ${s}`));
    } finally {
      model.dispose();
    }
  });

  test("a mask that is neither length, or whose past disagrees with the cache, is an InputError", async () => {
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend() });
    try {
      const kvCache = model.createKVCache({ batch: B });
      await model.forward({ inputIds: ids, pixelValues, batch: B, kvCache, logits: "last" });
      const step = Int32Array.of(5, 6);
      await expect(model.forward({ inputIds: step, attentionMask: new Int32Array(B * (L + 2)).fill(1), batch: B, kvCache })).rejects.toThrow(
        new RegExp(`expected \\[${B}, 1\\] \\(the new tokens\\) or \\[${B}, ${L + 1}\\] \\(past \\+ new`),
      );
      const short = new Int32Array(B * (L + 1)).fill(1);
      short[3] = 0; // row 0 claims a past column was padding, but the cache holds all L
      await expect(model.forward({ inputIds: step, attentionMask: short, batch: B, kvCache })).rejects.toThrow(InputError);
      await expect(model.forward({ inputIds: step, attentionMask: short, batch: B, kvCache })).rejects.toThrow(new RegExp(`marks ${L - 1} past tokens but the KV cache holds ${L}`));
      const imageAgain = Int32Array.of(model.config.imageTokenId, 6);
      await expect(model.forward({ inputIds: imageAgain, batch: B, kvCache })).rejects.toThrow(/<image> tokens after the prefix/);
      kvCache.dispose();
    } finally {
      model.dispose();
    }
  });
});
