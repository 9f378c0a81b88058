// A tokenizer.json may hold <locNNNN>, <segNNN> and <image> only in its vocabulary, not
// in added_tokens. Hugging Face's PaliGemmaProcessor registers them as added tokens on
// any tokenizer it loads, so "<loc0123>" in prompt text (referring expressions,
// few-shot detection) encodes to its id, never to BPE pieces; so must ours. Oracle:
// @huggingface/tokenizers on the same vocabulary with the tokens registered, as the
// processor leaves it.
import { Tokenizer as OracleTokenizer } from "@huggingface/tokenizers";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { paliGemmaTokens } from "../../src/tokenizer/paligemma-tokens.js";
import { GEMMA_TOKENIZER_JSON } from "./gemma.js";
import { tinyTokenizerJson } from "./tiny.js";

const PROMPTS = [
  "detect <loc0123><loc0456><loc0789><loc1023> cat ; dog",
  "segment <seg012><seg127>x",
  "caption en<loc0000>",
  "<image><bos>answer en what is at <loc0512><loc0001>?",
  "a<loc0999>b <seg000> c",
];

/** The PaliGemma tokens moved out of added_tokens into model.vocab, at the same ids. */
function vocabOnly(json: { added_tokens: Record<string, unknown>[]; model: Record<string, unknown> }) {
  const names = new Set(paliGemmaTokens(0).map((t) => t.content));
  const ours = (t: Record<string, unknown>) => names.has(t.content as string);
  const vocab = json.model.vocab as Record<string, number>;
  for (const t of json.added_tokens.filter(ours)) vocab[t.content as string] = t.id as number;
  return { ...json, added_tokens: json.added_tokens.filter((t) => !ours(t)) };
}

describe("PaliGemma's tokens held only in the vocabulary are registered as added tokens", () => {
  test("a small tokenizer: the same ids as with them in added_tokens", async () => {
    const registered = await loadTokenizer(tinyTokenizerJson());
    const inVocab = await loadTokenizer(vocabOnly(tinyTokenizerJson()));
    try {
      for (const text of PROMPTS) {
        expect(Array.from(inVocab.encode(text).ids), text).toEqual(Array.from(registered.encode(text).ids));
      }
      const ids = inVocab.encode("<loc0123>", { addSpecialTokens: false }).ids;
      expect(Array.from(ids)).toEqual([inVocab.locBase + 123]);
      expect(inVocab.decode(inVocab.encode("<image>x<seg005>", { addSpecialTokens: false }).ids, { skipSpecialTokens: true })).toBe("x<seg005>");
    } finally {
      registered.dispose();
      inVocab.dispose();
    }
  });

  test("Gemma's vocabulary with them appended to it: <loc0123> is 256123, as Hugging Face's processor gives", async () => {
    const gemma = JSON.parse(readFileSync(GEMMA_TOKENIZER_JSON, "utf8"));
    const tokens = paliGemmaTokens(256000).map((t) => ({ ...t, single_word: false }));
    const withTokens = { ...gemma, added_tokens: [...gemma.added_tokens, ...tokens] };
    const oracle = new OracleTokenizer(withTokens, { clean_up_tokenization_spaces: false });
    const ours = await loadTokenizer(vocabOnly(structuredClone(withTokens)));
    try {
      expect(Array.from(ours.encode("<loc0123>", { addSpecialTokens: false }).ids)).toEqual([256123]);
      for (const text of PROMPTS) {
        expect(Array.from(ours.encode(text).ids), text).toEqual(oracle.encode(text).ids);
      }
    } finally {
      ours.dispose();
    }
  });
});
