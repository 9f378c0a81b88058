// What every runtime's example is compared with: the bundled demo model run in this
// Node process on the WASM backend, on the same image and prompt. Greedy decoding of
// the same model, image and prompt must give the same tokens everywhere. The model's
// weights get retrained, so tests compare with what it answers here, never with
// answers written down.
import { readFileSync } from "node:fs";
import { PaliGemma, type GenerateResult } from "../../src/runtime/node.js";

export const DEMO_MODEL = "models/demo-shapes";
export const SHAPES_PNG = "examples/assets/shapes.png";
/** Every class the demo model knows, as `npm run demo` asks for them. */
export const SHAPES = ["circle", "square", "triangle", "star", "cross"];

/** Runs `use` on the demo model, loaded on WASM in this process, and the bytes of `image`. */
export async function onNodeWasm<T>(use: (pg: PaliGemma, image: Uint8Array) => Promise<T>, image = SHAPES_PNG): Promise<T> {
  const pg = await PaliGemma.load(DEMO_MODEL, { device: "wasm" });
  try {
    return await use(pg, new Uint8Array(readFileSync(image)));
  } finally {
    pg.dispose();
  }
}

export function nodeWasmReference(prompt: string, maxNewTokens?: number, image = SHAPES_PNG): Promise<GenerateResult> {
  return onNodeWasm((pg, bytes) => pg.generate(bytes, prompt, { maxNewTokens }), image);
}
