// Writes models/tiny-random/tokenizer.json: a Hugging Face BPE tokenizer for the tiny
// random PaliGemma (tests/fixtures/tiny-pg1: vocab 1024, pad 0, eos 1, bos 2,
// image_token_index 1000). It has Gemma's shape (no pre-tokenizer, " " -> "▁"
// normaliser, <bos> template, byte fallback, Replace/ByteFallback/Fuse decoder) so the
// SDK reads it exactly as it reads PaliGemma's, just with a vocabulary small enough for
// the tiny model.
//
// Layout: 0-3 specials, 4-259 <0x00>..<0xFF>, then single characters and BPE pieces
// learned greedily (most frequent pair first, ties broken by the pair's text) from the
// word list below, <image> at 1000, and more pieces up to 1023: the model's 1024 ids.
// PaliGemma's <loc0000>..<loc1023> and <seg000>..<seg127> follow at 1024..2175, because
// every PaliGemma tokenizer has them (the SDK's loader insists); they lie beyond the tiny
// model's logits, so it never emits one and its detect/segment answers hold no box.
//
//   node scripts/make-tiny-tokenizer.mjs [out.json]   (default models/tiny-random/tokenizer.json)
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const VOCAB_SIZE = 1024;
const IMAGE_ID = 1000;
const SPACE = "\u2581"; // "▁": SentencePiece's visible space

// The task prompts PaliGemma was trained with come first and count most.
const PROMPT_WORDS = "caption describe answer question detect segment ocr en es fr de".split(" ");
const WORDS = `the of and a to in is you that it he was for on are as with his they at be this have
from or one had by word but not what all were we when your can said there use an each which she do
how their if will up other about out many then them these so some her would make like him into time
has look two more write go see number no way could people my than first water been call who oil its
now find long down day did get come made may part image photo picture cat dog person car tree sky
road house man woman child people red green blue white black yellow small large left right top
bottom sitting standing on table chair street grass field sign text window door building water
boat bird horse food plate cup bottle phone person face hand hat shirt light sun cloud mountain
beach city night background front behind next near two three four five many some there here
what where which who how many color is are this that image shows in of with animal kitchen
flowers garden snow river bridge train airplane bicycle motorcycle truck bus traffic wooden
holding wearing walking playing eating looking riding driving flying empty open closed
orange purple brown pink gray dark bright old young happy group couple crowd together
outside inside under above over between around corner room wall floor ceiling lamp
computer keyboard screen book paper letter numbers words menu price label bottle glass`.split(/\s+/);

/** Word -> weight: prompt words x50, the rest x(1 + repeats), each with and without ▁. */
function corpus() {
  const weights = new Map();
  const add = (w, n) => weights.set(w, (weights.get(w) ?? 0) + n);
  for (const w of PROMPT_WORDS) {
    add(w, 50);
    add(SPACE + w, 50);
  }
  for (const w of WORDS) {
    add(SPACE + w, 3);
    add(w[0].toUpperCase() + w.slice(1), 1);
  }
  return weights;
}

/** Greedy BPE: the most frequent adjacent pair merges first, ties by the pair's text. */
function learnMerges(weights, count) {
  const words = [...weights].map(([w, n]) => ({ symbols: [...w], n }));
  const merges = [];
  while (merges.length < count) {
    const pairs = new Map();
    for (const { symbols, n } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + " " + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best;
    for (const [key, n] of pairs) {
      if (!best || n > best[1] || (n === best[1] && key < best[0])) best = [key, n];
    }
    if (!best) throw new Error(`the word list only yields ${merges.length} merges; ${count} are needed`);
    merges.push(best[0]);
    const [a, b] = best[0].split(" ");
    for (const w of words) {
      const out = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else {
          out.push(w.symbols[i]);
        }
      }
      w.symbols = out;
    }
  }
  return merges;
}

const added = (id, content, special) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special,
});

export function makeTinyTokenizer() {
  const vocab = {};
  const put = (token) => {
    if (token in vocab) throw new Error(`duplicate token ${JSON.stringify(token)}`);
    vocab[token] = Object.keys(vocab).length;
  };
  for (const s of ["<pad>", "<eos>", "<bos>", "<unk>"]) put(s);
  for (let b = 0; b < 256; b++) put(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  // Single characters: ▁, newline (every prompt ends with one), printable ASCII.
  put(SPACE);
  put("\n");
  for (let c = 0x21; c < 0x7f; c++) put(String.fromCharCode(c));
  const pieces = VOCAB_SIZE - 1 - Object.keys(vocab).length; // one id is <image>
  const merges = learnMerges(corpus(), pieces);
  for (const m of merges) {
    if (Object.keys(vocab).length === IMAGE_ID) put("<image>");
    put(m.replace(" ", ""));
  }
  if (Object.keys(vocab).length !== VOCAB_SIZE || vocab["<image>"] !== IMAGE_ID) {
    throw new Error("the vocabulary does not come out at 1024 ids with <image> at 1000");
  }
  const locSeg = [
    ...Array.from({ length: 1024 }, (_, i) => `<loc${String(i).padStart(4, "0")}>`),
    ...Array.from({ length: 128 }, (_, i) => `<seg${String(i).padStart(3, "0")}>`),
  ];
  for (const t of locSeg) put(t);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      added(0, "<pad>", true),
      added(1, "<eos>", true),
      added(2, "<bos>", true),
      added(3, "<unk>", true),
      added(IMAGE_ID, "<image>", true),
      // Not special, as in Hugging Face's PaliGemma: they carry detect/segment answers.
      ...locSeg.map((t) => added(vocab[t], t, false)),
    ],
    normalizer: { type: "Replace", pattern: { String: " " }, content: SPACE },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<bos>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<bos>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<bos>": { id: "<bos>", ids: [2], tokens: ["<bos>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: SPACE }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? fileURLToPath(new URL("../models/tiny-random/tokenizer.json", import.meta.url));
  writeFileSync(out, JSON.stringify(makeTinyTokenizer(), null, 1) + "\n");
  console.log(`wrote ${out}`);
}
