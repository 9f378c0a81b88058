// SigLIP vision encoder: patches -> linear patch embedding + learned positions ->
// pre-norm transformer layers (LayerNorm, multi-head attention with biases,
// GELU-tanh MLP) -> post LayerNorm. Every image attends to all of its own patches.
import type { Backend, Buf, Weight } from "../backends/backend.js";
import type { VisionConfig } from "../config.js";
import { VISION } from "../weights/names.js";
import type { Workspace } from "./workspace.js";

export interface SiglipLayerWeights {
  norm1: Weight; norm1Bias: Weight; // [Dv]
  q: Weight; qBias: Weight; // [Dv, Dv], [Dv]
  k: Weight; kBias: Weight;
  v: Weight; vBias: Weight;
  out: Weight; outBias: Weight;
  norm2: Weight; norm2Bias: Weight; // [Dv]
  fc1: Weight; fc1Bias: Weight; // [Iv, Dv], [Iv]
  fc2: Weight; fc2Bias: Weight; // [Dv, Iv], [Dv]
}

export interface SiglipWeights {
  patch: Weight; // [Dv, 3, P, P]: the stride-P conv, applied as a linear over patchify's (c, py, px) rows
  patchBias: Weight; // [Dv]
  position: Weight; // [N, Dv]
  layers: SiglipLayerWeights[];
  postNorm: Weight; postNormBias: Weight; // [Dv]
}

export function siglipWeights(get: (name: string) => Weight, c: VisionConfig): SiglipWeights {
  const e = `${VISION}embeddings.`;
  return {
    patch: get(`${e}patch_embedding.weight`),
    patchBias: get(`${e}patch_embedding.bias`),
    position: get(`${e}position_embedding.weight`),
    layers: Array.from({ length: c.numLayers }, (_, i) => {
      const p = `${VISION}encoder.layers.${i}.`;
      return {
        norm1: get(`${p}layer_norm1.weight`), norm1Bias: get(`${p}layer_norm1.bias`),
        q: get(`${p}self_attn.q_proj.weight`), qBias: get(`${p}self_attn.q_proj.bias`),
        k: get(`${p}self_attn.k_proj.weight`), kBias: get(`${p}self_attn.k_proj.bias`),
        v: get(`${p}self_attn.v_proj.weight`), vBias: get(`${p}self_attn.v_proj.bias`),
        out: get(`${p}self_attn.out_proj.weight`), outBias: get(`${p}self_attn.out_proj.bias`),
        norm2: get(`${p}layer_norm2.weight`), norm2Bias: get(`${p}layer_norm2.bias`),
        fc1: get(`${p}mlp.fc1.weight`), fc1Bias: get(`${p}mlp.fc1.bias`),
        fc2: get(`${p}mlp.fc2.weight`), fc2Bias: get(`${p}mlp.fc2.bias`),
      };
    }),
    postNorm: get(`${VISION}post_layernorm.weight`),
    postNormBias: get(`${VISION}post_layernorm.bias`),
  };
}

/** pixels [B, 3, S, S] -> image features [B * N, Dv] (a workspace buffer). */
export function siglipForward(b: Backend, ws: Workspace, w: SiglipWeights, c: VisionConfig, pixels: Buf, batch: number): Buf {
  const N = c.numPatches;
  const D = c.hiddenSize;
  const T = batch * N;
  const headDim = D / c.numHeads;
  const P = c.patchSize;

  const patches = ws.get("patches", T * 3 * P * P); // [T, 3*P*P]
  b.patchify(patches, pixels, batch, 3, c.imageSize, P);
  const h = ws.get("h", T * D); // [T, Dv]
  b.linear(h, patches, w.patch, w.patchBias, T);
  const patchIndex = Int32Array.from({ length: T }, (_, t) => t % N);
  b.embed(h, ws.ints("positions", patchIndex), w.position, T, { accumulate: true });

  // Full attention within each image: key j of image i is row i*N + j.
  const meta = new Int32Array(T * 3);
  for (let t = 0; t < T; t++) meta.set([t - (t % N), t % N, N], t * 3);
  const attnMeta = ws.ints("meta", meta);

  const x = ws.get("x", T * D);
  const q = ws.get("q", T * D);
  const k = ws.get("k", T * D);
  const v = ws.get("v", T * D);
  const attn = ws.get("attn", T * D);
  const mlp = ws.get("mlp", T * c.intermediateSize);
  for (const l of w.layers) {
    b.layerNorm(x, h, l.norm1, l.norm1Bias, T, c.layerNormEps);
    b.linear(q, x, l.q, l.qBias, T);
    b.linear(k, x, l.k, l.kBias, T);
    b.linear(v, x, l.v, l.vBias, T);
    b.attention(attn, q, k, v, attnMeta, T, { heads: c.numHeads, kvHeads: c.numHeads, headDim, scale: headDim ** -0.5 });
    b.linear(h, attn, l.out, l.outBias, T, { accumulate: true }); // h += attn(norm1(h))
    b.layerNorm(x, h, l.norm2, l.norm2Bias, T, c.layerNormEps);
    b.linear(mlp, x, l.fc1, l.fc1Bias, T, { gelu: true });
    b.linear(h, mlp, l.fc2, l.fc2Bias, T, { accumulate: true }); // h += mlp(norm2(h))
  }
  const out = ws.get("out", T * D);
  b.layerNorm(out, h, w.postNorm, w.postNormBias, T, c.layerNormEps);
  return out;
}
