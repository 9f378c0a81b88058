// models/tiny-random, the bundled demo model: its tokenizer.json is what the script
// writes, agrees with the model's config, and our tokenizer reads it exactly as
// Hugging Face's tokenizers.js does.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { loadTokenizer } from "../../src/tokenizer/index.js";
// @ts-expect-error a plain .mjs script without types
import { makeTinyTokenizer } from "../../scripts/make-tiny-tokenizer.mjs";

const DIR = "models/tiny-random/";
const json = readFileSync(DIR + "tokenizer.json", "utf8");
const config = JSON.parse(readFileSync(DIR + "config.json", "utf8"));

const TEXTS = [
  "caption en\n",
  "describe es\n",
  "answer en What color is the house?\n",
  "detect cat ; dog\n",
  "segment person\n",
  "ocr\n",
  "  two  spaces and\ttabs\n",
  "Ünïcödé ☃ 日本語 🙂",
  "<image><bos>caption en",
  "<loc0012><loc1023><seg005> roof",
];

describe("models/tiny-random", () => {
  it("tokenizer.json is what scripts/make-tiny-tokenizer.mjs writes", () => {
    expect(JSON.parse(json)).toEqual(makeTinyTokenizer());
  });

  it("has the same weights as the tiny-pg1 fixture", () => {
    expect(readFileSync(DIR + "model.safetensors").equals(readFileSync("tests/fixtures/tiny-pg1/model.safetensors"))).toBe(true);
    expect(config).toEqual(JSON.parse(readFileSync("tests/fixtures/tiny-pg1/config.json", "utf8")));
  });

  it("the tokenizer's special ids are the config's, and the model's 1024 ids are all text tokens", async () => {
    const tok = await loadTokenizer(json);
    try {
      expect([tok.padId, tok.eosId, tok.bosId, tok.imageTokenId]).toEqual([
        config.pad_token_id,
        config.eos_token_id,
        config.bos_token_id,
        config.image_token_index,
      ]);
      expect(tok.idToToken(config.vocab_size - 1)).not.toMatch(/^<(loc|seg)/);
      expect(tok.locBase).toBe(config.vocab_size);
    } finally {
      tok.dispose();
    }
  });

  it("encodes and decodes as @huggingface/tokenizers does", async () => {
    // Gemma's tokenizer_config.json turns tokenizers.js's " !" -> "!" clean-up off.
    const hf = new HfTokenizer(JSON.parse(json), { clean_up_tokenization_spaces: false });
    const tok = await loadTokenizer(json);
    try {
      for (const text of TEXTS) {
        const want = hf.encode(text).ids;
        const got = Array.from(tok.encode(text).ids);
        expect(got, JSON.stringify(text)).toEqual(want);
        expect(tok.decode(got), JSON.stringify(text)).toBe(hf.decode(want));
        expect(tok.decode(got, { skipSpecialTokens: true })).toBe(hf.decode(want, { skip_special_tokens: true }));
      }
      // Every id the tiny model can emit decodes as tokenizers.js decodes it.
      const all = Array.from({ length: config.vocab_size }, (_, i) => i);
      expect(tok.decode(all)).toBe(hf.decode(all));
    } finally {
      tok.dispose();
    }
  });
});
