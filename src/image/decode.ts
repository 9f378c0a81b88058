// decodeImage: PNG, JPEG and WebP bytes -> pixels, with the same decoders in
// every runtime: jSquash's WebAssembly builds of MozJPEG (libjpeg-turbo's
// decoder: bit-exact with Pillow's JPEG decode), the Rust `png` crate and libwebp.
//
// Each codec ships a .wasm file. By default jSquash fetches it from beside its
// own JS (browsers, Deno, bundlers); a runtime adapter may hand the modules over
// instead with setImageCodecWasm (Node reads the files; workerd, which forbids
// compiling WebAssembly from bytes, passes modules imported at bundle time).
import decodeJpegWasm, { init as initJpeg } from "@jsquash/jpeg/decode.js";
import { decode as decodePngWasm, init as initPng } from "@jsquash/png/decode.js";
import decodeWebpWasm, { init as initWebp } from "@jsquash/webp/decode.js";
import { ImageError, UnsupportedImageFormatError } from "../errors.js";
import type { WasmModuleLike } from "../web-types.js";
import { type ImageHeader, pngDamage, readHeader, webpDamage } from "./header.js";
import { checkPixelLimit, type ImageLimits, maxImagePixels, type RawImage } from "./raw-image.js";

export type ImageFormat = "jpeg" | "png" | "webp";

/** Where the codecs' .wasm come from: the bytes, or a compiled WebAssembly.Module where compiling bytes is forbidden. */
export type CodecWasmSource = (format: ImageFormat) => Promise<WasmModuleLike | ArrayBuffer | ArrayBufferView>;

let codecWasm: CodecWasmSource | undefined;
const ready = new Map<ImageFormat, Promise<void>>();

export function setImageCodecWasm(source: CodecWasmSource): void {
  codecWasm = source;
  ready.clear();
}

// What libjpeg reports while decoding the current image (decoding is synchronous).
let jpegMessages: string[] = [];
const emscriptenOptions = { print: () => {}, printErr: (line: string) => jpegMessages.push(line) };

type EmscriptenInit = (module: WebAssembly.Module | undefined, options: object) => Promise<void>;

async function load(format: ImageFormat): Promise<void> {
  const source = (codecWasm && (await codecWasm(format))) as WebAssembly.Module | BufferSource | undefined;
  const module =
    source === undefined || source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
  if (format === "png") {
    await initPng(module);
  } else {
    // jSquash types these as options-only, but they take the module first.
    await ((format === "jpeg" ? initJpeg : initWebp) as unknown as EmscriptenInit)(module, emscriptenOptions);
  }
}

function codec(format: ImageFormat): Promise<void> {
  let p = ready.get(format);
  if (!p) {
    p = load(format);
    ready.set(format, p);
    p.catch(() => ready.delete(format));
  }
  return p;
}

/** The format the first bytes announce: one we decode, the name of one we don't, or undefined for none we know. */
function sniff(b: Uint8Array): ImageFormat | string | undefined {
  const ascii = (at: number, s: string) => [...s].every((ch, i) => b[at + i] === ch.charCodeAt(0));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b[0] === 0x89 && ascii(1, "PNG\r\n\x1a\n")) return "png";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "webp";
  if (ascii(0, "GIF8")) return "GIF";
  if (ascii(0, "BM")) return "BMP";
  if (ascii(0, "II*\0") || ascii(0, "MM\0*")) return "TIFF";
  if (ascii(4, "ftypavif") || ascii(4, "ftypavis")) return "AVIF";
  if (ascii(4, "ftyphei") || ascii(4, "ftypmif1")) return "HEIF";
  if ((b[0] === 0xff && b[1] === 0x0a) || ascii(4, "JXL ")) return "JPEG XL";
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return "ICO";
  return undefined;
}

/** `89 50 4e 47 ... (".PNG")`: what a file starts with, as hex and as text. */
function firstBytes(b: Uint8Array): string {
  const head = b.subarray(0, 12);
  const hex = Array.from(head, (x) => x.toString(16).padStart(2, "0")).join(" ");
  const text = String.fromCharCode(...head).replace(/[^\x20-\x7e]/g, ".");
  return `${hex}${b.length > head.length ? " ..." : ""} ("${text}")`;
}

const NAMES: Record<ImageFormat, string> = { jpeg: "JPEG", png: "PNG", webp: "WebP" };

function toBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new ImageError("encoded image bytes must be a Uint8Array or an ArrayBuffer");
}

/** Why the codec refused `bytes`, as far as the file itself tells. */
function decodeFailure(format: ImageFormat, bytes: Uint8Array, header: ImageHeader | undefined, e: unknown): ImageError {
  const name = NAMES[format];
  if (format === "png") {
    // The png crate's errors reach JS only as "`unwrap_throw` failed"; the chunks were whole (pngDamage).
    return new ImageError("the PNG file is broken: its chunks are whole, so its compressed pixel data (IDAT) or a header field is corrupt");
  }
  const cut = format === "webp" ? webpDamage(bytes) : undefined;
  if (cut) return new ImageError(`the WebP file is broken: ${cut}`);
  if (jpegMessages.length) return new ImageError(`the ${name} file is corrupt or truncated (${jpegMessages.join("; ")})`);
  if (!(e instanceof Error) && header) {
    // Emscripten throws a bare number (an exception pointer) when the decoder's memory cannot grow.
    const gib = (header.width * header.height * 4) / 2 ** 30;
    return new ImageError(
      `the ${name} decoder failed on the ${header.width}x${header.height} image (${gib.toFixed(1)} GiB as RGBA): most likely out of memory`,
    );
  }
  return new ImageError(`the ${name} file is corrupt or truncated (${e instanceof Error ? e.message : String(e)})`);
}

/**
 * Decodes to RGBA as the codecs produce it; the building block of decodeImage and the
 * processor. The size the header declares is checked against `maxImagePixels` first.
 */
export async function decodeRGBA(input: Uint8Array | ArrayBuffer, limits: ImageLimits = {}): Promise<RawImage> {
  maxImagePixels(limits);
  const bytes = toBytes(input);
  if (bytes.length === 0) throw new ImageError("the image file is empty (0 bytes)");
  const format = sniff(bytes);
  if (format === undefined) {
    throw new UnsupportedImageFormatError(
      `not a PNG, JPEG or WebP file: it starts ${firstBytes(bytes)}, where a PNG starts 89 50 4e 47, a JPEG ff d8 ff and a WebP "RIFF....WEBP"`,
    );
  }
  if (format !== "jpeg" && format !== "png" && format !== "webp") throw new UnsupportedImageFormatError(`${format} images are not supported`);
  const name = NAMES[format];
  const header = readHeader(bytes, format);
  if (header) {
    checkPixelLimit(header.width, header.height, limits, `the ${name} image`);
    if (header.cmyk) {
      throw new UnsupportedImageFormatError(
        `this JPEG is ${header.cmyk} (4 inks, as print workflows save them), which the decoder cannot turn into RGB`,
        "convert it to RGB first (ImageMagick: `convert in.jpg -colorspace sRGB out.jpg`), or pass decoded pixels ({ width, height, data })",
      );
    }
  }
  const damage = format === "png" ? pngDamage(bytes) : undefined;
  if (damage) throw new ImageError(`the PNG file is broken: ${damage}`);
  await codec(format);
  // The codecs take an ArrayBuffer holding exactly the file.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  jpegMessages = [];
  let decoded: ImageData;
  try {
    decoded =
      format === "jpeg" ? await decodeJpegWasm(buffer) : format === "png" ? await decodePngWasm(buffer) : await decodeWebpWasm(buffer);
  } catch (e) {
    throw decodeFailure(format, bytes, header, e);
  }
  const { width, height, data } = decoded;
  // libjpeg only warns when the compressed data runs out (a cut file, or one declaring more pixels than
  // it holds: a size bomb) and fills the rest with gray; Pillow refuses a cut file, so do we, either way.
  if (format === "jpeg" && jpegMessages.some((m) => /premature end/i.test(m))) {
    throw new ImageError(
      `the JPEG file is truncated: its data ends before the ${width}x${height} pixels it declares (${jpegMessages.join("; ")})`,
    );
  }
  if (width === 0 || height === 0) throw new ImageError(`the ${name} image is empty (${width}x${height})`);
  // A size the header did not give (a JPEG whose height comes after its first scan) is checked here.
  checkPixelLimit(width, height, limits, `the ${name} image`);
  return { width, height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Decodes PNG, JPEG or WebP bytes. Returns RGB (3 channels), or RGBA (4) when
 * the image has transparency. Like Pillow, EXIF orientation is not applied. Images
 * above `maxImagePixels` (default 100 M) are refused from their header (ImageTooLargeError).
 */
export async function decodeImage(input: Uint8Array | ArrayBuffer, limits: ImageLimits = {}): Promise<RawImage> {
  const rgba = await decodeRGBA(input, limits);
  const { width, height, data } = rgba;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return rgba;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = data[j];
    rgb[i + 1] = data[j + 1];
    rgb[i + 2] = data[j + 2];
  }
  return { width, height, channels: 3, data: rgb };
}
