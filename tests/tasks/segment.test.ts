// parseSegments on hand-written answers: a box (see detect.test.ts for the pixel
// arithmetic), 16 <segNNN> codes, a label. Boxes, codes and labels agree with Google's
// demo parser (big_vision's extract_objs) run in Python on the same strings; objects
// it finds but could not decode (fewer than 16 codes, a code past the codebook) are
// dropped here.
import { describe, expect, test } from "vitest";
import { parseSegments } from "../../src/tasks/segment.js";

const loc = (...v: number[]) => v.map((n) => `<loc${String(n).padStart(4, "0")}>`).join("");
const seg = (...v: number[]) => v.map((n) => `<seg${String(n).padStart(3, "0")}>`).join("");
const codesA = [25, 69, 32, 0, 113, 16, 40, 2, 49, 47, 101, 46, 79, 56, 37, 71];
const codesB = Array.from({ length: 16 }, (_, i) => 127 - i * 3);
const W = 640;
const H = 480;

describe("parseSegments", () => {
  test("one object: box, the 16 codes in order, label", () => {
    expect(parseSegments(`${loc(256, 128, 768, 896)}${seg(...codesA)} cat`, W, H)).toEqual([
      { label: "cat", box: { x0: 80, y0: 120, x1: 560, y1: 360 }, codes: Int32Array.from(codesA) },
    ]);
  });

  test("objects separated by ' ; ', with spaces around the seg run", () => {
    const text = `${loc(0, 0, 1023, 1023)} ${seg(...codesA)} big dog ; ${loc(100, 200, 300, 400)}${seg(...codesB)} cat`;
    expect(parseSegments(text, W, H)).toEqual([
      { label: "big dog", box: { x0: 0, y0: 0, x1: 639, y1: 480 }, codes: Int32Array.from(codesA) },
      { label: "cat", box: { x0: 125, y0: 47, x1: 250, y1: 141 }, codes: Int32Array.from(codesB) },
    ]);
  });

  test("an empty label is kept as ''", () => {
    expect(parseSegments(`${loc(0, 0, 512, 512)}${seg(...codesA)}`, W, H)).toEqual([
      { label: "", box: { x0: 0, y0: 0, x1: 320, y1: 240 }, codes: Int32Array.from(codesA) },
    ]);
  });

  test("a box without 16 seg tokens is skipped, the rest still parse", () => {
    const text = [
      `${loc(10, 10, 20, 20)} no mask`,
      `${loc(10, 10, 20, 20)}${seg(...codesA.slice(0, 15))} fifteen`,
      `<loc0100><loc0200><loc0300>${seg(...codesA)} three locs`,
      `${loc(100, 200, 300, 400)}${seg(...codesB)} cat`,
    ].join(" ; ");
    expect(parseSegments(text, W, H)).toEqual([
      { label: "cat", box: { x0: 125, y0: 47, x1: 250, y1: 141 }, codes: Int32Array.from(codesB) },
    ]);
  });

  test("a code outside the 128-entry codebook drops its object", () => {
    const text = `${loc(0, 0, 512, 512)}${seg(...codesA.slice(0, 15), 128)} a ; ${loc(0, 0, 512, 512)}${seg(999, ...codesA.slice(1))} b`;
    expect(parseSegments(text, W, H)).toEqual([]);
  });

  test("seg tokens without a box, extra text and trailing garbage", () => {
    expect(parseSegments(`${seg(...codesA)} cat`, W, H)).toEqual([]);
    const text = `here you go: ${loc(256, 128, 768, 896)}${seg(...codesA)} cat<eos> ; ${loc(1, 2)}${seg(1, 2, 3)}`;
    expect(parseSegments(text, W, H)).toEqual([
      { label: "cat", box: { x0: 80, y0: 120, x1: 560, y1: 360 }, codes: Int32Array.from(codesA) },
    ]);
  });
});
