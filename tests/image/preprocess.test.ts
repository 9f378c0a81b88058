// preprocessImage: the pixel values PaliGemma sees, against the HF processor's
// (Pillow resize, then x/255, (x-0.5)/0.5), from pixels and from the files
// end to end; and every input kind toRGBImage accepts. The issue allows 1/127.5;
// we reproduce HF's f32 arithmetic, so every float is identical (atol 0).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import "../../src/image/node-codecs.js";
import { toRGBImage } from "../../src/image/input.js";
import { preprocessImage } from "../../src/image/preprocess.js";
import { resizeImage } from "../../src/image/resize.js";
import golden from "../fixtures/processor/golden.json";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";

const processor = readTensors(`${FIXTURES}processor/golden.safetensors`);
const pillow = readTensors(`${FIXTURES}image/pillow.safetensors`);
const file = (path: string) => new Uint8Array(readFileSync(`${FIXTURES}${path}`));
const SIZE = golden.size;

/** HF's normalisation of uint8 HWC RGB, in the same f64-then-f32 steps. */
function normalized(rgb: Uint8Array): Float32Array {
  const hw = rgb.length / 3;
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) out[c * hw + i] = (Math.fround(rgb[i * 3 + c] * (1 / 255)) - 0.5) / 0.5;
  }
  return out;
}

describe("pixel values match the HF processor", () => {
  for (const [name, info] of Object.entries(golden.images)) {
    const expected = processor.get(`${name}.pixel_values`)!.data as Float32Array;

    it(`${name}: from the source pixels`, async () => {
      const data = processor.get(`${name}.src`)!.data as Uint8Array;
      const pv = await preprocessImage({ width: info.width, height: info.height, channels: 3, data }, SIZE);
      expect(pv.length).toBe(3 * SIZE * SIZE);
      expectClose(pv, expected, { atol: 0 }, name);
    });

    it(`${name}: end to end from ${name}.png`, async () => {
      const pv = await preprocessImage(file(`processor/${name}.png`), SIZE);
      expectClose(pv, expected, { atol: 0 }, name);
    });

    if (info.jpeg) {
      it(`${name}: end to end from ${name}.jpg equals Pillow's pipeline on the JPEG`, async () => {
        const pv = await preprocessImage(file(`processor/${name}.jpg`), SIZE);
        const viaPillow = normalized(pillow.get(`${name}.jpg_resized`)!.data as Uint8Array);
        expectClose(pv, viaPillow, { atol: 0 }, name);
      });
    }
  }

  it("writes into a caller's array (one image of a batch)", async () => {
    const batch = new Float32Array(2 * 3 * SIZE * SIZE).fill(9);
    const second = batch.subarray(3 * SIZE * SIZE);
    await preprocessImage(file("processor/tiny.png"), SIZE, second);
    expect(batch[0]).toBe(9);
    expectClose(second, processor.get("tiny.pixel_values")!.data as Float32Array, { atol: 0 }, "tiny");
  });

  it("other sizes: 448 is the (Pillow-exact) resize, normalised", async () => {
    const src = { width: 640, height: 480, channels: 3 as const, data: processor.get("landscape.src")!.data as Uint8Array };
    const pv = await preprocessImage(src, 448);
    expectClose(pv, normalized((await resizeImage(src, 448, 448)).data), { atol: 0 }, "448");
  });
});

describe("every input kind", () => {
  const info = golden.images.upscale;
  const rgb = processor.get("upscale.src")!.data as Uint8Array;
  const rgba = new Uint8ClampedArray(info.width * info.height * 4);
  for (let p = 0; p < info.width * info.height; p++) {
    rgba.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
    rgba[p * 4 + 3] = (p * 7) % 256; // alpha is dropped, never composited
  }
  const bytes = file("processor/upscale.png");
  const inputs: [string, unknown][] = [
    ["Uint8Array bytes", bytes],
    ["ArrayBuffer bytes", bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)],
    ["Blob", new Blob([bytes], { type: "image/png" })],
    ["ImageData-like RGBA", { width: info.width, height: info.height, data: rgba }],
    ["RGBA pixels", { width: info.width, height: info.height, channels: 4, data: new Uint8Array(rgba.buffer) }],
    ["RGB pixels", { width: info.width, height: info.height, channels: 3, data: rgb }],
  ];
  for (const [what, input] of inputs) {
    it(`${what} -> the same RGB and pixel values`, async () => {
      const image = await toRGBImage(input as Uint8Array);
      expect([image.width, image.height, image.channels]).toEqual([info.width, info.height, 3]);
      expect(image.data).toEqual(rgb);
      const pv = await preprocessImage(input as Uint8Array, SIZE);
      expectClose(pv, processor.get("upscale.pixel_values")!.data as Float32Array, { atol: 0 }, what);
    });
  }

  it("gray pixels are repeated into R, G and B", async () => {
    const gray = { width: 2, height: 1, channels: 1 as const, data: Uint8Array.of(10, 200) };
    expect((await toRGBImage(gray)).data).toEqual(Uint8Array.of(10, 10, 10, 200, 200, 200));
    const pv = await preprocessImage(gray, 2);
    const rows = [pv.subarray(0, 4), pv.subarray(4, 8), pv.subarray(8, 12)];
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[2]).toEqual(rows[0]);
  });

  const bad: [string, unknown, string][] = [
    ["null", null, "INVALID_INPUT"],
    ["a path that does not exist (strings are paths or URLs)", "no-such-dir/cat.png", "INVALID_IMAGE"],
    ["a number array", [1, 2, 3], "INVALID_INPUT"],
    ["empty pixels", { width: 0, height: 5, channels: 3, data: new Uint8Array(0) }, "INVALID_IMAGE"],
    ["ImageData with RGB-sized data", { width: 2, height: 2, data: new Uint8Array(12) }, "INVALID_IMAGE"],
    ["empty bytes", new Uint8Array(0), "INVALID_IMAGE"],
  ];
  for (const [what, input, code] of bad) {
    it(`${what} -> ${code}`, async () => {
      await expect(toRGBImage(input as Uint8Array)).rejects.toMatchObject({ code });
      await expect(preprocessImage(input as Uint8Array, SIZE)).rejects.toMatchObject({ code });
    });
  }

  it("imageSize must be a positive integer", async () => {
    await expect(preprocessImage(bytes, 0)).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });
});
