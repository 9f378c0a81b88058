// Bad tokenizer.json files and bad calls: typed errors (code + a message saying
// what is wrong), never a crash inside WASM or a silently wrong tokenizer.
import { describe, expect, it } from "vitest";
import { DisposedError, InputError, PaliGemmaError, TokenizerError } from "../../src/errors.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { tinyTokenizerJson } from "./tiny.js";

type Json = ReturnType<typeof tinyTokenizerJson>;

/** The tiny tokenizer.json with one change. */
function broken(change: (json: Json) => void): Json {
  const json = tinyTokenizerJson({ byteFallback: true });
  change(json);
  return json;
}

async function loadError(source: unknown): Promise<PaliGemmaError> {
  const error = await loadTokenizer(source as object).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenizerError);
  expect((error as TokenizerError).code).toBe("INVALID_TOKENIZER");
  return error as TokenizerError;
}

describe("malformed tokenizer.json", () => {
  const vocab = (json: Json) => json.model.vocab as Record<string, unknown>;
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", '{"model": {"type": "BPE",', /not valid JSON at byte 25/],
    ["JSON but not an object", "[1, 2]", /not valid JSON at byte 0/],
    ["trailing garbage", JSON.stringify(tinyTokenizerJson()) + " x", /not valid JSON/],
    ["not a tokenizer.json at all", 42, /string, bytes or an object/],
    ["no model", broken((j) => delete (j as Partial<Json>).model), /has no model/],
    ["a Unigram model", broken((j) => (j.model.type = "Unigram")), /only BPE/],
    ["no vocab", broken((j) => delete j.model.vocab), /model has no vocab/],
    ["no merges", broken((j) => delete j.model.merges), /model has no merges/],
    ["a vocab that is an array", broken((j) => (j.model.vocab = ["a", "b"])), /model.vocab must be an object/],
    ["merges that are an object", broken((j) => (j.model.merges = { a: "b" })), /model.merges must be an array/],
    ["a vocab id that is a string", broken((j) => (vocab(j).abc = "7")), /ids must be integers/],
    ["a negative vocab id", broken((j) => (vocab(j).abc = -1)), /ids must be integers/],
    ["a fractional vocab id", broken((j) => (vocab(j).abc = 1.5)), /ids must be integers/],
    ["a merge of unknown tokens", broken((j) => (j.model.merges as string[]).push("zq qz")), /not in model.vocab: "\\"zq qz\\""$/],
    ["a merge without a space", broken((j) => (j.model.merges as string[]).splice(3, 0, "abc")), /neither "left right"/],
    ["a merge that is a number", broken((j) => (j.model.merges as unknown[]).push(5)), /neither "left right"/],
    ["dropout", broken((j) => (j.model.dropout = 0.1)), /dropout = 0.1 is not supported/],
    ["a byte_fallback that is not a boolean", broken((j) => (j.model.byte_fallback = "yes")), /byte_fallback must be true or false/],
    ["an unsupported normalizer", broken((j) => (j.normalizer = { type: "NFKC" })), /unsupported normalizer "NFKC"/],
    ["a regex Replace", broken((j) => (j.normalizer = { type: "Replace", pattern: { Regex: " +" }, content: "▁" })), /regex patterns are not supported/],
    ["a pre-tokenizer", broken((j) => (j.pre_tokenizer = { type: "Metaspace" })), /pre_tokenizer is not supported/],
    ["an unsupported decoder", broken((j) => (j.decoder = { type: "Strip", content: " ", start: 1, stop: 0 })), /unsupported decoder "Strip"/],
    ["an unsupported post-processor", broken((j) => (j.post_processor = { type: "BertProcessing" })), /unsupported post_processor/],
    ["a template naming a missing special token", broken((j) => ((j.post_processor as { special_tokens: object }).special_tokens = {})), /has no ids/],
    ["added_tokens that is not an array", broken((j) => ((j as Record<string, unknown>).added_tokens = {})), /added_tokens must be an array/],
    ["an added token without content", broken((j) => j.added_tokens.push({ id: 9 })), /non-empty string content/],
    ["an added token giving a vocabulary string another id", broken((j) => j.added_tokens.push({ id: 7, content: Object.keys(vocab(j))[300] })), /already gives it id/],
    ["an unk_token not in the vocabulary", broken((j) => (j.model.unk_token = "<nope>")), /no <nope> token/],
    ["no <eos>", broken((j) => (j.added_tokens = j.added_tokens.filter((t) => t.content !== "<eos>")) && delete vocab(j)["<eos>"]), /no <eos> token/],
    [
      "no PaliGemma tokens, and not Gemma's 256000-token vocabulary",
      broken((j) => (j.added_tokens = j.added_tokens.filter((t) => !/^<(loc|seg|image)/.test(t.content as string)))),
      /no <image> token and is not the plain 256000-token Gemma vocabulary/,
    ],
    [
      "location tokens out of order",
      broken((j) => {
        const [a, b] = [j.added_tokens.find((t) => t.content === "<loc0001>")!, j.added_tokens.find((t) => t.content === "<loc0002>")!];
        [a.id, b.id] = [b.id, a.id];
      }),
      /<loc0001> is not at \d+ \+ 1/,
    ],
  ];

  it.each(cases)("%s", async (_, source, message) => {
    expect((await loadError(source)).message).toMatch(message);
  });
});

describe("tokenizer.json as text, bytes or an object", () => {
  it("loads the same tokenizer from each, including text that is mostly non-ASCII", async () => {
    const json = tinyTokenizerJson({ byteFallback: true });
    // An unknown top-level key full of 3-byte characters: more UTF-8 than the first guess.
    const text = JSON.stringify({ comment: "日本語".repeat(2000), ...json });
    const sources = [json, text, new TextEncoder().encode(text), new TextEncoder().encode(text).buffer];
    const sample = "abc <loc0001>日本 xyz🙂";
    const want = Array.from((await loadTokenizer(json)).encode(sample).ids);
    for (const source of sources) expect(Array.from((await loadTokenizer(source)).encode(sample).ids)).toEqual(want);
  });
});

describe("bad calls", () => {
  it("throws InputError for bad arguments and DisposedError after dispose", async () => {
    const tokenizer = await loadTokenizer(tinyTokenizerJson());
    expect(() => tokenizer.encode(42 as unknown as string)).toThrow(InputError);
    expect(() => tokenizer.decode([1, 2.5])).toThrow(/integer ids, got 2.5 at index 1/);
    expect(() => tokenizer.locTokenId(1024)).toThrow(InputError);
    expect(() => tokenizer.segTokenId(-1)).toThrow(InputError);
    expect(tokenizer.idToToken(-1)).toBeUndefined();
    expect(tokenizer.idToToken(1.5)).toBeUndefined();
    tokenizer.dispose();
    expect(() => tokenizer.encode("abc")).toThrow(DisposedError);
    expect(() => tokenizer.tokenToId("abc")).toThrow(DisposedError);
  });
});
