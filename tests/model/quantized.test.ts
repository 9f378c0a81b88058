// The whole model on quantized weights is exact: loaded as q8 or q4 (quantized at load,
// the same words on every backend), every prefix logit (the matmul path) and the logits of
// 4 decode steps with the KV cache (the GEMV path) on each backend are within 2e-3 of
// the reference backend's, which runs the same graph in plain TS on the dequantized
// weights (q · scale, exact in f32). On the goldens' tiny-pg1 (PaliGemma) and tiny-pg2
// (PaliGemma 2) and on the odd-size config where every row ends in a padded group. The
// kernels' own random-shape tests are tests/kernels/quantized.test.ts; how much
// quantizing costs in quality is tests/model/quantization-quality.test.ts.
import { describe, test } from "vitest";
import type { Backend } from "../../src/backends/backend.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { backends } from "../harness/backends.js";
import { ODD_QUANT_CONFIG, randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { expectClose, maxAbsDiff } from "../harness/compare.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

// Absolute, on logits of scale ~1: the goldens' bar for every backend (tests/model/goldens.test.ts).
const TOL = { atol: 2e-3 };

interface Case {
  name: string;
  files: Record<string, Uint8Array>;
  inputs: { inputIds: Int32Array; pixelValues: Float32Array; batch: number };
}

function golden(fixture: string): Case {
  const g = readTensors(`${FIXTURES}${fixture}/golden.safetensors`);
  const inputIds = g.get("input_ids")!;
  return {
    name: fixture,
    files: folderFiles(`${FIXTURES}${fixture}`),
    inputs: { inputIds: inputIds.data as Int32Array, pixelValues: g.get("pixel_values")!.data as Float32Array, batch: inputIds.shape[0] },
  };
}

const IMAGE = ODD_QUANT_CONFIG.image_token_index;
const oddSize: Case = {
  name: "odd-size (K = 40, 50, 48, 70)",
  files: { "config.json": new TextEncoder().encode(JSON.stringify(ODD_QUANT_CONFIG)), "model.safetensors": writeSafetensors(randomCheckpoint(ODD_QUANT_CONFIG, 3)) },
  inputs: {
    // Two rows: 4 image tokens, <bos>, a prompt of 20 ids over the whole vocabulary.
    inputIds: Int32Array.from({ length: 2 * 25 }, (_, i) => (i % 25 < 4 ? IMAGE : i % 25 === 4 ? 2 : 3 + ((i * 37) % 95))),
    pixelValues: Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 0.7) * 0.9),
    batch: 2,
  },
};

/** Decode steps after the prompt: each row is fed these ids one at a time (batch rows at once: the GEMV path). */
const DECODE = [5, 7, 11, 13];

/** Every prefix logit, then each decode step's logits, concatenated. */
const logitsOf = async (c: Case, dtype: "q8" | "q4", backend: Backend) => {
  const model = await PaliGemmaForConditionalGeneration.load(c.files, { backend, dtype });
  try {
    const kvCache = model.createKVCache({ batch: c.inputs.batch });
    const out = [(await model.forward({ ...c.inputs, kvCache })).logits];
    for (const id of DECODE) out.push((await model.forward({ inputIds: new Int32Array(c.inputs.batch).fill(id), batch: c.inputs.batch, kvCache })).logits);
    kvCache.dispose();
    const all = new Float32Array(out.reduce((n, l) => n + l.length, 0));
    out.reduce((at, l) => (all.set(l, at), at + l.length), 0);
    return all;
  } finally {
    model.dispose();
  }
};

describe.each(["q8", "q4"] as const)("%s", (dtype) => {
  describe.each([golden("tiny-pg1"), golden("tiny-pg2"), oddSize])("$name", (c) => {
    let reference: Promise<Float32Array> | undefined;
    test.each(backends)("every prefix logit and 4 decode steps' on $name are within 2e-3 of the reference on the dequantized weights", async ({ name, create }) => {
      reference ??= logitsOf(c, dtype, new ReferenceBackend());
      const [got, want] = [await logitsOf(c, dtype, await create()), await reference];
      console.log(`${dtype} ${c.name} on ${name}: max |logit - reference| ${maxAbsDiff(got, want).toExponential(2)} over ${want.length} logits`);
      expectClose(got, want, TOL, `${dtype} ${c.name} prefix and decode logits`);
    });
  });
});
