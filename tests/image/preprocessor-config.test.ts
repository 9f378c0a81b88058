// preprocessor_config.json: a checkpoint's own normalisation (fine-tunes change it) is
// read and applied, with PaliGemma's values where keys are absent, and what the SDK
// can't honour is a ConfigError. Pixel values under another mean/std are checked against
// HF's arithmetic on Pillow's resized pixels (recovered exactly from the HF processor's
// goldens, which are (x/255 - 0.5) / 0.5 of them).
import { describe, expect, test } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { preprocessImage } from "../../src/image/preprocess.js";
import { PALIGEMMA_NORMALIZATION, parsePreprocessorConfig } from "../../src/image/preprocessor-config.js";
import { PaliGemma } from "../../src/paligemma.js";
import golden from "../fixtures/processor/golden.json";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";

// google/paligemma-3b-pt-224's preprocessor_config.json.
const PALIGEMMA_FILE = {
  do_convert_rgb: null, do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.5, 0.5, 0.5],
  image_processor_type: "SiglipImageProcessor", image_seq_length: 256, image_std: [0.5, 0.5, 0.5],
  processor_class: "PaliGemmaProcessor", resample: 3, rescale_factor: 0.00392156862745098, size: { height: 224, width: 224 },
};
const IMAGENET = { ...PALIGEMMA_FILE, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] };

describe("parsePreprocessorConfig", () => {
  test("absent, or PaliGemma's own file: x/255, then (x - 0.5) / 0.5", () => {
    expect(parsePreprocessorConfig(undefined, 224)).toEqual(PALIGEMMA_NORMALIZATION);
    expect(parsePreprocessorConfig(PALIGEMMA_FILE, 224)).toEqual(PALIGEMMA_NORMALIZATION);
    expect(parsePreprocessorConfig({}, 448)).toEqual(PALIGEMMA_NORMALIZATION);
  });

  test("a fine-tune's values are read; do_rescale / do_normalize false turn a step off", () => {
    expect(parsePreprocessorConfig(IMAGENET, 224)).toEqual({ rescale: 0.00392156862745098, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(parsePreprocessorConfig({ image_mean: 0.4, image_std: 0.3, rescale_factor: 0.5 }, 224)).toEqual({ rescale: 0.5, mean: [0.4, 0.4, 0.4], std: [0.3, 0.3, 0.3] });
    expect(parsePreprocessorConfig({ do_normalize: false, do_rescale: false }, 224)).toEqual({ rescale: 1, mean: [0, 0, 0], std: [1, 1, 1] });
  });

  test.each([
    [{ resample: 2 }, /resample is 2 \(Pillow BILINEAR\): only 3 \(Pillow BICUBIC/],
    [{ resample: "lanczos" }, /resample is "lanczos"/],
    [{ size: { height: 448, width: 448 } }, /size is .* but the vision encoder takes 224×224/],
    [{ size: { height: 224, width: 200 } }, /size is/],
    [{ do_resize: false }, /do_resize is false/],
    [{ image_mean: [0.5, 0.5] }, /image_mean must be a number or 3 numbers/],
    [{ image_std: [0.5, 0, 0.5] }, /has a 0/],
    [{ rescale_factor: -1 }, /rescale_factor must be a positive number/],
  ])("%o is a ConfigError", (json, message) => {
    expect(() => parsePreprocessorConfig(json, 224)).toThrow(ConfigError);
    expect(() => parsePreprocessorConfig(json, 224)).toThrow(message);
  });
});

describe("pixel values under a checkpoint's normalisation", () => {
  const processor = readTensors(`${FIXTURES}processor/golden.safetensors`);
  const norm = parsePreprocessorConfig(IMAGENET, golden.size);

  test.each(Object.entries(golden.images))("%s: HF's (x·rescale - mean) / std in f32 on Pillow's pixels", async (name, info) => {
    const hf = processor.get(`${name}.pixel_values`)!.data as Float32Array;
    const plane = hf.length / 3;
    const want = hf.map((v, i) => {
      const x = Math.round((v * 0.5 + 0.5) * 255); // Pillow's resized uint8, exactly
      const c = Math.floor(i / plane);
      return Math.fround(Math.fround(Math.fround(x * norm.rescale) - Math.fround(norm.mean[c])) / Math.fround(norm.std[c]));
    });
    const data = processor.get(`${name}.src`)!.data as Uint8Array;
    const got = await preprocessImage({ width: info.width, height: info.height, channels: 3, data }, golden.size, undefined, norm);
    expectClose(got, want, { atol: 0 }, name);
  });

  test("PaliGemma.load applies the model folder's preprocessor_config.json, and refuses one it can't honour", async () => {
    const files = folderFiles(new URL("../../models/demo-shapes/", import.meta.url).pathname);
    const size = { height: 112, width: 112 };
    const withConfig = (json: object) => ({ ...files, "preprocessor_config.json": new TextEncoder().encode(JSON.stringify(json)) });
    const image = { width: 5, height: 4, channels: 3 as const, data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) };
    const plain = await PaliGemma.load(files, { device: "wasm" });
    const tuned = await PaliGemma.load(withConfig({ ...IMAGENET, size }), { device: "wasm" });
    try {
      expect(plain.processor.normalization).toEqual(PALIGEMMA_NORMALIZATION);
      expect(tuned.processor.normalization).toEqual(parsePreprocessorConfig({ ...IMAGENET, size }, 112));
      const [a, b] = [await plain.processor({ text: "caption en", images: image }), await tuned.processor({ text: "caption en", images: image })];
      expectClose(b.pixelValues, await preprocessImage(image, 112, undefined, tuned.processor.normalization), { atol: 0 }, "tuned");
      expect(Math.max(...a.pixelValues.map((v, i) => Math.abs(v - b.pixelValues[i])))).toBeGreaterThan(0.1);
    } finally {
      plain.dispose();
      tuned.dispose();
    }
    await expect(PaliGemma.load(withConfig({ ...PALIGEMMA_FILE, size, resample: 2 }), { device: "wasm" })).rejects.toThrow(ConfigError);
    await expect(PaliGemma.load(withConfig(PALIGEMMA_FILE), { device: "wasm" })).rejects.toThrow(/vision encoder takes 112×112/);
  });
});
