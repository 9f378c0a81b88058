// dtype "auto" on WebGPU: the plan honours the device's binding limits (a weight is
// uploaded in row chunks of at most maxBindingBytes, so a chunked matrix needs one row
// to fit and a weight bound whole all of it; an activation buffer must fit one buffer)
// and the device-local memory the adapter reports (Chrome's GPUAdapterInfo.memoryHeaps).
// The sizes are checked against the real upload on SwiftShader: at a chunk limit that the
// plan says f16 exceeds and q8 fits, auto loads q8 and runs, and f16 asked for is refused
// before any upload with an OutOfMemoryError naming the tensor and both sizes.
import { describe, expect, test } from "vitest";
import type { Backend } from "../../src/backends/backend.js";
import { createWebGPUBackend, deviceLocalMemory } from "../../src/backends/webgpu/backend.js";
import { parseConfig } from "../../src/config.js";
import { OutOfMemoryError } from "../../src/errors.js";
import { chooseDtype, memoryPlan } from "../../src/model/memory-plan.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { ReferenceBackend } from "../reference/backend.js";
import { randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { testDevice } from "../harness/webgpu.js";

// A wide down_proj (K = 1984, 62 groups) makes the largest row the piece that decides:
// f16 3968 bytes, q8 1984, q4 992, below the patch-embedding conv (bound whole) at
// 16 * 3 * 4 * 4 * 2 = 1536. (An odd count of groups would make a quantized piece two rows.)
const config = {
  model_type: "paligemma",
  image_token_index: 99,
  vision_config: { hidden_size: 16, intermediate_size: 40, num_hidden_layers: 1, num_attention_heads: 2, image_size: 8, patch_size: 4 },
  text_config: {
    model_type: "gemma", hidden_size: 32, intermediate_size: 1984, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, vocab_size: 100,
  },
};
const c = parseConfig(config);
const files = { "config.json": new TextEncoder().encode(JSON.stringify(config)), "model.safetensors": writeSafetensors(randomCheckpoint(config, 3)) };
const inputs = { inputIds: Int32Array.from([99, 99, 99, 99, 2, 5, 7]), pixelValues: Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i) * 0.9) };
const plans = { f16: memoryPlan(c, "f16"), q8: memoryPlan(c, "q8"), q4: memoryPlan(c, "q4") };
const down = "language_model.model.layers.0.mlp.down_proj.weight";

/** The device with an adapter info that lists memory heaps, as Chrome's does with developer features. */
function withHeaps(device: GPUDevice, heaps: { size: number; properties: number }[]): GPUDevice {
  const adapterInfo = { ...device.adapterInfo, memoryHeaps: heaps };
  return new Proxy(device, {
    get: (t, prop) => (prop === "adapterInfo" ? adapterInfo : typeof Reflect.get(t, prop, t) === "function" ? Reflect.get(t, prop, t).bind(t) : Reflect.get(t, prop, t)),
  });
}

test("the plan's largest pieces: a row of a chunked matrix in each dtype, a weight bound whole, the largest activation", () => {
  expect(plans.f16.largestWeightPiece).toEqual({ name: down, bytes: 3968 });
  expect(plans.q8.largestWeightPiece).toEqual({ name: down, bytes: 1984 });
  expect(plans.q4.largestWeightPiece).toEqual({ name: "vision_tower.vision_model.embeddings.patch_embedding.weight", bytes: 1536 });
  // The decoder's MLP over image + planned prompt: (4 + 64) tokens * 1984 f32.
  expect(plans.f16.largestBuffer).toEqual({ name: "the decoder's MLP activation [tokens, intermediate]", bytes: 68 * 1984 * 4 });
});

describe("dtype auto on WebGPU", () => {
  test("a chunk limit f16's rows exceed: auto loads q8, it runs like the reference at q8, and f16 asked for is refused before any upload", async () => {
    const device = await testDevice();
    const limit = 3008; // q8's 1984 fits, f16's 3968 does not (a multiple of 16, as chunks are)
    const gpu = createWebGPUBackend(device, { maxBindingBytes: limit });
    expect(gpu.bindingLimits.weightBytes).toBe(limit);
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: gpu });
    try {
      expect(model.memory!.dtype).toBe("q8");
      expect(model.memory!.reason).toMatch(/^q8 .* is the most precise that fits the webgpu backend's buffers; f16 .*: .*down_proj\.weight needs 3968 bytes in one binding, over the 3008 a weight chunk may take \(.*maxBindingBytes\)\) would not$/);
      const reference = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend(), dtype: "q8" });
      const [got, want] = [(await model.forward(inputs)).logits, (await reference.forward(inputs)).logits];
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst).toBeLessThan(2e-3);
      reference.dispose();
    } finally {
      model.dispose();
    }

    const f16 = createWebGPUBackend(device, { maxBindingBytes: limit });
    const upload = f16.uploadWeight.bind(f16);
    let uploads = 0;
    f16.uploadWeight = (...args) => (uploads++, upload(...args));
    const error = await PaliGemmaForConditionalGeneration.load(files, { backend: f16, dtype: "f16" }).catch((e) => e);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(error.message).toMatch(/^this model does not fit the webgpu backend's buffers as f16: f16 .*down_proj\.weight needs 3968 bytes in one binding, over the 3008/);
    expect([error.neededBytes, error.limitBytes]).toEqual([3968, 3008]);
    expect(uploads).toBe(0);
    f16.dispose();
  });

  test("a chunk limit no dtype fits: an OutOfMemoryError naming the piece and the limit", async () => {
    const gpu = createWebGPUBackend(await testDevice(), { maxBindingBytes: 1024 });
    const error = await PaliGemmaForConditionalGeneration.load(files, { backend: gpu }).catch((e) => e);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(error.message).toMatch(/in no dtype it can be loaded as: f16 .*; q8 .*; q4 .*patch_embedding\.weight needs 1536 bytes in one binding, over the 1024 a weight chunk may take/);
    expect([error.neededBytes, error.limitBytes]).toEqual([1536, 1024]);
    gpu.dispose();
  });

  test("the device-local heap the adapter reports is the memory limit auto plans for", async () => {
    const device = await testDevice();
    expect(deviceLocalMemory(device)).toBeUndefined(); // Dawn in Node lists no heaps
    const heap = Math.floor((plans.q4.totalBytes + plans.q8.totalBytes) / 2);
    const reported = withHeaps(device, [
      { size: 64 * 2 ** 30, properties: 0x2 | 0x10 }, // host-visible system memory: not the GPU's
      { size: heap, properties: 0x1 },
    ]);
    const gpu = createWebGPUBackend(reported);
    expect(gpu.memoryLimit).toBe(heap);
    const model = await PaliGemmaForConditionalGeneration.load(files, { backend: gpu });
    expect(model.memory!.dtype).toBe("q4");
    expect(model.memory!.limitBytes).toBe(heap);
    expect(model.memory!.reason).toMatch(/^q4 .* is the most precise that fits the webgpu backend's limit of .*; f16 .*; q8 .* would not$/);
    model.dispose();
  });
});

test("an activation buffer over the device's buffer limit: no dtype helps, and the error names the buffer", () => {
  const backend = { name: "webgpu", bindingLimits: { weightBytes: 2 ** 30, bufferBytes: 100_000, source: "test limits" } } as Backend;
  let error: OutOfMemoryError | undefined;
  try {
    chooseDtype(c, "auto", backend, { allowed: ["f16", "q8", "q4"] });
  } catch (e) {
    error = e as OutOfMemoryError;
  }
  expect(error).toBeInstanceOf(OutOfMemoryError);
  expect(error!.message).toContain("the decoder's MLP activation [tokens, intermediate] needs a 539648-byte buffer, over the 100000 one buffer may take (test limits)");
  expect([error!.neededBytes, error!.limitBytes]).toEqual([539_648, 100_000]);
  // Within the limits, the plan is the most precise, and says the backend reports no memory size.
  const roomy = chooseDtype(c, "auto", { ...backend, bindingLimits: { ...backend.bindingLimits!, bufferBytes: 2 ** 30 } } as Backend, { allowed: ["f16", "q8", "q4"] });
  expect(roomy.dtype).toBe("f16");
  expect(roomy.reason).toMatch(/the webgpu backend reports no memory limit/);
});
