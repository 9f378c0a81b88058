// The real Gemma vocabulary against the oracle, @huggingface/tokenizers (the JS
// port of Hugging Face tokenizers), on a corpus of several hundred texts: ids
// exact, decoded text exact, id <-> token exact, and our load faster than theirs.
import { Tokenizer as OracleTokenizer } from "@huggingface/tokenizers";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/index.js";
import { paliGemmaTokens } from "../../src/tokenizer/paligemma-tokens.js";
import { rng } from "../harness/random.js";
import { corpus } from "./corpus.js";
import { GEMMA_TOKENIZER_JSON } from "./gemma.js";

const texts = corpus();

let ours: Tokenizer;
let fromPaliGemmaFile: Tokenizer;
let oracle: OracleTokenizer;
let oursMs: number;
let oracleMs: number;

beforeAll(async () => {
  const text = readFileSync(GEMMA_TOKENIZER_JSON, "utf8");
  let t = performance.now();
  ours = await loadTokenizer(text);
  oursMs = performance.now() - t;

  // The oracle gets a PaliGemma tokenizer.json: Gemma's plus the tokens in Hugging Face's form.
  t = performance.now();
  const json = JSON.parse(text);
  const parseMs = performance.now() - t;
  const paliGemma = paliGemmaTokens(256000).map((token) => ({ ...token, single_word: false }));
  json.added_tokens.push(...paliGemma);
  t = performance.now();
  // Gemma's tokenizer_config.json turns off the clean-up of spaces before punctuation.
  oracle = new OracleTokenizer(json, { clean_up_tokenization_spaces: false });
  oracleMs = parseMs + performance.now() - t;

  // The same file with the tokens already in it (spliced into its text: cheaper than
  // JSON.stringify), as bytes: they must be read, not appended.
  const withTokens = text.replace('"added_tokens": [', `"added_tokens": [${paliGemma.map((t) => JSON.stringify(t)).join(",")},`);
  expect(withTokens.length).toBeGreaterThan(text.length);
  fromPaliGemmaFile = await loadTokenizer(new TextEncoder().encode(withTokens));
});

/** The first few differences, printed whole so a failure says what went wrong. */
function mismatches<T>(cases: readonly T[], check: (c: T) => string | undefined, limit = 5): string[] {
  const out: string[] = [];
  for (const c of cases) {
    const problem = check(c);
    if (problem !== undefined && out.push(problem) >= limit) break;
  }
  return out;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((x, i) => x === b[i]);

describe("Gemma + PaliGemma tokenizer vs @huggingface/tokenizers", () => {
  it(`encodes ${texts.length} texts to the same ids, with and without special tokens`, () => {
    const bad = mismatches(texts, (text) => {
      for (const addSpecialTokens of [true, false]) {
        const want = oracle.encode(text, { add_special_tokens: addSpecialTokens }).ids;
        const got = ours.encode(text, { addSpecialTokens }).ids;
        if (!same(got, want)) return `${JSON.stringify(text)} (special ${addSpecialTokens}): got ${got.join(",")} want ${want.join(",")}`;
      }
      return undefined;
    });
    expect(bad).toEqual([]);
  });

  it("reads the PaliGemma tokens from a file that has them, to the same effect", () => {
    expect(fromPaliGemmaFile.vocabSize).toBe(ours.vocabSize);
    expect([fromPaliGemmaFile.imageTokenId, fromPaliGemmaFile.locBase, fromPaliGemmaFile.segBase]).toEqual([257152, 256000, 257024]);
    const bad = mismatches(texts, (text) => {
      const want = ours.encode(text).ids;
      const got = fromPaliGemmaFile.encode(text).ids;
      return same(got, want) ? undefined : `${JSON.stringify(text)}: got ${got.join(",")} want ${want.join(",")}`;
    });
    expect(bad).toEqual([]);
  });

  it("decodes every text's ids to the oracle's text, keeping or skipping special tokens", () => {
    const bad = mismatches(texts, (text) => {
      const ids = Array.from(oracle.encode(text).ids);
      for (const skip of [false, true]) {
        const want = oracle.decode(ids, { skip_special_tokens: skip });
        const got = ours.decode(ids, { skipSpecialTokens: skip });
        if (got !== want) return `${JSON.stringify(text)} (skip ${skip}): got ${JSON.stringify(got)} want ${JSON.stringify(want)}`;
      }
      return undefined;
    });
    expect(bad).toEqual([]);
  });

  it("decodes random id sequences (byte tokens making invalid UTF-8, specials, ids past the vocabulary) as the oracle", () => {
    const rand = rng(7);
    const byteToken = () => 217 + Math.floor(rand() * 256); // <0x00>..<0xFF>
    const anyId = () => Math.floor(rand() * 257153);
    const sequences = Array.from({ length: 300 }, (_, i) =>
      Array.from({ length: 1 + Math.floor(rand() * 20) }, () => {
        const r = rand();
        if (i % 3 === 0 && r < 0.7) return byteToken();
        if (r < 0.05) return Math.floor(rand() * 4); // <pad> <eos> <bos> <unk>
        if (r < 0.08) return 257153 + Math.floor(rand() * 100); // no token: decodes as <unk>
        return anyId();
      }),
    );
    const bad = mismatches(sequences, (ids) => {
      for (const skip of [false, true]) {
        const want = oracle.decode(ids, { skip_special_tokens: skip });
        const got = ours.decode(ids, { skipSpecialTokens: skip });
        if (got !== want) return `${ids.join(",")} (skip ${skip}): got ${JSON.stringify(got)} want ${JSON.stringify(want)}`;
      }
      return undefined;
    });
    expect(bad).toEqual([]);
  });

  it("maps ids to tokens and back as the oracle", () => {
    const rand = rng(11);
    const ids = [...Array.from({ length: 3000 }, () => Math.floor(rand() * 257153)), 0, 1, 2, 3, 255999, 256000, 257151, 257152];
    const bad = mismatches(ids, (id) => {
      const token = ours.idToToken(id);
      const want = oracle.id_to_token(id);
      if (token !== want) return `idToToken(${id}) = ${JSON.stringify(token)}, oracle ${JSON.stringify(want)}`;
      if (ours.tokenToId(token!) !== oracle.token_to_id(token!)) return `tokenToId(${JSON.stringify(token)}) = ${ours.tokenToId(token!)}`;
      return undefined;
    });
    expect(bad).toEqual([]);
    expect(ours.idToToken(257153)).toBeUndefined();
    expect(ours.tokenToId("no such token")).toBeUndefined();
  });

  it("loads the 256k vocabulary faster than @huggingface/tokenizers (JSON.parse + Tokenizer)", () => {
    console.log(`tokenizer load: ours ${oursMs.toFixed(0)} ms, @huggingface/tokenizers ${oracleMs.toFixed(0)} ms`);
    expect(oursMs).toBeLessThan(oracleMs);
  });
});
