// The generation loop over token ids: prefill the prompt (image + text), then one
// decoder step per new token. The next token is picked on the device (argmax, or
// sampling from one seeded uniform per row), so each step reads back one id per row.
import { AbortedError, InputError } from "../errors.js";
import type { PaliGemmaForConditionalGeneration } from "../model/paligemma.js";
import { rng } from "./rng.js";

export interface GenerationOptions {
  /** Default 64. */
  maxNewTokens?: number;
  /** 0 (default) picks the most likely token; above 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 = no limit). */
  topK?: number;
  /** Sample only among the most likely tokens whose mass reaches p (1 = no limit). */
  topP?: number;
  /** The same seed gives the same tokens. Default: a random seed. */
  seed?: number;
  /** Token ids that end a row (default: the model's eos ids). The stop token is returned. */
  stopTokens?: number[];
  /** Aborting stops generation before the next step. */
  signal?: AbortSignal;
}

export interface PromptInputs {
  inputIds: Int32Array; // [batch, length]
  attentionMask?: Int32Array; // [batch, length]
  pixelValues?: Float32Array; // [batch, 3, S, S]
  batch: number;
}

interface Checked {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stop: Set<number>;
}

/** A value as the caller passed it, with its type: `"5" (a string)`. */
function received(v: unknown): string {
  const type = v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`;
  let shown: string;
  try {
    shown = JSON.stringify(v) ?? String(v);
  } catch {
    shown = String(v);
  }
  return `${shown.length > 60 ? `${shown.slice(0, 60)}...` : shown} (${type})`;
}

/** The ids that end a row: `stopTokens` when given (integers of the vocabulary), else the model's eos ids. */
export function stopTokenSet(o: GenerationOptions, eos: number[], vocabSize: number): Set<number> {
  if (o.stopTokens === undefined) return new Set(eos);
  const ids: unknown = o.stopTokens;
  if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)) {
    throw new InputError(`stopTokens must be an array of token ids (integers 0 to ${vocabSize - 1}), got ${received(ids)}`);
  }
  return new Set(ids as number[]);
}

function check(o: GenerationOptions, eos: number[], vocabSize: number): Checked {
  const maxNewTokens = o.maxNewTokens ?? 64;
  const temperature = o.temperature ?? 0;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InputError(`maxNewTokens must be a positive integer, got ${received(o.maxNewTokens)}`);
  if (!(typeof temperature === "number" && temperature >= 0 && Number.isFinite(temperature))) {
    throw new InputError(`temperature must be a number >= 0, got ${received(o.temperature)}`);
  }
  if (!Number.isInteger(topK) || topK < 0) throw new InputError(`topK must be a non-negative integer, got ${received(o.topK)}`);
  if (!(typeof topP === "number" && topP > 0 && topP <= 1)) throw new InputError(`topP must be a number in (0, 1], got ${received(o.topP)}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new InputError(`seed must be an integer, got ${received(o.seed)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InputError(`signal must be an AbortSignal, got ${received(o.signal)}`);
  return {
    maxNewTokens,
    temperature,
    topK,
    topP,
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 32),
    stop: stopTokenSet(o, eos, vocabSize),
  };
}

/**
 * Yields, per step, the new token of every row; a row that has stopped yields -1
 * from then on. Ends when every row has stopped or maxNewTokens is reached.
 */
export async function* generateTokens(
  model: PaliGemmaForConditionalGeneration,
  prompt: PromptInputs,
  options: GenerationOptions = {},
): AsyncGenerator<Int32Array> {
  const o = check(options, model.config.eosTokenIds, model.config.text.vocabSize);
  const B = prompt.batch;
  const L = prompt.inputIds.length / B;
  const context = model.config.text.maxPositions;
  if (L + o.maxNewTokens > context) {
    throw new InputError(
      `the prompt (${L} tokens, image included) plus maxNewTokens (${o.maxNewTokens}) exceeds the model's context of ${context} tokens`,
    );
  }
  const draw = rng(o.seed);
  const sampling = () =>
    o.temperature > 0
      ? { temperature: o.temperature, topK: o.topK, topP: o.topP, uniforms: Float32Array.from({ length: B }, draw) }
      : undefined;

  const kvCache = model.createKVCache({ batch: B, maxLength: L + o.maxNewTokens });
  try {
    if (options.signal?.aborted) throw new AbortedError();
    let { ids } = await model.nextTokens({ ...prompt, kvCache }, sampling());
    const done = new Uint8Array(B);
    const pad = model.config.padTokenId;
    for (let step = 0; ; step++) {
      const out = Int32Array.from(ids, (id, b) => (done[b] ? -1 : id));
      out.forEach((id, b) => {
        if (o.stop.has(id)) done[b] = 1;
      });
      yield out;
      if (step + 1 >= o.maxNewTokens || done.every(Boolean)) return;
      if (options.signal?.aborted) throw new AbortedError();
      // Stopped rows still ride along (the batch is one dispatch) but are masked out.
      const feed = Int32Array.from(out, (id) => (id < 0 ? pad : id));
      ({ ids } = await model.nextTokens({ inputIds: feed, attentionMask: Int32Array.from(done, (d) => 1 - d), batch: B, kvCache }, sampling()));
    }
  } finally {
    kvCache.dispose();
  }
}
