// Issue 16, items 4-7 for config.json: values that used to load and then run garbage
// (or divide by zero inside WASM, or allocate gigabytes) are ConfigErrors naming the
// field and what was expected, raised before any weight is uploaded.
import { describe, expect, test } from "vitest";
import { ConfigError, type PaliGemmaError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { ReferenceBackend } from "../reference/backend.js";
import { reportOf, runChild } from "./child.js";
import { config, configWith, folderOf, modelFiles } from "./small-model.js";

/** The error loading with this config.json (an object, or raw text) gives. */
async function configError(configJson: unknown): Promise<PaliGemmaError> {
  const text = typeof configJson === "string" ? configJson : JSON.stringify(configJson);
  const files = modelFiles({ "config.json": new TextEncoder().encode(text) });
  const e = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend() }).then(
    () => undefined,
    (err: PaliGemmaError) => err,
  );
  if (!e) throw new Error("the config loaded");
  return e;
}

const expectConfigError = async (configJson: unknown, fragment: string) => {
  const e = await configError(configJson);
  expect(e).toBeInstanceOf(ConfigError);
  expect(e.code).toBe("INVALID_CONFIG");
  expect(e.message).toContain(fragment);
};

describe("sizes that would run garbage", () => {
  test.each([
    ["vision_config.num_attention_heads", 3, "vision_config.hidden_size 16 is not a multiple of num_attention_heads 3"],
    ["vision_config.num_attention_heads", 0, "vision_config.num_attention_heads is 0, expected a positive integer"],
    ["vision_config.hidden_size", 16.5, "vision_config.hidden_size is 16.5, expected a positive integer"],
    ["text_config.intermediate_size", -20, "text_config.intermediate_size is -20, expected a positive integer"],
    ["text_config.num_key_value_heads", 0, "text_config.num_key_value_heads is 0, expected a positive integer"],
    ["text_config.vocab_size", -96, "text_config.vocab_size is -96, expected a positive integer"],
    ["text_config.num_hidden_layers", 0, "text_config.num_hidden_layers is 0, expected a positive integer"],
    ["vision_config.num_hidden_layers", 1e9, "vision_config.num_hidden_layers is 1000000000, expected a positive integer of at most 1024"],
    ["text_config.rms_norm_eps", 0, "text_config.rms_norm_eps is 0, expected a number above 0"],
    ["vision_config.layer_norm_eps", -1e-6, "vision_config.layer_norm_eps is -0.000001, expected a number above 0"],
    ["text_config.rope_theta", 0, "text_config.rope_theta is 0, expected a number above 0"],
    ["text_config.rope_theta", -10000, "text_config.rope_theta is -10000, expected a number above 0"],
    ["image_token_index", 96, "image_token_index 96 is not a token id of the vocabulary (integers 0 to 95)"],
  ])("%s = %j", async (field, value, fragment) => {
    await expectConfigError(configWith(field, value), fragment);
  });

  test.each([
    ["text_config", 2, "text_config.num_hidden_layers is 2, but the checkpoint has 3 text layers"],
    ["text_config", 4, "text_config.num_hidden_layers is 4, but the checkpoint has 3 text layers"],
    ["vision_config", 1, "vision_config.num_hidden_layers is 1, but the checkpoint has 2 vision layers"],
  ])("%s.num_hidden_layers %i disagreeing with the checkpoint", async (section, layers, fragment) => {
    await expectConfigError(configWith(`${section}.num_hidden_layers`, layers), fragment);
  });
});

describe("documents that are not a PaliGemma config", () => {
  test.each([
    ["null", null, "config.json holds null, expected a JSON object"],
    ["an array", [], "config.json holds an array, expected a JSON object"],
    ["a deeply nested array", "[".repeat(100_000) + "]".repeat(100_000), "config.json holds an array"],
    ["an object of none of its keys", { a: { b: { c: {} } } }, "config.json has none of model_type, vision_config or text_config (its keys: a)"],
    ["a vision_config that is a string", { ...config, vision_config: "big" }, "config.json vision_config is string, expected a JSON object"],
  ])("%s", async (_what, json, fragment) => {
    await expectConfigError(json, fragment);
  });

  test("a missing vision_config says its sizes are transformers' defaults", async () => {
    const { vision_config: _, ...rest } = config;
    await expectConfigError(
      { ...rest, text_config: { ...config.text_config, num_image_tokens: 4 } },
      "num_image_tokens 4 != (image_size / patch_size)² = (224 / 14)² = 256 (config.json has no vision_config, so these are transformers' defaults)",
    );
  });
});

// Used to allocate 2.4 GB over 49 s (a Map of every implied tensor) before failing.
test.each([1e6, 1e9])("text_config.num_hidden_layers %d fails at once, in little memory", async (layers) => {
  const dir = folderOf(modelFiles({ "config.json": configWith("text_config.num_hidden_layers", layers) }));
  const report = await reportOf(
    runChild(`await pg.PaliGemmaForConditionalGeneration.load(args.dir, { device: "wasm" });`, { args: { dir }, timeoutMs: 15_000, maxHeapMiB: 256 }),
  );
  expect(report.error).toMatchObject({ name: "ConfigError", code: "INVALID_CONFIG" });
  expect(report.error!.message).toContain(`text_config.num_hidden_layers is ${layers}, expected a positive integer of at most 1024`);
  expect(report.peakMiB).toBeLessThan(400);
});
