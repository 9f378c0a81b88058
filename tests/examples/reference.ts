// What every runtime's example is compared with: the bundled tiny model run in this
// Node process on the WASM backend, on the same image and prompt. Greedy decoding of
// the same model, image and prompt must give the same tokens everywhere.
import { readFileSync } from "node:fs";
import { PaliGemma, type GenerateResult } from "../../src/runtime/node.js";

export const TINY_MODEL = "models/tiny-random";
export const HOUSE_PNG = "examples/assets/house.png";

export async function nodeWasmReference(prompt: string, maxNewTokens?: number, image = HOUSE_PNG): Promise<GenerateResult> {
  const pg = await PaliGemma.load(TINY_MODEL, { device: "wasm" });
  try {
    return await pg.generate(new Uint8Array(readFileSync(image)), prompt, { maxNewTokens });
  } finally {
    pg.dispose();
  }
}
