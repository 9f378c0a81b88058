// PaliGemma's additions to the Gemma vocabulary: 1024 location tokens
// <loc0000>..<loc1023> (box corners on a 1024 grid), 128 segmentation codewords
// <seg000>..<seg127>, and the <image> placeholder, at ids 256000.. in that order.
// A PaliGemma tokenizer.json has them; a plain Gemma one (exactly 256000 tokens)
// gets them appended here, flagged as in Hugging Face's PaliGemma tokenizer:
// <image> special (dropped by skipSpecialTokens), loc/seg not (they carry the answer).
import type { AddedToken } from "./added-tokens.js";

export const LOC_TOKENS = 1024;
export const SEG_TOKENS = 128;
export const IMAGE_TOKEN = "<image>";
/** Size of the plain Gemma vocabulary the PaliGemma tokens are appended to. */
export const GEMMA_VOCAB_SIZE = 256000;

export const locToken = (i: number): string => `<loc${String(i).padStart(4, "0")}>`;
export const segToken = (i: number): string => `<seg${String(i).padStart(3, "0")}>`;

/** The PaliGemma tokens as added tokens with ids from `first` on. */
export function paliGemmaTokens(first: number): AddedToken[] {
  const token = (offset: number, content: string, special: boolean): AddedToken => ({
    id: first + offset,
    content,
    special,
    normalized: false,
    lstrip: false,
    rstrip: false,
  });
  return [
    ...Array.from({ length: LOC_TOKENS }, (_, i) => token(i, locToken(i), false)),
    ...Array.from({ length: SEG_TOKENS }, (_, i) => token(LOC_TOKENS + i, segToken(i), false)),
    token(LOC_TOKENS + SEG_TOKENS, IMAGE_TOKEN, true),
  ];
}
