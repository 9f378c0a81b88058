// The Gemma decoder, both generations, over tokens already embedded:
//   Gemma 1 layer:  h += attn(rms(h));            h += mlp(rms(h))
//   Gemma 2 layer:  h += rms(attn(rms(h)));       h += rms(mlp(rms(h)))
// with RMSNorm's (1 + w), rotary positions (rotate-half), grouped-query attention
// through the KV cache under the prefix-LM mask, and a GeGLU MLP. Gemma 2 adds
// softcaps on attention scores and final logits and scales queries by
// query_pre_attn_scalar^-0.5. The sliding window is the caller's choice per layer
// (`windows`): big_vision trained PaliGemma 2 without one, transformers applies it.
//
// Written for few dispatches per token: Q/K/V are one linear over one weight joined at
// load (and gate/up one, its rows interleaved for the GeGLU), each pre-norm is fused
// into the linear that reads it, and one op rotates q/k and appends k/v to the cache.
import type { Backend, Buf, Weight } from "../backends/backend.js";
import type { TextConfig } from "../config.js";
import { GEMMA2_ONLY_NORM, LM_HEAD, TEXT } from "../weights/names.js";
import type { KVCache } from "./kv-cache.js";
import type { Workspace } from "./workspace.js";

export interface GemmaLayerWeights {
  inputNorm: Weight; // [D]
  qkv: Weight; // [(H + 2 KV) * hd, D]: q_proj, k_proj, v_proj rows joined
  o: Weight; // [D, H * hd]
  /** Gemma 1: the norm before the MLP. Gemma 2: the norm of the attention output. One name, two roles. */
  postAttentionNorm: Weight; // [D]
  /** Gemma 2 only. */
  preFeedforwardNorm?: Weight; // [D]
  postFeedforwardNorm?: Weight; // [D]
  gateUp: Weight; // [2 I, D]: gate_proj and up_proj rows interleaved (gate_0, up_0, gate_1, ...)
  down: Weight; // [D, I]
}

export interface GemmaWeights {
  embed: Weight; // [V, D]
  layers: GemmaLayerWeights[];
  norm: Weight; // [D]
  lmHead: Weight; // [V, D], the embeddings when tied
}

/** The decoder's weights; `get` hands over each checkpoint tensor once (the joined ones are consumed). */
export function gemmaWeights(b: Backend, get: (name: string) => Weight, c: TextConfig): GemmaWeights {
  return {
    embed: get(`${TEXT}embed_tokens.weight`),
    layers: Array.from({ length: c.numLayers }, (_, i) => {
      const p = `${TEXT}layers.${i}.`;
      return {
        inputNorm: get(`${p}input_layernorm.weight`),
        qkv: b.joinRows(`${p}self_attn.qkv`, [
          get(`${p}self_attn.q_proj.weight`),
          get(`${p}self_attn.k_proj.weight`),
          get(`${p}self_attn.v_proj.weight`),
        ]),
        o: get(`${p}self_attn.o_proj.weight`),
        postAttentionNorm: get(`${p}post_attention_layernorm.weight`),
        ...(c.generation === 2 && {
          preFeedforwardNorm: get(`${p}${GEMMA2_ONLY_NORM}.weight`),
          postFeedforwardNorm: get(`${p}post_feedforward_layernorm.weight`),
        }),
        gateUp: b.joinRows(`${p}mlp.gate_up`, [get(`${p}mlp.gate_proj.weight`), get(`${p}mlp.up_proj.weight`)], { interleave: true }),
        down: get(`${p}mlp.down_proj.weight`),
      };
    }),
    norm: get(`${TEXT}norm.weight`),
    lmHead: get(LM_HEAD),
  };
}

/** Where each of this call's T tokens sits: filled by the caller from the KV cache state. */
export interface TokenPlacement {
  /** i32 [T]: 1-indexed rotary positions (PaliGemma was trained so). */
  positions: Buf;
  /** i32 [T]: the KV cache row each token's key/value is written to. */
  cacheRows: Buf;
  /** i32 [T, 3]: (base, slot, prefix) per query, see Backend.attention. */
  meta: Buf;
}

/** Runs every decoder layer over h [T, D] in place, appending K/V to the cache. */
export function gemmaLayers(
  b: Backend,
  ws: Workspace,
  w: GemmaWeights,
  c: TextConfig,
  h: Buf,
  T: number,
  at: TokenPlacement,
  cache: KVCache,
  /** Per layer: the sliding window, 0 for none. */
  windows: readonly number[],
): void {
  const D = c.hiddenSize;
  const qWidth = c.numHeads * c.headDim;
  const kvWidth = c.numKvHeads * c.headDim;
  const qkv = ws.get("qkv", T * (qWidth + 2 * kvWidth));
  const q = ws.get("q", T * qWidth);
  const attn = ws.get("attn", T * qWidth);
  const act = ws.get("act", T * c.intermediateSize);
  const sub = c.generation === 2 ? ws.get("sub", T * D) : null; // a block's output before its post-norm
  const eps = c.rmsNormEps;
  const attention = {
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    scale: c.queryPreAttnScalar ** -0.5,
    softcap: c.attnLogitSoftcap,
  };
  const windowed = windows.map((window) => (window > 0 ? { ...attention, window } : attention));
  const rope = { heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, theta: c.ropeTheta };
  const norm = (weight: Weight) => ({ rmsNorm: { weight, eps } });

  w.layers.forEach((l, i) => {
    b.linear(qkv, h, l.qkv, null, T, norm(l.inputNorm)); // [T, (H + 2 KV) hd] = Wqkv · rms(h)
    b.ropeAppend(q, cache.keys[i], cache.values[i], qkv, at.positions, at.cacheRows, T, rope);
    b.attention(attn, q, cache.keys[i], cache.values[i], at.meta, T, windowed[i]);
    if (sub) {
      b.linear(sub, attn, l.o, null, T);
      b.rmsNorm(h, sub, l.postAttentionNorm, T, eps, { accumulate: true }); // h += rms(attn(rms(h)))
    } else {
      b.linear(h, attn, l.o, null, T, { accumulate: true }); // h += attn(rms(h))
    }
    const mlpNorm = sub ? l.preFeedforwardNorm! : l.postAttentionNorm;
    b.linear(act, h, l.gateUp, null, T, { ...norm(mlpNorm), geglu: true }); // [T, I] = gelu(gate) · up of rms(h)
    if (sub) {
      b.linear(sub, act, l.down, null, T);
      b.rmsNorm(h, sub, l.postFeedforwardNorm!, T, eps, { accumulate: true }); // h += rms(mlp(rms(h)))
    } else {
      b.linear(h, act, l.down, null, T, { accumulate: true }); // h += mlp(rms(h))
    }
  });
}

/** logits [R, V] for the R rows of h listed in `rows` (i32 [R]), or h's first R rows when `rows` is null. */
export function gemmaLogits(b: Backend, ws: Workspace, w: GemmaWeights, c: TextConfig, h: Buf, rows: Buf | null, R: number): Buf {
  const D = c.hiddenSize;
  let picked = h;
  if (rows) {
    picked = ws.get("picked", R * D);
    b.gatherRows(picked, h, rows, R, D);
  }
  const logits = ws.get("logits", R * c.vocabSize);
  b.linear(logits, picked, w.lmHead, null, R, { rmsNorm: { weight: w.norm, eps: c.rmsNormEps }, softcap: c.finalLogitSoftcap });
  return logits;
}
