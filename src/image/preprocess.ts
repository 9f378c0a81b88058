// preprocessImage: PaliGemma's image preprocessing (HF PaliGemmaProcessor /
// SiglipImageProcessor): RGB, Pillow BICUBIC resize to size x size, x/255,
// (x - 0.5) / 0.5 (or the normalisation preprocessor_config.json gives), channels first.
import { InputError } from "../errors.js";
import { imageKernels } from "./image-wasm.js";
import { PALIGEMMA_NORMALIZATION, type PixelNormalization } from "./preprocessor-config.js";
import { rgbFromPixels, toPixels, type ImageInput } from "./input.js";
import type { ImageLimits } from "./raw-image.js";

/**
 * Returns pixel values [3, imageSize, imageSize] (in [-1, 1] with PaliGemma's normalisation). Pass `out` (at least
 * 3 * imageSize^2 floats) to write into an existing array, e.g. one image of a batch. Images above
 * `limits.maxImagePixels` (default 100 M) are refused before decoding.
 */
export async function preprocessImage(
  input: ImageInput,
  imageSize: number,
  out = new Float32Array(3 * imageSize * imageSize),
  normalization: PixelNormalization = PALIGEMMA_NORMALIZATION,
  limits: ImageLimits = {},
): Promise<Float32Array> {
  if (!Number.isInteger(imageSize) || imageSize <= 0) {
    throw new InputError(`imageSize must be a positive integer, got ${imageSize}`);
  }
  if (out.length < 3 * imageSize * imageSize) {
    throw new InputError(`out holds ${out.length} floats; [3, ${imageSize}, ${imageSize}] needs ${3 * imageSize * imageSize}`);
  }
  let pixels = await toPixels(input, limits);
  if (pixels.channels === 1) pixels = rgbFromPixels(pixels);
  (await imageKernels()).pixelValues(pixels, imageSize, out, normalization);
  return out;
}
