// Model speed: vision-encoder ms, prefill ms and decode tokens/s, with achieved
// GFLOP/s and GB/s beside each figure, for
//   - the tiny test checkpoint (tests/fixtures/tiny-pg1),
//   - random weights at PaliGemma-3B-224's real widths (SigLIP So400m/14 + Gemma-2B),
//   - random weights at PaliGemma 2 3B's widths at 224, 448 and 896 (vision + prefill),
//   - decode at PaliGemma-3B-224's widths with the weights held as f16, q8 and q4 (tokens/s
//     and GB/s of weights read per token; ratios against f16 in the same run),
// at reduced depth (--depth, default 2) so it fits a CPU-emulated GPU. On WebGPU it also
// counts the API calls of a decode step (dispatches, submits, writeBuffers, readbacks and
// their bytes: a counting proxy around the device) at PaliGemma-3B-224's widths for depth and depth + 1 layers,
// which gives the count per Gemma layer and, exactly, per token at the real 18 layers.
// WebGPU here is Dawn on whatever adapter Node finds; on SwiftShader (CPU) its figures compare
// kernels with each other (f16 vs q8 vs q4), not what a GPU does, and the bench says so.
// WASM runs at each of --threads (default 1 and every core, at most 8), labelled "wasm" and
// "wasm NT", and each figure at N threads is printed as a ratio of 1 thread's.
//   node bench/run.mjs bench/model.ts [--backend webgpu|wasm|all] [--depth N] [--steps N] [--threads 1,N] [--only tiny,pg1,pg2,dtypes,calls]
import "../src/runtime/node.js";
import { availableParallelism } from "node:os";
import type { Backend, Weight } from "../src/backends/backend.js";
import { createBackend } from "../src/backends/select.js";
import { createWebGPUBackend } from "../src/backends/webgpu/backend.js";
import { adapterName, isSoftwareAdapter } from "../src/backends/webgpu/device.js";
import { parseConfig, type PaliGemmaConfig } from "../src/config.js";
import { PaliGemmaForConditionalGeneration } from "../src/model/paligemma.js";
import { f32ToF16 } from "../src/weights/f16.js";
import { expectedTensors, isQuantizedWeight, LM_HEAD, TEXT } from "../src/weights/names.js";
import { bitsOf, quantizedBytes, quantizeMatrix, type WeightDtype } from "../src/weights/quantize.js";
import { folderFiles, FIXTURES } from "../tests/harness/fixtures.js";
import { type Counts, countingDevice, countsSince } from "../tests/harness/counting-device.js";
import { testDevice } from "../tests/harness/webgpu.js";
import { bandwidthFlag, peakBandwidth } from "./roofline.js";
import { medianMs } from "./timing.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const depth = Number(arg("depth", "2"));
const steps = Number(arg("steps", "8"));
const only = arg("only", "tiny,pg1,pg2,dtypes,calls").split(",");
const threadCounts = arg("threads", `1,${Math.min(8, availableParallelism())}`).split(",").map(Number).filter((n, i, a) => a.indexOf(n) === i);
const wasmNames = threadCounts.map((n) => (n === 1 ? "wasm" : `wasm ${n}T`));
const backendNames = (arg("backend", "all") === "all" ? ["webgpu", "wasm"] : [arg("backend", "webgpu")]).flatMap((b) => (b === "wasm" ? wasmNames : [b]));

/** API calls made through the WebGPU backends' device, counted. */
const apiCalls: Counts = new Map();

async function makeBackend(name: string): Promise<Backend> {
  if (name === "webgpu") return createWebGPUBackend(countingDevice(await testDevice(), apiCalls).device);
  return createBackend("wasm", undefined, { threads: name === "wasm" ? 1 : parseInt(name.slice(5)) });
}

/**
 * Random weights of the right shapes, uploaded directly (a 1 GB embedding would be slow to
 * serialise): f16, or for q8/q4 the same values quantized as the loader does.
 */
function randomWeights(c: PaliGemmaConfig, backend: Backend, dtype: WeightDtype = "f16"): Map<string, Weight> {
  const table = new Uint16Array(4096);
  let s = 0x9e3779b9;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  const out = new Map<string, Weight>();
  for (const [name, shape] of expectedTensors(c)) {
    if (name === LM_HEAD) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const scale = shape.length > 1 ? Math.sqrt(3 / (n / shape[0])) : 0.1;
    for (let i = 0; i < table.length; i++) table[i] = f32ToF16(((next() / 2 ** 32) * 2 - 1) * scale);
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = table[next() & 4095];
    out.set(
      name,
      dtype !== "f16" && isQuantizedWeight(name)
        ? backend.uploadQuantized(name, quantizeMatrix(bits, shape[0], shape[1], bitsOf(dtype)), [shape[0], shape[1]])
        : backend.uploadWeight(name, bits, shape),
    );
  }
  out.set(LM_HEAD, out.get(`${TEXT}embed_tokens.weight`)!);
  return out;
}

// ---- FLOPs and bytes, from the config ----
function visionFlops(c: PaliGemmaConfig): number {
  const v = c.vision;
  const T = v.numPatches;
  const perLayer = 2 * T * (4 * v.hiddenSize ** 2 + 2 * v.hiddenSize * v.intermediateSize) + 4 * T * T * v.hiddenSize;
  return 2 * T * v.hiddenSize * 3 * v.patchSize ** 2 + v.numLayers * perLayer + 2 * T * v.hiddenSize * c.text.hiddenSize;
}
function textLayerParams(c: PaliGemmaConfig): number {
  const t = c.text;
  return t.hiddenSize * (t.numHeads + 2 * t.numKvHeads) * t.headDim + t.numHeads * t.headDim * t.hiddenSize + 3 * t.hiddenSize * t.intermediateSize;
}
function prefillFlops(c: PaliGemmaConfig, T: number): number {
  const t = c.text;
  return t.numLayers * (2 * T * textLayerParams(c) + 4 * T * T * t.numHeads * t.headDim) + 2 * t.hiddenSize * t.vocabSize;
}
/** 2 FLOPs per decoder weight and LM-head weight: what one decoded token computes. */
function decodeFlops(c: PaliGemmaConfig): number {
  return 2 * (c.text.numLayers * textLayerParams(c) + c.text.hiddenSize * c.text.vocabSize);
}
/** Per decoded token, every decoder matrix and the LM head (the tied embedding) are read once, as `dtype` holds them. */
function decodeBytes(c: PaliGemmaConfig, dtype: WeightDtype = "f16"): number {
  let bytes = 0;
  for (const [name, [N, K]] of expectedTensors(c)) {
    if (!name.startsWith(`${TEXT}layers.`) && name !== LM_HEAD) continue;
    if (!isQuantizedWeight(name)) continue; // norms: a few KB
    bytes += dtype === "f16" ? 2 * N * K : quantizedBytes(N, K, bitsOf(dtype));
  }
  return bytes;
}

const rows: string[][] = [];
const report = (model: string, backend: string, figure: string, value: string, flops?: number, bytes?: number, ms?: number) =>
  rows.push([
    model, backend, figure, value,
    flops && ms ? (flops / ms / 1e6).toPrecision(3) : "",
    bytes && ms ? (bytes / ms / 1e6).toPrecision(3) : "",
  ]);

/** API calls per decode token, counted over `steps` steps after a warm-up step. */
async function decodeCalls(model: PaliGemmaForConditionalGeneration, steps: number): Promise<Record<string, number>> {
  // A text-only prompt: a decode step's calls do not depend on the prefix, and a CPU adapter
  // spends minutes on a 3B-wide image prefill.
  const ids = Int32Array.from([model.config.bosTokenId, 3, 4, 108]);
  const kvCache = model.createKVCache({ maxLength: ids.length + steps + 2 });
  let next = (await model.nextTokens({ inputIds: ids, kvCache })).ids;
  next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  const before = new Map(apiCalls);
  for (let s = 0; s < steps; s++) next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  kvCache.dispose();
  const total = countsSince(apiCalls, before);
  return Object.fromEntries(Object.entries(total).map(([k, v]) => [k, v / steps]));
}

/** Vision, prefill and (with `decode`) decode figures; `prefill: false` measures decode alone. */
async function benchModel(label: string, model: PaliGemmaForConditionalGeneration, backend: string, decode: boolean, dtype: WeightDtype = "f16", prefill = true) {
  const c = model.config;
  const N = c.vision.numPatches;
  const S = c.vision.imageSize;
  const pixels = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i));
  const ids = Int32Array.from([...Array(N).fill(c.imageTokenId), c.bosTokenId, 3, 4, 5, 6, 7, 8, 9, 10, 108]);
  const T = ids.length;

  if (prefill) {
    const visionMs = await medianMs(() => model.encodeImages(pixels));
    report(label, backend, "vision encoder", `${visionMs.toFixed(1)} ms`, visionFlops(c), undefined, visionMs);
    const prefillMs = await medianMs(() => model.forward({ inputIds: ids, pixelValues: pixels, logits: "last" }));
    report(label, backend, `prefill ${T} tokens (vision incl.)`, `${prefillMs.toFixed(1)} ms`, visionFlops(c) + prefillFlops(c, T), undefined, prefillMs);
  }
  if (!decode) return;
  const kvCache = model.createKVCache({ maxLength: T + steps + 1 });
  let { ids: next } = await model.nextTokens({ inputIds: ids, pixelValues: pixels, kvCache });
  next = (await model.nextTokens({ inputIds: next, kvCache })).ids; // warm-up of the decode path
  const t0 = performance.now();
  for (let s = 0; s < steps - 1; s++) next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  const perToken = (performance.now() - t0) / (steps - 1);
  report(label, backend, dtype === "f16" ? "decode" : `decode ${dtype}`, `${(1000 / perToken).toPrecision(3)} tok/s`, decodeFlops(c), decodeBytes(c, dtype), perToken);
  kvCache.dispose();
}

const pg1 = (layers: number) => ({
  vision_config: { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: layers, num_attention_heads: 16, image_size: 224, patch_size: 14 },
  text_config: { model_type: "gemma", hidden_size: 2048, intermediate_size: 16384, num_hidden_layers: layers, num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, vocab_size: 257216 },
});
const pg2 = (layers: number, imageSize: number) => ({
  vision_config: { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: layers, num_attention_heads: 16, image_size: imageSize, patch_size: 14 },
  text_config: {
    model_type: "gemma2", hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: layers, num_attention_heads: 8, num_key_value_heads: 4,
    head_dim: 256, vocab_size: 257216, query_pre_attn_scalar: 256, attn_logit_softcapping: 50, final_logit_softcapping: 30,
  },
});

for (const name of backendNames) {
  if (only.includes("tiny")) {
    const model = await PaliGemmaForConditionalGeneration.load(folderFiles(`${FIXTURES}tiny-pg1`), { backend: await makeBackend(name) });
    await benchModel("tiny-pg1", model, name, true);
    model.dispose();
  }
  const wide: [string, Record<string, unknown>, boolean][] = [];
  if (only.includes("pg1")) wide.push([`PG1-3B-224 widths, ${depth}+${depth} layers`, pg1(depth), true]);
  if (only.includes("pg2")) for (const size of [224, 448, 896]) wide.push([`PG2-3B-${size} widths, ${depth}+${depth} layers`, pg2(depth, size), false]);
  for (const [label, cfg, decode] of wide) {
    const backend = await makeBackend(name);
    const config = parseConfig(cfg);
    const model = new PaliGemmaForConditionalGeneration(config, backend, randomWeights(config, backend));
    await benchModel(label, model, name, decode);
    model.dispose();
  }
}

/** Decode at PaliGemma-3B-224's widths with the weights held as f16, q8 and q4, on `name`. */
async function benchDtypes(name: string) {
  for (const dtype of ["f16", "q8", "q4"] as const) {
    process.stderr.write(`decode at PG1-3B-224 widths as ${dtype} on ${name}...\n`); // minutes on a CPU-emulated GPU
    const backend = await makeBackend(name);
    const config = parseConfig(pg1(depth));
    const model = new PaliGemmaForConditionalGeneration(config, backend, randomWeights(config, backend, dtype));
    await benchModel(`PG1-3B-224 widths, ${depth}+${depth} layers, ${dtype}`, model, name, true, dtype, false);
    model.dispose();
  }
}
if (only.includes("dtypes")) for (const name of backendNames) await benchDtypes(name);

if (backendNames.includes("webgpu") && only.includes("calls")) {
  const REAL_LAYERS = 18; // PaliGemma-3B's Gemma-2B
  const counted: Record<string, number>[] = [];
  for (const layers of [depth, depth + 1]) {
    const backend = await makeBackend("webgpu");
    const config = parseConfig({ ...pg1(layers), vision_config: { ...pg1(1).vision_config, num_hidden_layers: 1 } });
    const model = new PaliGemmaForConditionalGeneration(config, backend, randomWeights(config, backend));
    counted.push(await decodeCalls(model, 2));
    model.dispose();
  }
  // Targets (issue 15): <= 130 dispatches per token, <= 7 per layer; one submit, one 4-byte readback.
  for (const call of ["dispatchWorkgroups", "submit", "writeBuffer", "copyBufferToBuffer", "readback", "readbackBytes"]) {
    const [a, b] = counted.map((c) => c[call] ?? 0);
    const perLayer = b - a;
    const perToken = a + (REAL_LAYERS - depth) * perLayer;
    rows.push([`PG1-3B-224 decode, counted at ${depth} and ${depth + 1} layers`, "webgpu", `${call} per token at 18 layers`, `${perToken} (${perLayer} per layer)`, "", ""]);
  }
}

const head = ["model", "backend", "figure", "value", "GFLOP/s", "GB/s"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
for (const r of [head, ...rows]) console.log(r.map((x, i) => x.padEnd(widths[i])).join("  "));
const ratio = (model: string, figure: string) => {
  const [g, w] = ["webgpu", "wasm"].map((b) => rows.find((r) => r[0] === model && r[1] === b && r[2].startsWith(figure)));
  if (g && w) console.log(`${model} ${figure}: webgpu/wasm speed ratio ${(parseFloat(w[3]) / parseFloat(g[3])).toFixed(2)}x`);
};
if (backendNames.length === 2) for (const m of new Set(rows.map((r) => r[0]))) ratio(m, "prefill");

// Each quantized decode against f16's, same backend, same run.
for (const r of rows.filter((r) => /^decode q\d$/.test(r[2]))) {
  const f16 = rows.find((b) => b[1] === r[1] && b[2] === "decode" && b[0] === r[0].replace(/, q\d$/, ", f16"));
  if (f16) console.log(`${r[0]} on ${r[1]}: ${r[2]} ${(parseFloat(r[3]) / parseFloat(f16[3])).toFixed(2)}x f16's tokens/s`);
}
// Each WASM figure at N threads against 1 thread's, same model, same run.
for (const r of rows.filter((r) => /^wasm \d+T$/.test(r[1]))) {
  const one = rows.find((b) => b[0] === r[0] && b[1] === "wasm" && b[2] === r[2]);
  // tok/s grows with speed, ms shrinks
  if (one) console.log(`${r[0]} ${r[2]}: ${r[1]} ${(r[3].endsWith("tok/s") ? parseFloat(r[3]) / parseFloat(one[3]) : parseFloat(one[3]) / parseFloat(r[3])).toFixed(2)}x 1 thread's speed`);
}
// WebGPU's decode GB/s against the adapter's peak memory bandwidth (bench/roofline.ts), where known.
if (backendNames.includes("webgpu")) {
  const device = await testDevice();
  const peak = peakBandwidth(device.adapterInfo, bandwidthFlag(process.argv));
  for (const r of rows.filter((r) => r[1] === "webgpu" && r[2].startsWith("decode") && r[5])) {
    const of = peak ? `${((100 * Number(r[5])) / peak.GBps).toFixed(1)}% of ${peak.source}'s ${peak.GBps} GB/s` : "peak bandwidth unknown (--bandwidth GBps)";
    console.log(`${r[0]} ${r[2]} on webgpu: ${r[5]} GB/s, ${of}`);
  }
  if (isSoftwareAdapter(device)) {
    console.log(`note: WebGPU ran on ${adapterName(device)}, which renders on the CPU: its figures compare kernels (f16 vs q8 vs q4, WebGPU vs WASM on one machine), not what a GPU does.`);
  }
}
