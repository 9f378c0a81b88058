// PaliGemma-3B-224 at its real size with random weights, as a checkpoint the SDK loads:
// config.json with the published model's exact sizes, and a bf16 model.safetensors
// generated while it is read (5.9 GB that never exist on disk or in memory whole), so
// the quantizer and the loader stream it like a downloaded checkpoint. Matrices are
// uniform with std 0.02 (the init PaliGemma's decoders use), so activations stay finite
// through 27 + 18 layers; LayerNorm weights are 1, Gemma's RMSNorm weights 0 ((1 + w)),
// biases 0.
import type { ModelFiles } from "../../src/weights/files.js";
import { expectedTensors, LM_HEAD } from "../../src/weights/names.js";
import { encodeHeader } from "../../src/weights/safetensors.js";
import { parseConfig } from "../../src/config.js";

/** google/paligemma-3b-pt-224's config.json, sizes spelled out (SigLIP So400m/14 + Gemma-2B). */
export const PALIGEMMA_3B_224 = {
  model_type: "paligemma",
  architectures: ["PaliGemmaForConditionalGeneration"],
  bos_token_id: 2,
  eos_token_id: 1,
  pad_token_id: 0,
  image_token_index: 257152,
  hidden_size: 2048,
  projection_dim: 2048,
  vocab_size: 257216,
  vision_config: {
    model_type: "siglip_vision_model", hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27,
    num_attention_heads: 16, image_size: 224, patch_size: 14, num_image_tokens: 256, projection_dim: 2048,
  },
  text_config: {
    model_type: "gemma", hidden_size: 2048, intermediate_size: 16384, num_hidden_layers: 18, num_attention_heads: 8,
    num_key_value_heads: 1, head_dim: 256, vocab_size: 257216, num_image_tokens: 256, rms_norm_eps: 1e-6,
  },
  torch_dtype: "bfloat16",
};

const STD = 0.02;
const CHUNK = 1 << 22; // bf16 values per generated piece (8 MB)

/** bf16 bits of `x` (round to nearest even). */
function bf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

export function fullSizeSource(config: Record<string, unknown> = PALIGEMMA_3B_224, seed = 1): ModelFiles & { bytes: number } {
  const tensors = [...expectedTensors(parseConfig(config))].filter(([name]) => name !== LM_HEAD);
  const entries = tensors.map(([name, shape]) => ({ name, dtype: "BF16" as const, shape, bytes: 2 * shape.reduce((a, b) => a * b, 1) }));
  const header = encodeHeader(entries);
  const size = header.length + entries.reduce((n, e) => n + e.bytes, 0);
  // 4096 uniform values in [-a, a] with std 0.02, drawn per element by a xorshift: fast enough to stream gigabytes.
  const a = STD * Math.sqrt(3);
  const table = Uint16Array.from({ length: 4096 }, (_, i) => bf16(((i + 0.5) / 4096) * 2 * a - a));
  const constant = (name: string) => (/layer_?norm\d?\.weight$|post_layernorm\.weight$/.test(name) && name.startsWith("vision") ? bf16(1) : 0);

  const stream = () => {
    let s = seed * 0x9e3779b9 || 1;
    let t = 0;
    let left = 0; // values of tensor t still to send
    let headerSent = false;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (!headerSent) {
          headerSent = true;
          c.enqueue(header.slice());
          left = entries[0].bytes / 2;
          return;
        }
        while (left === 0 && t < entries.length - 1) left = entries[++t].bytes / 2;
        if (left === 0) return c.close();
        const n = Math.min(CHUNK, left);
        const out = new Uint16Array(n);
        const { name, shape } = entries[t];
        if (shape.length === 1 || name.endsWith(".bias")) {
          out.fill(constant(name));
        } else {
          for (let i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >>> 17;
            s ^= s << 5;
            out[i] = table[s & 4095];
          }
        }
        left -= n;
        c.enqueue(new Uint8Array(out.buffer));
      },
    });
  };
  const text = (v: unknown) => ({ stream: () => new Blob([JSON.stringify(v)]).stream() });
  return {
    where: "a random PaliGemma-3B-224 (generated while read)",
    bytes: size,
    async open(name) {
      if (name === "config.json") return text(config);
      if (name === "model.safetensors") return { size, stream };
      return undefined;
    },
  };
}
