// Loads the AssemblyScript modules (image.wasm, tokenizer.wasm, ...) in every runtime.
//
// Core code only knows each module's URL next to this file (the build copies the
// .wasm files beside the bundle). How bytes are obtained differs per runtime, so a
// runtime adapter may replace the fetcher: Node reads files, workerd (which forbids
// compiling WebAssembly from bytes) hands over modules imported at bundle time.

/**
 * cpu-mt: the cpu kernels on an imported shared memory (the WASM backend's threads);
 * *-relaxed: the same with relaxed SIMD, for engines that validate it (relaxedSimd()).
 */
export type WasmName = "image" | "tokenizer" | "cpu" | "cpu-mt" | "cpu-relaxed" | "cpu-mt-relaxed";

export type WasmFetcher = (name: WasmName) => Promise<BufferSource | WebAssembly.Module>;

// Static `new URL("./x.wasm", import.meta.url)` literals so bundlers can see the assets.
// Built only when a fetcher asks: workerd has no import.meta.url, and needs no URL.
const urls: Record<WasmName, () => URL> = {
  image: () => new URL("./image.wasm", import.meta.url),
  tokenizer: () => new URL("./tokenizer.wasm", import.meta.url),
  cpu: () => new URL("./cpu.wasm", import.meta.url),
  "cpu-mt": () => new URL("./cpu-mt.wasm", import.meta.url),
  "cpu-relaxed": () => new URL("./cpu-relaxed.wasm", import.meta.url),
  "cpu-mt-relaxed": () => new URL("./cpu-mt-relaxed.wasm", import.meta.url),
};

// A module whose one export computes lane 0 of i32x4.relaxed_dot_i8x16_i7x16_add_s
// (0xfd 0x113) on i8x16 splats of -3, 100 and 7: 4 · (-3 · 100) + 0x07070707 by the
// spec. It validates only where the engine has relaxed SIMD (Node >= 21 or
// --experimental-wasm-relaxed-simd, Deno, Chromium; not Safari), and running it catches
// engines that have it wrong: Node 20's experimental baseline compiler doubles the sum.
const splat = (v: number) => [0xfd, 0x0c, ...new Array(16).fill(v & 255)];
const probeBody = [0x00, ...splat(-3), ...splat(100), ...splat(7), 0xfd, 0x93, 0x02, 0xfd, 0x1b, 0x00, 0x0b];
const relaxedProbe = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // types: () -> i32
  0x03, 0x02, 0x01, 0x00, // functions: one of type 0
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // exports: "f"
  0x0a, probeBody.length + 2, 0x01, probeBody.length, ...probeBody, // code
]);

/**
 * Whether this engine has relaxed SIMD and computes the relaxed build's instruction
 * right (asked each time: a Node flag may be set at run time). Where compiling from
 * bytes is forbidden (workerd) the answer is no.
 */
export function relaxedSimd(): boolean {
  if (!WebAssembly.validate(relaxedProbe)) return false;
  try {
    const probe = new WebAssembly.Instance(new WebAssembly.Module(relaxedProbe)).exports.f as () => number;
    return probe() === 4 * -300 + 0x07070707;
  } catch {
    return false;
  }
}

/** Where `name`.wasm sits: beside this module (in dist/, beside the bundle). */
export function wasmUrl(name: WasmName): URL {
  return urls[name]();
}

let fetcher: WasmFetcher = async (name) => {
  const url = wasmUrl(name);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not fetch ${url}: HTTP ${res.status}`);
  return await res.arrayBuffer();
};

const modules = new Map<WasmName, Promise<WebAssembly.Module>>();

export function setWasmFetcher(f: WasmFetcher): void {
  fetcher = f;
  modules.clear();
}

export function compileWasm(name: WasmName): Promise<WebAssembly.Module> {
  let m = modules.get(name);
  if (!m) {
    m = fetcher(name).then((src) =>
      src instanceof WebAssembly.Module ? src : WebAssembly.compile(src),
    );
    modules.set(name, m);
  }
  return m;
}

/** AssemblyScript's runtime exports, present because asconfig sets exportRuntime. */
export interface AsRuntime {
  memory: WebAssembly.Memory;
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  __collect(): void;
}

/**
 * A fresh instance with its own memory, or on `imported` (a module built with
 * --importMemory); AssemblyScript's `abort` becomes a JS Error.
 */
export async function instantiateWasm<T extends object>(name: WasmName, imported?: WebAssembly.Memory): Promise<T & AsRuntime> {
  const module = await compileWasm(name);
  let memory: WebAssembly.Memory | undefined;
  const readString = (ptr: number): string => {
    if (!memory || ptr === 0) return "";
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0] >>> 1;
    return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, len));
  };
  const instance = await WebAssembly.instantiate(module, {
    env: {
      ...(imported && { memory: imported }),
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`${name}.wasm: ${readString(msg)} (${readString(file)}:${line}:${col})`);
      },
      seed: () => Date.now(),
      trace() {},
    },
  });
  const exports = instance.exports as unknown as T & AsRuntime;
  memory = exports.memory;
  return exports;
}
