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
import type { RawImage } from "./raw-image.js";

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

/** The format the first bytes announce, or the name of one we don't decode. */
function sniff(b: Uint8Array): ImageFormat | string {
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
  return "this";
}

function toBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new ImageError("encoded image bytes must be a Uint8Array or an ArrayBuffer");
}

/** Decodes to RGBA as the codecs produce it; the building block of decodeImage and the processor. */
export async function decodeRGBA(input: Uint8Array | ArrayBuffer): Promise<RawImage> {
  const bytes = toBytes(input);
  if (bytes.length === 0) throw new ImageError("the image file is empty (0 bytes)");
  const format = sniff(bytes);
  if (format !== "jpeg" && format !== "png" && format !== "webp") throw new UnsupportedImageFormatError(format);
  await codec(format);
  // The codecs take an ArrayBuffer holding exactly the file.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  jpegMessages = [];
  let decoded: ImageData;
  try {
    decoded =
      format === "jpeg" ? await decodeJpegWasm(buffer) : format === "png" ? await decodePngWasm(buffer) : await decodeWebpWasm(buffer);
  } catch (e) {
    const why = jpegMessages.length ? jpegMessages.join("; ") : e instanceof Error ? e.message : String(e);
    throw new ImageError(`the ${format.toUpperCase()} file is corrupt or truncated (${why})`);
  }
  // libjpeg only warns about a truncated file and fills the rest with gray; Pillow refuses it, so do we.
  if (format === "jpeg" && jpegMessages.some((m) => m.includes("Premature end of JPEG file"))) {
    throw new ImageError(`the JPEG file is truncated (${jpegMessages.join("; ")})`);
  }
  const { width, height, data } = decoded;
  if (width === 0 || height === 0) throw new ImageError(`the ${format.toUpperCase()} image is empty (${width}x${height})`);
  return { width, height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Decodes PNG, JPEG or WebP bytes. Returns RGB (3 channels), or RGBA (4) when
 * the image has transparency. Like Pillow, EXIF orientation is not applied.
 */
export async function decodeImage(input: Uint8Array | ArrayBuffer): Promise<RawImage> {
  const rgba = await decodeRGBA(input);
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
