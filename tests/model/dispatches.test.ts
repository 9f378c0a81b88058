// What a decode step costs in GPU API calls, counted through a proxy of the device
// (tests/harness/counting-device.ts): compute dispatches per Gemma layer (the fused
// decode path's budget), and per token one submit, one writeBuffer (the uniform
// arena, which also carries the token's ids and positions) and one 4-byte readback
// (the next token id). Counts, not timings: the same on every machine.
// Per layer is the difference between the fixture's config at 1 and 2 text layers (random weights).
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import type { Backend } from "../../src/backends/backend.js";
import { createWebGPUBackend } from "../../src/backends/webgpu/backend.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { type Counts, countingDevice, countsSince } from "../harness/counting-device.js";
import { FIXTURES } from "../harness/fixtures.js";
import { testDevice } from "../harness/webgpu.js";

/**
 * Dispatches a Gemma layer may cost in decode, fused (see src/model/gemma.ts): QKV, rope +
 * append, attention, o-proj, gate/up, down (6), in both generations: Gemma 2's two
 * post-norm residual adds are done by the next linear reading h (the gate/up, the next
 * QKV; the last layer's by the LM head). Each budget leaves one for a split-key decode
 * attention (partials + a merge).
 */
const LAYER_BUDGET = { 1: 7, 2: 7 } as const;
const STEPS = 2;

/**
 * API calls per decode token of `config` with `layers` text layers, after a prefill and a
 * warm-up step, on `backend` (shared, so that its pipelines are compiled once).
 */
async function decodeCalls(backend: Backend, counts: Counts, config: Record<string, unknown>, layers: number): Promise<Record<string, number>> {
  const c = { ...config, text_config: { ...(config.text_config as object), num_hidden_layers: layers } };
  const files = {
    "config.json": new TextEncoder().encode(JSON.stringify(c)),
    "model.safetensors": writeSafetensors(randomCheckpoint(c, layers)),
  };
  const model = await PaliGemmaForConditionalGeneration.load(files, { backend });
  const v = model.config.vision;
  const pixelValues = Float32Array.from({ length: 3 * v.imageSize ** 2 }, (_, i) => Math.sin(i));
  const kvCache = model.createKVCache({ maxLength: v.numPatches + 4 + STEPS + 2 });
  const prompt = Int32Array.from([...Array(v.numPatches).fill(model.config.imageTokenId), 2, 3, 4, 5]);
  let { ids } = await model.nextTokens({ inputIds: prompt, pixelValues, kvCache });
  ids = (await model.nextTokens({ inputIds: ids, kvCache })).ids;
  const before = new Map(counts);
  for (let s = 0; s < STEPS; s++) ids = (await model.nextTokens({ inputIds: ids, kvCache })).ids;
  kvCache.dispose();
  return Object.fromEntries(Object.entries(countsSince(counts, before)).map(([k, n]) => [k, n / STEPS]));
}

describe.each(["tiny-pg1", "tiny-pg2"])("a %s decode step, counted", (name) => {
  const config = JSON.parse(readFileSync(`${FIXTURES}${name}/config.json`, "utf8"));
  const generation = config.text_config.model_type === "gemma2" ? 2 : 1;

  test(`≤ ${LAYER_BUDGET[generation]} dispatches per Gemma layer; one submit, one writeBuffer, one 4-byte readback per token`, async () => {
    const { device, counts } = countingDevice(await testDevice());
    const backend = createWebGPUBackend(device);
    const [at, above] = [await decodeCalls(backend, counts, config, 1), await decodeCalls(backend, counts, config, 2)];
    backend.dispose();
    const perLayer = above.dispatchWorkgroups - at.dispatchWorkgroups;
    // Outside the layers: embed, the LM head (rmsNorm, softcap and Gemma 2's last residual add fused) and argmax.
    expect(at.dispatchWorkgroups - perLayer).toBe(3);
    expect(perLayer).toBeLessThanOrEqual(LAYER_BUDGET[generation]);
    expect({ submit: at.submit, writeBuffer: at.writeBuffer, readback: at.readback, readbackBytes: at.readbackBytes }).toEqual({
      submit: 1,
      writeBuffer: 1,
      readback: 1,
      readbackBytes: 4,
    });
    // Nothing is created per token.
    expect(Object.keys(at).filter((k) => k.startsWith("create"))).toEqual([]);
  });
});
