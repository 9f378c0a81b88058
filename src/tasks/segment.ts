// Reads PaliGemma's "segment" answers: each object is a box, 16 <segNNN> mask codes
// and a label (the grammar and box convention are in detect.ts). The codes go to
// the mask decoder (src/model/mask-decoder.ts), which turns them into a 64×64 mask
// and pastes it into the box.
import { CODEBOOK_SIZE } from "../model/mask-decoder.js";
import { type Box, parseObjects } from "./detect.js";

export interface SegmentCodes {
  label: string;
  box: Box;
  /** The 16 codebook indices of the object's 4×4 mask grid, row-major. */
  codes: Int32Array;
}

/**
 * The objects of a "segment" answer (decoded with its <loc>/<seg> tokens) that have
 * a full mask: a box without 16 seg tokens after it, or with a code outside the
 * codebook, cannot be decoded and is skipped.
 */
export function parseSegments(text: string, width: number, height: number): SegmentCodes[] {
  const segments: SegmentCodes[] = [];
  for (const { label, box, codes } of parseObjects(text, width, height)) {
    if (codes && codes.every((c) => c < CODEBOOK_SIZE)) segments.push({ label, box, codes });
  }
  return segments;
}
