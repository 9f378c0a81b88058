// Node: the image codecs' .wasm files are read from the installed @jsquash
// packages (Node's fetch has no file: URLs, which jSquash's own loader needs).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { setImageCodecWasm, type ImageFormat } from "./decode.js";

const require = createRequire(import.meta.url);

const files: Record<ImageFormat, string> = {
  jpeg: "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm",
  png: "@jsquash/png/codec/pkg/squoosh_png_bg.wasm",
  webp: "@jsquash/webp/codec/dec/webp_dec.wasm",
};

setImageCodecWasm(async (format) => {
  const bytes = await readFile(require.resolve(files[format]));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
});
