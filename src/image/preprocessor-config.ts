// preprocessor_config.json: how Hugging Face's SiglipImageProcessor turns an image into
// pixel values for this checkpoint. Fine-tunes may change the normalisation, so it is
// read where present: image_mean, image_std, rescale_factor (with do_rescale,
// do_normalize), size and resample. Absent keys take SiglipImageProcessor's defaults,
// PaliGemma's values (x/255, then (x - 0.5) / 0.5 per channel, Pillow BICUBIC to the
// vision encoder's size). Values the SDK can't honour are ConfigErrors, never ignored.
import { ConfigError } from "../errors.js";

/** Per channel: v = x · rescale (in f64, stored as f32), then (v - mean) / std in f32. */
export interface PixelNormalization {
  rescale: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** PaliGemma's: x/255, then (x - 0.5) / 0.5, into [-1, 1]. */
export const PALIGEMMA_NORMALIZATION: PixelNormalization = { rescale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** Pillow's filter numbers, as preprocessor_config.json's `resample` holds them. */
const PILLOW_FILTERS = ["NEAREST", "LANCZOS", "BILINEAR", "BICUBIC", "BOX", "HAMMING"];
const BICUBIC = 3;

type Json = Record<string, unknown>;

function perChannel(json: Json, key: string, fallback: readonly [number, number, number]): [number, number, number] {
  const v = json[key] ?? fallback;
  const values = typeof v === "number" ? [v, v, v] : v;
  if (!Array.isArray(values) || values.length !== 3 || values.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
    throw new ConfigError(`preprocessor_config.json ${key} must be a number or 3 numbers (one per RGB channel), got ${JSON.stringify(v)}`);
  }
  return values as [number, number, number];
}

function flag(json: Json, key: string): boolean {
  const v = json[key] ?? true;
  if (typeof v !== "boolean") throw new ConfigError(`preprocessor_config.json ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The normalisation preprocessor_config.json asks for (undefined: the file is absent),
 * checked against what the model takes: `imageSize` is vision_config.image_size.
 */
export function parsePreprocessorConfig(json: Json | undefined, imageSize: number): PixelNormalization {
  if (json === undefined) return PALIGEMMA_NORMALIZATION;
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ConfigError("preprocessor_config.json is not a JSON object");

  const resample = json.resample ?? BICUBIC;
  if (resample !== BICUBIC) {
    const name = typeof resample === "number" && PILLOW_FILTERS[resample] ? ` (Pillow ${PILLOW_FILTERS[resample]})` : "";
    throw new ConfigError(`preprocessor_config.json resample is ${JSON.stringify(resample)}${name}: only 3 (Pillow BICUBIC, PaliGemma's) is supported`);
  }
  if (!flag(json, "do_resize")) {
    throw new ConfigError("preprocessor_config.json do_resize is false: images are always resized to the vision encoder's size here");
  }
  const size = json.size as Json | number | undefined;
  if (size !== undefined) {
    const [h, w] = typeof size === "number" ? [size, size] : [size?.height, size?.width];
    if (h !== imageSize || w !== imageSize) {
      throw new ConfigError(
        `preprocessor_config.json size is ${JSON.stringify(size)} but the vision encoder takes ${imageSize}×${imageSize} (vision_config.image_size): expected { "height": ${imageSize}, "width": ${imageSize} }`,
      );
    }
  }

  const rescale = json.rescale_factor ?? PALIGEMMA_NORMALIZATION.rescale;
  if (typeof rescale !== "number" || !(rescale > 0) || !Number.isFinite(rescale)) {
    throw new ConfigError(`preprocessor_config.json rescale_factor must be a positive number, got ${JSON.stringify(rescale)}`);
  }
  const normalize = flag(json, "do_normalize");
  const std = normalize ? perChannel(json, "image_std", PALIGEMMA_NORMALIZATION.std) : ([1, 1, 1] as const);
  if (std.some((s) => s === 0)) throw new ConfigError(`preprocessor_config.json image_std ${JSON.stringify(std)} has a 0: pixels would be divided by it`);
  return {
    rescale: flag(json, "do_rescale") ? rescale : 1,
    mean: normalize ? perChannel(json, "image_mean", PALIGEMMA_NORMALIZATION.mean) : [0, 0, 0],
    std,
  };
}
