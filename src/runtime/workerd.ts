// workerd entry (Cloudflare Workers, miniflare, self-hosted workerd): the portable core
// with every WebAssembly module imported at bundle time. workerd forbids compiling
// WebAssembly from bytes, so neither our loaders nor jSquash's may fetch and compile
// their .wasm; the bundler (wrangler's CompiledWasm rule) compiles them instead, and
// these imports hand the modules over. The model runs on the WASM backend: workerd has
// no WebGPU.
import jpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
// @ts-expect-error wasm-bindgen types this file as its instance's exports; bundled for workerd, the default export is the compiled module
import pngWasm from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";
import webpWasm from "@jsquash/webp/codec/dec/webp_dec.wasm";
import { setImageCodecWasm, type ImageFormat } from "../image/decode.js";
import cpuWasm from "../wasm/cpu.wasm";
import imageWasm from "../wasm/image.wasm";
import tokenizerWasm from "../wasm/tokenizer.wasm";
import { setWasmFetcher, type WasmName } from "../wasm/load.js";

// No cpu-mt: workerd has no workers, so the WASM backend runs on one thread there.
const ours: Partial<Record<WasmName, WebAssembly.Module>> = { image: imageWasm, tokenizer: tokenizerWasm, cpu: cpuWasm };
const codecs: Record<ImageFormat, WebAssembly.Module> = { jpeg: jpegWasm, png: pngWasm, webp: webpWasm };

setWasmFetcher(async (name) => {
  const m = ours[name];
  if (!m) throw new Error(`${name}.wasm is not bundled for workerd`);
  return m;
});
setImageCodecWasm(async (format) => codecs[format]);

export * from "../index.js";
