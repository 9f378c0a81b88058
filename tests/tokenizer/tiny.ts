// Small BPE tokenizer.json files made here, in Gemma's format (Replace normaliser,
// no pre-tokenizer, <bos> template, Replace/ByteFallback/Fuse decoder), with a
// seeded random set of merges over a small alphabet and PaliGemma's tokens after
// the vocabulary. They check that nothing depends on the Gemma vocabulary, and
// exercise the model options Gemma leaves off.
import { paliGemmaTokens } from "../../src/tokenizer/paligemma-tokens.js";
import { rng } from "../harness/random.js";

export const ALPHABET = [..."abcdefghijklmnopqrstuvwxyz▁.,!?'éß日本"];

export interface TinyOptions {
  byteFallback?: boolean;
  fuseUnk?: boolean;
  ignoreMerges?: boolean;
  /** Merges as [left, right] pairs instead of "left right" strings. */
  pairMerges?: boolean;
  /** An added token that gives a merged token's id a new string (the old one keeps mapping to it). */
  reuseId?: boolean;
  seed?: number;
}

type Json = Record<string, unknown> & { added_tokens: Record<string, unknown>[]; model: Record<string, unknown> };

export function tinyTokenizerJson(opts: TinyOptions = {}): Json {
  const rand = rng(opts.seed ?? 1);
  const vocab: Record<string, number> = {};
  const add = (token: string) => (vocab[token] ??= Object.keys(vocab).length);
  for (const t of ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]) add(t);
  if (opts.byteFallback) for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  for (const c of ALPHABET) add(c);
  // Random merges of existing tokens: each rule's parts and result are in the vocabulary.
  const pieces = [...ALPHABET];
  const merges: [string, string][] = [];
  while (merges.length < 300) {
    const left = pieces[Math.floor(rand() * pieces.length)];
    const right = pieces[Math.floor(rand() * Math.min(pieces.length, ALPHABET.length + merges.length / 3))];
    const merged = left + right;
    if (merged in vocab || merged.length > 8) continue;
    merges.push([left, right]);
    add(merged);
    pieces.push(merged);
  }
  const size = Object.keys(vocab).length;
  const token = (id: number, content: string, special: boolean, extra: Record<string, unknown> = {}) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
    ...extra,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      token(0, "<pad>", true),
      token(1, "<eos>", true),
      token(2, "<bos>", true),
      token(3, "<unk>", true),
      token(4, "<mask>", false, { lstrip: true, rstrip: true }),
      ...paliGemmaTokens(size).map((t) => token(t.id, t.content, t.special)),
      // Matched after normalisation, so its space is a "▁" by then.
      token(size + 1153, "ab cd", false, { normalized: true }),
      ...(opts.reuseId ? [token(size - 1, "<renamed>", false)] : []),
    ],
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<eos>", type_id: 0 } }],
      pair: [],
      special_tokens: { "<bos>": { id: "<bos>", ids: [2], tokens: ["<bos>"] }, "<eos>": { id: "<eos>", ids: [1], tokens: ["<eos>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: opts.fuseUnk ?? false,
      byte_fallback: opts.byteFallback ?? false,
      ignore_merges: opts.ignoreMerges ?? false,
      vocab,
      merges: opts.pairMerges ? merges : merges.map(([l, r]) => `${l} ${r}`),
    },
  };
}

/** Seeded texts over the alphabet, with spaces, added tokens and characters the vocabulary lacks. */
export function tinyCorpus(seed: number, count: number): string[] {
  const rand = rng(seed);
  const extras = [" ", "  ", "<mask>", " <mask> ", "<loc0042>", "<seg007>", "<image>", "<bos>", "ab cd", "ab  cd", "Z", "🙂", "\ud800", "\n", "ab cdab cd"];
  return Array.from({ length: count }, () => {
    let s = "";
    const n = 1 + Math.floor(rand() * 30);
    for (let i = 0; i < n; i++) {
      const r = rand();
      s += r < 0.15 ? extras[Math.floor(rand() * extras.length)] : r < 0.3 ? " " : ALPHABET[Math.floor(rand() * ALPHABET.length)];
    }
    return s;
  });
}
