// resizeImage: Pillow's Image.resize(size, BICUBIC) on uint8 pixels, bit-exact.
import { InputError } from "../errors.js";
import { imageKernels } from "./image-wasm.js";
import { checkRawImage, type RawImage } from "./raw-image.js";

/**
 * Resizes a 1-, 3- or 4-channel image to width x height (up or down, any
 * aspect) exactly as Pillow's BICUBIC does. Channels are filtered independently
 * (Pillow's behaviour for RGB, L and RGBX; it premultiplies only its RGBA mode).
 */
export async function resizeImage(image: RawImage, width: number, height: number): Promise<RawImage> {
  checkRawImage(image);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InputError(`cannot resize to ${width}x${height}: width and height must be positive integers`);
  }
  return (await imageKernels()).resize(image, width, height);
}
