// Every kind of image a caller may hand the SDK, turned into pixels:
// encoded bytes (PNG, JPEG, WebP) or a Blob of them, where to get them (a path in
// Node/Deno, an http(s):, data:, blob: or file: URL, a Request, a Response), decoded
// pixels ({ width, height, channels, data } or ImageData-like RGBA), and, where the
// runtime has them, ImageBitmap, canvases and <img> elements.
import { ImageError, InputError } from "../errors.js";
import { decodeRGBA } from "./decode.js";
import type { CanvasLike, ImageBitmapLike, ImageElementLike } from "../web-types.js";
import { checkPixelLimit, checkRawImage, type ImageLimits, type RawImage } from "./raw-image.js";

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
  /** A file path (Node, Deno) or a URL (http:, https:, data:, blob:; file: in Node and Deno); in browsers relative to the page. */
  | string
  | URL
  /** Fetched; its body is the encoded image. */
  | Request
  | Response
  | RawImage
  | ImageDataLike
  /** Browsers (and Deno's ImageBitmap): an ImageBitmap, HTMLCanvasElement, OffscreenCanvas or <img>. */
  | ImageBitmapLike
  | CanvasLike
  | ImageElementLike;

/** Reads a local file (a path or file: URL); registered by runtimes with a file system. */
export type LocalFileReader = (path: string | URL) => Promise<Uint8Array>;
let readLocal: LocalFileReader | undefined;

export function setLocalImageReader(reader: LocalFileReader): void {
  readLocal = reader;
}

/** A scheme ("https:", "data:"), not a Windows drive letter ("C:"). */
const HAS_SCHEME = /^[a-z][a-z\d+.-]+:/i;

/** A path or file: URL to read from disk, where the runtime can; undefined for anything to fetch. */
function localPath(where: string | URL | Request | Response): string | URL | undefined {
  if (!readLocal) return undefined;
  if (where instanceof URL) return where.protocol === "file:" ? where : undefined;
  if (typeof where !== "string") return undefined;
  if (where.startsWith("file:")) return new URL(where);
  return HAS_SCHEME.test(where) ? undefined : where;
}

/** The encoded bytes a path, URL, Request or Response names. */
async function fetchImage(where: string | URL | Request | Response): Promise<Uint8Array> {
  const shown = where instanceof Response ? "the Response" : where instanceof Request ? where.url : String(where);
  const path = localPath(where);
  if (path !== undefined) {
    try {
      return await readLocal!(path);
    } catch (e) {
      const why = (e as { code?: string }).code === "ENOENT" ? "no such file" : (e as Error).message;
      throw new ImageError(`could not read the image ${shown}: ${why}`);
    }
  }
  let res: Response;
  try {
    res = where instanceof Response ? where : await fetch(where);
  } catch (e) {
    throw new ImageError(`could not fetch the image ${shown}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new ImageError(`could not fetch the image ${res.url || shown}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

const has = (name: string): boolean => typeof (globalThis as Record<string, unknown>)[name] === "function";

type Drawable = ImageBitmap | OffscreenCanvas | HTMLCanvasElement | HTMLImageElement;

function isDrawable(x: unknown): x is Drawable | OffscreenCanvas | HTMLCanvasElement | HTMLImageElement {
  return ["ImageBitmap", "OffscreenCanvas", "HTMLCanvasElement", "HTMLImageElement"].some(
    (name) => has(name) && x instanceof (globalThis as unknown as Record<string, new () => unknown>)[name],
  );
}

/** Draws onto a 2D canvas and reads the RGBA back (browsers; OffscreenCanvas in workers). */
function readDrawable(source: Drawable, limits: ImageLimits): RawImage {
  const isImg = has("HTMLImageElement") && source instanceof HTMLImageElement;
  const width = isImg ? source.naturalWidth : source.width;
  const height = isImg ? source.naturalHeight : source.height;
  if (width === 0 || height === 0) throw new ImageError(`the image is empty (${width}x${height}); is it loaded?`);
  checkPixelLimit(width, height, limits); // before the canvas and its width x height x 4 bytes
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

/** The pixels of any supported input, with as many channels as it has (1, 3 or 4); none above `maxImagePixels`. */
export async function toPixels(input: ImageInput, limits: ImageLimits = {}): Promise<RawImage> {
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return decodeRGBA(input, limits);
  if (typeof input === "string" || input instanceof URL || (has("Request") && input instanceof Request) || (has("Response") && input instanceof Response)) {
    return decodeRGBA(await fetchImage(input as string | URL | Request | Response), limits);
  }
  if (has("Blob") && input instanceof Blob) return decodeRGBA(await input.arrayBuffer(), limits);
  if (isDrawable(input)) return readDrawable(input, limits);
  if (input && typeof input === "object" && "width" in input && "height" in input && "data" in input) {
    const { width, height, data } = input;
    const channels = "channels" in input ? input.channels : 4;
    const image = { width, height, channels, data } as RawImage;
    const what = "channels" in input ? "the image" : "the ImageData (RGBA)";
    checkRawImage(image, what);
    // The caller holds these pixels already, but each later step copies them (RGB, WASM memory).
    checkPixelLimit(width, height, limits, what);
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { width, height, channels, data: bytes };
  }
  throw new InputError(
    "unsupported image input: pass PNG/JPEG/WebP bytes (Uint8Array, ArrayBuffer or Blob), a path or URL, a Request or Response, " +
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
export async function toRGBImage(input: ImageInput, limits: ImageLimits = {}): Promise<RawImage> {
  return rgbFromPixels(await toPixels(input, limits));
}
