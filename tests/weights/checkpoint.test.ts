// Loading checkpoints as they are published: one file or shards, both name layouts,
// bf16/f16/f32, from a map of files, a folder path or a URL; and every way a file can
// be broken gives an error naming the tensor.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { LoadError, OutOfMemoryError, WeightsError } from "../../src/errors.js";
import { parseConfig } from "../../src/config.js";
import { memoryPlan } from "../../src/model/memory-plan.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import type { LoadProgress } from "../../src/weights/progress.js";
import { newerLayoutName } from "../../src/weights/names.js";
import { randomCheckpoint, writeSafetensors, type NamedTensor, type StDType } from "../harness/checkpoints.js";
import { ReferenceBackend } from "../reference/backend.js";

const config = {
  model_type: "paligemma",
  image_token_index: 90,
  vision_config: { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2, image_size: 8, patch_size: 4 },
  text_config: {
    model_type: "gemma", hidden_size: 16, intermediate_size: 20, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, vocab_size: 96,
  },
};
const configBytes = new TextEncoder().encode(JSON.stringify(config));
const tensors = randomCheckpoint(config, 3);
const inputIds = Int32Array.from([90, 90, 90, 90, 2, 5, 7, 11]);
const pixelValues = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => Math.sin(i) * 0.9);

async function logitsOf(files: Parameters<typeof PaliGemmaForConditionalGeneration.load>[0], onProgress?: (p: LoadProgress) => void) {
  const model = await PaliGemmaForConditionalGeneration.load(files, { backend: new ReferenceBackend(), onProgress });
  try {
    return (await model.forward({ inputIds, pixelValues })).logits;
  } finally {
    model.dispose();
  }
}

const withDtype = (dtype: StDType) => new Map([...tensors].map(([n, t]) => [n, { ...t, dtype }] as [string, NamedTensor]));
const expected = logitsOf({ "config.json": configBytes, "model.safetensors": writeSafetensors(tensors) });

describe("checkpoint formats give identical logits", () => {
  test.each(["F16", "F32"] as StDType[])("%s tensors", async (dtype) => {
    expect(await logitsOf({ "config.json": configBytes, "model.safetensors": writeSafetensors(withDtype(dtype)) })).toEqual(await expected);
  });

  test("the newer transformers layout (model.language_model.*, lm_head.*) with an explicit lm_head", async () => {
    const renamed = new Map([...tensors].map(([n, t]) => [newerLayoutName(n), t] as [string, NamedTensor]));
    renamed.set("lm_head.weight", tensors.get("language_model.model.embed_tokens.weight")!);
    expect(await logitsOf({ "config.json": configBytes, "model.safetensors": writeSafetensors(renamed) })).toEqual(await expected);
  });

  test("shards listed in model.safetensors.index.json, with progress per file", async () => {
    const names = [...tensors.keys()];
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)].map((part) => new Map(part.map((n) => [n, tensors.get(n)!])));
    const files: Record<string, Uint8Array> = { "config.json": configBytes };
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      files[file] = writeSafetensors(s);
      for (const n of s.keys()) weightMap[n] = file;
    });
    files["model.safetensors.index.json"] = new TextEncoder().encode(JSON.stringify({ weight_map: weightMap }));
    const seen = new Map<string, LoadProgress>();
    expect(await logitsOf(files, (p) => p.stage === "read" && seen.set(p.file!, p))).toEqual(await expected);
    const shardSizes = [files["model-00001-of-00002.safetensors"].length, files["model-00002-of-00002.safetensors"].length];
    expect(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"].map((f) => [seen.get(f)?.loaded, seen.get(f)?.total])).toEqual(
      shardSizes.map((n) => [n, n]),
    );
  });

  test("a folder path (Node adapter) and a URL (streamed over HTTP)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-ckpt-"));
    writeFileSync(join(dir, "config.json"), configBytes);
    const st = writeSafetensors(tensors);
    writeFileSync(join(dir, "model.safetensors"), st);
    expect(await logitsOf(dir)).toEqual(await expected);

    const server = createServer((req, res) => {
      const body = req.url === "/m/config.json" ? configBytes : req.url === "/m/model.safetensors" ? st : undefined;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { "content-length": body.length });
      // Dribble the body in small chunks so the reader's chunk boundaries cross tensors.
      let at = 0;
      const pump = () => {
        if (at >= body.length) return void res.end();
        res.write(body.subarray(at, (at += 777)), pump);
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await logitsOf(`http://127.0.0.1:${port}/m`)).toEqual(await expected);
    } finally {
      server.close();
    }
  });
});

describe("broken checkpoints are clear errors", () => {
  const good = writeSafetensors(tensors);
  const load = (st: Uint8Array, cfg: Uint8Array = configBytes) =>
    PaliGemmaForConditionalGeneration.load({ "config.json": cfg, "model.safetensors": st }, { backend: new ReferenceBackend() });
  const withHeader = (edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void) => {
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
    edit(header);
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + good.length - 8 - n);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(good.subarray(8 + n), 8 + json.length);
    return out;
  };
  const last = [...tensors.keys()].at(-1)!;
  const first = [...tensors.keys()][0];

  test("a truncated file names the tensor it cut", async () => {
    await expect(load(good.subarray(0, good.length - 10))).rejects.toThrow(WeightsError);
    await expect(load(good.subarray(0, good.length - 10))).rejects.toThrow(new RegExp(`(truncated|ends at).*${last.replace(/\./g, "\\.")}|${last.replace(/\./g, "\\.")}.*(truncated|ends)`));
  });

  test("offsets that disagree with shape × dtype, overlap, or run past the file", async () => {
    await expect(load(withHeader((h) => (h[first].data_offsets[1] += 2)))).rejects.toThrow(/needs .* bytes but its data_offsets span/);
    await expect(
      load(withHeader((h) => {
        const [a, b] = Object.keys(h).slice(0, 2);
        const len = h[b].data_offsets[1] - h[b].data_offsets[0];
        h[b].data_offsets = [h[a].data_offsets[0], h[a].data_offsets[0] + len];
      })),
    ).rejects.toThrow(/overlap/);
    await expect(load(withHeader((h) => (h[last].data_offsets = h[last].data_offsets.map((o) => o + 1000))))).rejects.toThrow(
      new RegExp(`${last.replace(/\./g, "\\.")} ends at byte`),
    );
  });

  test("a missing tensor, a wrong shape, a non-float dtype, a bad header", async () => {
    const missing = new Map(tensors);
    missing.delete("language_model.model.layers.0.mlp.up_proj.weight");
    await expect(load(writeSafetensors(missing))).rejects.toThrow(/lacks 1 tensor.*layers\.0\.mlp\.up_proj\.weight \(or model\.language_model\.layers\.0\.mlp\.up_proj\.weight\)/);
    const misshapen = new Map(tensors);
    const t = misshapen.get("multi_modal_projector.linear.bias")!;
    misshapen.set("multi_modal_projector.linear.bias", { ...t, shape: [8, 2] });
    await expect(load(writeSafetensors(misshapen))).rejects.toThrow(/multi_modal_projector\.linear\.bias has shape \[8,2\] but config\.json implies \[16\]/);
    await expect(load(withHeader((h) => (h[first].dtype = "I16")))).rejects.toThrow(/dtype I16; weights must be F32, F16 or BF16/);
    const junk = new Uint8Array(16);
    new DataView(junk.buffer).setBigUint64(0, 8n, true);
    await expect(load(junk)).rejects.toThrow(/header is not valid JSON/);
    await expect(load(new Uint8Array(3))).rejects.toThrow(/too short/);
  });

  test("a model larger than the backend's memory limit is refused before any upload", async () => {
    const backend = await createWasmBackend({ maxMemoryBytes: 1024 });
    const error = await PaliGemmaForConditionalGeneration.load({ "config.json": configBytes, "model.safetensors": good }, { backend }).catch((e) => e);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(error.message).toMatch(/does not fit the wasm backend's limit of 0\.00 GiB in no dtype it can be loaded as: f16 /);
    expect(error.neededBytes).toBe(memoryPlan(parseConfig(config), "q4", { backend: "wasm" }).totalBytes);
    backend.dispose();
  });

    test("config problems", async () => {
    await expect(PaliGemmaForConditionalGeneration.load({ "model.safetensors": good }, { backend: new ReferenceBackend() })).rejects.toThrow(LoadError);
    const bad = { ...config, text_config: { ...config.text_config, num_key_value_heads: 3 } };
    await expect(load(good, new TextEncoder().encode(JSON.stringify(bad)))).rejects.toThrow(/not a multiple of num_key_value_heads 3/);
    const g2 = { ...config, text_config: { ...config.text_config, model_type: "gemma2" } };
    await expect(load(good, new TextEncoder().encode(JSON.stringify(g2)))).rejects.toThrow(/pre_feedforward_layernorm/);
  });
});
