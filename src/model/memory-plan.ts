// What a model takes on the device, per weight dtype, from config.json alone, so that
// `dtype: "auto"` can choose before anything is uploaded and a model that cannot fit
// fails at once instead of gigabytes into a load:
//   weights      every tensor of names.ts's table: quantized matrices at their words +
//                scales (quantize.ts), everything else f16
//   KV cache     f32 keys and values for every decoder layer, for the planned tokens
//   activations  the two workspaces (SigLIP over one image, the decoder's prefill of
//                image + prompt) exactly as src/model/{siglip,gemma,paligemma}.ts size them
//   backend      what the backend needs beside (WASM: the module's static data, one
//                scratch region, allocator slack)
// and the largest single buffers, for backends that cap them (WebGPU's binding limits):
// the largest piece of a weight that must sit in one binding (a row of a matrix read in
// row chunks, all of a weight bound whole) and the largest activation or KV-cache buffer.
// The plan is for one image, a prompt of PLAN_PROMPT_TOKENS and PLAN_NEW_TOKENS new
// tokens (generation's default), batch 1; longer prompts or batches take more
// activations and KV cache, which the report states.
import type { Backend, BindingLimits } from "../backends/backend.js";
import type { PaliGemmaConfig } from "../config.js";
import { InputError, OutOfMemoryError } from "../errors.js";
import { expectedTensors, isQuantizedWeight, LM_HEAD, VISION } from "../weights/names.js";
import { bitsOf, groupsPerRow, quantizedBytes, wordsPerRow, type WeightDtype } from "../weights/quantize.js";

export type DtypeOption = WeightDtype | "auto";

export const PLAN_PROMPT_TOKENS = 64;
export const PLAN_NEW_TOKENS = 64;
/** The WASM module's static data, the largest op's scratch and the allocator's per-block slack, rounded up. */
const WASM_BACKEND_BYTES = 64 * 2 ** 20;

export interface MemoryPlan {
  dtype: WeightDtype;
  weightsBytes: number;
  kvCacheBytes: number;
  activationsBytes: number;
  /** What the backend itself takes (WASM: module data, scratch); 0 where it is not counted. */
  backendBytes: number;
  totalBytes: number;
  /** The largest piece of a weight that must sit in one binding, and whose it is. */
  largestWeightPiece: { name: string; bytes: number };
  /** The largest activation or KV-cache buffer, and which it is. */
  largestBuffer: { name: string; bytes: number };
}

export interface MemoryReport extends MemoryPlan {
  /** Why this dtype was chosen, in a sentence. */
  reason: string;
  /** The most the plan may use (the backend's cap, or maxMemoryBytes); undefined when nothing says. */
  limitBytes?: number;
  /** Every dtype considered, most precise first. */
  plans: MemoryPlan[];
  /** The workload planned for: image + prompt + new tokens, batch 1. */
  tokens: number;
}

export interface PlanOptions {
  /** The checkpoint has its own lm_head (not tied to the embeddings): one more [V, D] matrix. */
  untiedLmHead?: boolean;
  /** The backend the plan is for: its name decides what it adds (WASM's module). */
  backend?: string;
}

const f32 = 4;

/** Bytes of every weight in `dtype`. */
function weightsBytes(c: PaliGemmaConfig, dtype: WeightDtype, untiedLmHead: boolean): number {
  let bytes = 0;
  for (const [name, shape] of expectedTensors(c)) {
    if (name === LM_HEAD && !untiedLmHead) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    bytes += dtype !== "f16" && isQuantizedWeight(name) ? quantizedBytes(shape[0], shape[1], bitsOf(dtype)) : 2 * n;
  }
  return bytes;
}

/** Weights read in row chunks (linear, embed); every other weight is bound whole. */
const isChunked = (name: string) => isQuantizedWeight(name) || name === `${VISION}embeddings.position_embedding.weight`;

/**
 * The largest piece of any weight that one binding must hold, as the WebGPU upload cuts
 * them (src/backends/webgpu/weights.ts): a chunked matrix needs one row (two where odd
 * rows start mid-word: f16 rows of odd length, quantized rows with an odd count of
 * scales); a weight bound whole needs all of it.
 */
function largestWeightPiece(c: PaliGemmaConfig, dtype: WeightDtype, untiedLmHead: boolean): { name: string; bytes: number } {
  let largest = { name: "", bytes: 0 };
  for (const [name, shape] of expectedTensors(c)) {
    if (name === LM_HEAD && !untiedLmHead) continue;
    const rows = shape.length > 1 ? shape[0] : 1;
    const rowLength = shape.reduce((a, b) => a * b, 1) / rows;
    let bytes: number;
    if (!isChunked(name)) bytes = 2 * rows * rowLength;
    else if (dtype !== "f16" && isQuantizedWeight(name)) bytes = 4 * wordsPerRow(rowLength, bitsOf(dtype)) * (groupsPerRow(rowLength) % 2 && rows > 1 ? 2 : 1);
    else bytes = 2 * rowLength * (rowLength % 2 && rows > 1 ? 2 : 1);
    if (bytes > largest.bytes) largest = { name, bytes };
  }
  return largest;
}

/**
 * The largest single activation or KV-cache buffer of the planned workload: the big ones
 * src/model/{siglip,gemma,paligemma,kv-cache}.ts allocate (the rest are smaller than these).
 */
function largestBuffer(c: PaliGemmaConfig, promptTokens: number, maxLength: number): { name: string; bytes: number } {
  const v = c.vision;
  const t = c.text;
  const N = v.numPatches;
  const T = promptTokens;
  const candidates: [string, number][] = [
    ["the image's pixels", 3 * v.imageSize ** 2],
    ["the image's patches", N * 3 * v.patchSize ** 2],
    ["a SigLIP activation [patches, hidden]", N * v.hiddenSize],
    ["SigLIP's MLP activation [patches, intermediate]", N * v.intermediateSize],
    ["the projected image [patches, text hidden]", N * t.hiddenSize],
    ["a decoder activation [tokens, hidden]", T * t.hiddenSize],
    ["the decoder's queries [tokens, heads * head dim]", T * t.numHeads * t.headDim],
    ["the decoder's MLP activation [tokens, intermediate]", T * t.intermediateSize],
    ["the logits [vocab]", t.vocabSize],
    ["a KV-cache layer [tokens, kv heads * head dim]", maxLength * t.numKvHeads * t.headDim],
  ];
  const [name, length] = candidates.reduce((a, b) => (b[1] > a[1] ? b : a));
  return { name, bytes: length * f32 };
}

/** The workspaces' buffers, as the graph asks for them (f32 and i32 alike: 4 bytes). */
function activationsBytes(c: PaliGemmaConfig, promptTokens: number): number {
  const v = c.vision;
  const t = c.text;
  const N = v.numPatches;
  // siglipForward + recordImages, one image.
  const vision = 3 * v.imageSize ** 2 + N * 3 * v.patchSize ** 2 + 7 * N * v.hiddenSize + N * v.intermediateSize + N * t.hiddenSize + 4 * N;
  // record + gemmaLayers + gemmaLogits: a prefill of T tokens, logits for one row.
  const T = promptTokens;
  const q = t.numHeads * t.headDim;
  const kv = t.numKvHeads * t.headDim;
  // h, qkv, q, attn, act, and the backend's own: the normalized x and the (gate, up) pairs of a many-row linear;
  // Gemma 2's block output before its post-norm and the stream's second buffer.
  const gemma2 = t.generation === 2;
  const perToken = 2 * t.hiddenSize + 3 * q + 2 * kv + 3 * t.intermediateSize + (gemma2 ? 2 * t.hiddenSize : 0) + 6;
  // The logits row's h (and, Gemma 2, its pending add and the final h), the logits.
  const text = T * perToken + N + (gemma2 ? 3 : 1) * t.hiddenSize + t.vocabSize + 3;
  return (vision + text) * f32;
}

export function memoryPlan(c: PaliGemmaConfig, dtype: WeightDtype, opts: PlanOptions = {}): MemoryPlan {
  const promptTokens = c.vision.numPatches + PLAN_PROMPT_TOKENS;
  const maxLength = promptTokens + PLAN_NEW_TOKENS;
  const plan = {
    dtype,
    weightsBytes: weightsBytes(c, dtype, opts.untiedLmHead ?? false),
    kvCacheBytes: 2 * c.text.numLayers * maxLength * c.text.numKvHeads * c.text.headDim * f32,
    activationsBytes: activationsBytes(c, promptTokens),
    backendBytes: opts.backend === "wasm" ? WASM_BACKEND_BYTES : 0,
  };
  return {
    ...plan,
    totalBytes: plan.weightsBytes + plan.kvCacheBytes + plan.activationsBytes + plan.backendBytes,
    largestWeightPiece: largestWeightPiece(c, dtype, opts.untiedLmHead ?? false),
    largestBuffer: largestBuffer(c, promptTokens, maxLength),
  };
}

/** Why `p` cannot be bound within `limits`, or undefined when every buffer fits. */
function bindingProblem(p: MemoryPlan, limits: BindingLimits | undefined): string | undefined {
  if (!limits) return undefined;
  const problems: string[] = [];
  if (p.largestWeightPiece.bytes > limits.weightBytes) {
    problems.push(`${p.largestWeightPiece.name} needs ${p.largestWeightPiece.bytes} bytes in one binding, over the ${limits.weightBytes} a weight chunk may take`);
  }
  if (p.largestBuffer.bytes > limits.bufferBytes) {
    problems.push(`${p.largestBuffer.name} needs a ${p.largestBuffer.bytes}-byte buffer, over the ${limits.bufferBytes} one buffer may take`);
  }
  return problems.length ? `${problems.join("; ")} (${limits.source})` : undefined;
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

const describe = (p: MemoryPlan) =>
  `${p.dtype} ${gib(p.totalBytes)} (weights ${gib(p.weightsBytes)}, KV cache ${gib(p.kvCacheBytes)}, activations ${gib(p.activationsBytes)}${p.backendBytes ? `, backend ${gib(p.backendBytes)}` : ""})`;

export interface ChooseOptions extends PlanOptions {
  /** The dtypes the checkpoint can be loaded as, most precise first (a quantized folder: only its own). */
  allowed: WeightDtype[];
  /** A cap of the caller's (LoadOptions.maxMemoryBytes), applied beside the backend's own. */
  maxMemoryBytes?: number;
}

/**
 * The dtype to load as: the requested one if it fits, or for "auto" the most precise
 * allowed one that fits. Throws OutOfMemoryError (naming every size) when none fits.
 */
export function chooseDtype(c: PaliGemmaConfig, requested: DtypeOption, backend: Backend, opts: ChooseOptions): MemoryReport {
  if (!["auto", "f16", "q8", "q4"].includes(requested)) {
    throw new InputError(`dtype must be "f16", "q8", "q4" or "auto", got ${JSON.stringify(requested)}`);
  }
  if (opts.maxMemoryBytes !== undefined && !(opts.maxMemoryBytes > 0)) {
    throw new InputError(`maxMemoryBytes must be a positive number of bytes, got ${opts.maxMemoryBytes}`);
  }
  const limits = [backend.memoryLimit, opts.maxMemoryBytes].filter((x): x is number => x !== undefined);
  const limit = limits.length ? Math.min(...limits) : undefined;
  const limitName =
    opts.maxMemoryBytes !== undefined && limit === opts.maxMemoryBytes
      ? `maxMemoryBytes (${gib(limit)})`
      : `the ${backend.name} backend's limit of ${limit !== undefined ? gib(limit) : "?"}`;
  const candidates = requested === "auto" ? opts.allowed : [requested];
  const plans = candidates.map((d) => memoryPlan(c, d, { ...opts, backend: backend.name }));
  const tokens = c.vision.numPatches + PLAN_PROMPT_TOKENS + PLAN_NEW_TOKENS;
  const binding = (p: MemoryPlan) => bindingProblem(p, backend.bindingLimits);
  const fits = (p: MemoryPlan) => (limit === undefined || p.totalBytes <= limit) && !binding(p);
  /** A plan, and what of it does not fit. */
  const told = (p: MemoryPlan) => describe(p) + (binding(p) ? `: ${binding(p)}` : "");
  const chosen = plans.find(fits);
  if (!chosen) {
    const what = requested === "auto" ? `in no dtype it can be loaded as` : `as ${requested}`;
    // Pieces shrink with the bits and activations do not depend on them: when the smallest
    // plan's buffers do not fit, no plan's do, and the error names the buffer, not the total.
    const smallest = plans.at(-1)!;
    const binds = backend.bindingLimits!;
    const [needed, cap] = !binding(smallest)
      ? [smallest.totalBytes, limit!]
      : smallest.largestWeightPiece.bytes > binds.weightBytes
        ? [smallest.largestWeightPiece.bytes, binds.weightBytes]
        : [smallest.largestBuffer.bytes, binds.bufferBytes];
    throw new OutOfMemoryError(
      `this model does not fit ${binding(smallest) ? `the ${backend.name} backend's buffers` : limitName} ${what}: ${plans.map(told).join("; ")}` +
        ` (planned for ${tokens} tokens: one image, a ${PLAN_PROMPT_TOKENS}-token prompt and ${PLAN_NEW_TOKENS} new tokens)`,
      needed,
      cap,
    );
  }
  const skipped = plans.slice(0, plans.indexOf(chosen));
  const reason =
    requested !== "auto"
      ? `dtype "${requested}" was asked for; it needs ${describe(chosen)}${limit !== undefined ? `, within ${limitName}` : ""}`
      : opts.allowed.length === 1 && opts.allowed[0] !== "f16"
        ? `the checkpoint is quantized to ${chosen.dtype}; it needs ${describe(chosen)}${limit !== undefined ? `, within ${limitName}` : ""}`
        : skipped.length
          ? `${describe(chosen)} is the most precise that fits ${skipped.some(binding) ? `the ${backend.name} backend's buffers` + (limit !== undefined ? ` and ${limitName}` : "") : limitName}; ${skipped.map(told).join("; ")} would not`
          : limit !== undefined
            ? `${describe(chosen)} fits ${limitName}`
            : `${describe(chosen)}: the most precise; the ${backend.name} backend reports no memory limit (pass maxMemoryBytes to plan for a smaller device)`;
  return { ...chosen, reason, limitBytes: limit, plans, tokens };
}
