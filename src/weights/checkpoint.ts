// Loads a Hugging Face PaliGemma checkpoint (config.json + model.safetensors, or
// shards listed in model.safetensors.index.json) onto a backend, one tensor at a
// time: each is checked against the shape config.json implies, converted to f16 or
// quantized (dtype q8/q4) and uploaded before the next is read. A quantized checkpoint
// (quantize.ts's format: `<name>.qweight` + `<name>.scales`) is uploaded as stored.
// The dtype is chosen (memory-plan.ts) from config.json and the tensor names, before
// any upload.
import type { Backend, Weight } from "../backends/backend.js";
import { checkConfigDocument, parseConfig, type PaliGemmaConfig } from "../config.js";
import { ConfigError, InputError, LoadError, WeightsError } from "../errors.js";
import { chooseDtype, type DtypeOption, type MemoryReport } from "../model/memory-plan.js";
import { checkFileName } from "./file-names.js";
import { missingFile, type ModelFiles, readJson } from "./files.js";
import type { LoadTracker } from "./progress.js";
import {
  canonicalName,
  expectedTensors,
  GEMMA2_ONLY_NORM,
  isQuantizedWeight,
  layerOf,
  LM_HEAD,
  newerLayoutName,
  quantizedPart,
  type QuantizedPart,
  quantizedPartName,
  TEXT,
} from "./names.js";
import {
  bitsOf,
  dtypeOf,
  groupsPerRow,
  parseQuantizationConfig,
  type QuantBits,
  type QuantizedMatrix,
  quantizeTensor,
  wordsPerRow,
} from "./quantize.js";
import { readSafetensors, type TensorInfo, toF16Bits } from "./safetensors.js";

export interface Checkpoint {
  config: PaliGemmaConfig;
  /** Uploaded weights by canonical name (see names.ts). */
  tensors: Map<string, Weight>;
  /** The dtype the weights were loaded as, and why (see memory-plan.ts). */
  memory: MemoryReport;
}

export interface CheckpointOptions {
  /**
   * How the matrices are kept on the device: "f16", "q8", "q4" (quantized at load, or
   * as a quantized checkpoint stores them), or "auto" (the default): the most precise
   * whose memory plan fits the backend.
   */
  dtype?: DtypeOption;
  /** A memory budget of the caller's in bytes, beside the backend's own limit (WebGPU reports none). */
  maxMemoryBytes?: number;
}

const generationOf = (names: Iterable<string>): 1 | 2 | undefined => {
  for (const n of names) if (n.includes(GEMMA2_ONLY_NORM)) return 2;
  return undefined;
};

/** The disk layout of a quantized matrix's part (quantize.ts), for checks and messages. */
const partLayout = (part: QuantizedPart, [N, K]: number[], bits: QuantBits) =>
  part === "qweight" ? { dtype: "U32", shape: [N, wordsPerRow(K, bits)] } : { dtype: "F16", shape: [N, groupsPerRow(K)] };

/** A typed view of a part's bytes (fresh from the reader, so aligned; copied otherwise). */
function view<T extends Uint32Array | Uint16Array>(bytes: Uint8Array, Type: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
  const aligned = bytes.byteOffset % Type.BYTES_PER_ELEMENT === 0 ? bytes : bytes.slice();
  return new Type(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / Type.BYTES_PER_ELEMENT);
}

/** A config with fewer layers than the checkpoint would silently run fewer; more would miss tensors. */
function checkLayerCounts(config: PaliGemmaConfig, names: Iterable<string>): void {
  const found = { vision: 0, text: 0 };
  for (const name of names) {
    const at = layerOf(canonicalName(name));
    if (at) found[at.tower] = Math.max(found[at.tower], at.layer + 1);
  }
  for (const [tower, section] of [["vision", "vision_config"], ["text", "text_config"]] as const) {
    const said = config[tower].numLayers;
    if (found[tower] !== said) {
      throw new ConfigError(
        `config.json ${section}.num_hidden_layers is ${said}, but the checkpoint has ${found[tower]} ${tower} layers`,
      );
    }
  }
}

export async function loadCheckpoint(
  files: ModelFiles,
  backend: Backend,
  progress: LoadTracker | undefined,
  opts: CheckpointOptions = {},
): Promise<Checkpoint> {
  const configJson = await readJson(files, "config.json");
  if (configJson === undefined) throw missingFile(files, "config.json");
  checkConfigDocument(configJson);
  const generationJson = await readJson(files, "generation_config.json");
  const index = await readJson(files, "model.safetensors.index.json");
  const weightMap = index?.weight_map as Record<string, string> | undefined;
  if (index !== undefined && (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap))) {
    throw new LoadError(`model.safetensors.index.json in ${files.where} has no weight_map object (tensor name -> file name)`);
  }
  for (const [tensor, shard] of Object.entries(weightMap ?? {})) {
    if (typeof shard !== "string") {
      throw new LoadError(
        `model.safetensors.index.json in ${files.where}: weight_map["${tensor}"] is ${JSON.stringify(shard)}, expected a file name`,
      );
    }
    checkFileName(shard, files.where);
  }
  const shards = weightMap ? [...new Set(Object.values(weightMap))] : ["model.safetensors"];
  await progress?.weights(files, shards);
  // A quantized checkpoint (paligemma-edge quantize) stores its matrices as words + scales.
  const stored = parseQuantizationConfig(configJson);
  const requested = opts.dtype ?? "auto";
  if (stored && requested !== "auto" && requested !== dtypeOf(stored)) {
    throw new InputError(
      `${files.where} is quantized to ${dtypeOf(stored)} (config.json quantization_config), so it loads only as dtype "${dtypeOf(stored)}" or "auto", not "${requested}"` +
        (requested === "f16" ? "; for f16 load the checkpoint it was quantized from" : ""),
    );
  }

  let config: PaliGemmaConfig | undefined;
  let expected: Map<string, number[]> | undefined;
  let memory: MemoryReport | undefined;
  /** What quantizable matrices become: undefined for f16. */
  let bits: QuantBits | undefined;
  // Runs once the tensor names are known (the index, or the first header), before any upload:
  // a model that cannot fit is refused before gigabytes are uploaded, not after.
  const setConfig = (names: string[]) => {
    // A Gemma 2 checkpoint whose config omits text_config.model_type is told apart by its norms.
    config = parseConfig(configJson, generationJson, generationOf(names) ?? (weightMap ? 1 : undefined));
    checkLayerCounts(config, names);
    expected = expectedTensors(config);
    const untiedLmHead = names.map(canonicalName).some((n) => (quantizedPart(n)?.weight ?? n) === LM_HEAD);
    memory = chooseDtype(config, requested, backend, {
      allowed: stored ? [dtypeOf(stored)] : ["f16", "q8", "q4"],
      untiedLmHead,
      maxMemoryBytes: opts.maxMemoryBytes,
    });
    bits = memory.dtype === "f16" ? undefined : bitsOf(memory.dtype);
  };
  if (weightMap) setConfig(Object.keys(weightMap));

  const tensors = new Map<string, Weight>();
  /** The first-read part of each quantized matrix, until its other part arrives. */
  const pending = new Map<string, { part: QuantizedPart; data: Uint32Array | Uint16Array; file: string; shard: string; bytes: number }>();
  const claim = (shard: string, file: string, name: string) => {
    if (tensors.has(name) || pending.has(name)) throw new WeightsError(`${shard}: tensor ${file} appears twice in the checkpoint (${name})`);
  };

  /** Checks a quantized part's header entry against the layout its matrix needs, before its bytes are read. */
  const checkPart = (shard: string, t: TensorInfo, weight: string, part: QuantizedPart) => {
    if (!isQuantizedWeight(weight)) {
      throw new WeightsError(
        `${shard}: tensor ${t.name} is quantized, but ${weight} is not a matrix the format quantizes (norms, biases, the patch embedding and the position embedding stay F32/F16/BF16)`,
      );
    }
    if (!stored) throw new WeightsError(`${shard}: tensor ${t.name} is quantized, but config.json has no quantization_config saying how`);
    const shape = expected!.get(weight)!;
    const want = partLayout(part, shape, stored);
    if (t.dtype !== want.dtype || t.shape.length !== 2 || t.shape.some((d, i) => d !== want.shape[i])) {
      throw new WeightsError(
        `${shard}: tensor ${t.name} is ${t.dtype} [${t.shape}], but q${stored} of ${weight} [${shape}] stores ${part} as ${want.dtype} [${want.shape}]`,
      );
    }
  };

  const takePart = (
    t: TensorInfo,
    weight: string,
    part: QuantizedPart,
    bytes: Uint8Array,
    shard: string,
    uploaded: (shard: string, bytes: number) => void,
  ) => {
    const shape = expected!.get(weight)!;
    const data = part === "qweight" ? view(bytes, Uint32Array) : view(bytes, Uint16Array);
    const other = pending.get(weight);
    if (tensors.has(weight) || other?.part === part) throw new WeightsError(`${shard}: tensor ${t.name} appears twice in the checkpoint`);
    if (!other) return void pending.set(weight, { part, data, file: t.name, shard, bytes: bytes.length });
    pending.delete(weight);
    const [qweight, scales] = part === "qweight" ? [data, other.data] : [other.data, data];
    const m: QuantizedMatrix = { bits: stored!, qweight: qweight as Uint32Array, scales: scales as Uint16Array };
    tensors.set(weight, backend.uploadQuantized(weight, m, [shape[0], shape[1]]));
    // Each part counts in the file it came from (a matrix's two parts may be in two shards).
    uploaded(other.shard, other.bytes);
    uploaded(shard, bytes.length);
  };

  /** Per shard: bytes of its tensors the model uses, and of those quantized here; how many are through each stage. */
  const work = new Map<string, { used: number; quantize: number; quantized: number; uploaded: number }>();
  const uploaded = (shard: string, bytes: number) => {
    const w = work.get(shard)!;
    progress?.tensors("upload", shard, (w.uploaded += bytes), w.used);
  };

  for (const shard of shards) {
    const file = await files.open(shard);
    if (!file) throw missingFile(files, shard);
    await readSafetensors(
      file.stream(),
      shard,
      {
        onHeader: (infos) => {
          if (!config) setConfig(infos.map((t) => t.name));
          const w = { used: 0, quantize: 0, quantized: 0, uploaded: 0 };
          for (const t of infos) {
            const name = canonicalName(t.name);
            const part = quantizedPart(name);
            if (!expected!.has(part?.weight ?? name)) continue;
            w.used += t.end - t.begin;
            if (!part && bits !== undefined && isQuantizedWeight(name)) w.quantize += t.end - t.begin;
          }
          work.set(shard, w);
        },
        // Checked before its bytes are read: a header may claim a tensor of any size.
        want: (t) => {
          const name = canonicalName(t.name);
          const quantized = quantizedPart(name);
          if (quantized) {
            if (!expected!.has(quantized.weight)) return false;
            checkPart(shard, t, quantized.weight, quantized.part);
            return true;
          }
          const shape = expected!.get(name);
          if (!shape) return false;
          if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
            throw new WeightsError(`${shard}: tensor ${t.name} has shape [${t.shape}] but config.json implies [${shape}]`);
          }
          claim(shard, t.name, name);
          return true;
        },
        onTensor: (t, bytes) => {
          const name = canonicalName(t.name);
          const quantized = quantizedPart(name);
          if (quantized) return takePart(t, quantized.weight, quantized.part, bytes, shard, uploaded);
          const shape = expected!.get(name)!;
          const size = bytes.length;
          // A float matrix under q8/q4 (a bf16 checkpoint, or one a quantized folder left as floats) is quantized here.
          let weight: Weight;
          if (bits !== undefined && isQuantizedWeight(name)) {
            const m = quantizeTensor(t.dtype, bytes, shape[0], shape[1], bits, t.name);
            const w = work.get(shard)!;
            progress?.tensors("quantize", shard, (w.quantized += size), w.quantize);
            weight = backend.uploadQuantized(name, m, [shape[0], shape[1]]);
          } else {
            weight = backend.uploadWeight(name, toF16Bits(t.dtype, bytes, t.name), shape);
          }
          tensors.set(name, weight);
          uploaded(shard, size);
        },
      },
      { size: file.size },
    );
    progress?.readDone(shard);
  }

  for (const [weight, { part, file }] of pending) {
    throw new WeightsError(
      `the checkpoint in ${files.where} has ${file} but not ${quantizedPartName(weight, part === "qweight" ? "scales" : "qweight")}: a quantized matrix needs both`,
    );
  }
  const missing = [...expected!.keys()].filter((n) => n !== LM_HEAD && !tensors.has(n));
  if (missing.length) {
    const alias = (n: string) =>
      stored && isQuantizedWeight(n) ? `${quantizedPartName(n, "qweight")} + .scales` : `${n} (or ${newerLayoutName(n)})`;
    const shown = missing.slice(0, 5).map(alias);
    throw new WeightsError(
      `the checkpoint in ${files.where} lacks ${missing.length} tensor(s) the config needs: ${shown.join(", ")}${missing.length > 5 ? ", ..." : ""}`,
    );
  }
  // No lm_head: PaliGemma ties the output projection to the token embeddings.
  if (!tensors.has(LM_HEAD)) tensors.set(LM_HEAD, tensors.get(`${TEXT}embed_tokens.weight`)!);
  return { config: config!, tensors, memory: memory! };
}
