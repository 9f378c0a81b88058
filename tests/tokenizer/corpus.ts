// Texts to compare against the oracle (@huggingface/tokenizers): many scripts,
// emoji, whitespace runs, long inputs, seeded random unicode (unpaired surrogates
// and control characters included), strings that look like special tokens, and
// PaliGemma's <loc>/<seg>/<image> tokens glued to text.
import { rng } from "../harness/random.js";

const SENTENCES = [
  "The quick brown fox jumps over the lazy dog.",
  "Portez ce vieux whisky au juge blond qui fume.",
  "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg.",
  "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío, añoraba a su querido cachorro.",
  "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
  "Съешь же ещё этих мягких французских булок, да выпей чаю.",
  "我能吞下玻璃而不伤身体。繁體中文測試：龜鑑。",
  "いろはにほへと ちりぬるを　わかよたれそ つねならむ",
  "다람쥐 헌 쳇바퀴에 타고파",
  "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
  "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
  "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम",
  "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า",
  "Tiếng Việt có dấu: Trăm năm trong cõi người ta.",
  "Pijamalı hasta yağız şoföre çabucak güvendi.",
  "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
  "ሰማይ አይታረስ ንጉሥ አይከሰስ።",
  "ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ᛫ᚠᛁᚱᚪ᛫ᚷᛖᚻᚹᛦᛚᚳᚢᛗ",
  "Emoji: 😀😃😄 👍🏻👍🏿 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇫🇷 ❤️ ✈︎ 1️⃣ 🫠🪿",
  "Math: ∀x∈ℝ, ∃y: x² + y² ≥ 0 ⇒ √(x²) = |x| ∮ E⋅da = Q/ε₀",
  "caption en",
  "detect cat ; dog ; person",
  "segment the red car",
  "answer en How many people are in the picture?",
  'JSON: {"key": [1, 2.5, null, true], "nested": {"a": "b\\n"}}',
  "def f(x):\n    return x ** 2  # square\n\n\tprint(f(3))\r\n",
  "Ｆｕｌｌｗｉｄｔｈ ＡＳＣＩＩ and ｈａｌｆｗｉｄｔｈ ｶﾀｶﾅ",
  "Combining: e\u0301 a\u0308 n\u0303 and precomposed é ä ñ; Hangul jamo \u1100\u1161\u11a8",
  "Zero width: a\u200bb\u200cc\u200dd\u2060e\ufeff!",
];

const WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u000b", "\u000c"];

const LOOKALIKES = [
  "<bos",
  "<bos>>",
  "<<bos>",
  "<BOS>",
  "< bos>",
  "<eos><eos>",
  "<pad>",
  "<unk>",
  "<mask>",
  "<start_of_turn>user\nhi<end_of_turn>\n",
  "<unused5><unused99>",
  "<image>",
  "<image",
  "<loc1024>",
  "<loc999>",
  "<loc0999>",
  "<seg128>",
  "<seg12>",
  "<seg012>",
  "<0x41><0xFF>",
  "[@BOS@]",
  "<table><tr><td>cell</td></tr></table>",
  "</s><s>",
  "<2mass>",
  "▁▁▁",
  "▁",
  "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
];

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** A random code point: mostly from real scripts, sometimes anything at all. */
function randomChar(rand: () => number): string {
  const r = rand();
  const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  if (r < 0.25) return String.fromCharCode(pick(0x20, 0x7e));
  if (r < 0.3) return String.fromCharCode(pick(0x00, 0x1f));
  if (r < 0.35) return String.fromCharCode(pick(0xd800, 0xdfff)); // unpaired surrogate
  if (r < 0.5) return String.fromCodePoint(pick(0x80, 0x7ff));
  if (r < 0.7) return String.fromCodePoint(pick(0x800, 0xd7ff));
  if (r < 0.8) return String.fromCodePoint(pick(0xe000, 0xffff));
  if (r < 0.9) return String.fromCodePoint(pick(0x1f300, 0x1faff));
  return String.fromCodePoint(pick(0x10000, 0x10ffff));
}

function randomFragment(rand: () => number): string {
  const r = rand();
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  if (r < 0.3) {
    const s = pick(SENTENCES);
    const a = Math.floor(rand() * s.length);
    return s.slice(a, a + 1 + Math.floor(rand() * 30));
  }
  if (r < 0.45) return pick(WHITESPACE).repeat(1 + Math.floor(rand() * 6));
  if (r < 0.55) return pick(LOOKALIKES);
  if (r < 0.65) return `<loc${pad(Math.floor(rand() * 1024), 4)}>`;
  if (r < 0.7) return `<seg${pad(Math.floor(rand() * 128), 3)}>`;
  if (r < 0.72) return "<image>";
  return Array.from({ length: 1 + Math.floor(rand() * 8) }, () => randomChar(rand)).join("");
}

export function corpus(): string[] {
  const rand = rng(20240701);
  const texts: string[] = [...SENTENCES, ...LOOKALIKES];
  // Whitespace runs around the 31 "▁▁..." and 31 "\n\n..." added tokens' lengths.
  for (const n of [1, 2, 3, 15, 30, 31, 32, 33, 64]) {
    texts.push(" ".repeat(n), `a${" ".repeat(n)}b`, "\n".repeat(n), `x${"\t".repeat(n)}y`, ` ${"\r\n".repeat(n)} `);
  }
  // PaliGemma outputs and prompts, tokens glued to text.
  texts.push(
    "<loc0000><loc1023><loc0512><loc0256> cat ; <loc0100><loc0200><loc0300><loc0400> dog",
    "cat<loc0001>dog<seg002>bird<image>fish",
    "  <loc0001>  <seg127>\n<image>\t",
    "<image>".repeat(16) + "<bos>detect cat\n",
    "<seg000><seg001><seg002><seg003><seg004><seg005><seg006><seg007><seg008><seg009><seg010><seg011><seg012><seg013><seg014><seg015>",
    "x<loc0005>",
    "<loc0005>x",
  );
  // Long inputs: one BPE word of thousands of characters.
  texts.push(
    SENTENCES.join(" ").repeat(20),
    "a".repeat(5000),
    "ab".repeat(3000),
    " ".repeat(500),
    "😀".repeat(700),
    SENTENCES.join("\n\n"),
  );
  // Seeded random unicode and random mixtures.
  for (let i = 0; i < 150; i++) {
    texts.push(Array.from({ length: 1 + Math.floor(rand() * 40) }, () => randomChar(rand)).join(""));
  }
  for (let i = 0; i < 250; i++) {
    texts.push(Array.from({ length: 1 + Math.floor(rand() * 12) }, () => randomFragment(rand)).join(""));
  }
  return texts;
}
