// Decoded pixels as this SDK passes them around: interleaved uint8, row-major,
// [height, width, channels] with 1 (gray/mask), 3 (RGB) or 4 (RGBA) channels.
import { ImageError, ImageTooLargeError, InputError } from "../errors.js";

export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** Throws ImageError unless `image` is a well-formed RawImage; `what` names it in the message. */
export function checkRawImage(image: RawImage, what = "image"): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageError(`${what} is ${width}x${height}: width and height must be positive integers`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new ImageError(`${what} has ${channels} channels: expected 1, 3 or 4`);
  }
  const bytes: unknown = data;
  if (!(bytes instanceof Uint8Array || bytes instanceof Uint8ClampedArray)) {
    throw new ImageError(`${what}.data must be a Uint8Array or Uint8ClampedArray`);
  }
  if (data.length !== width * height * channels) {
    throw new ImageError(
      `${what}.data holds ${data.length} bytes, but ${width}x${height} with ${channels} channels needs ${width * height * channels}`,
    );
  }
}

/**
 * Decoding takes 4 bytes a pixel in the codec's memory, then copies: decoding a 9000x9000
 * JPEG peaked at 0.9 GB resident in Node. PaliGemma sees 224 to 896 pixels a side, so
 * 100 M (a 10000x10000 image) leaves any photo room and stops a bomb.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 100_000_000;

export interface ImageLimits {
  /** The most pixels (width × height) an image may have; checked from the header, before decoding. Default 100 M; `Infinity` for none. */
  maxImagePixels?: number;
}

/** The limit the options ask for, after checking it is a positive number. */
export function maxImagePixels(limits: ImageLimits = {}): number {
  const max = limits.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  if (typeof max !== "number" || !(max > 0)) {
    const shown = typeof max === "string" ? JSON.stringify(max) : String(max);
    const type = typeof max === "object" ? "an object" : `a ${typeof max}`;
    throw new InputError(`maxImagePixels must be a positive number (or Infinity), got ${shown} (${type})`);
  }
  return max;
}

/** Throws ImageTooLargeError when `what` (width x height) has more pixels than the limit. */
export function checkPixelLimit(width: number, height: number, limits: ImageLimits | undefined, what = "the image"): void {
  const max = maxImagePixels(limits);
  if (width * height > max) throw new ImageTooLargeError(what, width, height, max);
}
