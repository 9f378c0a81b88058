// Small made-up BPE vocabularies (tiny.ts) against @huggingface/tokenizers: the
// same code must serve any tokenizer.json in Gemma's format, including the model
// options Gemma leaves off (fuse_unk, ignore_merges, no byte fallback, [l, r] merges).
import { Tokenizer as OracleTokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { tinyCorpus, tinyTokenizerJson, type TinyOptions } from "./tiny.js";

const variants: [string, TinyOptions][] = [
  ["byte fallback", { byteFallback: true }],
  ["unknown token, fuse_unk, [left, right] merges", { fuseUnk: true, pairMerges: true, seed: 2 }],
  ["unknown token, no fusing, an id renamed by an added token", { seed: 3, reuseId: true }],
  ["ignore_merges with byte fallback", { ignoreMerges: true, byteFallback: true, seed: 4 }],
];

describe.each(variants)("small BPE tokenizer.json: %s", (_, opts) => {
  const json = tinyTokenizerJson(opts);
  // Every vocabulary entry as a whole text too: that is where ignore_merges matters.
  const texts = [...tinyCorpus(opts.seed ?? 1, 300), ...Object.keys(json.model.vocab as object), "<renamed>"];

  it("encodes and decodes like @huggingface/tokenizers", async () => {
    const ours = await loadTokenizer(json);
    const oracle = new OracleTokenizer(structuredClone(json), { clean_up_tokenization_spaces: false });
    const bad: string[] = [];
    for (const text of texts) {
      const want = Array.from(oracle.encode(text).ids);
      const got = Array.from(ours.encode(text).ids);
      if (got.join() !== want.join()) bad.push(`encode ${JSON.stringify(text)}: got ${got} want ${want}`);
      for (const skip of [false, true]) {
        const wantText = oracle.decode(want, { skip_special_tokens: skip });
        const gotText = ours.decode(want, { skipSpecialTokens: skip });
        if (gotText !== wantText) bad.push(`decode ${want} (skip ${skip}): got ${JSON.stringify(gotText)} want ${JSON.stringify(wantText)}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    // Read from the file, not assumed: the vocabulary ends where the PaliGemma tokens begin.
    const size = Object.keys(json.model.vocab as object).length;
    expect([ours.locBase, ours.segBase, ours.imageTokenId, ours.vocabSize]).toEqual([size, size + 1024, size + 1152, size + 1154]);
    expect(Array.from(ours.encode("").ids)).toEqual([2, 1]);
    expect(Array.from(ours.encode("", { addSpecialTokens: false }).ids)).toEqual([]);
  });
});
