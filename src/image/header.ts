// What an encoded image's own bytes declare, read without decoding it: the size (to refuse
// a decompression bomb before the decoder allocates width × height × 4 bytes), a JPEG's
// colour model (CMYK/YCCK, which the decoder cannot turn into RGB), and where a PNG is
// broken (its chunks carry lengths and CRCs, so a walk finds the spot).
//
// Layouts (all from the format specifications):
//   PNG   8-byte signature, then chunks [length u32 BE][type 4][data][CRC-32 of type+data];
//         IHDR first: width u32 BE, height u32 BE, ...
//   JPEG  segments FF xx [length u16 BE, counting itself][data]; SOFn (C0-CF but C4, C8, CC)
//         holds precision u8, height u16 BE, width u16 BE, components u8. APP14 "Adobe"
//         gives the transform: 0 CMYK as is, 2 YCCK.
//   WebP  "RIFF", size u32 LE (of what follows it), "WEBP", then a chunk at 12: "VP8 "
//         (frame tag 3 bytes, start code 9D 01 2A, width & height u16 LE, low 14 bits),
//         "VP8L" (0x2F, then width-1 and height-1 in 14 bits each, LE), or "VP8X" (canvas
//         width-1, height-1: u24 LE at 24, 27).
import type { ImageFormat } from "./decode.js";

export interface ImageHeader {
  width: number;
  height: number;
  /** JPEG: 4 components, CMYK (Adobe transform 0 or none) or YCCK (transform 2). */
  cmyk?: "CMYK" | "YCCK";
}

const u16be = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32be = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
const u16le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const u32le = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
const u24le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
const tag = (b: Uint8Array, at: number) => String.fromCharCode(...b.subarray(at, at + 4));

/** The header of `bytes` (sniffed as `format`), or undefined where it is cut short or unreadable: the decoder then says why. */
export function readHeader(bytes: Uint8Array, format: ImageFormat): ImageHeader | undefined {
  if (format === "png") return bytes.length >= 24 && tag(bytes, 12) === "IHDR" ? { width: u32be(bytes, 16), height: u32be(bytes, 20) } : undefined;
  if (format === "webp") return webpHeader(bytes);
  return jpegHeader(bytes);
}

function webpHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 30) return undefined;
  const chunk = tag(b, 12);
  if (chunk === "VP8X") return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === "VP8 " && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  if (chunk === "VP8L" && b[20] === 0x2f) {
    const bits = u32le(b, 21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  return undefined;
}

function jpegHeader(b: Uint8Array): ImageHeader | undefined {
  let adobeTransform: number | undefined;
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) {
      at++; // libjpeg skips stray bytes before a marker, so a frame header behind some is still read
      continue;
    }
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // no length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or the end before any frame header
    const length = u16be(b, at + 2);
    if (marker === 0xee && length >= 12 && tag(b, at + 4) === "Adob") adobeTransform = b[at + 15];
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (at + 10 > b.length) return undefined;
      // Height 0 means a DNL marker gives it after the first scan: the decoder copes.
      const header: ImageHeader = { width: u16be(b, at + 7), height: u16be(b, at + 5) };
      if (b[at + 9] === 4) header.cmyk = adobeTransform === 2 ? "YCCK" : "CMYK";
      return header;
    }
    at += 2 + length;
  }
  return undefined;
}

let crcTable: Uint32Array | undefined;

function crc32(b: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Where a PNG is broken, or undefined when it is whole: a chunk running past the end, no
 * IEND (the file was cut between chunks), or a critical chunk (IHDR, PLTE, IDAT, IEND:
 * an upper-case first letter) whose CRC does not match. libpng refuses those too; the
 * png crate skips CRCs, and a flipped bit in IDAT often still inflates, to other pixels.
 */
export function pngDamage(b: Uint8Array): string | undefined {
  let at = 8;
  while (at + 8 <= b.length) {
    const length = u32be(b, at);
    const type = tag(b, at + 4);
    if (at + 12 + length > b.length) {
      const present = Math.max(0, b.length - at - 8);
      return `it ends inside its ${type} chunk at byte ${at} (${present} of ${length} data bytes present): the file is truncated`;
    }
    const critical = b[at + 4] >= 0x41 && b[at + 4] <= 0x5a;
    if (critical && crc32(b.subarray(at + 4, at + 8 + length)) !== u32be(b, at + 8 + length)) {
      return `its ${type} chunk at byte ${at} fails its CRC check: the file is corrupt`;
    }
    if (type === "IEND") return undefined;
    at += 12 + length;
  }
  return `it ends at byte ${b.length} without an IEND chunk: the file is truncated`;
}

/** Why a WebP that failed to decode is cut short, when its RIFF size says so. */
export function webpDamage(b: Uint8Array): string | undefined {
  const declared = b.length >= 8 ? u32le(b, 4) + 8 : undefined;
  if (declared === undefined || declared <= b.length) return undefined;
  return `its RIFF header declares ${declared} bytes but the file has ${b.length}: it is truncated`;
}
