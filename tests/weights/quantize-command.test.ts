// quantize(src, dst, { dtype }) (the CLI's `paligemma-edge quantize`): a sharded bf16
// checkpoint in, the quantized format out, sharded under the size limit with an index,
// the side files copied, config.json with quantization_config; loading the output gives
// bit for bit the weights of loading the source with the same dtype; the source is
// streamed (output written before the source is read to its end); bad requests are
// clear errors.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { InputError, WeightsError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { quantize } from "../../src/runtime/node.js";
import type { ModelFiles } from "../../src/weights/files.js";
import { type OutputFolder, quantizeCheckpoint } from "../../src/weights/quantize-checkpoint.js";
import { quantizationConfig, type QuantBits } from "../../src/weights/quantize.js";
import { parseHeader } from "../../src/weights/safetensors.js";
import { ODD_QUANT_CONFIG, randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";
import { RecordingBackend } from "../harness/recording-backend.js";

const config = ODD_QUANT_CONFIG;
const tensors = randomCheckpoint(config, 9);
const side = {
  "tokenizer.json": '{"model": "not read here"}',
  "generation_config.json": '{"eos_token_id": [1, 107]}',
  "vae-oid.npz": "npz bytes, copied as they are",
};
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

/** The checkpoint as two bf16 shards with an index, plus the side files. */
function sourceFolder(): string {
  const dir = tmp("pg-src-");
  const names = [...tensors.keys()];
  const parts = [names.slice(0, 20), names.slice(20)];
  const weightMap: Record<string, string> = {};
  parts.forEach((part, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeFileSync(join(dir, file), writeSafetensors(new Map(part.map((n) => [n, tensors.get(n)!]))));
    for (const n of part) weightMap[n] = file;
  });
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: weightMap }));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  for (const [name, text] of Object.entries(side)) writeFileSync(join(dir, name), text);
  return dir;
}

const headerOf = (path: string) => {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return parseHeader(JSON.parse(buf.subarray(8, 8 + n).toString()), path, buf.length - 8 - n);
};

describe.each([4, 8] as QuantBits[])("quantize to q%i", (bits) => {
  const dtype = `q${bits}` as const;

  test("writes the format, sharded with an index, side files copied; it loads to the weights of loading the source as " + dtype, async () => {
    const src = sourceFolder();
    const dst = join(tmp("pg-dst-"), "out");
    const maxShardBytes = 12_000;
    const result = await quantize(src, dst, { dtype, maxShardBytes });
    expect(result.quantized).toBe(2 * 6 + 1 + 2 * 7 + 1);
    expect(result.copied).toBe(tensors.size - result.quantized);

    const listed = readdirSync(dst).sort();
    expect(listed).toEqual(["config.json", ...result.files, "generation_config.json", "model.safetensors.index.json", "tokenizer.json", "vae-oid.npz"].sort());
    expect(result.files.length).toBeGreaterThan(2);
    result.files.forEach((f, i) => expect(f).toBe(`model-${String(i + 1).padStart(5, "0")}-of-${String(result.files.length).padStart(5, "0")}.safetensors`));
    const index = JSON.parse(readFileSync(join(dst, "model.safetensors.index.json"), "utf8"));
    let total = 0;
    for (const f of result.files) {
      const infos = headerOf(join(dst, f));
      const bytes = infos.reduce((n, t) => n + t.end - t.begin, 0);
      total += bytes;
      // At most the limit, unless a single tensor is larger.
      expect(bytes <= maxShardBytes || infos.length === 1, `${f}: ${bytes} bytes`).toBe(true);
      for (const t of infos) expect(index.weight_map[t.name], t.name).toBe(f);
    }
    expect(index.metadata.total_size).toBe(total);
    const down = headerOf(join(dst, index.weight_map["language_model.model.layers.1.mlp.down_proj.qweight"])).find((t) => t.name.endsWith("layers.1.mlp.down_proj.qweight"))!;
    expect([down.dtype, down.shape]).toEqual(["U32", [48, (96 * bits) / 32]]);
    expect(Object.keys(index.weight_map).some((n) => n.endsWith("embed_tokens.weight"))).toBe(false);
    for (const [name, text] of Object.entries(side)) expect(readFileSync(join(dst, name), "utf8")).toBe(text);
    expect(JSON.parse(readFileSync(join(dst, "config.json"), "utf8"))).toEqual({ ...config, quantization_config: quantizationConfig(bits) });

    const viaFile = new RecordingBackend();
    const atLoad = new RecordingBackend();
    const a = await PaliGemmaForConditionalGeneration.load(dst, { backend: viaFile });
    const b = await PaliGemmaForConditionalGeneration.load(src, { backend: atLoad, dtype });
    expect(a.memory?.dtype).toBe(dtype);
    expect(viaFile.quantized.size).toBe(result.quantized);
    expect(viaFile.quantized).toEqual(atLoad.quantized);
    expect(viaFile.f16).toEqual(atLoad.f16);
    const inputs = { inputIds: Int32Array.from([99, 99, 99, 99, 2, 5, 7]), pixelValues: Float32Array.from({ length: 192 }, (_, i) => Math.cos(i)) };
    expect((await a.forward(inputs)).logits).toEqual((await b.forward(inputs)).logits);
  });
});

test("one output file when a one-file source fits: model.safetensors, no index", async () => {
  // Output files are cut per source file (each planned from its own header), so a one-file source gives one file.
  const src = tmp("pg-src-");
  writeFileSync(join(src, "config.json"), JSON.stringify(config));
  writeFileSync(join(src, "model.safetensors"), writeSafetensors(tensors));
  const dst = join(tmp("pg-dst-"), "one");
  const result = await quantize(src, dst, { dtype: "q4" });
  expect(result.files).toEqual(["model.safetensors"]);
  expect(readdirSync(dst)).not.toContain("model.safetensors.index.json");
  expect(statSync(join(dst, "model.safetensors")).size).toBe(result.bytes + 8 + Number(readFileSync(join(dst, "model.safetensors")).readBigUInt64LE(0)));
});

test("streams: the first output file is written before the source is read to its end", async () => {
  const bytes = writeSafetensors(tensors);
  let served = 0;
  let servedWhenFirstClosed = -1;
  const source: ModelFiles = {
    where: "a slow source",
    async open(name) {
      if (name === "config.json") return { size: 0, stream: () => new Blob([JSON.stringify(config)]).stream() };
      if (name !== "model.safetensors") return undefined;
      return {
        size: bytes.length,
        stream: () =>
          new ReadableStream<Uint8Array>({
            pull(c) {
              if (served >= bytes.length) return c.close();
              c.enqueue(bytes.slice(served, (served += 1000)));
            },
          }),
      };
    },
  };
  // An output that only notes when the first weight file is complete.
  const output: OutputFolder = {
    async create(name) {
      return {
        async write() {},
        async close() {
          if (servedWhenFirstClosed < 0 && name.endsWith(".safetensors.partial")) servedWhenFirstClosed = served;
        },
      };
    },
    async rename() {},
  };
  await quantizeCheckpoint(source, output, { dtype: "q4", maxShardBytes: 5000 });
  expect(servedWhenFirstClosed).toBeGreaterThan(0);
  expect(servedWhenFirstClosed).toBeLessThan(bytes.length / 2);
});

test("bad requests are clear errors", async () => {
  const src = sourceFolder();
  await expect(quantize(src, join(tmp("pg-dst-"), "x"), { dtype: "q3" as "q4" })).rejects.toThrow(/dtype "q8" or "q4", got "q3"/);
  const dst = join(tmp("pg-dst-"), "y");
  await quantize(src, dst, { dtype: "q8" });
  await expect(quantize(dst, join(tmp("pg-dst-"), "z"), { dtype: "q4" })).rejects.toThrow(/already quantized/);
  await expect(quantize(src, dst, { dtype: "q4" })).rejects.toThrow(InputError);
  await expect(quantize(src, dst, { dtype: "q4" })).rejects.toThrow(/is not empty/);
  const bad = tmp("pg-bad-");
  const misshapen = new Map(tensors);
  const t = misshapen.get("language_model.model.layers.0.mlp.up_proj.weight")!;
  misshapen.set("language_model.model.layers.0.mlp.up_proj.weight", { ...t, shape: [35, 96] });
  writeFileSync(join(bad, "config.json"), JSON.stringify(config));
  writeFileSync(join(bad, "model.safetensors"), writeSafetensors(misshapen));
  await expect(quantize(bad, join(tmp("pg-dst-"), "w"), { dtype: "q4" })).rejects.toThrow(WeightsError);
  await expect(quantize(bad, join(tmp("pg-dst-"), "w"), { dtype: "q4" })).rejects.toThrow(/layers\.0\.mlp\.up_proj\.weight has shape \[35,96\] but config\.json implies \[70,48\]/);
});
