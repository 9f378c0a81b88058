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
