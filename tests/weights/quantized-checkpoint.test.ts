// Quantized weights through the loader: dtype q8/q4 quantizes exactly names.ts's table of
// matrices at load with quantizeMatrix, a quantized folder (`<name>.qweight` U32 +
// `<name>.scales` F16, config.json quantization_config) loads as stored with the same
// words, every broken quantized file is an error naming the tensor, and `auto` picks
// the most precise dtype whose memory plan fits, before anything is uploaded.
import { describe, expect, test } from "vitest";
import { ConfigError, InputError, OutOfMemoryError, WeightsError } from "../../src/errors.js";
import { memoryPlan, PLAN_NEW_TOKENS, PLAN_PROMPT_TOKENS } from "../../src/model/memory-plan.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { generateTokens } from "../../src/tasks/generate.js";
import { LM_HEAD, newerLayoutName } from "../../src/weights/names.js";
import { quantizationConfig, quantizeMatrix, type QuantBits, type WeightDtype } from "../../src/weights/quantize.js";
import { parseConfig } from "../../src/config.js";
import { ODD_QUANT_CONFIG, randomCheckpoint, writeSafetensors, type NamedTensor, type RawTensor } from "../harness/checkpoints.js";
import { RecordingBackend } from "../harness/recording-backend.js";

const config = ODD_QUANT_CONFIG;
const N = 4; // (8 / 4)² image tokens
const tensors = randomCheckpoint(config, 5);
const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const inputIds = Int32Array.from([...Array(N).fill(99), 2, 5, 7, 11]);
const pixelValues = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => Math.sin(i) * 0.9);

/** The matrices the format quantizes, listed from its text (not from names.ts). */
const QUANTIZED = [
  ...[0, 1].flatMap((i) => [
    ...["q_proj", "k_proj", "v_proj", "out_proj"].map((p) => `vision_tower.vision_model.encoder.layers.${i}.self_attn.${p}.weight`),
    ...["fc1", "fc2"].map((p) => `vision_tower.vision_model.encoder.layers.${i}.mlp.${p}.weight`),
  ]),
  "multi_modal_projector.linear.weight",
  ...[0, 1].flatMap((i) => [
    ...["q_proj", "k_proj", "v_proj", "o_proj"].map((p) => `language_model.model.layers.${i}.self_attn.${p}.weight`),
    ...["gate_proj", "up_proj", "down_proj"].map((p) => `language_model.model.layers.${i}.mlp.${p}.weight`),
  ]),
  "language_model.model.embed_tokens.weight",
].sort();

const expectedMatrix = (name: string, bits: QuantBits) => {
  const t = tensors.get(name)!;
  return quantizeMatrix(t.values, t.shape[0], t.shape[1], bits);
};

/** The checkpoint with every quantized matrix stored as the format says, written by hand here. */
function quantizedFiles(bits: QuantBits, edit: (m: Map<string, NamedTensor | RawTensor>) => void = () => {}) {
  const out = new Map<string, NamedTensor | RawTensor>();
  for (const [name, t] of tensors) {
    if (!QUANTIZED.includes(name)) {
      out.set(name, t);
      continue;
    }
    const [rows, K] = t.shape;
    const m = expectedMatrix(name, bits);
    const base = name.replace(/\.weight$/, "");
    out.set(`${base}.qweight`, { dtype: "U32", shape: [rows, m.qweight.length / rows], bytes: new Uint8Array(m.qweight.buffer) });
    out.set(`${base}.scales`, { dtype: "F16", shape: [rows, Math.ceil(K / 32)], bytes: new Uint8Array(m.scales.buffer) });
  }
  edit(out);
  return { "config.json": json({ ...config, quantization_config: quantizationConfig(bits) }), "model.safetensors": writeSafetensors(out) };
}
const floatFiles = { "config.json": json(config), "model.safetensors": writeSafetensors(tensors) };

async function load(files: Record<string, Uint8Array>, dtype?: WeightDtype | "auto", backend = new RecordingBackend(), maxMemoryBytes?: number) {
  const model = await PaliGemmaForConditionalGeneration.load(files, { backend, dtype, maxMemoryBytes });
  return { model, backend, logits: (await model.forward({ inputIds, pixelValues })).logits };
}

describe.each([8, 4] as QuantBits[])("q%i", (bits) => {
  const dtype = `q${bits}` as const;

  test("loading a bf16 checkpoint quantizes exactly the format's matrices, with quantizeMatrix", async () => {
    const { model, backend } = await load(floatFiles, dtype);
    expect(model.memory?.dtype).toBe(dtype);
    expect([...backend.quantized.keys()].sort()).toEqual(QUANTIZED);
    for (const name of QUANTIZED) {
      const got = backend.quantized.get(name)!;
      const want = expectedMatrix(name, bits);
      expect(got.bits, name).toBe(bits);
      expect(got.qweight, name).toEqual(want.qweight);
      expect(got.scales, name).toEqual(want.scales);
    }
    // Everything else stays f16: norms, biases, the patch conv, the position embedding.
    expect([...backend.f16.keys()].sort()).toEqual([...tensors.keys()].filter((n) => !QUANTIZED.includes(n)).sort());
  });

  test("a quantized folder loads as stored (auto): the same words, the same logits as quantizing at load", async () => {
    const atLoad = await load(floatFiles, dtype);
    const folder = await load(quantizedFiles(bits));
    expect(folder.model.memory?.dtype).toBe(dtype);
    expect(folder.model.memory?.reason).toMatch(new RegExp(`quantized to ${dtype}`));
    expect([...folder.backend.quantized.keys()].sort()).toEqual(QUANTIZED);
    for (const name of QUANTIZED) expect(folder.backend.quantized.get(name), name).toEqual(atLoad.backend.quantized.get(name));
    expect(folder.logits).toEqual(atLoad.logits);
    // Asking for its own dtype is the same.
    expect((await load(quantizedFiles(bits), dtype)).logits).toEqual(atLoad.logits);
  });

  test("the newer layout and an explicit lm_head, quantized", async () => {
    const files = quantizedFiles(bits, (m) => {
      const renamed = new Map([...m].map(([n, t]) => [newerLayoutName(n.replace(/\.(qweight|scales)$/, ".weight")).replace(/\.weight$/, n.match(/\.\w+$/)![0]), t]));
      m.clear();
      for (const [n, t] of renamed) m.set(n, t);
      m.set("lm_head.qweight", m.get("model.language_model.embed_tokens.qweight")!);
      m.set("lm_head.scales", m.get("model.language_model.embed_tokens.scales")!);
    });
    const { backend, model, logits } = await load(files);
    expect(backend.quantized.get(LM_HEAD)).toEqual(expectedMatrix("language_model.model.embed_tokens.weight", bits));
    expect(logits).toEqual((await load(quantizedFiles(bits))).logits);
    // An untied head is planned for: one more [V, D] matrix.
    const tied = memoryPlan(parseConfig(config), dtype);
    expect(model.memory!.weightsBytes - tied.weightsBytes).toBe(backend.quantized.get(LM_HEAD)!.qweight.byteLength + backend.quantized.get(LM_HEAD)!.scales.byteLength);
  });

  test("a quantized folder loaded as f16 or as the other bits is an InputError saying what it is", async () => {
    await expect(load(quantizedFiles(bits), "f16")).rejects.toThrow(InputError);
    await expect(load(quantizedFiles(bits), "f16")).rejects.toThrow(new RegExp(`quantized to ${dtype}.*only as dtype "${dtype}" or "auto", not "f16"; for f16 load the checkpoint it was quantized from`));
    const other = bits === 8 ? "q4" : "q8";
    await expect(load(quantizedFiles(bits), other)).rejects.toThrow(new RegExp(`not "${other}"`));
  });

  test("broken quantized tensors are errors naming the tensor", async () => {
    const down = "language_model.model.layers.1.mlp.down_proj"; // [48, 70]: 3 groups, words of 96 values
    const words = bits === 4 ? 12 : 24;
    const broken = (edit: (m: Map<string, NamedTensor | RawTensor>) => void) => load(quantizedFiles(bits, edit));
    await expect(
      broken((m) => {
        const t = m.get(`${down}.qweight`) as RawTensor;
        m.set(`${down}.qweight`, { ...t, shape: [words, 48], bytes: t.bytes });
      }),
    ).rejects.toThrow(new RegExp(`${down}\\.qweight is U32 \\[${words},48\\], but q${bits} of ${down}\\.weight \\[48,70\\] stores qweight as U32 \\[48,${words}\\]`));
    await expect(
      broken((m) => {
        const t = m.get(`${down}.scales`) as RawTensor;
        m.set(`${down}.scales`, { dtype: "U32", shape: [48, 3], bytes: new Uint8Array(48 * 3 * 4) } as RawTensor);
        void t;
      }),
    ).rejects.toThrow(new RegExp(`${down}\\.scales is U32 \\[48,3\\], but .* stores scales as F16 \\[48,3\\]`));
    await expect(broken((m) => m.delete(`${down}.scales`))).rejects.toThrow(new RegExp(`has ${down}\\.qweight but not ${down}\\.scales`));
    await expect(broken((m) => (m.delete(`${down}.scales`), m.delete(`${down}.qweight`)))).rejects.toThrow(
      new RegExp(`lacks 1 tensor.*${down}\\.qweight \\+ \\.scales`),
    );
    const norm = "language_model.model.norm";
    await expect(
      broken((m) => {
        m.delete(`${norm}.weight`);
        m.set(`${norm}.qweight`, { dtype: "U32", shape: [1, 1], bytes: new Uint8Array(4) });
      }),
    ).rejects.toThrow(/norm\.qweight is quantized, but language_model\.model\.norm\.weight is not a matrix the format quantizes/);
    await expect(
      broken((m) => m.set(`${down}.weight`, tensors.get(`${down}.weight`)!)),
    ).rejects.toThrow(WeightsError);
    // Words without a quantization_config: the loader cannot know the bits.
    const noConfig = { ...quantizedFiles(bits), "config.json": json(config) };
    await expect(load(noConfig)).rejects.toThrow(/is quantized, but config\.json has no quantization_config/);
  });
});

test("a quantization_config of another format is a ConfigError", async () => {
  for (const q of [{ quant_method: "gptq", bits: 4, group_size: 128 }, { ...quantizationConfig(4), group_size: 64 }, { ...quantizationConfig(4), bits: 3 }, "q4"]) {
    await expect(load({ ...floatFiles, "config.json": json({ ...config, quantization_config: q }) })).rejects.toThrow(ConfigError);
  }
});

test("a float matrix in a quantized folder is quantized at load to the folder's bits", async () => {
  const name = "language_model.model.layers.0.mlp.up_proj.weight";
  const files = quantizedFiles(4, (m) => {
    m.delete(name.replace(/weight$/, "qweight"));
    m.delete(name.replace(/weight$/, "scales"));
    m.set(name, tensors.get(name)!);
  });
  const { backend } = await load(files);
  expect(backend.quantized.get(name)).toEqual(expectedMatrix(name, 4));
});

describe("the memory plan and dtype auto", () => {
  const c = parseConfig(config);
  const plans = Object.fromEntries((["f16", "q8", "q4"] as const).map((d) => [d, memoryPlan(c, d)]));

  // Sampled, the largest generation: greedy needs no uniforms buffer (4 bytes less).
  test("predicts exactly the bytes a generation holds at its peak (planned prompt and new tokens, one image)", async () => {
    for (const dtype of ["f16", "q8", "q4"] as const) {
      const backend = new RecordingBackend();
      const model = await PaliGemmaForConditionalGeneration.load(floatFiles, { backend, dtype });
      const plan = plans[dtype];
      expect(model.memory).toMatchObject(plan);
      expect(backend.liveBytes, `${dtype} weights`).toBe(plan.weightsBytes);
      const ids = Int32Array.from([...Array(N).fill(99), 2, ...Array.from({ length: PLAN_PROMPT_TOKENS - 1 }, (_, i) => 3 + (i % 90))]);
      let steps = 0;
      for await (const _ of generateTokens(model, { inputIds: ids, pixelValues, batch: 1 }, { maxNewTokens: PLAN_NEW_TOKENS, stopTokens: [], temperature: 1, seed: 1 })) steps++;
      expect(steps).toBe(PLAN_NEW_TOKENS);
      expect(backend.peakBytes, `${dtype} peak`).toBe(plan.totalBytes);
    }
  });

  test("auto picks the most precise dtype that fits, says why, and fails before any upload when none does", async () => {
    const between = (a: number, b: number) => Math.floor((a + b) / 2);
    const cases: [number | undefined, WeightDtype][] = [
      [undefined, "f16"],
      [plans.f16.totalBytes, "f16"],
      [between(plans.q8.totalBytes, plans.f16.totalBytes), "q8"],
      [between(plans.q4.totalBytes, plans.q8.totalBytes), "q4"],
    ];
    for (const [limit, dtype] of cases) {
      const { model } = await load(floatFiles, "auto", new RecordingBackend(limit));
      expect(model.memory?.dtype, `limit ${limit}`).toBe(dtype);
      expect(model.memory?.limitBytes).toBe(limit);
      expect(model.memory?.plans.map((p) => p.dtype)).toEqual(["f16", "q8", "q4"]);
    }
    const q4 = (await load(floatFiles, "auto", new RecordingBackend(between(plans.q4.totalBytes, plans.q8.totalBytes)))).model.memory!;
    expect(q4.reason).toMatch(/^q4 .* is the most precise that fits the reference backend's limit of .*; f16 .*; q8 .* would not/);
    // maxMemoryBytes caps a backend without a limit of its own (WebGPU reports none).
    expect((await load(floatFiles, "auto", new RecordingBackend(), between(plans.q8.totalBytes, plans.f16.totalBytes))).model.memory?.dtype).toBe("q8");

    const tooSmall = new RecordingBackend(plans.q4.totalBytes - 1);
    const error = await load(floatFiles, "auto", tooSmall).catch((e) => e);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(error.message).toMatch(/does not fit the reference backend's limit of .* in no dtype .*: f16 .*weights .*KV cache .*activations .*; q8 .*; q4 /);
    expect(error.neededBytes).toBe(plans.q4.totalBytes);
    expect(error.limitBytes).toBe(plans.q4.totalBytes - 1);
    expect(tooSmall.peakBytes).toBe(0);
    // A dtype asked for that does not fit fails the same way, naming it.
    await expect(load(floatFiles, "f16", new RecordingBackend(plans.q8.totalBytes))).rejects.toThrow(/as f16: f16 /);
    await expect(load(floatFiles, "q3" as WeightDtype)).rejects.toThrow(/dtype must be "f16", "q8", "q4" or "auto", got "q3"/);
  });
});
