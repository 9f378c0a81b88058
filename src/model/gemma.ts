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
// Gemma 2's post-norm residual adds (h += rms(sub)) are each left pending and done by the
// next linear that reads h (its `residual` option: the QKV takes the last block's
// post-FFN add, the gate/up the post-attention one, the LM head the last layer's), so a
// Gemma 2 layer costs the dispatches a Gemma 1 layer does.
import type { Backend, Buf, LinearOptions, Weight } from "../backends/backend.js";
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

/** The residual stream after the layers: h [T, D], with Gemma 2's last add still pending. */
export interface GemmaHidden {
  h: Buf;
  /** Gemma 2: h += rms(add) · (1 + norm) is still to do (gemmaLogits does it); null for Gemma 1. */
  pending: { add: Buf; norm: Weight } | null;
}

/**
 * Runs every decoder layer over h [T, D], appending K/V to the cache. Gemma 1 updates h in
 * place; Gemma 2's stream moves between h and a second buffer (a linear that adds to the
 * stream cannot write the buffer its other workgroups read), so the result is returned.
 */
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
): GemmaHidden {
  const D = c.hiddenSize;
  const qWidth = c.numHeads * c.headDim;
  const kvWidth = c.numKvHeads * c.headDim;
  const qkv = ws.get("qkv", T * (qWidth + 2 * kvWidth));
  const q = ws.get("q", T * qWidth);
  const attn = ws.get("attn", T * qWidth);
  const act = ws.get("act", T * c.intermediateSize);
  const sub = c.generation === 2 ? ws.get("sub", T * D) : null; // [T, D] a block's output before its post-norm
  let spare = sub && ws.get("h2", T * D); // [T, D] where the next pending add puts the stream
  let pending: GemmaHidden["pending"] = null;
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
  /** A linear reading rms(h): its input and options, doing the pending add first (h moves to the spare buffer). */
  const readH = (weight: Weight): [Buf, LinearOptions] => {
    const [x, opts]: [Buf, LinearOptions] = [h, { rmsNorm: { weight, eps } }];
    if (pending) {
      opts.residual = { ...pending, out: spare! };
      [h, spare] = [spare!, h];
      pending = null;
    }
    return [x, opts];
  };

  w.layers.forEach((l, i) => {
    const [attnIn, attnOpts] = readH(l.inputNorm);
    b.linear(qkv, attnIn, l.qkv, null, T, attnOpts); // [T, (H + 2 KV) hd] = Wqkv · rms(h)
    b.ropeAppend(q, cache.keys[i], cache.values[i], qkv, at.positions, at.cacheRows, T, rope);
    b.attention(attn, q, cache.keys[i], cache.values[i], at.meta, T, windowed[i]);
    if (sub) {
      b.linear(sub, attn, l.o, null, T);
      pending = { add: sub, norm: l.postAttentionNorm }; // h += rms(attn(rms(h))), by the gate/up
    } else {
      b.linear(h, attn, l.o, null, T, { accumulate: true }); // h += attn(rms(h))
    }
    const [mlpIn, mlpOpts] = readH(sub ? l.preFeedforwardNorm! : l.postAttentionNorm);
    b.linear(act, mlpIn, l.gateUp, null, T, { ...mlpOpts, geglu: true }); // [T, I] = gelu(gate) · up of rms(h)
    if (sub) {
      b.linear(sub, act, l.down, null, T);
      pending = { add: sub, norm: l.postFeedforwardNorm! }; // h += rms(mlp(rms(h))), by the next QKV or the LM head
    } else {
      b.linear(h, act, l.down, null, T, { accumulate: true }); // h += mlp(rms(h))
    }
  });
  return { h, pending };
}

/**
 * logits [R, V] for the R rows of the stream listed in `rows` (i32 [R]), or its first R
 * rows when `rows` is null; a pending add (Gemma 2) is done by the LM head's linear.
 */
export function gemmaLogits(b: Backend, ws: Workspace, w: GemmaWeights, c: TextConfig, { h, pending }: GemmaHidden, rows: Buf | null, R: number): Buf {
  const D = c.hiddenSize;
  let [picked, add] = [h, pending?.add];
  if (rows) {
    picked = ws.get("picked", R * D);
    b.gatherRows(picked, h, rows, R, D);
    if (add) {
      add = ws.get("pickedAdd", R * D);
      b.gatherRows(add, pending!.add, rows, R, D);
    }
  }
  const opts: LinearOptions = { rmsNorm: { weight: w.norm, eps: c.rmsNormEps }, softcap: c.finalLogitSoftcap };
  if (pending) opts.residual = { add: add!, norm: pending.norm, out: ws.get("final", R * D) }; // [R, D] the final h, read by nothing else
  const logits = ws.get("logits", R * c.vocabSize);
  b.linear(logits, picked, w.lmHead, null, R, opts);
  return logits;
}
