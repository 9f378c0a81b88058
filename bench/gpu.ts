// The real-GPU benchmark (run by bench/gpu.sh, which sets up Vulkan first). Two parts:
//   1. check: the GPU's answers against WASM's before any figure is trusted, so a fast
//      kernel that writes zeros (or garbage) fails here: the trained tiny checkpoint
//      (tests/fixtures/tiny-pg1) at f16, q8 and q4 must pick the same greedy tokens and
//      give the same prefix logits, and a random model at 448 (a 1034-token prefix, which
//      decode reads with the split-key attention) the same logits at prefill and at 3
//      decode steps.
//   2. bench: random weights at PaliGemma-3B-224's real size (all 18 layers, 257k vocab)
//      at f16, q8 and q4, then q4 at 448: SigLIP ms, SigLIP + prefill ms, and per decode
//      token ms, tokens/s, API calls (dispatches, submits, writeBuffers, counted by
//      patching the WebGPU prototypes for a few extra steps, so timed steps pay nothing),
//      bytes read and the achieved fraction of the adapter's memory bandwidth (bench/roofline.ts).
// --software runs both parts at small widths on a CPU adapter (SwiftShader), so the
// script itself is tested where no GPU is.
//   node bench/run.mjs bench/gpu.ts [--software] [--bandwidth GBps] [--steps N] [--dtype f16,q8,q4] [--only check,bench]
import "../src/runtime/node.js";
import type { Backend, Weight } from "../src/backends/backend.js";
import { createWasmBackend } from "../src/backends/wasm/backend.js";
import { createWebGPUBackend } from "../src/backends/webgpu/backend.js";
import { adapterName, isSoftwareAdapter } from "../src/backends/webgpu/device.js";
import { parseConfig, type PaliGemmaConfig } from "../src/config.js";
import { PaliGemmaForConditionalGeneration } from "../src/model/paligemma.js";
import { f32ToF16 } from "../src/weights/f16.js";
import { expectedTensors, isQuantizedWeight, LM_HEAD, TEXT } from "../src/weights/names.js";
import { bitsOf, groupsPerRow, type WeightDtype, wordsPerRow } from "../src/weights/quantize.js";
import { maxAbsDiff } from "../tests/harness/compare.js";
import { FIXTURES, folderFiles } from "../tests/harness/fixtures.js";
import { testDevice } from "../tests/harness/webgpu.js";
import { bandwidthFlag, decodeBytesPerToken, peakBandwidth, roofline } from "./roofline.js";
import { medianMs } from "./timing.js";

const argv = process.argv;
const arg = (name: string, fallback: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);
const software = argv.includes("--software");
const steps = Number(arg("steps", software ? "4" : "16"));
const dtypes = arg("dtype", "f16,q8,q4").split(",") as WeightDtype[];
const only = arg("only", "check,bench").split(",");

const device = await testDevice();
const peak = peakBandwidth(device.adapterInfo, bandwidthFlag(argv));
console.log(`adapter: ${adapterName(device)}; features: ${[...device.features].filter((f) => f === "subgroups" || f === "shader-f16").join(", ") || "none of subgroups, shader-f16"}`);
console.log(`peak memory bandwidth: ${peak ? `${peak.GBps} GB/s (${peak.source})` : "unknown (pass --bandwidth GBps for fractions)"}`);
if (isSoftwareAdapter(device) && !software) {
  console.error("this adapter renders on the CPU: point VK_ICD_FILENAMES at the GPU's Vulkan driver (bench/gpu.sh does), or pass --software");
  process.exit(2);
}
const webgpu = () => createWebGPUBackend(device);

// ---- models ----

/** PaliGemma-3B-224 (SigLIP So400m/14 + Gemma-2B), or small widths under --software. */
function benchConfig(imageSize: number): PaliGemmaConfig {
  const [v, t] = software
    ? [{ hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4 }, { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, vocab_size: 4096 }]
    : [{ hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27, num_attention_heads: 16 }, { hidden_size: 2048, intermediate_size: 16384, num_hidden_layers: 18, vocab_size: 257216 }];
  return parseConfig({
    ...(software && { image_token_index: 4000 }),
    vision_config: { ...v, image_size: imageSize, patch_size: 14 },
    text_config: { model_type: "gemma", num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, ...t },
  });
}

/**
 * Seeded random weights of every tensor at `dtype` (quantized matrices as random words
 * and scales, not quantized floats: as fast to make as they are to read), the same
 * numbers on every backend for the same seed, with the tied LM head.
 */
function randomWeights(c: PaliGemmaConfig, backend: Backend, dtype: WeightDtype, seed = 1): Map<string, Weight> {
  let s = seed * 0x9e3779b9 || 1;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  const table = new Uint16Array(4096);
  const out = new Map<string, Weight>();
  for (const [name, shape] of expectedTensors(c)) {
    if (name === LM_HEAD) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const scale = shape.length > 1 ? Math.sqrt(3 / (n / shape[0])) : 0.1;
    if (dtype !== "f16" && isQuantizedWeight(name)) {
      const [N, K] = shape;
      const bits = bitsOf(dtype);
      const qweight = new Uint32Array(N * wordsPerRow(K, bits));
      for (let i = 0; i < qweight.length; i++) qweight[i] = next();
      // q is uniform over its range: scale so that q · scale spans about ±scale.
      const step = f32ToF16(scale / (bits === 4 ? 8 : 128));
      const scales = new Uint16Array(N * groupsPerRow(K));
      for (let i = 0; i < scales.length; i++) scales[i] = step + (next() & 255);
      out.set(name, backend.uploadQuantized(name, { bits, qweight, scales }, [N, K]));
      continue;
    }
    for (let i = 0; i < table.length; i++) table[i] = f32ToF16(((next() / 2 ** 32) * 2 - 1) * scale);
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = table[next() & 4095];
    out.set(name, backend.uploadWeight(name, bits, shape));
  }
  out.set(LM_HEAD, out.get(`${TEXT}embed_tokens.weight`)!);
  return out;
}

const randomModel = (c: PaliGemmaConfig, backend: Backend, dtype: WeightDtype) => new PaliGemmaForConditionalGeneration(c, backend, randomWeights(c, backend, dtype));

/** Image tokens, then BOS and a short prompt; pixels a fixed pattern. */
function inputs(c: PaliGemmaConfig, prompt = 10) {
  const S = c.vision.imageSize;
  const ids = Int32Array.from([...Array(c.vision.numPatches).fill(c.imageTokenId), c.bosTokenId, ...Array.from({ length: prompt - 1 }, (_, i) => 3 + i), 108]);
  return { ids, pixels: Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37)) };
}

// ---- 1. check ----

const failures: string[] = [];
function expectNear(what: string, got: Float32Array, want: Float32Array, tol: number) {
  const err = maxAbsDiff(got, want);
  const spread = Math.max(...want) - Math.min(...want);
  const ok = err <= tol && spread > 100 * tol; // a constant (zeroed) answer has no spread
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}: max |webgpu - wasm| ${err.toExponential(2)} (tolerance ${tol}, logits spread ${spread.toFixed(2)})`);
  if (!ok) failures.push(what);
}

/** Prefix logits and greedy tokens of the trained tiny checkpoint on one backend. */
async function tinyRun(backend: Backend, dtype: WeightDtype) {
  const model = await PaliGemmaForConditionalGeneration.load(folderFiles(`${FIXTURES}tiny-pg1`), { backend, dtype });
  const { ids, pixels } = inputs(model.config, 4);
  const kvCache = model.createKVCache({ maxLength: ids.length + 8 });
  const { logits } = await model.forward({ inputIds: ids, pixelValues: pixels, logits: "last", kvCache });
  const tokens: number[] = [];
  let next: Int32Array = Int32Array.of(logits.indexOf(Math.max(...logits)));
  for (let s = 0; s < 6; s++) {
    tokens.push(next[0]);
    next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  }
  model.dispose();
  return { logits, tokens };
}

/**
 * Logits of a random model with PaliGemma-3B's attention (8 heads on one kv head of 256)
 * at 448 (224 under --software: a 1034-token prefix takes minutes on a CPU adapter) on one
 * backend: the prefix, then 3 decode steps.
 */
const LONG_SIZE = software ? 224 : 448;
async function longRun(backend: Backend, dtype: WeightDtype) {
  const small = parseConfig({
    image_token_index: 1000,
    vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, image_size: LONG_SIZE, patch_size: 14 },
    text_config: { model_type: "gemma", hidden_size: 128, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, vocab_size: 1024 },
  });
  const model = randomModel(small, backend, dtype);
  const { ids, pixels } = inputs(small);
  const kvCache = model.createKVCache({ maxLength: ids.length + 4 });
  const out = [(await model.forward({ inputIds: ids, pixelValues: pixels, logits: "last", kvCache })).logits];
  for (const token of [5, 17, 300]) out.push((await model.forward({ inputIds: Int32Array.of(token), logits: "last", kvCache })).logits);
  model.dispose();
  return out;
}

if (only.includes("check")) {
  console.log("check: WebGPU against WASM");
  for (const dtype of dtypes) {
    const [g, w] = [await tinyRun(webgpu(), dtype), await tinyRun(await createWasmBackend(), dtype)];
    expectNear(`tiny-pg1 ${dtype} prefix logits`, g.logits, w.logits, 2e-3);
    const same = g.tokens.join() === w.tokens.join();
    console.log(`  ${same ? "ok  " : "FAIL"} tiny-pg1 ${dtype} greedy tokens: webgpu ${g.tokens.join(" ")}, wasm ${w.tokens.join(" ")}`);
    if (!same) failures.push(`tiny-pg1 ${dtype} tokens`);
    if (software && dtype !== "q4") continue;
    const [gl, wl] = [await longRun(webgpu(), dtype), await longRun(await createWasmBackend(), dtype)];
    const prefix = (LONG_SIZE / 14) ** 2 + 10;
    gl.forEach((l, i) => expectNear(`random ${LONG_SIZE} ${dtype} ${i === 0 ? `prefix (${prefix} tokens)` : `decode step ${i}`} logits`, l, wl[i], 2e-3));
  }
  if (failures.length) {
    console.error(`check FAILED (${failures.join("; ")}): the GPU's answers are wrong, so no figure below would mean anything`);
    process.exit(1);
  }
}

// ---- 2. bench ----

/** Calls through the WebGPU prototypes while `f` runs, counted by patching the methods (none are patched otherwise). */
async function countCalls(f: () => Promise<unknown>): Promise<Record<string, number>> {
  const counted: [string, string][] = [["GPUComputePassEncoder", "dispatchWorkgroups"], ["GPUQueue", "submit"], ["GPUQueue", "writeBuffer"], ["GPUBuffer", "mapAsync"]];
  const counts: Record<string, number> = {};
  const restore: (() => void)[] = [];
  for (const [type, method] of counted) {
    const proto = (globalThis as unknown as Record<string, { prototype: Record<string, (...a: unknown[]) => unknown> }>)[type].prototype;
    const original = proto[method];
    counts[method] = 0;
    proto[method] = function (this: unknown, ...a: unknown[]) {
      counts[method]++;
      return original.apply(this, a);
    };
    restore.push(() => (proto[method] = original));
  }
  try {
    await f();
  } finally {
    for (const r of restore) r();
  }
  return counts;
}

const rows: string[][] = [];
async function bench(dtype: WeightDtype, imageSize: number, full: boolean) {
  const c = benchConfig(imageSize);
  const label = `${software ? "small widths" : "PaliGemma-3B"}-${imageSize} ${dtype}`;
  const t0 = performance.now();
  const model = randomModel(c, webgpu(), dtype);
  const { ids, pixels } = inputs(c);
  const T = ids.length;
  const built = performance.now() - t0;
  const row = (figure: string, ms: number, extra: string[] = ["", "", "", "", ""]) => {
    rows.push([label, figure, ms.toFixed(2), ...extra]);
    console.log(`  ${rows.at(-1)!.filter(Boolean).join("  ")}`); // as measured: a run stopped by the time budget still shows it
  };
  if (full) {
    row(`SigLIP (weights made in ${(built / 1000).toFixed(1)} s)`, await medianMs(() => model.encodeImages(pixels), 3));
    row(`SigLIP + prefill ${T} tokens`, await medianMs(() => model.forward({ inputIds: ids, pixelValues: pixels, logits: "last" }), 3));
  }
  const kvCache = model.createKVCache({ maxLength: T + 2 * steps + 4 });
  let { ids: next } = await model.nextTokens({ inputIds: ids, pixelValues: pixels, kvCache });
  next = (await model.nextTokens({ inputIds: next, kvCache })).ids; // warm-up of the decode path
  const calls = await countCalls(async () => {
    for (let s = 0; s < 2; s++) next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  });
  const keys0 = T + 4;
  const t1 = performance.now();
  for (let s = 0; s < steps; s++) next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  const ms = (performance.now() - t1) / steps;
  const bytes = decodeBytesPerToken(c, dtype, keys0 + (steps - 1) / 2); // the mean context of the timed steps
  const r = roofline(bytes, ms, peak);
  const per = (k: string) => String(calls[k] / 2);
  row("decode, per token", ms, [
    (1000 / ms).toFixed(1),
    `${per("dispatchWorkgroups")} / ${per("submit")} / ${per("writeBuffer")} / ${per("mapAsync")}`,
    (bytes / 1e6).toFixed(1),
    r.GBps.toPrecision(3),
    r.fraction === undefined ? "n/a" : `${(100 * r.fraction).toFixed(1)}%`,
  ]);
  kvCache.dispose();
  model.dispose();
}

if (only.includes("bench")) {
  console.log("bench: random weights on WebGPU");
  for (const dtype of dtypes) await bench(dtype, 224, true);
  if (dtypes.includes("q4")) await bench("q4", 448, false); // decode over a 1034-token prefix: split-key attention
  const head = ["model", "figure", "ms", "tokens/s", "dispatches / submits / writeBuffers / reads per token", "MB read/token", "GB/s", "of peak"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((x, i) => x.padEnd(widths[i])).join("  "));
}
