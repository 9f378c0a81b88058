// The README's table of memory per dtype is the memory plan's (src/model/memory-plan.ts)
// for the published configs, so its figures are computed, never typed: this prints the
// table and fails when README.md's copy (between the memory-table markers) differs.
// The configs are the published config.json sizes (google/paligemma-3b-pt-224,
// google/paligemma2-3b-pt-224, google/paligemma2-10b-pt-224).
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { WASM32_LIMIT } from "../../src/backends/wasm/heap.js";
import { parseConfig } from "../../src/config.js";
import { memoryPlan } from "../../src/model/memory-plan.js";
import { PALIGEMMA_3B_224 } from "../harness/full-size.js";

const siglip224 = { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27, num_attention_heads: 16, image_size: 224, patch_size: 14 };
const gemma2 = { model_type: "gemma2", vocab_size: 257216, head_dim: 256, query_pre_attn_scalar: 256, attn_logit_softcapping: 50, final_logit_softcapping: 30 };

const MODELS: [string, Record<string, unknown>][] = [
  ["PaliGemma-3B-224", PALIGEMMA_3B_224],
  ["PaliGemma 2 3B-224", {
    model_type: "paligemma", vision_config: siglip224,
    text_config: { ...gemma2, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4 },
  }],
  ["PaliGemma 2 10B-224", {
    model_type: "paligemma", vision_config: siglip224,
    text_config: { ...gemma2, hidden_size: 3584, intermediate_size: 14336, num_hidden_layers: 42, num_attention_heads: 16, num_key_value_heads: 8 },
  }],
];

const gib = (n: number) => (n / 2 ** 30).toFixed(2);

/** The table as the README shows it (markdown). */
function memoryTable(): string {
  const rows = ["| model | dtype | weights (≈ download) | KV cache | activations | total (WebGPU) | WASM (≤ 4 GiB) |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"];
  for (const [name, json] of MODELS) {
    const c = parseConfig(json);
    for (const dtype of ["f16", "q8", "q4"] as const) {
      const p = memoryPlan(c, dtype);
      const wasm = memoryPlan(c, dtype, { backend: "wasm" }).totalBytes;
      rows.push(`| ${name} | ${dtype} | ${gib(p.weightsBytes)} GiB | ${gib(p.kvCacheBytes)} GiB | ${gib(p.activationsBytes)} GiB | ${gib(p.totalBytes)} GiB | ${wasm <= WASM32_LIMIT ? `fits (${gib(wasm)} GiB)` : "does not fit"} |`);
    }
  }
  return rows.join("\n");
}

test("README.md's memory table is the memory plan's", () => {
  const table = memoryTable();
  console.log(table);
  const readme = readFileSync("README.md", "utf8");
  const shown = readme.match(/<!-- memory-table: tests\/model\/memory-table\.test\.ts -->\n([\s\S]*?)\n<!-- \/memory-table -->/)?.[1];
  expect(shown, "README.md lacks the memory-table markers").toBeDefined();
  expect(shown, "README.md's memory table is stale: paste the table printed above").toBe(table);
});
