// Model speed: vision-encoder ms, prefill ms and decode tokens/s, with achieved
// GFLOP/s and GB/s beside each figure, for
//   - the tiny test checkpoint (tests/fixtures/tiny-pg1),
//   - random weights at PaliGemma-3B-224's real widths (SigLIP So400m/14 + Gemma-2B),
//   - random weights at PaliGemma 2 3B's widths at 224, 448 and 896 (vision + prefill),
// at reduced depth (--depth, default 2) so it fits a CPU-emulated GPU. On WebGPU it also
// counts the API calls of a decode step (dispatches, submits, writeBuffers, readbacks and
// their bytes: a counting proxy around the device) at PaliGemma-3B-224's widths for depth and depth + 1 layers,
// which gives the count per Gemma layer and, exactly, per token at the real 18 layers.
//   node bench/run.mjs bench/model.ts [--backend webgpu|wasm|all] [--depth N] [--steps N] [--only tiny,pg1,pg2,calls]
import "../src/runtime/node.js";
import type { Backend, Weight } from "../src/backends/backend.js";
import { createBackend } from "../src/backends/select.js";
import { createWebGPUBackend } from "../src/backends/webgpu/backend.js";
import { parseConfig, type PaliGemmaConfig } from "../src/config.js";
import { PaliGemmaForConditionalGeneration } from "../src/model/paligemma.js";
import { f32ToF16 } from "../src/weights/f16.js";
import { expectedTensors, LM_HEAD, TEXT } from "../src/weights/names.js";
import { folderFiles, FIXTURES } from "../tests/harness/fixtures.js";
import { type Counts, countingDevice, countsSince } from "../tests/harness/counting-device.js";
import { testDevice } from "../tests/harness/webgpu.js";
import { bandwidthFlag, peakBandwidth } from "./roofline.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const depth = Number(arg("depth", "2"));
const steps = Number(arg("steps", "8"));
const only = arg("only", "tiny,pg1,pg2,calls").split(",");
const backendNames = arg("backend", "all") === "all" ? ["webgpu", "wasm"] : [arg("backend", "webgpu")];

/** API calls made through the WebGPU backends' device, counted. */
const apiCalls: Counts = new Map();

async function makeBackend(name: string): Promise<Backend> {
  return name === "webgpu" ? createWebGPUBackend(countingDevice(await testDevice(), apiCalls).device) : createBackend("wasm");
}

/** Random f16 weights of the right shapes, uploaded directly (a 1 GB embedding would be slow to serialise). */
function randomWeights(c: PaliGemmaConfig, backend: Backend): Map<string, Weight> {
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
    out.set(name, backend.uploadWeight(name, bits, shape));
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
/** Per decoded token: every decoder weight and the LM head are read once (f16). */
function decodeBytes(c: PaliGemmaConfig): number {
  return 2 * (c.text.numLayers * textLayerParams(c) + c.text.hiddenSize * c.text.vocabSize);
}

async function time(f: () => Promise<unknown>, reps = 3): Promise<number> {
  await f(); // warm-up: pipelines, buffers
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

const rows: string[][] = [];
const report = (model: string, backend: string, figure: string, value: string, flops?: number, bytes?: number, ms?: number) =>
  rows.push([
    model, backend, figure, value,
    flops && ms ? (flops / ms / 1e6).toFixed(2) : "",
    bytes && ms ? (bytes / ms / 1e6).toFixed(2) : "",
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

async function benchModel(label: string, model: PaliGemmaForConditionalGeneration, backend: string, decode: boolean) {
  const c = model.config;
  const N = c.vision.numPatches;
  const S = c.vision.imageSize;
  const pixels = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i));
  const ids = Int32Array.from([...Array(N).fill(c.imageTokenId), c.bosTokenId, 3, 4, 5, 6, 7, 8, 9, 10, 108]);
  const T = ids.length;

  const visionMs = await time(() => model.encodeImages(pixels));
  report(label, backend, "vision encoder", `${visionMs.toFixed(1)} ms`, visionFlops(c), undefined, visionMs);
  const prefillMs = await time(() => model.forward({ inputIds: ids, pixelValues: pixels, logits: "last" }));
  report(label, backend, `prefill ${T} tokens (vision incl.)`, `${prefillMs.toFixed(1)} ms`, visionFlops(c) + prefillFlops(c, T), undefined, prefillMs);
  if (!decode) return;
  const kvCache = model.createKVCache({ maxLength: T + steps + 1 });
  let { ids: next } = await model.nextTokens({ inputIds: ids, pixelValues: pixels, kvCache });
  next = (await model.nextTokens({ inputIds: next, kvCache })).ids; // warm-up of the decode path
  const t0 = performance.now();
  for (let s = 0; s < steps - 1; s++) next = (await model.nextTokens({ inputIds: next, kvCache })).ids;
  const perToken = (performance.now() - t0) / (steps - 1);
  // 2 FLOPs per f16 weight of 2 bytes: FLOPs and bytes per token are the same number.
  report(label, backend, "decode", `${(1000 / perToken).toFixed(2)} tok/s`, decodeBytes(c), decodeBytes(c), perToken);
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

// WebGPU's decode GB/s against the adapter's peak memory bandwidth (bench/roofline.ts), where known.
if (backendNames.includes("webgpu")) {
  const peak = peakBandwidth((await testDevice()).adapterInfo, bandwidthFlag(process.argv));
  for (const r of rows.filter((r) => r[1] === "webgpu" && r[2] === "decode" && r[5])) {
    const of = peak ? `${((100 * Number(r[5])) / peak.GBps).toFixed(1)}% of ${peak.source}'s ${peak.GBps} GB/s` : "peak bandwidth unknown (--bandwidth GBps)";
    console.log(`${r[0]} decode on webgpu: ${r[5]} GB/s, ${of}`);
  }
}
