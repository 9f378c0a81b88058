// resizeImage against Pillow 9.4's Image.resize(BICUBIC): the processor's
// fixtures (downscale, upscale, extreme aspect, tiny, same size) and 1- and
// 4-channel images resized to odd boxes, up and down.
import { describe, expect, it } from "vitest";
import { resizeImage } from "../../src/image/resize.js";
import golden from "../fixtures/processor/golden.json";
import { FIXTURES, readTensors } from "../harness/fixtures.js";

const processor = readTensors(`${FIXTURES}processor/golden.safetensors`);
const pillow = readTensors(`${FIXTURES}image/pillow.safetensors`);

function diff(actual: Uint8Array, expected: Uint8Array) {
  expect(actual.length).toBe(expected.length);
  let off = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d) off++;
    worst = Math.max(worst, d);
  }
  return { off, worst };
}

describe("RGB to 224x224 matches Pillow BICUBIC", () => {
  for (const [name, info] of Object.entries(golden.images)) {
    it(`${name} ${info.width}x${info.height}`, async () => {
      // Pillow resized the lossless source, for the JPEG fixtures too.
      const data = processor.get(`${name}.src`)!.data as Uint8Array;
      const out = await resizeImage({ width: info.width, height: info.height, channels: 3, data }, 224, 224);
      expect([out.width, out.height, out.channels]).toEqual([224, 224, 3]);
      expect(diff(out.data, processor.get(`${name}.resized`)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }
});

describe("other channel counts and boxes match Pillow", () => {
  const sized = (prefix: string) =>
    [...pillow.keys()]
      .filter((k) => k.startsWith(prefix) && !k.endsWith(".src"))
      .map((k) => [k, ...k.slice(prefix.length).split("x").map(Number)] as [string, number, number]);

  const mask = pillow.get("mask.src")!;
  for (const [key, width, height] of sized("mask.")) {
    it(`1-channel mask 61x47 -> ${width}x${height}`, async () => {
      const src = { width: 61, height: 47, channels: 1 as const, data: mask.data as Uint8Array };
      const out = await resizeImage(src, width, height);
      expect([out.width, out.height, out.channels]).toEqual([width, height, 1]);
      expect(diff(out.data, pillow.get(key)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }

  // Pillow filters CMYK's 4 bands independently, as we do every channel.
  const cmyk = pillow.get("cmyk.src")!;
  for (const [key, width, height] of sized("cmyk.")) {
    it(`4-channel 50x33 -> ${width}x${height}`, async () => {
      const src = { width: 50, height: 33, channels: 4 as const, data: cmyk.data as Uint8Array };
      const out = await resizeImage(src, width, height);
      expect(diff(out.data, pillow.get(key)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }

  it("reuses cached plans: the same resize twice gives the same bytes", async () => {
    const src = { width: 61, height: 47, channels: 1 as const, data: mask.data as Uint8Array };
    const a = await resizeImage(src, 13, 7);
    for (let i = 0; i < 70; i++) await resizeImage(src, 10 + i, 5 + i); // more sizes than the plan cache keeps
    const b = await resizeImage(src, 13, 7);
    expect(b.data).toEqual(a.data);
    expect(diff(b.data, pillow.get("mask.13x7")!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
  });
});

describe("resizeImage rejects bad input", () => {
  const ok = { width: 2, height: 2, channels: 3 as const, data: new Uint8Array(12) };
  const cases: [string, unknown, number, number, string][] = [
    ["zero width image", { ...ok, width: 0, data: new Uint8Array(0) }, 4, 4, "INVALID_IMAGE"],
    ["2 channels", { ...ok, channels: 2, data: new Uint8Array(8) }, 4, 4, "INVALID_IMAGE"],
    ["short data", { ...ok, data: new Uint8Array(11) }, 4, 4, "INVALID_IMAGE"],
    ["zero target", ok, 0, 4, "INVALID_INPUT"],
    ["fractional target", ok, 4.5, 4, "INVALID_INPUT"],
  ];
  for (const [what, image, w, h, code] of cases) {
    it(what, async () => {
      await expect(resizeImage(image as typeof ok, w, h)).rejects.toMatchObject({ code });
    });
  }
});
