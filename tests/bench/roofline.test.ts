// bench/roofline.ts, which bench/gpu.sh's figures rest on: the GPU table found by the words
// Dawn reports (Vulkan device names), the --bandwidth override, and the bytes a decode
// step of PaliGemma-3B reads at each dtype, against sums written out by hand here.
import { describe, expect, test } from "vitest";
import { bandwidthFlag, decodeBytesPerToken, peakBandwidth, roofline } from "../../bench/roofline.js";
import { parseConfig } from "../../src/config.js";

describe("peak bandwidth", () => {
  test.each([
    [{ vendor: "nvidia", architecture: "hopper", device: "NVIDIA H200", description: "NVIDIA: 560.35.03" }, 4800],
    [{ vendor: "nvidia", architecture: "hopper", device: "nvidia-h100-80gb-hbm3" }, 3350],
    [{ vendor: "nvidia", device: "NVIDIA H100 PCIe" }, 2000],
    [{ vendor: "nvidia", device: "NVIDIA A100-SXM4-80GB" }, 2039],
    [{ vendor: "nvidia", device: "NVIDIA A100-PCIE-40GB" }, 1555],
    [{ vendor: "nvidia", device: "NVIDIA GeForce RTX 4090" }, 1008],
    [{ vendor: "nvidia", device: "NVIDIA L4" }, 300],
    [{ vendor: "nvidia", device: "NVIDIA GH200 480GB" }, 4000],
  ])("%o: %i GB/s", (info, GBps) => {
    expect(peakBandwidth(info)?.GBps).toBe(GBps);
  });
  test("an unknown or software adapter has none unless --bandwidth gives it", () => {
    const swiftshader = { vendor: "google", architecture: "swiftshader", device: "swiftshader-device-subzero-", description: "SwiftShader driver 5.0.0" };
    expect(peakBandwidth(swiftshader)).toBeUndefined();
    expect(peakBandwidth(swiftshader, bandwidthFlag(["node", "x", "--bandwidth", "51.2"]))).toEqual({ GBps: 51.2, source: "--bandwidth" });
    expect(bandwidthFlag(["node", "x"])).toBeUndefined();
    expect(() => bandwidthFlag(["--bandwidth", "fast"])).toThrow(/GB\/s/);
    expect(roofline(4.8e9, 1, { GBps: 4800 })).toEqual({ GBps: 4800, fraction: 1 });
    expect(roofline(1e9, 2).fraction).toBeUndefined();
  });
});

describe("bytes a decode step reads", () => {
  // PaliGemma-3B's decoder: Gemma-2B, 18 layers, 8 heads on 1 kv head of 256, tied 257216 × 2048 head.
  const c = parseConfig({
    text_config: { model_type: "gemma", hidden_size: 2048, intermediate_size: 16384, num_hidden_layers: 18, num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, vocab_size: 257216 },
  });
  const matrices = 18 * (2048 * 2048 + 2 * 256 * 2048 + 2048 * 2048 + 3 * 16384 * 2048) + 257216 * 2048;
  const norms = 18 * 2 * 2048 + 2048;
  const kv = (keys: number) => 18 * 2 * keys * 256 * 4;
  test("f16: 2 bytes per weight, plus f32 keys and values", () => {
    expect(decodeBytesPerToken(c, "f16", 0)).toBe(2 * (matrices + norms));
    expect(decodeBytesPerToken(c, "f16", 266) - decodeBytesPerToken(c, "f16", 0)).toBe(kv(266));
  });
  test("q8 and q4: the words and one f16 scale per 32 weights; norms stay f16", () => {
    expect(decodeBytesPerToken(c, "q8", 0)).toBe(matrices * (1 + 2 / 32) + 2 * norms);
    expect(decodeBytesPerToken(c, "q4", 0)).toBe(matrices * (0.5 + 2 / 32) + 2 * norms);
    expect(decodeBytesPerToken(c, "q4", 0) / 1e9).toBeCloseTo(1.41, 2);
  });
});
