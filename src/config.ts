// PaliGemmaConfig: every size the model graph uses, read from a Hugging Face
// config.json. Published PaliGemma configs omit fields that equal the transformers
// defaults, so the defaults below are transformers' (SiglipVisionConfig,
// GemmaConfig, Gemma2Config); nothing here is specific to one checkpoint.
import { ConfigError } from "./errors.js";

/**
 * transformers' defaults for an omitted key: the sub-config class's own where
 * vision_config / text_config is present, PaliGemmaConfig's built-in one (the 3B
 * at 224) where the whole sub-config is absent.
 */
const SIGLIP_DEFAULTS = { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 16, layer_norm_eps: 1e-6 };
const PALIGEMMA_VISION_DEFAULTS = { ...SIGLIP_DEFAULTS, hidden_size: 1152, intermediate_size: 4096, num_hidden_layers: 27, num_attention_heads: 16, patch_size: 14 };
const GEMMA_DEFAULTS = {
  hidden_size: 3072, intermediate_size: 24576, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 16,
  head_dim: 256, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 8192,
};
const PALIGEMMA_TEXT_DEFAULTS = { ...GEMMA_DEFAULTS, hidden_size: 2048, num_hidden_layers: 18, intermediate_size: 16384, num_attention_heads: 8, num_key_value_heads: 1 };
const GEMMA2_DEFAULTS = {
  ...GEMMA_DEFAULTS, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4,
  query_pre_attn_scalar: 256, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 4096,
};

export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  /** (imageSize / patchSize)², the number of `<image>` tokens per image. */
  numPatches: number;
}

export interface TextConfig {
  /** 1: Gemma (PaliGemma), 2: Gemma 2 (PaliGemma 2). */
  generation: 1 | 2;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Attention scores are scaled by queryPreAttnScalar^-0.5 (Gemma 1: headDim). */
  queryPreAttnScalar: number;
  /** 0 = no softcap (Gemma 1). */
  attnLogitSoftcap: number;
  finalLogitSoftcap: number;
  /** The longest sequence (prompt + generated tokens) the model was built for. */
  maxPositions: number;
  /**
   * Gemma 2's sliding_window (0 for Gemma 1) and the layers config.json would apply it
   * on (layer_types, else the even layers, as transformers' Gemma 2); whether it is
   * applied is the caller's choice (ModelOptions.attention).
   */
  slidingWindow: number;
  slidingLayers: boolean[];
}

export interface PaliGemmaConfig {
  vision: VisionConfig;
  text: TextConfig;
  imageTokenId: number;
  bosTokenId: number;
  /** Generation stops at any of these (generation_config.json may list several). */
  eosTokenIds: number[];
  padTokenId: number;
  /** The dtype config.json says the weights were saved in (`dtype`, or the older `torch_dtype`), if it says. */
  dtype?: string;
}

type Json = Record<string, unknown>;

function num(obj: Json, key: string, fallback: number | undefined, where: string): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ConfigError(`${where}.${key} must be a number, got ${JSON.stringify(obj[key])}`);
  }
  return v;
}

function ids(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number");
  return [];
}

/**
 * Parses config.json (and generation_config.json when present, for stop tokens).
 * `generationHint` comes from the checkpoint's tensor names when the config names no
 * text model_type: Gemma 2 layers have pre/post feed-forward norms.
 */
export function parseConfig(config: Json, generationConfig?: Json, generationHint?: 1 | 2): PaliGemmaConfig {
  checkDocument(config);
  if (config.model_type !== undefined && config.model_type !== "paligemma") {
    throw new ConfigError(`config.json model_type is "${config.model_type}", expected "paligemma"`);
  }
  const v = (config.vision_config ?? {}) as Json;
  const t = (config.text_config ?? {}) as Json;
  const vd = config.vision_config ? SIGLIP_DEFAULTS : PALIGEMMA_VISION_DEFAULTS;
  const textType = t.model_type as string | undefined;
  if (textType !== undefined && textType !== "gemma" && textType !== "gemma2") {
    throw new ConfigError(`text_config.model_type "${textType}" is not supported (expected "gemma" or "gemma2")`);
  }
  const generation: 1 | 2 = textType === "gemma2" ? 2 : textType === "gemma" ? 1 : (generationHint ?? 1);
  if (generationHint && generationHint !== generation) {
    throw new ConfigError(
      `config.json says ${textType} but the weights have ${generationHint === 2 ? "Gemma 2" : "Gemma"} layers`,
    );
  }

  const td = generation === 2 ? GEMMA2_DEFAULTS : config.text_config ? GEMMA_DEFAULTS : PALIGEMMA_TEXT_DEFAULTS;
  const imageSize = num(v, "image_size", vd.image_size, "vision_config");
  const patchSize = num(v, "patch_size", vd.patch_size, "vision_config");
  if (patchSize > 0 && imageSize % patchSize !== 0) {
    throw new ConfigError(`vision_config.image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  }
  const vision: VisionConfig = {
    hiddenSize: num(v, "hidden_size", vd.hidden_size, "vision_config"),
    intermediateSize: num(v, "intermediate_size", vd.intermediate_size, "vision_config"),
    numLayers: num(v, "num_hidden_layers", vd.num_hidden_layers, "vision_config"),
    numHeads: num(v, "num_attention_heads", vd.num_attention_heads, "vision_config"),
    imageSize,
    patchSize,
    layerNormEps: num(v, "layer_norm_eps", vd.layer_norm_eps, "vision_config"),
    numPatches: (imageSize / patchSize) ** 2,
  };

  const hiddenSize = num(t, "hidden_size", td.hidden_size, "text_config");
  const numHeads = num(t, "num_attention_heads", td.num_attention_heads, "text_config");
  const headDim = num(t, "head_dim", td.head_dim, "text_config");
  const numKvHeads = num(t, "num_key_value_heads", td.num_key_value_heads, "text_config");
  const numLayers = num(t, "num_hidden_layers", td.num_hidden_layers, "text_config");
  if (numKvHeads > 0 && numHeads % numKvHeads !== 0) {
    throw new ConfigError(`text_config.num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  if (headDim % 2 !== 0) throw new ConfigError(`text_config.head_dim ${headDim} must be even for rotary embeddings`);
  const text: TextConfig = {
    generation,
    hiddenSize,
    intermediateSize: num(t, "intermediate_size", td.intermediate_size, "text_config"),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: num(t, "vocab_size", num(config, "vocab_size", 257216, "config"), "text_config"),
    rmsNormEps: num(t, "rms_norm_eps", td.rms_norm_eps, "text_config"),
    ropeTheta: num(t, "rope_theta", td.rope_theta, "text_config"),
    queryPreAttnScalar: generation === 2 ? num(t, "query_pre_attn_scalar", GEMMA2_DEFAULTS.query_pre_attn_scalar, "text_config") : headDim,
    // Absent: Gemma2Config's 50 and 30; null: no softcap (as transformers reads None).
    attnLogitSoftcap: generation === 2 ? orNone(t, "attn_logit_softcapping", GEMMA2_DEFAULTS.attn_logit_softcapping) : 0,
    finalLogitSoftcap: generation === 2 ? orNone(t, "final_logit_softcapping", GEMMA2_DEFAULTS.final_logit_softcapping) : 0,
    maxPositions: num(t, "max_position_embeddings", td.max_position_embeddings, "text_config"),
    slidingWindow: generation === 2 ? orNone(t, "sliding_window", GEMMA2_DEFAULTS.sliding_window) : 0,
    slidingLayers: slidingLayers(t, numLayers),
  };

  const numImageTokens = (t.num_image_tokens ?? v.num_image_tokens) as number | undefined;
  if (numImageTokens !== undefined && numImageTokens !== vision.numPatches) {
    throw new ConfigError(
      `num_image_tokens ${numImageTokens} != (image_size / patch_size)² = (${imageSize} / ${patchSize})² = ${vision.numPatches}` +
        (config.vision_config === undefined ? " (config.json has no vision_config, so these are transformers' defaults)" : ""),
    );
  }
  const eos = ids(generationConfig?.eos_token_id);
  return checkConfig({
    vision,
    text,
    imageTokenId: imageTokenId(config),
    bosTokenId: num(config, "bos_token_id", 2, "config"),
    eosTokenIds: eos.length ? eos : ids(config.eos_token_id ?? 1),
    padTokenId: num(config, "pad_token_id", 0, "config"),
    dtype: ((config.dtype ?? config.torch_dtype) as string | undefined) ?? undefined,
  });
}

// ---- validation: what transformers would accept but no model can run ----

/** Layers per tower beyond any published model (Gemma 2 27B has 46): a config asking more is broken. */
export const MAX_LAYERS = 1024;

const kind = (x: unknown) => (x === null ? "null" : Array.isArray(x) ? "an array" : typeof x);

/** config.json must be an object with PaliGemma's sections: else every size would silently be the 3B default. */
function checkDocument(config: unknown): asserts config is Json {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError(`config.json holds ${kind(config)}, expected a JSON object (a PaliGemma config with vision_config and text_config)`);
  }
  const c = config as Json;
  for (const key of ["vision_config", "text_config"]) {
    const section = c[key];
    if (section !== undefined && (typeof section !== "object" || section === null || Array.isArray(section))) {
      throw new ConfigError(`config.json ${key} is ${kind(section)}, expected a JSON object`);
    }
  }
  if (c.model_type === undefined && c.vision_config === undefined && c.text_config === undefined) {
    throw new ConfigError(
      `config.json has none of model_type, vision_config or text_config (its keys: ${Object.keys(c).slice(0, 8).join(", ") || "none"}): it is not a PaliGemma config`,
    );
  }
}

/** Sizes that load but would run garbage (or divide by zero inside a kernel) are refused here. */
function checkConfig(c: PaliGemmaConfig): PaliGemmaConfig {
  const { vision: v, text: t } = c;
  const count = (value: number, field: string, max = 2 ** 31 - 1) => {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new ConfigError(`${field} is ${value}, expected a positive integer${max < 2 ** 31 - 1 ? ` of at most ${max}` : ""}`);
    }
  };
  const positive = (value: number, field: string) => {
    if (!(value > 0)) throw new ConfigError(`${field} is ${value}, expected a number above 0`);
  };
  count(v.hiddenSize, "vision_config.hidden_size");
  count(v.intermediateSize, "vision_config.intermediate_size");
  count(v.numLayers, "vision_config.num_hidden_layers", MAX_LAYERS);
  count(v.numHeads, "vision_config.num_attention_heads");
  count(v.imageSize, "vision_config.image_size");
  count(v.patchSize, "vision_config.patch_size");
  if (v.hiddenSize % v.numHeads !== 0) {
    throw new ConfigError(
      `vision_config.hidden_size ${v.hiddenSize} is not a multiple of num_attention_heads ${v.numHeads}: each head needs an equal share`,
    );
  }
  positive(v.layerNormEps, "vision_config.layer_norm_eps");

  count(t.hiddenSize, "text_config.hidden_size");
  count(t.intermediateSize, "text_config.intermediate_size");
  count(t.numLayers, "text_config.num_hidden_layers", MAX_LAYERS);
  count(t.numHeads, "text_config.num_attention_heads");
  count(t.numKvHeads, "text_config.num_key_value_heads");
  count(t.headDim, "text_config.head_dim");
  count(t.vocabSize, "text_config.vocab_size");
  count(t.maxPositions, "text_config.max_position_embeddings");
  positive(t.rmsNormEps, "text_config.rms_norm_eps");
  positive(t.ropeTheta, "text_config.rope_theta");
  positive(t.queryPreAttnScalar, "text_config.query_pre_attn_scalar");
  for (const [value, field] of [
    [t.attnLogitSoftcap, "text_config.attn_logit_softcapping"],
    [t.finalLogitSoftcap, "text_config.final_logit_softcapping"],
  ] as const) {
    if (!(typeof value === "number" && value >= 0 && Number.isFinite(value))) {
      throw new ConfigError(`${field} is ${JSON.stringify(value)}, expected a number >= 0 (or null for none)`);
    }
  }
  const tokens: [number, string][] = [
    [c.imageTokenId, "image_token_index"],
    [c.bosTokenId, "bos_token_id"],
    [c.padTokenId, "pad_token_id"],
    ...c.eosTokenIds.map((id): [number, string] => [id, "eos_token_id"]),
  ];
  for (const [id, field] of tokens) {
    if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) {
      throw new ConfigError(`${field} ${id} is not a token id of the vocabulary (integers 0 to ${t.vocabSize - 1})`);
    }
  }
  return c;
}

/** A number, where null means none (0); absent is the default. */
function orNone(obj: Json, key: string, fallback: number): number {
  return obj[key] === null ? 0 : num(obj, key, fallback, "text_config");
}

/** Gemma 2 layers with a sliding window: layer_types where config.json lists them, else the even ones (transformers' Gemma2). */
function slidingLayers(t: Json, numLayers: number): boolean[] {
  const types = t.layer_types;
  if (types === undefined || types === null) return Array.from({ length: numLayers }, (_, i) => i % 2 === 0);
  if (!Array.isArray(types) || types.length !== numLayers || types.some((x) => x !== "sliding_attention" && x !== "full_attention")) {
    throw new ConfigError(`text_config.layer_types must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers, got ${JSON.stringify(types)}`);
  }
  return types.map((x) => x === "sliding_attention");
}

/**
 * image_token_index, or image_token_id (transformers' alias, which newer files write).
 * Absent: 257152, the <image> of every PaliGemma tokenizer (transformers' class default,
 * 256000, is <loc0000> there).
 */
function imageTokenId(config: Json): number {
  const index = config.image_token_index;
  const id = config.image_token_id;
  if (index !== undefined && id !== undefined && index !== id) {
    throw new ConfigError(`config.json has image_token_index ${JSON.stringify(index)} and image_token_id ${JSON.stringify(id)}: they name the same token and must agree`);
  }
  return index !== undefined ? num(config, "image_token_index", undefined, "config") : num(config, "image_token_id", 257152, "config");
}
