// Loads a Hugging Face PaliGemma checkpoint (config.json + model.safetensors, or
// shards listed in model.safetensors.index.json) onto a backend, one tensor at a
// time: each is checked against the shape config.json implies, converted to f16
// and uploaded before the next is read.
import type { Backend, Weight } from "../backends/backend.js";
import { parseConfig, type PaliGemmaConfig } from "../config.js";
import { LoadError, OutOfMemoryError, WeightsError } from "../errors.js";
import { missingFile, type ModelFiles, readJson } from "./files.js";
import { canonicalName, expectedTensors, GEMMA2_ONLY_NORM, LM_HEAD, newerLayoutName, TEXT } from "./names.js";
import { readSafetensors, toF16Bits } from "./safetensors.js";

export interface LoadProgress {
  /** "download": a hub file arriving in the cache; "read": a weights file being loaded onto the device. */
  stage: "download" | "read";
  file: string;
  loaded: number;
  /** undefined when the size is not known up front. */
  total?: number;
}

export interface Checkpoint {
  config: PaliGemmaConfig;
  /** Uploaded weights by canonical name (see names.ts). */
  tensors: Map<string, Weight>;
}

const generationOf = (names: Iterable<string>): 1 | 2 | undefined => {
  for (const n of names) if (n.includes(GEMMA2_ONLY_NORM)) return 2;
  return undefined;
};

export async function loadCheckpoint(
  files: ModelFiles,
  backend: Backend,
  onProgress?: (p: LoadProgress) => void,
): Promise<Checkpoint> {
  const configJson = await readJson(files, "config.json");
  if (!configJson) throw missingFile(files, "config.json");
  const generationJson = await readJson(files, "generation_config.json");
  const index = await readJson(files, "model.safetensors.index.json");
  const weightMap = index?.weight_map as Record<string, string> | undefined;
  if (index && (typeof weightMap !== "object" || weightMap === null)) {
    throw new LoadError(`model.safetensors.index.json in ${files.where} has no weight_map`);
  }
  const shards = weightMap ? [...new Set(Object.values(weightMap))] : ["model.safetensors"];

  let config: PaliGemmaConfig | undefined;
  let expected: Map<string, number[]> | undefined;
  const setConfig = (names: Iterable<string>) => {
    // A Gemma 2 checkpoint whose config omits text_config.model_type is told apart by its norms.
    config = parseConfig(configJson, generationJson, generationOf(names) ?? (weightMap ? 1 : undefined));
    expected = expectedTensors(config);
  };
  if (weightMap) setConfig(Object.keys(weightMap));
  const checkFits = () => {
    // A model that cannot fit is refused before gigabytes are uploaded, not after.
    const bytes = [...expected!].reduce((n, [name, shape]) => (name === LM_HEAD ? n : n + 2 * shape.reduce((a, b) => a * b, 1)), 0);
    if (backend.memoryLimit !== undefined && bytes > backend.memoryLimit) {
      throw new OutOfMemoryError(
        `this checkpoint's weights need ${(bytes / 2 ** 30).toFixed(2)} GiB as f16, more than the ${backend.name} backend's limit of ${(backend.memoryLimit / 2 ** 30).toFixed(2)} GiB`,
        bytes,
        backend.memoryLimit,
      );
    }
  };
  if (weightMap) checkFits();

  const tensors = new Map<string, Weight>();
  for (const shard of shards) {
    const file = await files.open(shard);
    if (!file) throw missingFile(files, shard);
    let loaded = 0;
    await readSafetensors(
      file.stream(),
      shard,
      {
        onHeader: (infos) => {
          if (!config) {
            setConfig(infos.map((t) => t.name));
            checkFits();
          }
        },
        want: (t) => expected!.has(canonicalName(t.name)),
        onTensor: (t, bytes) => {
          const name = canonicalName(t.name);
          const shape = expected!.get(name)!;
          if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
            throw new WeightsError(`${shard}: tensor ${t.name} has shape [${t.shape}] but config.json implies [${shape}]`);
          }
          if (tensors.has(name)) throw new WeightsError(`${shard}: tensor ${t.name} appears twice in the checkpoint`);
          tensors.set(name, backend.uploadWeight(name, toF16Bits(t.dtype, bytes, t.name), shape));
        },
      },
      {
        size: file.size,
        onBytes: (n) => {
          loaded += n;
          onProgress?.({ stage: "read", file: shard, loaded, total: file.size });
        },
      },
    );
  }

  const missing = [...expected!.keys()].filter((n) => n !== LM_HEAD && !tensors.has(n));
  if (missing.length) {
    const shown = missing.slice(0, 5).map((n) => `${n} (or ${newerLayoutName(n)})`);
    throw new WeightsError(
      `the checkpoint in ${files.where} lacks ${missing.length} tensor(s) the config needs: ${shown.join(", ")}${missing.length > 5 ? ", ..." : ""}`,
    );
  }
  // No lm_head: PaliGemma ties the output projection to the token embeddings.
  if (!tensors.has(LM_HEAD)) tensors.set(LM_HEAD, tensors.get(`${TEXT}embed_tokens.weight`)!);
  return { config: config!, tensors };
}
