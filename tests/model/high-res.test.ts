// PaliGemma 2 at 448: 1024 image tokens, so a prefix of over a thousand tokens. Every
// backend's streaming attention (online softmax over key tiles) must agree with the
// plain-TS reference, which materialises each query's scores in full.
import { describe, expect, test } from "vitest";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { expectClose } from "../harness/compare.js";
import { ReferenceBackend } from "../reference/backend.js";

const IMAGE = 250;
const config = {
  model_type: "paligemma",
  image_token_index: IMAGE,
  vision_config: { hidden_size: 24, intermediate_size: 40, num_hidden_layers: 1, num_attention_heads: 2, image_size: 448, patch_size: 14 },
  text_config: {
    model_type: "gemma2", hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 16, vocab_size: 256, query_pre_attn_scalar: 20,
    attn_logit_softcapping: 4, final_logit_softcapping: 8,
  },
};
const files = {
  "config.json": new TextEncoder().encode(JSON.stringify(config)),
  "model.safetensors": writeSafetensors(randomCheckpoint(config, 448)),
};
const N = (448 / 14) ** 2;
const inputIds = Int32Array.from([...Array(N).fill(IMAGE), 2, 17, 33, 49, 108]);
const pixelValues = Float32Array.from({ length: 3 * 448 * 448 }, (_, i) => Math.sin(i * 0.013));

async function run(model: PaliGemmaForConditionalGeneration) {
  const kvCache = model.createKVCache({ maxLength: inputIds.length + 4 });
  const { logits } = await model.forward({ inputIds, pixelValues, kvCache, logits: "last" });
  const tokens: number[] = [];
  let next = (await model.nextTokens({ inputIds: Int32Array.of(108), kvCache })).ids;
  for (let s = 0; s < 3; s++) {
    tokens.push(next[0]);
    next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  }
  return { logits, tokens };
}

describe("PaliGemma 2 at 448 (1024 image tokens)", () => {
  const want = (async () => {
    const ref = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend() });
    expect(ref.config.vision.numPatches).toBe(1024);
    return run(ref);
  })();

  test.each(backends)("$name matches the reference over a 1029-token prefix", async ({ create }) => {
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: await create() });
    try {
      const got = await run(model);
      const w = await want;
      expectClose(got.logits, w.logits, { atol: 2e-3 }, "last-token logits");
      expect(got.tokens).toEqual(w.tokens);
    } finally {
      model.dispose();
    }
  });
});
