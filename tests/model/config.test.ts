// config.json as published: fields that equal transformers' defaults are omitted, the
// decoder generation comes from text_config.model_type, and stop tokens may come from
// generation_config.json. The configs below are the shapes of the real checkpoints.
import { describe, expect, test } from "vitest";
import { parseConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

const vision = { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27, num_attention_heads: 16, patch_size: 14, projection_dim: 2048 };

describe("real PaliGemma configs", () => {
  test("PaliGemma 3B (224): defaults fill what the file omits", () => {
    const c = parseConfig({
      model_type: "paligemma", image_token_index: 257152, hidden_size: 2048, projection_dim: 2048,
      vision_config: { ...vision, num_image_tokens: 256 },
      text_config: { hidden_size: 2048, intermediate_size: 16384, model_type: "gemma", num_attention_heads: 8, num_hidden_layers: 18, num_image_tokens: 256, num_key_value_heads: 1, vocab_size: 257216 },
    });
    expect(c.text).toMatchObject({ generation: 1, headDim: 256, queryPreAttnScalar: 256, attnLogitSoftcap: 0, finalLogitSoftcap: 0, rmsNormEps: 1e-6, ropeTheta: 10000 });
    expect(c.vision).toMatchObject({ imageSize: 224, numPatches: 256, layerNormEps: 1e-6 });
    expect(c.eosTokenIds).toEqual([1]);
  });

  test.each([
    ["PG2-3B at 448", 448, { hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, query_pre_attn_scalar: 256 }, 1024],
    ["PG2-10B at 896", 896, { hidden_size: 3584, intermediate_size: 14336, num_hidden_layers: 42, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 256, query_pre_attn_scalar: 256 }, 4096],
    ["PG2-28B at 224", 224, { hidden_size: 4608, intermediate_size: 36864, num_hidden_layers: 46, num_attention_heads: 32, num_key_value_heads: 16, head_dim: 128, query_pre_attn_scalar: 144 }, 256],
  ])("%s", (_name, imageSize, text, patches) => {
    const c = parseConfig(
      {
        model_type: "paligemma",
        vision_config: { ...vision, image_size: imageSize },
        text_config: { model_type: "gemma2", vocab_size: 257216, attn_logit_softcapping: 50, final_logit_softcapping: 30, ...text },
      },
      { eos_token_id: [1, 107] },
    );
    expect(c.text).toMatchObject({
      generation: 2, hiddenSize: text.hidden_size, numKvHeads: text.num_key_value_heads, headDim: text.head_dim,
      queryPreAttnScalar: text.query_pre_attn_scalar, attnLogitSoftcap: 50, finalLogitSoftcap: 30,
    });
    expect(c.vision.numPatches).toBe(patches);
    expect(c.eosTokenIds).toEqual([1, 107]);
  });

  test("impossible configs are ConfigErrors naming the field", () => {
    expect(() => parseConfig({ model_type: "llava" })).toThrow(ConfigError);
    expect(() => parseConfig({ text_config: { model_type: "gemma3" } })).toThrow(/"gemma3" is not supported/);
    expect(() => parseConfig({ vision_config: { image_size: 225 } })).toThrow(/not a multiple of patch_size/);
    expect(() => parseConfig({ text_config: { head_dim: "x" } })).toThrow(/text_config.head_dim must be a number/);
    expect(() => parseConfig({ vision_config: { num_image_tokens: 100 } })).toThrow(/num_image_tokens 100/);
  });
});

// Each default below is transformers' for the class that reads the key (SiglipVisionConfig,
// GemmaConfig, Gemma2Config, PaliGemmaConfig); the README's table lists them.
describe("keys config.json omits take transformers' defaults", () => {
  const PG = { model_type: "paligemma" }; // every other key omitted
  const gemma2 = { model_type: "gemma2", hidden_size: 2304, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256 };

  test("PaliGemma 2 text without softcaps: Gemma2Config's 50 and 30; null means none", () => {
    expect(parseConfig({ text_config: gemma2 }).text).toMatchObject({ attnLogitSoftcap: 50, finalLogitSoftcap: 30 });
    const none = parseConfig({ text_config: { ...gemma2, attn_logit_softcapping: null, final_logit_softcapping: null } });
    expect(none.text).toMatchObject({ attnLogitSoftcap: 0, finalLogitSoftcap: 0 });
  });

  test("SigLIP without patch_size: SiglipVisionConfig's 16; without vision_config at all, PaliGemma's own (So400m/14)", () => {
    const c = parseConfig({ vision_config: { hidden_size: 1152, num_attention_heads: 16 } });
    expect(c.vision).toMatchObject({ patchSize: 16, imageSize: 224, numPatches: 196, intermediateSize: 3072, numLayers: 12 });
    expect(parseConfig(PG).vision).toMatchObject({ patchSize: 14, numPatches: 256, hiddenSize: 1152, intermediateSize: 4096, numLayers: 27, numHeads: 16 });
  });

  test("Gemma without num_attention_heads: GemmaConfig's 16 (and its other defaults); without text_config, PaliGemma's Gemma-2B", () => {
    const c = parseConfig({ text_config: { model_type: "gemma", hidden_size: 2048, num_key_value_heads: 1 } });
    expect(c.text).toMatchObject({ numHeads: 16, numKvHeads: 1, numLayers: 28, intermediateSize: 24576, headDim: 256 });
    expect(parseConfig(PG).text).toMatchObject({ numHeads: 8, numKvHeads: 1, numLayers: 18, intermediateSize: 16384, hiddenSize: 2048 });
    expect(parseConfig({ text_config: gemma2 }).text).toMatchObject({ numLayers: 26, intermediateSize: 9216, queryPreAttnScalar: 256 });
  });

  test("image_token_id is an alias of image_token_index", () => {
    expect(parseConfig({ ...PG, image_token_id: 1000 }).imageTokenId).toBe(1000);
    expect(parseConfig({ ...PG, image_token_index: 1000, image_token_id: 1000 }).imageTokenId).toBe(1000);
    expect(() => parseConfig({ ...PG, image_token_index: 1000, image_token_id: 999 })).toThrow(ConfigError);
    expect(parseConfig(PG).imageTokenId).toBe(257152);
  });

  test("dtype beside the older torch_dtype", () => {
    expect(parseConfig({ ...PG, dtype: "float32" }).dtype).toBe("float32");
    expect(parseConfig({ ...PG, torch_dtype: "bfloat16" }).dtype).toBe("bfloat16");
    expect(parseConfig(PG).dtype).toBeUndefined();
  });

  test("Gemma 2's sliding window: 4096 on the even layers unless sliding_window / layer_types say otherwise", () => {
    const c = parseConfig({ text_config: { ...gemma2, num_hidden_layers: 4 } });
    expect(c.text).toMatchObject({ slidingWindow: 4096, slidingLayers: [true, false, true, false] });
    const typed = parseConfig({
      text_config: { ...gemma2, num_hidden_layers: 3, sliding_window: 16, layer_types: ["full_attention", "sliding_attention", "full_attention"] },
    });
    expect(typed.text).toMatchObject({ slidingWindow: 16, slidingLayers: [false, true, false] });
    expect(() => parseConfig({ text_config: { ...gemma2, num_hidden_layers: 2, layer_types: ["sliding_attention"] } })).toThrow(/layer_types/);
    expect(parseConfig({ text_config: { model_type: "gemma" } }).text.slidingWindow).toBe(0);
  });
});
