// Issue 16, items 4-5 for weights: NaN, inf and values out of f16's range are refused at
// upload on every backend, naming the tensor (WebGPU used to accept them and answer
// <pad><pad>...); a header claiming a tensor of 2^40 bytes from a server that sends no
// Content-Length is a WeightsError before anything is allocated.
import { describe, expect, test } from "vitest";
import { type PaliGemmaError, WeightsError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import type { Backend } from "../../src/backends/backend.js";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { backends } from "../harness/backends.js";
import { writeSafetensors, type NamedTensor, type StDType } from "../harness/checkpoints.js";
import { localServer, modelFiles, tensors, weights } from "./small-model.js";

const TARGET = "language_model.model.layers.1.mlp.up_proj.weight";

/** The checkpoint with one element of TARGET set to `value`, stored as `dtype`. */
function poisoned(value: number, dtype: StDType): Uint8Array {
  const changed = new Map<string, NamedTensor>();
  for (const [name, t] of tensors) {
    const values = t.values.slice();
    if (name === TARGET) values[7] = value;
    changed.set(name, { ...t, dtype: name === TARGET ? dtype : t.dtype, values });
  }
  return writeSafetensors(changed);
}

async function loadError(files: Parameters<typeof PaliGemmaForConditionalGeneration.load>[0], backend: Backend): Promise<PaliGemmaError> {
  const e = await PaliGemmaForConditionalGeneration.load(files, { backend }).then(
    (m) => void m.dispose(),
    (err: PaliGemmaError) => err,
  );
  backend.dispose();
  if (!e) throw new Error("the checkpoint loaded");
  return e;
}

describe.each(backends)("$name refuses weights it cannot hold", ({ create }) => {
  test.each([
    [Number.NaN, "BF16", "f16 bits 0x7e00, which is not a finite f16"],
    [Number.POSITIVE_INFINITY, "F16", "f16 bits 0x7c00, which is not a finite f16"],
    [Number.NEGATIVE_INFINITY, "F32", "f16 bits 0xfc00, which is not a finite f16"],
    [1e6, "BF16", "f16 bits 0x7c00, which is not a finite f16; weights are stored as f16 (largest magnitude 65504)"],
    [70000, "F32", "f16 bits 0x7c00, which is not a finite f16"],
  ] as const)("%d as %s", async (value, dtype, fragment) => {
    const e = await loadError(modelFiles({ "model.safetensors": poisoned(value, dtype) }), await create());
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.code).toBe("INVALID_WEIGHTS");
    expect(e.message).toContain(`${TARGET}: element 7 is`);
    expect(e.message).toContain(fragment);
  });
});

test("a 2^40-byte tensor from a server without Content-Length is refused from its header", async () => {
  // The real header, but the embedding claims 2^40 bytes at the end of the data.
  const name = "language_model.model.embed_tokens.weight";
  const headerLength = Number(new DataView(weights.buffer).getBigUint64(0, true));
  const entries = JSON.parse(new TextDecoder().decode(weights.subarray(8, 8 + headerLength)));
  const end = Math.max(...Object.values(entries).map((e) => (e as { data_offsets: number[] }).data_offsets[1]));
  entries[name] = { dtype: "F16", shape: [2 ** 20, 2 ** 19], data_offsets: [end, end + 2 ** 40] };
  const header = new TextEncoder().encode(JSON.stringify(entries));
  const head = new Uint8Array(8 + header.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(header.length), true);
  head.set(header, 8);
  const data = weights.subarray(8 + headerLength);
  const files = modelFiles();
  const server = await localServer((req, res) => {
    const file = req.url!.slice("/model/".length);
    if (file === "model.safetensors") {
      res.writeHead(200); // chunked: no Content-Length
      res.write(head);
      res.end(data);
    } else if (files[file]) res.writeHead(200).end(files[file]);
    else res.writeHead(404).end();
  });
  try {
    const e = await loadError(`${server.origin}/model/`, await createWasmBackend());
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.code).toBe("INVALID_WEIGHTS");
    expect(e.message).toContain(`model.safetensors: tensor ${name} has shape [1048576,524288] but config.json implies [96,16]`);
  } finally {
    await server.close();
  }
});
