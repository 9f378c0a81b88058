// Draws detect/segment results onto an image for the CLI's --out: each label gets a
// colour, masks are blended in at up to 50% (by the mask's value), boxes are outlined.
// Labels are not written: the CLI prints the colour legend instead (no font needed).
import type { Detection, RawImage, Segmentation } from "../../src/runtime/node.js";

/** Distinct on photos and for common colour blindness (Okabe-Ito). */
export const PALETTE: readonly (readonly [number, number, number])[] = [
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
  [240, 228, 66],
  [0, 114, 178],
  [213, 94, 0],
  [204, 121, 167],
];

/** The colour of each distinct label, in order of first appearance. */
export function labelColours(found: readonly Detection[]): Map<string, readonly [number, number, number]> {
  const colours = new Map<string, readonly [number, number, number]>();
  for (const { label } of found) {
    if (!colours.has(label)) colours.set(label, PALETTE[colours.size % PALETTE.length]);
  }
  return colours;
}

/** A new RGBA copy of `image` (3 or 4 channels) with the results drawn on. */
export function drawResults(image: RawImage, found: readonly (Detection | Segmentation)[]): Uint8Array {
  const { width, height, channels, data } = image;
  if (channels !== 3 && channels !== 4) throw new Error(`drawResults needs RGB or RGBA, got ${channels} channels`);
  const out = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    out.set(data.subarray(i * channels, i * channels + 3), i * 4);
    out[i * 4 + 3] = channels === 4 ? data[i * 4 + 3] : 255;
  }
  const colours = labelColours(found);
  for (const f of found) {
    const rgb = colours.get(f.label)!;
    if ("mask" in f) {
      const m = f.mask.data;
      for (let i = 0; i < width * height; i++) {
        const a = 0.5 * Math.min(1, Math.max(0, m[i]));
        for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(out[i * 4 + c] * (1 - a) + rgb[c] * a);
      }
    }
    outline(out, width, height, f.box, rgb, Math.max(2, Math.round(Math.min(width, height) / 150)));
  }
  return out;
}

function outline(
  out: Uint8Array,
  width: number,
  height: number,
  box: Detection["box"],
  rgb: readonly [number, number, number],
  thickness: number,
): void {
  // Box edges are x0, y0 inclusive and x1, y1 exclusive; the line is drawn inside the box.
  const x0 = Math.max(0, Math.floor(box.x0));
  const y0 = Math.max(0, Math.floor(box.y0));
  const x1 = Math.min(width, Math.ceil(box.x1));
  const y1 = Math.min(height, Math.ceil(box.y1));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const edge = x < x0 + thickness || x >= x1 - thickness || y < y0 + thickness || y >= y1 - thickness;
      if (edge) out.set([rgb[0], rgb[1], rgb[2], 255], (y * width + x) * 4);
    }
  }
}
