// Every kind of image a caller may hand the SDK, turned into pixels:
// encoded bytes (PNG, JPEG, WebP) or a Blob of them, decoded pixels
// ({ width, height, channels, data } or ImageData-like RGBA), and, where the
// runtime has them, ImageBitmap, canvases and <img> elements.
import { ImageError, InputError } from "../errors.js";
import { decodeRGBA } from "./decode.js";
import { checkRawImage, type RawImage } from "./raw-image.js";

/** ImageData and look-alikes: RGBA, 4 bytes a pixel. */
export interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

export type ImageInput =
  | Uint8Array
  | ArrayBuffer
  | Blob
  | RawImage
  | ImageDataLike
  | ImageBitmap
  | OffscreenCanvas
  | HTMLCanvasElement
  | HTMLImageElement;

const has = (name: string): boolean => typeof (globalThis as Record<string, unknown>)[name] === "function";

function isDrawable(x: unknown): x is ImageBitmap | OffscreenCanvas | HTMLCanvasElement | HTMLImageElement {
  return ["ImageBitmap", "OffscreenCanvas", "HTMLCanvasElement", "HTMLImageElement"].some(
    (name) => has(name) && x instanceof (globalThis as unknown as Record<string, new () => unknown>)[name],
  );
}

/** Draws onto a 2D canvas and reads the RGBA back (browsers; OffscreenCanvas in workers). */
function readDrawable(source: ImageBitmap | OffscreenCanvas | HTMLCanvasElement | HTMLImageElement): RawImage {
  const isImg = has("HTMLImageElement") && source instanceof HTMLImageElement;
  const width = isImg ? source.naturalWidth : source.width;
  const height = isImg ? source.naturalHeight : source.height;
  if (width === 0 || height === 0) throw new ImageError(`the image is empty (${width}x${height}); is it loaded?`);
  let context: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (has("OffscreenCanvas")) {
    context = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
  } else if (typeof document !== "undefined") {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    context = canvas.getContext("2d", { willReadFrequently: true });
  } else {
    throw new InputError("this runtime has no canvas to read an ImageBitmap from: pass encoded bytes or pixels");
  }
  if (!context) throw new InputError("could not create a 2D canvas context to read the image");
  context.drawImage(source, 0, 0);
  const { data } = context.getImageData(0, 0, width, height);
  return { width, height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** The pixels of any supported input, with as many channels as it has (1, 3 or 4). */
export async function toPixels(input: ImageInput): Promise<RawImage> {
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return decodeRGBA(input);
  if (has("Blob") && input instanceof Blob) return decodeRGBA(await input.arrayBuffer());
  if (isDrawable(input)) return readDrawable(input);
  if (input && typeof input === "object" && "width" in input && "height" in input && "data" in input) {
    const { width, height, data } = input;
    const channels = "channels" in input ? input.channels : 4;
    const image = { width, height, channels, data } as RawImage;
    checkRawImage(image, "channels" in input ? "the image" : "the ImageData (RGBA)");
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { width, height, channels, data: bytes };
  }
  throw new InputError(
    "unsupported image input: pass PNG/JPEG/WebP bytes (Uint8Array, ArrayBuffer or Blob), " +
      "{ width, height, channels, data } pixels, ImageData, an ImageBitmap or a canvas",
  );
}

/** 1 or 4 channels -> 3: gray is repeated, alpha dropped (Pillow's convert("RGB")). RGB passes through, shared. */
export function rgbFromPixels(image: RawImage): RawImage {
  const { width, height, channels, data } = image;
  if (channels === 3) return image;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, i = 0, j = 0; p < width * height; p++, i += 3, j += channels) {
    rgb[i] = data[j];
    rgb[i + 1] = data[channels === 1 ? j : j + 1];
    rgb[i + 2] = data[channels === 1 ? j : j + 2];
  }
  return { width, height, channels: 3, data: rgb };
}

/** Any supported input -> RGB pixels { width, height, channels: 3, data }. */
export async function toRGBImage(input: ImageInput): Promise<RawImage> {
  return rgbFromPixels(await toPixels(input));
}
