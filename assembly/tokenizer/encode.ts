// Text to ids, after the JS side has split out added tokens and normalised the
// rest. The input is a plan of pieces, each either an id to emit as is (an added
// token) or a run of UTF-16 text to encode with BPE. Text stays UTF-16 up to here
// so that an unpaired surrogate is still one character, as in JavaScript.
//
// Per text piece (Hugging Face's BPE model with no pre-tokenizer: the piece is one word):
// 0. with ignore_merges, a piece that is itself a token is that token;
// 1. each code point becomes its token id, or -(code point + 1) if the vocabulary lacks it;
// 2. BPE merges (bpe.ts);
// 3. a character still unknown becomes its UTF-8 bytes as <0xNN> tokens (byte fallback;
//    an unpaired surrogate is U+FFFD's bytes, as TextEncoder writes it), or the unknown
//    token if byte fallback is off or a byte token is missing; with fuse_unk, a run of
//    unknown tokens becomes one.
import { bpe } from "./bpe";
import { writeUtf8 } from "./json";
import { resize } from "./resize";
import { findToken } from "./vocab";

let byteFallback = false;
let fuseUnk = false;
let ignoreMerges = false;
let unkId: i32 = -1;
// The id of <0xNN> for each byte, or -1 if the vocabulary lacks it.
const byteIds = memory.data(256 * 4);

// Per-piece scratch: symbol ids, and UTF-8 bytes for ignore_merges' whole-word lookup.
let symbols: usize = 0;
let bytes: usize = 0;
let scratchUnits: i32 = 0;

const HEX = "0123456789ABCDEF";

/** The model's options from tokenizer.json; call after the vocabulary is complete. */
export function configure(useByteFallback: bool, unk: i32, fuse: bool, ignore: bool): void {
  byteFallback = useByteFallback;
  unkId = unk;
  fuseUnk = fuse;
  ignoreMerges = ignore;
  const name = memory.data(6);
  store<u8>(name, 0x3c); // "<0x", two hex digits, ">"
  store<u8>(name, 0x30, 1);
  store<u8>(name, 0x78, 2);
  store<u8>(name, 0x3e, 5);
  for (let b = 0; b < 256; b++) {
    store<u8>(name, <u8>HEX.charCodeAt(b >> 4), 3);
    store<u8>(name, <u8>HEX.charCodeAt(b & 15), 4);
    store<i32>(byteIds + (<usize>b << 2), findToken(name, 6));
  }
}

function reserve(units: i32): void {
  if (units <= scratchUnits) return;
  scratchUnits = max(units, scratchUnits * 2);
  symbols = resize(symbols, <usize>scratchUnits << 2);
  bytes = resize(bytes, <usize>scratchUnits * 3);
}

/** The i32 ids for one text piece of `units` UTF-16 code units, written at out; returns the count. */
function encodePiece(text: usize, units: i32, out: usize): i32 {
  reserve(units);
  const one = memory.data(4);
  let n = 0;
  let byteCount: usize = 0;
  for (let u = 0; u < units; u++) {
    let cp = <u32>load<u16>(text + (<usize>u << 1));
    if (cp - 0xd800 < 0x400 && u + 1 < units) {
      const low = <u32>load<u16>(text + (<usize>(u + 1) << 1));
      if (low - 0xdc00 < 0x400) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        u++;
      }
    }
    const len = writeUtf8(cp, one);
    if (ignoreMerges) {
      memory.copy(bytes + byteCount, one, len);
      byteCount += len;
    }
    const tokenId = findToken(one, len);
    store<i32>(symbols + (<usize>(n++) << 2), tokenId >= 0 ? tokenId : -1 - <i32>cp);
  }
  if (ignoreMerges) {
    const whole = findToken(bytes, byteCount);
    if (whole >= 0) {
      store<i32>(out, whole);
      return 1;
    }
  }
  n = bpe(symbols, n);

  let count = 0;
  let lastWasUnk = false;
  for (let s = 0; s < n; s++) {
    let tokenId = load<i32>(symbols + (<usize>s << 2));
    if (tokenId < 0) {
      let cp = <u32>(-1 - tokenId);
      if (cp - 0xd800 < 0x800) cp = 0xfffd;
      tokenId = unkId;
      if (byteFallback) {
        const len = writeUtf8(cp, one);
        let all = true;
        for (let k: usize = 0; k < len; k++) all = all && load<i32>(byteIds + (<usize>load<u8>(one + k) << 2)) >= 0;
        if (all) {
          for (let k: usize = 0; k < len; k++) {
            store<i32>(out + (<usize>(count++) << 2), load<i32>(byteIds + (<usize>load<u8>(one + k) << 2)));
          }
          lastWasUnk = false;
          continue;
        }
      }
      if (tokenId < 0) continue; // no unknown token: the character is dropped
    }
    const isUnk = tokenId == unkId;
    if (!(isUnk && lastWasUnk && fuseUnk)) store<i32>(out + (<usize>(count++) << 2), tokenId);
    lastWasUnk = isUnk;
  }
  return count;
}

/**
 * Encodes `pieces` plan entries (i32 pairs at plan: (id, 0) emits id; (-1, units)
 * encodes the next `units` code units of text) into out, which must hold 3 ids per
 * code unit plus one per id entry. Returns the number of ids written.
 */
export function encode(text: usize, plan: usize, pieces: i32, out: usize): i32 {
  let count = 0;
  for (let i = 0; i < pieces; i++) {
    const tokenId = load<i32>(plan + (<usize>i << 3));
    if (tokenId >= 0) {
      store<i32>(out + (<usize>(count++) << 2), tokenId);
      continue;
    }
    const units = load<i32>(plan + (<usize>i << 3), 4);
    count += encodePiece(text, units, out + (<usize>count << 2));
    text += <usize>units << 1;
  }
  return count;
}
