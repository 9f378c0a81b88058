// Issue 16, items 4-5 for call options and the tokenizer: a wrong option is an InputError
// whose message shows what was received and its type (not "number 1 is not iterable"),
// and a tokenizer.json with an empty vocabulary is a TokenizerError, not a model that
// turns every word into <unk>.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { InputError, PaliGemma, TokenizerError } from "../../src/index.js";
import type { GenerationOptions } from "../../src/tasks/generate.js";
import { DEMO } from "./child.js";

const image = { width: 4, height: 4, channels: 3 as const, data: new Uint8Array(48).fill(128) };
const model = PaliGemma.load(DEMO, { device: "wasm" });
afterAll(async () => (await model).dispose());

describe("generation options", () => {
  test.each([
    [{ stopTokens: 1 }, "stopTokens must be an array of token ids (integers 0 to 1665), got 1 (a number)"],
    [{ stopTokens: [1.5] }, "stopTokens must be an array of token ids (integers 0 to 1665), got [1.5] (an array)"],
    [{ stopTokens: [1, 99999] }, "got [1,99999] (an array)"],
    [{ stopTokens: ["1"] }, 'got ["1"] (an array)'],
    [{ maxNewTokens: "5" }, 'maxNewTokens must be a positive integer, got "5" (a string)'],
    [{ seed: "42", temperature: 1 }, 'seed must be an integer, got "42" (a string)'],
    [{ temperature: "0.5" }, 'temperature must be a number >= 0, got "0.5" (a string)'],
    [{ topP: "0.9" }, 'topP must be a number in (0, 1], got "0.9" (a string)'],
  ])("%j", async (options, fragment) => {
    const pg = await model;
    for (const run of [
      () => pg.generate(image, "caption en", options as unknown as GenerationOptions),
      async () => {
        for await (const _ of pg.stream(image, "caption en", options as unknown as GenerationOptions));
      },
    ]) {
      const e = await run().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).code).toBe("INVALID_INPUT");
      expect((e as InputError).message).toContain(fragment);
    }
  });
});

test("a tokenizer.json with an empty vocabulary is a TokenizerError", async () => {
  const tokenizer = JSON.parse(readFileSync(join(DEMO, "tokenizer.json"), "utf8"));
  tokenizer.model.vocab = {};
  tokenizer.model.merges = [];
  const files = {
    "config.json": new Uint8Array(readFileSync(join(DEMO, "config.json"))),
    "model.safetensors": new Uint8Array(readFileSync(join(DEMO, "model.safetensors"))),
    "tokenizer.json": new TextEncoder().encode(JSON.stringify(tokenizer)),
  };
  const e = await PaliGemma.load(files, { device: "wasm" }).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(TokenizerError);
  expect((e as TokenizerError).code).toBe("INVALID_TOKENIZER");
  expect((e as TokenizerError).message).toContain("model.vocab is empty");
});
