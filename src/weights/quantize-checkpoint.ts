// `paligemma-edge quantize`: any checkpoint the SDK loads (hub id, folder, URL; bf16,
// f16 or f32; one file or shards) rewritten in the quantized format (quantize.ts), one
// tensor at a time, so the model is never in memory whole: each source tensor is read,
// quantized (the matrices of names.ts's table, with quantizeTensor: the function the
// loader uses for dtype q8/q4, so both paths give identical weights) or copied as it
// is, and written before the next is read. Output files are planned from each source
// file's header (sizes are known before any data), each at most maxShardBytes, and
// listed in model.safetensors.index.json when there are several. config.json (with
// quantization_config) is written last, so a folder cut short by a failure does not load.
import { parseConfig } from "../config.js";
import { InputError, LoadError, WeightsError } from "../errors.js";
import type { LoadProgress } from "./progress.js";
import { type ModelFiles, readJson } from "./files.js";
import { canonicalName, expectedTensors, isQuantizedWeight, quantizedPartName } from "./names.js";
import { bitsOf, groupsPerRow, parseQuantizationConfig, quantizationConfig, quantizeTensor, wordsPerRow } from "./quantize.js";
import { encodeHeader, readSafetensors, type DType, type TensorInfo } from "./safetensors.js";

/** Hugging Face's convention is a few GB per shard; 2 GB keeps every file under 32-bit size limits. */
export const MAX_SHARD_BYTES = 2e9;

/** Files copied beside the weights when the source has them. */
export const COPIED = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
  "preprocessor_config.json",
  "vae-oid.npz",
];

/** Where the quantized checkpoint is written (a folder: src/runtime/quantize.ts for Node). */
export interface OutputFolder {
  /** A new file, written front to back. */
  create(name: string): Promise<{ write(bytes: Uint8Array): Promise<void>; close(): Promise<void> }>;
  rename(from: string, to: string): Promise<void>;
}

export interface QuantizeOptions {
  dtype: "q8" | "q4";
  /** Reading progress of each source file (and hub downloads); counted by the files resolveSource gave. */
  onProgress?: (p: LoadProgress) => void;
  /** Most bytes of tensors per output file (default MAX_SHARD_BYTES); a single larger tensor gets a file of its own. */
  maxShardBytes?: number;
}

export interface QuantizeResult {
  /** The weight files written, in order. */
  files: string[];
  /** Source tensors quantized, and copied as they were. */
  quantized: number;
  copied: number;
  /** Bytes of the weight files. */
  bytes: number;
}

/** One tensor as written: its name, dtype and shape on disk, and its byte size. */
interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
}

export async function quantizeCheckpoint(files: ModelFiles, out: OutputFolder, opts: QuantizeOptions): Promise<QuantizeResult> {
  if (opts.dtype !== "q8" && opts.dtype !== "q4") throw new InputError(`quantize needs dtype "q8" or "q4", got ${JSON.stringify(opts.dtype)}`);
  const bits = bitsOf(opts.dtype);
  const maxShardBytes = opts.maxShardBytes ?? MAX_SHARD_BYTES;
  if (!(maxShardBytes > 0)) throw new InputError(`maxShardBytes must be a positive number, got ${opts.maxShardBytes}`);
  const configJson = await readJson(files, "config.json");
  if (!configJson) throw new LoadError(`config.json not found in ${files.where}`);
  if (parseQuantizationConfig(configJson)) {
    throw new InputError(`${files.where} is already quantized (config.json quantization_config); quantize the checkpoint it came from`);
  }
  // The shapes config.json implies: a matrix is quantized only if it is the one the model expects.
  const expected = expectedTensors(parseConfig(configJson, await readJson(files, "generation_config.json")));
  const index = await readJson(files, "model.safetensors.index.json");
  const weightMap = index?.weight_map as Record<string, string> | undefined;
  if (index && (typeof weightMap !== "object" || weightMap === null)) {
    throw new LoadError(`model.safetensors.index.json in ${files.where} has no weight_map`);
  }
  const shards = weightMap ? [...new Set(Object.values(weightMap))] : ["model.safetensors"];

  /** Source tensor -> what is written for it. */
  const plan = (t: TensorInfo, shard: string): Entry[] => {
    const name = canonicalName(t.name);
    if (!isQuantizedWeight(name)) return [{ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.end - t.begin }];
    const shape = expected.get(name);
    if (!shape || t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      throw new WeightsError(`${shard}: tensor ${t.name} has shape [${t.shape}] but config.json implies [${shape}]`);
    }
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") {
      throw new WeightsError(`${shard}: tensor ${t.name} has dtype ${t.dtype}; weights must be F32, F16 or BF16`);
    }
    const [N, K] = shape;
    return [
      { name: quantizedPartName(t.name, "qweight"), dtype: "U32", shape: [N, wordsPerRow(K, bits)], bytes: N * wordsPerRow(K, bits) * 4 },
      { name: quantizedPartName(t.name, "scales"), dtype: "F16", shape: [N, groupsPerRow(K)], bytes: N * groupsPerRow(K) * 2 },
    ];
  };

  const written: { temp: string; entries: Entry[] }[] = [];
  let quantized = 0;
  let copied = 0;
  for (const shard of shards) {
    const file = await files.open(shard);
    if (!file) throw new LoadError(`${shard} not found in ${files.where}`);
    // This source file's output: its entries in order, cut into files of at most maxShardBytes.
    const order: { entry: Entry; group: number }[] = [];
    const groups: Entry[][] = [];
    let next = 0;
    let output: Awaited<ReturnType<OutputFolder["create"]>> | undefined;
    const write = async (bytes: Uint8Array) => {
      const at = order[next++];
      if (!at) throw new WeightsError(`${shard} holds more tensors than its header lists`);
      const { entry, group } = at;
      if (!output) {
        const temp = `model-part-${written.length}.safetensors.partial`;
        output = await out.create(temp);
        await output.write(encodeHeader(groups[group]));
        written.push({ temp, entries: groups[group] });
      }
      if (bytes.length !== entry.bytes) throw new Error(`quantize: ${entry.name} came out ${bytes.length} bytes, planned ${entry.bytes}`);
      await output.write(bytes);
      if (order[next]?.group !== group) {
        await output.close();
        output = undefined;
      }
    };
    await readSafetensors(
      file.stream(),
      shard,
      {
        onHeader: (infos) => {
          let size = 0;
          for (const entry of infos.flatMap((t) => plan(t, shard))) {
            if (!groups.length || (size > 0 && size + entry.bytes > maxShardBytes)) {
              groups.push([]);
              size = 0;
            }
            groups.at(-1)!.push(entry);
            order.push({ entry, group: groups.length - 1 });
            size += entry.bytes;
          }
        },
        want: () => true,
        onTensor: async (t, bytes) => {
          if (!isQuantizedWeight(canonicalName(t.name))) {
            copied++;
            return write(bytes);
          }
          const m = quantizeTensor(t.dtype, bytes, t.shape[0], t.shape[1], bits, t.name);
          quantized++;
          await write(new Uint8Array(m.qweight.buffer));
          await write(new Uint8Array(m.scales.buffer));
        },
      },
      { size: file.size },
    );
  }

  const names =
    written.length === 1
      ? ["model.safetensors"]
      : written.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(written.length).padStart(5, "0")}.safetensors`);
  for (let i = 0; i < written.length; i++) await out.rename(written[i].temp, names[i]);
  const bytes = written.reduce((n, w) => n + w.entries.reduce((m, e) => m + e.bytes, 0), 0);
  if (written.length > 1) {
    const weight_map = Object.fromEntries(written.flatMap((w, i) => w.entries.map((e) => [e.name, names[i]])));
    await writeText(out, "model.safetensors.index.json", { metadata: { total_size: bytes }, weight_map });
  }
  for (const name of COPIED) {
    const f = await files.open(name);
    if (!f) continue;
    const dst = await out.create(name);
    const reader = f.stream().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) await dst.write(r.value);
    await dst.close();
  }
  await writeText(out, "config.json", { ...configJson, quantization_config: quantizationConfig(bits) });
  return { files: names, quantized, copied, bytes };
}

async function writeText(out: OutputFolder, name: string, value: unknown): Promise<void> {
  const f = await out.create(name);
  await f.write(new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
  await f.close();
}
