// Decoded pixels as this SDK passes them around: interleaved uint8, row-major,
// [height, width, channels] with 1 (gray/mask), 3 (RGB) or 4 (RGBA) channels.
import { ImageError } from "../errors.js";

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
