// decodeImage / toRGBImage against Pillow 9.4's decode + convert("RGB") of the
// same files, and the typed errors for empty, corrupt and unsupported files.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// Until src/runtime/node.ts imports it, Node needs this to find the codecs' .wasm.
import "../../src/image/node-codecs.js";
import { decodeImage } from "../../src/image/decode.js";
import { toRGBImage } from "../../src/image/input.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";

const pillow = readTensors(`${FIXTURES}image/pillow.safetensors`);
const processor = readTensors(`${FIXTURES}processor/golden.safetensors`);
const file = (path: string) => new Uint8Array(readFileSync(`${FIXTURES}${path}`));

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

describe("decoding matches Pillow", () => {
  // MozJPEG is libjpeg-turbo's decoder: same IDCT and chroma upsampling as Pillow's.
  for (const name of ["landscape", "same"]) {
    it(`${name}.jpg is bit-exact with Pillow's decode`, async () => {
      const image = await decodeImage(file(`processor/${name}.jpg`));
      expect(image.channels).toBe(3);
      expect(diff(image.data, processor.get(`${name}.jpg_rgb`)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }
  for (const name of ["landscape", "upscale", "same", "sliver", "tiny"]) {
    it(`${name}.png holds the source pixels`, async () => {
      const image = await decodeImage(file(`processor/${name}.png`));
      expect(diff(image.data, processor.get(`${name}.src`)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }

  // Baseline/progressive JPEG at every chroma subsampling, gray JPEG, every PNG colour
  // type we meet in practice, WebP lossless/lossy/alpha: toRGBImage = convert("RGB").
  const exact = [
    "sub420.jpg", "sub422.jpg", "sub444.jpg", "progressive.jpg", "gray.jpg",
    "alpha.png", "palette.png", "gray.png", "gray-alpha.png", "rgb16.png",
    "lossless.webp", "lossy.webp", "alpha.webp",
  ];
  for (const name of exact) {
    it(`${name} -> RGB equals Pillow`, async () => {
      const rgb = await toRGBImage(file(`image/${name}`));
      expect([rgb.width, rgb.height, rgb.channels]).toEqual([160, 120, 3]);
      expect(diff(rgb.data, pillow.get(`${name}.rgb`)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }

  for (const name of ["alpha.png", "gray-alpha.png", "alpha.webp"]) {
    it(`${name} keeps its alpha as a 4th channel`, async () => {
      const image = await decodeImage(file(`image/${name}`));
      expect(image.channels).toBe(4);
      const alpha = image.data.filter((_, i) => i % 4 === 3);
      expect(diff(alpha, pillow.get(`${name}.alpha`)!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
    });
  }
});

describe("decode errors", () => {
  const jpg = file("processor/same.jpg");
  const png = file("processor/tiny.png");
  const webp = file("image/lossy.webp");
  const cases: [string, Uint8Array, string][] = [
    ["empty file", new Uint8Array(0), "INVALID_IMAGE"],
    ["GIF", file("image/tiny.gif"), "UNSUPPORTED_IMAGE_FORMAT"],
    ["BMP", file("image/tiny.bmp"), "UNSUPPORTED_IMAGE_FORMAT"],
    ["text", new TextEncoder().encode("<svg></svg>"), "UNSUPPORTED_IMAGE_FORMAT"],
    ["truncated JPEG", jpg.subarray(0, jpg.length >> 1), "INVALID_IMAGE"],
    ["JPEG header only", jpg.subarray(0, 3), "INVALID_IMAGE"],
    ["JPEG magic then garbage", Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, ...new Uint8Array(200).fill(7)), "INVALID_IMAGE"],
    ["truncated PNG", png.subarray(0, png.length - 20), "INVALID_IMAGE"],
    ["PNG signature only", png.subarray(0, 8), "INVALID_IMAGE"],
    ["truncated WebP", webp.subarray(0, webp.length >> 1), "INVALID_IMAGE"],
  ];
  for (const [what, bytes, code] of cases) {
    it(`${what} -> ${code}`, async () => {
      await expect(decodeImage(bytes)).rejects.toMatchObject({ code });
    });
  }

  it("names the unsupported format", async () => {
    await expect(decodeImage(file("image/tiny.gif"))).rejects.toThrow(/GIF images are not supported/);
  });

  it("still decodes after a corrupt file", async () => {
    await expect(decodeImage(jpg.subarray(0, 3))).rejects.toThrow();
    const image = await decodeImage(jpg);
    expect(diff(image.data, processor.get("same.jpg_rgb")!.data as Uint8Array)).toEqual({ off: 0, worst: 0 });
  });
});
