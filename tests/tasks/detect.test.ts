// parseDetections on hand-written answers. Expected boxes are worked out by hand
// from round(loc / 1024 × size) and agree with Google's demo parser (big_vision's
// extract_objs, run in Python on the same strings) except where the demo would throw
// (out-of-range locs) or stop (its `.*?` prefix does not cross a newline).
import { describe, expect, test } from "vitest";
import { InputError } from "../../src/errors.js";
import { parseDetections } from "../../src/tasks/detect.js";
import { rng } from "../harness/random.js";

const loc = (...v: number[]) => v.map((n) => `<loc${String(n).padStart(4, "0")}>`).join("");
const W = 640;
const H = 480;

describe("parseDetections", () => {
  test("one object: ymin, xmin, ymax, xmax over 1024 -> pixels", () => {
    // 256/1024·480 = 120, 128/1024·640 = 80, 768/1024·480 = 360, 896/1024·640 = 560.
    expect(parseDetections(`${loc(256, 128, 768, 896)} cat`, W, H)).toEqual([
      { label: "cat", box: { x0: 80, y0: 120, x1: 560, y1: 360 } },
    ]);
  });

  test("objects separated by ' ; ', fractional coordinates rounded", () => {
    // 1023/1024·480 = 479.53 -> 480, 1023/1024·640 = 639.375 -> 639, 100/1024·480 = 46.875 -> 47,
    // 200/1024·640 = 125, 300/1024·480 = 140.625 -> 141, 400/1024·640 = 250.
    expect(parseDetections(`${loc(0, 0, 1023, 1023)} big dog ; ${loc(100, 200, 300, 400)} cat`, W, H)).toEqual([
      { label: "big dog", box: { x0: 0, y0: 0, x1: 639, y1: 480 } },
      { label: "cat", box: { x0: 125, y0: 47, x1: 250, y1: 141 } },
    ]);
  });

  test("halves round to even, as Python's round() in the demo", () => {
    // 512/1024·5 = 2.5 -> 2 and 512/1024·3 = 1.5 -> 2; 640/1024·4 = 2.5 -> 2 and 896/1024·4 = 3.5 -> 4.
    expect(parseDetections(`${loc(512, 512, 640, 896)} x`, 3, 5)).toEqual([{ label: "x", box: { x0: 2, y0: 2, x1: 3, y1: 3 } }]);
    expect(parseDetections(`${loc(640, 640, 896, 896)} x`, 4, 4)).toEqual([{ label: "x", box: { x0: 2, y0: 2, x1: 4, y1: 4 } }]);
  });

  test("empty labels are kept as ''", () => {
    expect(parseDetections(`${loc(0, 0, 512, 512)} ; ${loc(512, 512, 1023, 1023)}`, W, H)).toEqual([
      { label: "", box: { x0: 0, y0: 0, x1: 320, y1: 240 } },
      { label: "", box: { x0: 320, y0: 240, x1: 639, y1: 480 } },
    ]);
  });

  test("an object with three locs is skipped, the rest still parse", () => {
    expect(parseDetections(`<loc0100><loc0200><loc0300> cat ; ${loc(100, 200, 300, 400)} dog`, W, H)).toEqual([
      { label: "dog", box: { x0: 125, y0: 47, x1: 250, y1: 141 } },
    ]);
  });

  test("text before, between and after objects is ignored; labels stop at ; < >", () => {
    const text = `Sure, here:\n${loc(256, 128, 768, 896)} cat<eos> some words ${loc(100, 200, 300, 400)}dog;${loc(0, 0, 512, 512)} bird ; <loc0001><loc00`;
    expect(parseDetections(text, W, H)).toEqual([
      { label: "cat", box: { x0: 80, y0: 120, x1: 560, y1: 360 } },
      { label: "dog", box: { x0: 125, y0: 47, x1: 250, y1: 141 } },
      { label: "bird", box: { x0: 0, y0: 0, x1: 320, y1: 240 } },
    ]);
  });

  test("text without four locs in a row gives nothing", () => {
    for (const text of ["", "cat", "<loc0100>", `${loc(1, 2, 3)}`, "<seg001><seg002> cat", "<loc100><loc0200><loc0300><loc0400> x"]) {
      expect(parseDetections(text, W, H), JSON.stringify(text)).toEqual([]);
    }
  });

  test("seg tokens after the box are skipped over (a segment answer reads as detections)", () => {
    const segs = Array.from({ length: 16 }, (_, i) => `<seg${String(i * 7).padStart(3, "0")}>`).join("");
    expect(parseDetections(`${loc(256, 128, 768, 896)} ${segs} cat`, W, H)).toEqual([
      { label: "cat", box: { x0: 80, y0: 120, x1: 560, y1: 360 } },
    ]);
  });

  test("out-of-range locs are clipped to the image, a reversed box is kept as written", () => {
    // 2000/1024·480 = 937.5, 9999/1024·640 = 6249.4: both past the edge.
    expect(parseDetections(`${loc(2000, 9999, 1023, 0)} x`, W, H)).toEqual([{ label: "x", box: { x0: 640, y0: 480, x1: 0, y1: 480 } }]);
  });

  test("never throws on model output, and every box lies in the image", () => {
    const rand = rng(7);
    const pieces = ["<loc0000>", "<loc1023>", "<loc0517>", "<loc9999>", "<seg012>", "<seg999>", " ; ", ";", " ", "cat", "<", ">", "\n", "<eos>"];
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: Math.floor(rand() * 40) }, () => pieces[Math.floor(rand() * pieces.length)]).join("");
      for (const { box } of parseDetections(text, 17, 9)) {
        for (const x of [box.x0, box.x1]) expect(x >= 0 && x <= 17 && Number.isInteger(x), text).toBe(true);
        for (const y of [box.y0, box.y1]) expect(y >= 0 && y <= 9 && Number.isInteger(y), text).toBe(true);
      }
    }
  });

  test("an impossible image size is an InputError", () => {
    expect(() => parseDetections("", 0, 10)).toThrow(InputError);
    expect(() => parseDetections("", 10.5, 10)).toThrow(/positive integers, got 10.5x10/);
  });
});
