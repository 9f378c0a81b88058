// Writing checkpoints for tests: safetensors files from named tensors, and random
// PaliGemma checkpoints of any config, so the loader and the model are exercised on
// shapes the goldens don't have.
import { parseConfig } from "../../src/config.js";
import { f32ArrayToF16 } from "../../src/weights/f16.js";
import { expectedTensors, LM_HEAD } from "../../src/weights/names.js";
import { randomArray, rng } from "./random.js";

export type StDType = "F32" | "F16" | "BF16";

export interface NamedTensor {
  dtype: StDType;
  shape: number[];
  values: Float32Array;
}

/** A tensor given as its stored bytes (a quantized matrix's U32 words or F16 scales). */
export interface RawTensor {
  dtype: "U32" | "F16";
  shape: number[];
  bytes: Uint8Array;
}

function encode(t: NamedTensor | RawTensor): Uint8Array {
  if ("bytes" in t) return t.bytes;
  if (t.dtype === "F32") return new Uint8Array(t.values.buffer.slice(0));
  if (t.dtype === "F16") return new Uint8Array(f32ArrayToF16(t.values).buffer);
  const u = new Uint32Array(t.values.buffer.slice(0));
  return new Uint8Array(Uint16Array.from(u, (x) => x >>> 16).buffer); // truncation: the values are bf16 already
}

export function writeSafetensors(tensors: Map<string, NamedTensor | RawTensor>): Uint8Array {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of tensors) {
    const bytes = encode(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let o = 8 + head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rounds to bf16 so every dtype holds the same values exactly. */
function bf16Round(a: Float32Array): Float32Array {
  const u = new Uint32Array(a.buffer);
  for (let i = 0; i < u.length; i++) u[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) & 0xffff0000;
  return a;
}

/**
 * Random weights for `config` (a config.json object): scaled so activations stay
 * O(1), norms near 0 (Gemma's (1+w)) or near 1 (LayerNorm), without lm_head (tied).
 */
export function randomCheckpoint(config: Record<string, unknown>, seed = 1, dtype: StDType = "BF16"): Map<string, NamedTensor> {
  const rand = rng(seed);
  const c = parseConfig(config);
  const out = new Map<string, NamedTensor>();
  for (const [name, shape] of expectedTensors(c)) {
    if (name === LM_HEAD) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? n / shape[0] : 1;
    let values: Float32Array;
    if (shape.length === 1 && /norm|layernorm/.test(name) && name.endsWith("weight")) {
      values = randomArray(rand, n, 0.2);
      if (name.startsWith("vision")) values = values.map((v) => 1 + v);
    } else {
      values = randomArray(rand, n, shape.length > 1 ? Math.sqrt(3 / fanIn) : 0.1);
    }
    out.set(name, { dtype, shape, values: bf16Round(values) });
  }
  return out;
}

/**
 * The odd-size config quantized weights are tested on: no matrix width a multiple of 32
 * (K = 40, 50, 48, 70, so every row ends in a zero-padded group), two vision and two text
 * layers, 4 image tokens (token 99), vocab 100.
 */
export const ODD_QUANT_CONFIG = {
  model_type: "paligemma",
  image_token_index: 99,
  vision_config: { hidden_size: 40, intermediate_size: 50, num_hidden_layers: 2, num_attention_heads: 2, image_size: 8, patch_size: 4 },
  text_config: {
    model_type: "gemma", hidden_size: 48, intermediate_size: 70, num_hidden_layers: 2,
    num_attention_heads: 2, num_key_value_heads: 1, head_dim: 24, vocab_size: 100,
  },
};
