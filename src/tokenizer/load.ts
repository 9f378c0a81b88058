// loadTokenizer: a Hugging Face tokenizer.json -> a Tokenizer.
//
// Speed: the file is mostly model.vocab (256k entries) and model.merges (580k
// rules) for Gemma. Parsing those into JS objects (JSON.parse) costs more than
// everything else together, so the JSON is copied into WASM memory as bytes and
// tokenizer.wasm reads the vocabulary and merges from there into its own tables;
// only the small sections (normalizer, decoder, added_tokens...) go through JSON.parse.
import { TokenizerError } from "../errors.js";
import { AddedTokens, readAddedTokens } from "./added-tokens.js";
import { BpeTokenizer } from "./bpe-tokenizer.js";
import { createDecoder } from "./decoder.js";
import { createNormalizer } from "./normalizer.js";
import {
  GEMMA_VOCAB_SIZE,
  IMAGE_TOKEN,
  LOC_TOKENS,
  SEG_TOKENS,
  locToken,
  paliGemmaTokens,
  segToken,
} from "./paligemma-tokens.js";
import { readTemplate } from "./post-processor.js";
import type { Tokenizer } from "./tokenizer.js";
import { TokenizerWasm } from "./tokenizer-wasm.js";

/**
 * tokenizer.json as text, as bytes (the fastest: fetch(...).arrayBuffer()), or
 * already parsed (slower: it is serialised again for the WASM reader).
 */
export type TokenizerSource = string | Uint8Array | ArrayBuffer | object;

function toJson(source: TokenizerSource): string | Uint8Array {
  if (typeof source === "string" || source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (source === null || typeof source !== "object") {
    throw new TokenizerError(`loadTokenizer needs tokenizer.json as a string, bytes or an object, got ${source}`);
  }
  return JSON.stringify(source);
}

const optionalFlag = (value: unknown, name: string): boolean => {
  if (value === undefined || value === null || typeof value === "boolean") return value === true;
  throw new TokenizerError(`model.${name} must be true or false, got ${JSON.stringify(value)}`);
};

export async function loadTokenizer(source: TokenizerSource): Promise<Tokenizer> {
  const json = toJson(source);
  const wasm = await TokenizerWasm.create();
  try {
    const top = wasm.index(wasm.putJson(json));
    const section = (key: string, map = top): unknown => {
      const entry = map.get(key);
      return entry ? wasm.value(entry) : null;
    };

    // The model: BPE, with its vocabulary and merges read by the WASM side.
    const model = top.get("model")?.children;
    if (!model?.size) throw new TokenizerError("tokenizer.json has no model object");
    const type = section("type", model);
    if (type !== "BPE") {
      throw new TokenizerError(`model.type is ${JSON.stringify(type)}: only BPE tokenizers (like Gemma's) are supported`);
    }
    for (const unsupported of ["dropout", "continuing_subword_prefix", "end_of_word_suffix"]) {
      const value = section(unsupported, model);
      if (value !== null && value !== "" && value !== 0) {
        throw new TokenizerError(`model.${unsupported} = ${JSON.stringify(value)} is not supported (Gemma's tokenizers leave it null)`);
      }
    }
    if (section("pre_tokenizer") !== null) {
      throw new TokenizerError("a pre_tokenizer is not supported: Gemma's tokenizers have none (BPE runs on the whole normalised text)");
    }
    const normalizer = createNormalizer(section("normalizer"));
    const template = readTemplate(section("post_processor"));
    const decoder = createDecoder(section("decoder"));
    const vocab = model.get("vocab");
    const merges = model.get("merges");
    if (!vocab) throw new TokenizerError("model has no vocab");
    if (!merges) throw new TokenizerError("model has no merges");
    if (wasm.loadVocab(vocab) === 0) {
      throw new TokenizerError("model.vocab is empty: a BPE tokenizer needs its vocabulary (Gemma's has 256000 tokens)");
    }
    wasm.loadMerges(merges);

    // Added tokens come after the vocabulary, in their order (Hugging Face's).
    const added = readAddedTokens(section("added_tokens"));
    wasm.addTokens(added);
    if (wasm.findToken(IMAGE_TOKEN) === undefined) {
      if (wasm.vocabSize !== GEMMA_VOCAB_SIZE) {
        throw new TokenizerError(
          `tokenizer.json has no ${IMAGE_TOKEN} token and is not the plain ${GEMMA_VOCAB_SIZE}-token Gemma vocabulary ` +
            `(it has ${wasm.vocabSize}): a PaliGemma tokenizer needs <loc0000>..<loc1023>, <seg000>..<seg127> and <image>`,
        );
      }
      const extra = paliGemmaTokens(GEMMA_VOCAB_SIZE);
      wasm.addTokens(extra);
      added.push(...extra);
    }
    const id = (token: string): number => {
      const found = wasm.findToken(token);
      if (found === undefined) throw new TokenizerError(`tokenizer.json has no ${token} token`);
      return found;
    };
    const locBase = id(locToken(0));
    const segBase = id(segToken(0));
    for (let i = 0; i < Math.max(LOC_TOKENS, SEG_TOKENS); i++) {
      if (i < LOC_TOKENS && id(locToken(i)) !== locBase + i) throw new TokenizerError(`${locToken(i)} is not at ${locBase} + ${i}`);
      if (i < SEG_TOKENS && id(segToken(i)) !== segBase + i) throw new TokenizerError(`${segToken(i)} is not at ${segBase} + ${i}`);
    }
    // Hugging Face's PaliGemmaProcessor registers <image>, <locNNNN> and <segNNN> as added
    // tokens on whatever tokenizer it loads, so prompt text naming them encodes to their
    // ids even where a tokenizer.json has them only in its vocabulary: do the same.
    const registered = new Set(added.map((t) => t.content));
    added.push(...paliGemmaTokens(0).filter((t) => !registered.has(t.content)).map((t) => ({ ...t, id: id(t.content) })));

    const unk = section("unk_token", model);
    if (unk !== null && typeof unk !== "string") throw new TokenizerError(`model.unk_token must be a string, got ${JSON.stringify(unk)}`);
    const unkId = unk === null ? -1 : id(unk);
    wasm.configure(
      optionalFlag(section("byte_fallback", model), "byte_fallback"),
      unkId,
      optionalFlag(section("fuse_unk", model), "fuse_unk"),
      optionalFlag(section("ignore_merges", model), "ignore_merges"),
    );

    return new BpeTokenizer(wasm, {
      added: new AddedTokens(added, normalizer),
      template,
      decoder,
      special: new Set(added.filter((t) => t.special).map((t) => t.content)),
      unkToken: unk ?? undefined,
      bosId: id("<bos>"),
      eosId: id("<eos>"),
      padId: id("<pad>"),
      imageTokenId: id(IMAGE_TOKEN),
      locBase,
      segBase,
    });
  } finally {
    wasm.releaseJson();
  }
}
