// Reads boxes out of PaliGemma's "detect" answers, and the grammar it shares with
// "segment" answers. PaliGemma writes each object as
//   <locY0><locX0><locY1><locX1> [16 × <segNNN>] label
// with objects joined by " ; ". Each <locNNNN> is a coordinate in [0, 1023] over
// the image's height (Y) or width (X), in units of 1/1024. This follows Google's
// PaliGemma demo (big_vision's `extract_objs`), including its regex, so both read
// the same objects out of the same text; unlike the demo, no input makes it throw.
//
// Box convention (as in the demo, which pastes a mask into mask[y0:y1, x0:x1]):
// pixel coordinates in the original image, (x0, y0) the top-left pixel inside the
// box, (x1, y1) one past the bottom-right, so the box is x1 − x0 pixels wide and
// y1 − y0 tall. Each is round(loc / 1024 × width or height), rounding half to even
// as Python does, then clipped to [0, width] or [0, height].
import { InputError } from "../errors.js";

export interface Box {
  /** Left edge, inclusive. */
  x0: number;
  /** Top edge, inclusive. */
  y0: number;
  /** Right edge, exclusive. */
  x1: number;
  /** Bottom edge, exclusive. */
  y1: number;
}

export interface Detection {
  label: string;
  box: Box;
}

/** One object of a detect or segment answer; `codes` only when all 16 <seg> tokens followed the box. */
export interface ParsedObject extends Detection {
  codes?: Int32Array;
}

// The demo's _SEGMENT_DETECT_RE without its leading `(.*?)`: matchAll skips text between
// objects just as that lazy prefix did. The label stops at ";", "<" or ">".
const OBJECT = new RegExp(
  "<loc(\\d{4})>".repeat(4) + "\\s*" + `(?:${"<seg(\\d{3})>".repeat(16)})?` + "\\s*([^;<>]+)? ?(?:; )?",
  "g",
);

/** Every object in `text` (decoded with its <loc>/<seg> tokens), in order; malformed parts are skipped. */
export function parseObjects(text: string, width: number, height: number): ParsedObject[] {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InputError(`the image size must be positive integers, got ${width}x${height}`);
  }
  const objects: ParsedObject[] = [];
  for (const m of text.matchAll(OBJECT)) {
    const [y0, x0, y1, x1] = m.slice(1, 5).map(Number);
    const pixel = (loc: number, size: number) => Math.min(size, roundHalfEven((loc / 1024) * size));
    const object: ParsedObject = {
      label: (m[21] ?? "").trim(),
      box: { x0: pixel(x0, width), y0: pixel(y0, height), x1: pixel(x1, width), y1: pixel(y1, height) },
    };
    if (m[5] !== undefined) object.codes = Int32Array.from(m.slice(5, 21), Number);
    objects.push(object);
  }
  return objects;
}

/** The labelled boxes of a "detect" answer, in the image's pixels (see the convention above). */
export function parseDetections(text: string, width: number, height: number): Detection[] {
  return parseObjects(text, width, height).map(({ label, box }) => ({ label, box }));
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
