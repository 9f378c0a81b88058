// Loads a Hugging Face PaliGemma checkpoint (config.json + model.safetensors, or
// shards listed in model.safetensors.index.json) onto a backend, one tensor at a
// time: each is checked against the shape config.json implies, converted to f16
// and uploaded before the next is read.
import type { Backend, Weight } from "../backends/backend.js";
import { parseConfig, type PaliGemmaConfig } from "../config.js";
import { ConfigError, LoadError, OutOfMemoryError, WeightsError } from "../errors.js";
import { checkFileName, type ModelFiles, readJson } from "./files.js";
import { canonicalName, expectedTensors, GEMMA2_ONLY_NORM, layerOf, LM_HEAD, newerLayoutName, TEXT } from "./names.js";
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
  onProgress?: (p: LoadProgress) => void,
): Promise<Checkpoint> {
  const configJson = await readJson(files, "config.json");
  if (configJson === undefined) throw new LoadError(`config.json not found in ${files.where}`);
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

  let config: PaliGemmaConfig | undefined;
  let expected: Map<string, number[]> | undefined;
  const setConfig = (names: Iterable<string>) => {
    // A Gemma 2 checkpoint whose config omits text_config.model_type is told apart by its norms.
    config = parseConfig(configJson, generationJson, generationOf(names) ?? (weightMap ? 1 : undefined));
    checkLayerCounts(config, names);
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
    if (!file) throw new LoadError(`${shard} not found in ${files.where}`);
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
        // Checked before its bytes are read: a header may claim a tensor of any size.
        want: (t) => {
          const name = canonicalName(t.name);
          const shape = expected!.get(name);
          if (!shape) return false;
          if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
            throw new WeightsError(`${shard}: tensor ${t.name} has shape [${t.shape}] but config.json implies [${shape}]`);
          }
          if (tensors.has(name)) throw new WeightsError(`${shard}: tensor ${t.name} appears twice in the checkpoint`);
          return true;
        },
        onTensor: (t, bytes) => {
          const name = canonicalName(t.name);
          tensors.set(name, backend.uploadWeight(name, toF16Bits(t.dtype, bytes, t.name), expected!.get(name)!));
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
