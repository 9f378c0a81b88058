// The one table of checkpoint names. Names are Hugging Face's, verbatim, in the
// original PaliGemma layout; `canonicalName` maps the newer transformers layout
// (model.vision_tower.*, model.language_model.*, lm_head.*) onto it.
import type { PaliGemmaConfig } from "../config.js";

const LAYOUTS: [RegExp, string][] = [
  [/^model\.vision_tower\./, "vision_tower."],
  [/^model\.multi_modal_projector\./, "multi_modal_projector."],
  [/^model\.language_model\./, "language_model.model."],
  [/^lm_head\./, "language_model.lm_head."],
];

export function canonicalName(name: string): string {
  for (const [from, to] of LAYOUTS) if (from.test(name)) return name.replace(from, to);
  return name;
}

/** The newer layout's name for a canonical name, for error messages. */
export function newerLayoutName(name: string): string {
  return name
    .replace(/^vision_tower\./, "model.vision_tower.")
    .replace(/^multi_modal_projector\./, "model.multi_modal_projector.")
    .replace(/^language_model\.model\./, "model.language_model.")
    .replace(/^language_model\.lm_head\./, "lm_head.");
}

export const VISION = "vision_tower.vision_model.";
export const PROJECTOR = "multi_modal_projector.linear.";
export const TEXT = "language_model.model.";
export const LM_HEAD = "language_model.lm_head.weight";

/** Gemma 2 layers have these; Gemma layers don't. */
export const GEMMA2_ONLY_NORM = "pre_feedforward_layernorm";

/**
 * The matrices kept quantized under dtype q8/q4 (src/weights/quantize.ts): every nn.Linear
 * weight of SigLIP (q/k/v/out proj, fc1, fc2), the projector, every Gemma / Gemma 2
 * linear (q/k/v/o, gate/up/down), the token embedding (also the tied LM head) and
 * lm_head when present. Norms, biases, the patch-embedding conv and the position
 * embedding stay f16 (the mask decoder is not in the checkpoint).
 */
const QUANTIZED_WEIGHTS = [
  /^vision_tower\.vision_model\.encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight$/,
  /^multi_modal_projector\.linear\.weight$/,
  /^language_model\.model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/,
  /^language_model\.model\.embed_tokens\.weight$/,
  /^language_model\.lm_head\.weight$/,
];

/** Whether a canonical tensor name is one of the matrices quantized under q8/q4. */
export const isQuantizedWeight = (name: string) => QUANTIZED_WEIGHTS.some((r) => r.test(name));

/** A quantized matrix's two tensors on disk: `<name>.qweight` and `<name>.scales`, `<name>` without `.weight`. */
export type QuantizedPart = "qweight" | "scales";

/** `<name>.qweight` / `<name>.scales` -> the matrix's `<name>.weight` and which part; undefined for other names. */
export function quantizedPart(name: string): { weight: string; part: QuantizedPart } | undefined {
  const m = /^(.*)\.(qweight|scales)$/.exec(name);
  return m ? { weight: `${m[1]}.weight`, part: m[2] as QuantizedPart } : undefined;
}

/** The file name of a quantized matrix's part: `x.weight` -> `x.qweight` / `x.scales`. */
export const quantizedPartName = (weight: string, part: QuantizedPart) => `${weight.replace(/\.weight$/, "")}.${part}`;

/** The tower and layer a canonical name belongs to, undefined outside the layer stacks. */
export function layerOf(name: string): { tower: "vision" | "text"; layer: number } | undefined {
  const m = /^(?:vision_tower\.vision_model\.encoder|language_model\.model)\.layers\.(\d+)\./.exec(name);
  return m ? { tower: name.startsWith(VISION) ? "vision" : "text", layer: Number(m[1]) } : undefined;
}

/** Every tensor the model needs, with its shape. lm_head is optional (tied to the embeddings). */
export function expectedTensors(c: PaliGemmaConfig): Map<string, number[]> {
  const v = c.vision;
  const t = c.text;
  const m = new Map<string, number[]>();
  const P = v.patchSize;
  m.set(`${VISION}embeddings.patch_embedding.weight`, [v.hiddenSize, 3, P, P]);
  m.set(`${VISION}embeddings.patch_embedding.bias`, [v.hiddenSize]);
  m.set(`${VISION}embeddings.position_embedding.weight`, [v.numPatches, v.hiddenSize]);
  for (let i = 0; i < v.numLayers; i++) {
    const p = `${VISION}encoder.layers.${i}.`;
    for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
      m.set(`${p}self_attn.${proj}.weight`, [v.hiddenSize, v.hiddenSize]);
      m.set(`${p}self_attn.${proj}.bias`, [v.hiddenSize]);
    }
    for (const ln of ["layer_norm1", "layer_norm2"]) {
      m.set(`${p}${ln}.weight`, [v.hiddenSize]);
      m.set(`${p}${ln}.bias`, [v.hiddenSize]);
    }
    m.set(`${p}mlp.fc1.weight`, [v.intermediateSize, v.hiddenSize]);
    m.set(`${p}mlp.fc1.bias`, [v.intermediateSize]);
    m.set(`${p}mlp.fc2.weight`, [v.hiddenSize, v.intermediateSize]);
    m.set(`${p}mlp.fc2.bias`, [v.hiddenSize]);
  }
  m.set(`${VISION}post_layernorm.weight`, [v.hiddenSize]);
  m.set(`${VISION}post_layernorm.bias`, [v.hiddenSize]);

  m.set(`${PROJECTOR}weight`, [t.hiddenSize, v.hiddenSize]);
  m.set(`${PROJECTOR}bias`, [t.hiddenSize]);

  const D = t.hiddenSize;
  m.set(`${TEXT}embed_tokens.weight`, [t.vocabSize, D]);
  for (let i = 0; i < t.numLayers; i++) {
    const p = `${TEXT}layers.${i}.`;
    m.set(`${p}self_attn.q_proj.weight`, [t.numHeads * t.headDim, D]);
    m.set(`${p}self_attn.k_proj.weight`, [t.numKvHeads * t.headDim, D]);
    m.set(`${p}self_attn.v_proj.weight`, [t.numKvHeads * t.headDim, D]);
    m.set(`${p}self_attn.o_proj.weight`, [D, t.numHeads * t.headDim]);
    m.set(`${p}mlp.gate_proj.weight`, [t.intermediateSize, D]);
    m.set(`${p}mlp.up_proj.weight`, [t.intermediateSize, D]);
    m.set(`${p}mlp.down_proj.weight`, [D, t.intermediateSize]);
    m.set(`${p}input_layernorm.weight`, [D]);
    m.set(`${p}post_attention_layernorm.weight`, [D]);
    if (t.generation === 2) {
      m.set(`${p}${GEMMA2_ONLY_NORM}.weight`, [D]);
      m.set(`${p}post_feedforward_layernorm.weight`, [D]);
    }
  }
  m.set(`${TEXT}norm.weight`, [D]);
  m.set(LM_HEAD, [t.vocabSize, D]);
  return m;
}
