// PaliGemma-3B-224 at its real size on the WASM backend: a random checkpoint with the
// published config (tests/harness/full-size.ts: bf16, generated while read, 5.9 GB that
// never exist whole) quantized to q4 and q8 into a temp folder, each loaded at 1 thread
// and at every core, printing load time, memory, SigLIP ms, prefill ms (256 image + 10
// prompt tokens) and decode tokens/s. f16 does not fit wasm32's 4 GiB: the bench shows
// the load refusing it. Minutes: quantizing alone takes ~3 min per dtype here.
//   node bench/run.mjs bench/full-size.ts [--dtype q4|q8] [--threads N] [--steps N]
import "../src/runtime/node.js";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createWasmBackend } from "../src/backends/wasm/backend.js";
import { PaliGemmaForConditionalGeneration } from "../src/model/paligemma.js";
import { quantize } from "../src/runtime/quantize.js";
import { fullSizeSource, PALIGEMMA_3B_224 } from "../tests/harness/full-size.js";

const arg = (name: string, fallback: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : fallback);
const cores = Number(arg("threads", "")) || Math.min(8, availableParallelism());
const steps = Number(arg("steps", "8"));
const dtypes = (["q4", "q8"] as const).filter((d) => d.includes(arg("dtype", "")));

const IMAGE = PALIGEMMA_3B_224.image_token_index;
const prompt = Int32Array.from([...Array(256).fill(IMAGE), 2, 10, 20, 30, 40, 50, 60, 70, 80, 108]);
const pixels = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37));
const GiB = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

{
  const backend = await createWasmBackend();
  try {
    await PaliGemmaForConditionalGeneration.load(fullSizeSource(), { backend, dtype: "f16" });
    console.log("f16: loaded (unexpected: it should not fit wasm32)");
  } catch (e) {
    console.log(`f16: does not fit WASM: ${(e as Error).constructor.name}: ${(e as Error).message.split("\n")[0]}`);
  }
  backend.dispose();
}

const rows: string[][] = [];
const dir = await mkdtemp(join(tmpdir(), "paligemma-full-size-"));
try {
  for (const dtype of dtypes) {
    const folder = join(dir, dtype);
    let t = performance.now();
    await quantize(fullSizeSource(), folder, { dtype });
    console.log(`${dtype}: quantized in ${s(performance.now() - t)}`);
    for (const threads of [1, cores]) {
      t = performance.now();
      const backend = await createWasmBackend({ threads });
      const model = await PaliGemmaForConditionalGeneration.load(folder, { backend });
      const loadMs = performance.now() - t;
      t = performance.now();
      await model.encodeImages(pixels);
      const siglipMs = performance.now() - t;
      const kvCache = model.createKVCache({ maxLength: prompt.length + steps + 1 });
      t = performance.now();
      let next = await model.nextTokens({ inputIds: prompt, pixelValues: pixels, kvCache });
      const prefillMs = performance.now() - t;
      t = performance.now();
      for (let i = 0; i < steps; i++) next = await model.nextTokens({ inputIds: next.ids, kvCache });
      const tokensPerS = steps / ((performance.now() - t) / 1000);
      const memory = (backend as unknown as { memoryBytes: number }).memoryBytes;
      kvCache.dispose();
      model.dispose();
      const row = [
        dtype, String(threads), s(loadMs), GiB(memory), GiB(process.resourceUsage().maxRSS * 1024), `${siglipMs.toFixed(0)}`,
        `${prefillMs.toFixed(0)}`, `${(prefillMs - siglipMs).toFixed(0)}`, tokensPerS.toFixed(2),
      ];
      rows.push(row);
      console.log(row.join("  "));
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const head = ["dtype", "threads", "load", "wasm memory", "process peak RSS", "SigLIP ms", "prefill ms", "of it text", "decode tok/s"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
console.log(`\nPaliGemma-3B-224 (random weights) on WASM, ${availableParallelism()} cores; prefill = SigLIP + 266 tokens through Gemma; decode over ${steps} tokens.`);
for (const r of [head, ...rows]) console.log(r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  "));
