// The real Gemma vocabulary against goldens made outside this SDK (see
// tests/fixtures/tokenizer/README.md): every case's ids and decoded text exact.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/index.js";
import { FIXTURES } from "../harness/fixtures.js";
import { GEMMA_TOKENIZER_JSON } from "./gemma.js";

interface Golden {
  cases: { text: string; ids: number[]; decoded: string }[];
}
const golden = JSON.parse(readFileSync(`${FIXTURES}tokenizer/golden.json`, "utf8")) as Golden;

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(readFileSync(GEMMA_TOKENIZER_JSON, "utf8"));
});

describe("Gemma tokenizer.json (plain, PaliGemma tokens appended) vs goldens", () => {
  it.each(golden.cases.map((c) => [JSON.stringify(c.text).slice(0, 60), c] as const))("%s", (_, c) => {
    expect(Array.from(tokenizer.encode(c.text, { addSpecialTokens: false }).ids)).toEqual(c.ids);
    expect(tokenizer.decode(c.ids)).toBe(c.decoded);
  });

  it("prepends <bos> by default, as the post-processor's template says", () => {
    const c = golden.cases[0];
    expect(Array.from(tokenizer.encode(c.text).ids)).toEqual([tokenizer.bosId, ...c.ids]);
  });

  it("has PaliGemma's ids", () => {
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([2, 1, 0]);
    expect(tokenizer.imageTokenId).toBe(257152);
    expect(tokenizer.vocabSize).toBe(257153);
    expect([tokenizer.locTokenId(0), tokenizer.locTokenId(1023)]).toEqual([256000, 257023]);
    expect([tokenizer.segTokenId(0), tokenizer.segTokenId(127)]).toEqual([257024, 257151]);
  });
});
