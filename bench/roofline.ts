// The memory-bandwidth roofline of a decode step, shared by the benchmarks: the bytes a
// token must read (every decoder weight and the LM head once, at the weights' dtype, plus
// the KV cache it attends over) and the fraction of the GPU's peak memory bandwidth a
// measured step reaches. Decode is bandwidth-bound, so that fraction is its efficiency.
//
// Peak bandwidths are the vendors' spec-sheet figures, found by the adapter's own words
// (adapter.info: Dawn puts the Vulkan device name in `device` or `description`); a GPU
// not in the table gets no fraction unless `--bandwidth GBps` gives its peak.
import type { PaliGemmaConfig } from "../src/config.js";
import { expectedTensors, isQuantizedWeight, LM_HEAD, TEXT } from "../src/weights/names.js";
import { bitsOf, quantizedBytes, type WeightDtype } from "../src/weights/quantize.js";

/** [what the adapter's words must match (lower case, words split on - and _), GB/s, name]; the first match wins. */
export const KNOWN_GPUS: readonly [RegExp, number, string][] = [
  [/\bgh200\b/, 4000, "NVIDIA GH200 (HBM3)"],
  [/\bh200\b/, 4800, "NVIDIA H200"],
  [/\bh100\b.*\bnvl\b/, 3900, "NVIDIA H100 NVL"],
  [/\bh100\b.*\bpcie\b/, 2000, "NVIDIA H100 PCIe"],
  [/\bh100\b/, 3350, "NVIDIA H100 SXM"],
  [/\bh800\b/, 3350, "NVIDIA H800 SXM"],
  [/\bb200\b/, 8000, "NVIDIA B200"],
  [/\ba100\b.*\b80gb\b.*\bpcie\b/, 1935, "NVIDIA A100 80GB PCIe"],
  [/\ba100\b.*\b80gb\b/, 2039, "NVIDIA A100 80GB SXM"],
  [/\ba100\b/, 1555, "NVIDIA A100 40GB"],
  [/\bl40s?\b/, 864, "NVIDIA L40/L40S"],
  [/\bl4\b/, 300, "NVIDIA L4"],
  [/\ba10g\b/, 600, "NVIDIA A10G"],
  [/\ba10\b/, 600, "NVIDIA A10"],
  [/\bt4\b/, 320, "NVIDIA T4"],
  [/\bv100\b/, 900, "NVIDIA V100"],
  [/\brtx 5090\b/, 1792, "NVIDIA RTX 5090"],
  [/\brtx 4090\b/, 1008, "NVIDIA RTX 4090"],
  [/\brtx 4080\b/, 717, "NVIDIA RTX 4080"],
  [/\brtx 3090\b/, 936, "NVIDIA RTX 3090"],
  [/\brtx 6000 ada\b/, 960, "NVIDIA RTX 6000 Ada"],
  [/\brtx a6000\b/, 768, "NVIDIA RTX A6000"],
  [/\bmi300x\b/, 5300, "AMD Instinct MI300X"],
  [/\bmi250x?\b/, 3277, "AMD Instinct MI250X"],
  [/\bm2 pro\b/, 200, "Apple M2 Pro"],
  [/\bm3 max\b/, 400, "Apple M3 Max"],
];

export interface AdapterWords {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

/** The adapter's peak memory bandwidth: `override` (a --bandwidth flag) else the table; undefined when neither knows it. */
export function peakBandwidth(info: AdapterWords, override?: number): { GBps: number; source: string } | undefined {
  if (override !== undefined) return { GBps: override, source: "--bandwidth" };
  const words = [info.vendor, info.architecture, info.device, info.description].join(" ").toLowerCase().replace(/[-_]/g, " ");
  const hit = KNOWN_GPUS.find(([pattern]) => pattern.test(words));
  return hit && { GBps: hit[1], source: hit[2] };
}

/** `--bandwidth GBps` from argv: undefined when absent; a usage error when not a positive number. */
export function bandwidthFlag(argv: readonly string[]): number | undefined {
  const i = argv.indexOf("--bandwidth");
  if (i < 0) return undefined;
  const GBps = Number(argv[i + 1]);
  if (!(GBps > 0)) throw new Error(`--bandwidth takes the GPU's peak memory bandwidth in GB/s (e.g. --bandwidth 3350), got ${argv[i + 1]}`);
  return GBps;
}

/** Bytes one tensor of `shape` takes on the device at `dtype` (quantized matrices: words + scales). */
export function tensorBytes(name: string, shape: readonly number[], dtype: WeightDtype): number {
  if (dtype !== "f16" && isQuantizedWeight(name)) return quantizedBytes(shape[0], shape[1], bitsOf(dtype));
  return 2 * shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes a decode step reads at least: the decoder's weights (every layer, the final norm)
 * and the LM head (the tied embedding unless the checkpoint has lm_head), once each, and
 * the f32 keys and values of `keys` cached tokens in every layer. The embedding row
 * looked up and the activations are left out (kilobytes).
 */
export function decodeBytesPerToken(c: PaliGemmaConfig, dtype: WeightDtype, keys: number, untiedLmHead = false): number {
  let bytes = 0;
  for (const [name, shape] of expectedTensors(c)) {
    const decoder = name.startsWith(`${TEXT}layers.`) || name === `${TEXT}norm.weight`;
    const head = name === (untiedLmHead ? LM_HEAD : `${TEXT}embed_tokens.weight`);
    if (decoder || head) bytes += tensorBytes(name, shape, dtype);
  }
  const t = c.text;
  return bytes + t.numLayers * 2 * keys * t.numKvHeads * t.headDim * 4;
}

/** The roofline figures of a step that read `bytes` in `ms`: achieved GB/s and, where the peak is known, its fraction. */
export function roofline(bytes: number, ms: number, peak?: { GBps: number }): { GBps: number; fraction?: number } {
  const GBps = bytes / ms / 1e6;
  return { GBps, fraction: peak && GBps / peak.GBps };
}
