#!/usr/bin/env node
// paligemma-edge's command line (package.json "bin", built to dist/cli.js):
//   paligemma-edge caption|answer|ocr|detect|segment IMAGE [TEXT] [--model ID|DIR] [--dtype D] ...
//   paligemma-edge quantize SRC DST --dtype q4|q8
// Text answers stream to stdout as they decode; load progress and notes go to stderr,
// so `--json` output on stdout can be piped.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import encodePng, { init as initPngEncoder } from "@jsquash/png/encode.js";
import {
  decodeImage, PaliGemma, PaliGemmaError, prompts, quantize, type Detection, type RawImage, type Segmentation,
} from "../../src/runtime/node.js";
import { defaultCacheFolder } from "../../src/runtime/fs-cache.js";
import { CACHE_USAGE, cacheCommand } from "./cache-command.js";
import { relayWithoutDawnWarnings } from "./dawn-warnings.js";
import { drawResults, labelColours } from "./draw.js";
import { progressBar } from "./progress.js";

const TASKS = ["caption", "answer", "ocr", "detect", "segment"] as const;
type Task = (typeof TASKS)[number];

// Beside dist/ in a checkout; an installed package has no models/ and needs --model.
const BUNDLED_MODEL = fileURLToPath(new URL("../models/demo-shapes", import.meta.url));

const USAGE = `usage: paligemma-edge <task> IMAGE [TEXT] [options]

tasks:
  caption IMAGE            a short caption (--long for a description)
  answer IMAGE QUESTION    answer a question about the image
  ocr IMAGE                read the text in the image
  detect IMAGE LABELS      boxes for each label ("cat ; dog")
  segment IMAGE LABEL      boxes and masks (the model folder needs vae-oid.npz)
  quantize SRC DST         write a q4 or q8 copy of a model (paligemma-edge quantize --help)

options:
  --model ID|DIR     a Hugging Face repository (google/paligemma-3b-mix-224; gated: set HF_TOKEN)
                     or a folder with config.json, model.safetensors and tokenizer.json
                     (default: the bundled demo model, models/demo-shapes, which knows
                     only synthetic scenes of coloured shapes)
  --device D         auto (default: WebGPU on a hardware adapter, else WASM), webgpu or wasm
  --dtype D          the weights in memory: auto (default: the most precise that fits the
                     device), f16, q8 or q4 (a quantized folder loads only as its own dtype)
  --lang CODE        answer language for caption/answer (default en)
  --long             caption: a long description
  --max-tokens N     most new tokens (default 64)
  --json             print the result as JSON
  --out FILE.png     detect/segment: draw boxes and masks onto the image
  -q, --quiet        no notes, progress or timings on stderr (errors still print)
  -h, --help         this text

${CACHE_USAGE}`;

class UsageError extends Error {}

const DTYPES = ["auto", "f16", "q8", "q4"] as const;
type Dtype = (typeof DTYPES)[number];

interface Cli {
  task: Task;
  image: string;
  text?: string;
  model: string;
  device: "auto" | "webgpu" | "wasm";
  dtype: Dtype;
  lang?: string;
  long: boolean;
  maxNewTokens?: number;
  json: boolean;
  out?: string;
  quiet: boolean;
}

function parse(argv: string[]): Cli | undefined {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      device: { type: "string", default: "auto" },
      dtype: { type: "string", default: "auto" },
      lang: { type: "string" },
      long: { type: "boolean", default: false },
      "max-tokens": { type: "string" },
      json: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
      quiet: { type: "boolean", short: "q", default: false },
    },
  });
  if (values.help) return undefined;
  const [task, image, ...rest] = positionals;
  if (!TASKS.includes(task as Task)) throw new UsageError(task ? `unknown task "${task}"` : "no task given");
  if (!image) throw new UsageError(`${task} needs an IMAGE`);
  const text = rest.length ? rest.join(" ") : undefined;
  if ((task === "answer" || task === "detect" || task === "segment") && !text) {
    throw new UsageError(task === "answer" ? "answer needs a QUESTION" : `${task} needs what to look for, e.g. "cat ; dog"`);
  }
  if (text && (task === "caption" || task === "ocr")) throw new UsageError(`${task} takes no TEXT (got "${text}")`);
  const device = values.device;
  if (device !== "auto" && device !== "webgpu" && device !== "wasm") {
    throw new UsageError(`--device must be auto, webgpu or wasm, got "${device}"`);
  }
  const dtype = values.dtype as Dtype;
  if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype must be auto, f16, q8 or q4, got "${dtype}"`);
  if (values.out && task !== "detect" && task !== "segment") throw new UsageError("--out draws detect and segment results");
  if (values.out && !values.out.toLowerCase().endsWith(".png")) throw new UsageError("--out writes a PNG: give a .png name");
  const maxTokens = values["max-tokens"];
  if (maxTokens !== undefined && !/^[1-9]\d*$/.test(maxTokens)) {
    throw new UsageError(`--max-tokens must be a positive integer, got "${maxTokens}"`);
  }
  const model = values.model ?? (existsSync(BUNDLED_MODEL) ? BUNDLED_MODEL : undefined);
  if (!model) throw new UsageError("no --model given (e.g. --model google/paligemma-3b-mix-224, or a local folder)");
  return {
    task: task as Task,
    image,
    text,
    model,
    device,
    dtype,
    lang: values.lang,
    long: values.long,
    maxNewTokens: maxTokens === undefined ? undefined : Number(maxTokens),
    json: values.json,
    out: values.out,
    quiet: values.quiet,
  };
}

const isBundledModel = (model: string) => existsSync(model) && resolve(model) === BUNDLED_MODEL;

/**
 * Whether the demo model's note is due: once per user, then a marker file in the cache
 * folder says it was shown. Where that folder can't be written, the note shows every time.
 */
async function demoNoteDue(): Promise<boolean> {
  const marker = join(defaultCacheFolder(), ".demo-model-note-shown");
  if (existsSync(marker)) return false;
  await mkdir(dirname(marker), { recursive: true })
    .then(() => writeFile(marker, "the CLI showed its note on the bundled demo model\n"))
    .catch(() => undefined);
  return true;
}

const BUNDLED_MODEL_NOTE = `note: the bundled demo model (models/demo-shapes) is a ~1.6M-parameter PaliGemma trained
      only on synthetic scenes of circles, squares, triangles, stars and crosses (red, green,
      blue, yellow, purple, orange or white; small or large). Even there about one caption in
      four is wrong; on photos its answers are meaningless (see models/demo-shapes/README.md). For real use:
        --model google/paligemma-3b-mix-224   (gated: accept the license on huggingface.co, set HF_TOKEN)
        --model path/to/folder                (config.json, model.safetensors, tokenizer.json)`;

/** The prompt of a text task, which streams. */
function prompt(cli: Cli): string {
  if (cli.task === "caption") return prompts.caption({ lang: cli.lang, length: cli.long ? "long" : "short" });
  if (cli.task === "answer") return prompts.answer(cli.text ?? "", { lang: cli.lang });
  return prompts.ocr();
}

const labelsOf = (text: string) => text.split(";").map((l) => l.trim());

/** JSON of a result: typed arrays (token ids, masks to 3 decimals) become plain arrays. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v instanceof Float32Array ? Array.from(v, (x) => Math.round(x * 1000) / 1000) : v instanceof Int32Array ? Array.from(v) : v,
  );
}

/** A usage error (ours or parseArgs') is told with the usage text and exit code 2; anything else is thrown. */
function usageError(e: unknown, usage: string): number {
  if (!(e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) throw e;
  process.stderr.write(`error: ${(e as Error).message}\n\n${usage}\n`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "quantize") return quantizeCommand(argv.slice(1));
  let cli: Cli | undefined;
  try {
    if (argv[0] === "cache") return await cacheCommand(argv.slice(1), (message) => new UsageError(message));
    cli = parse(argv);
  } catch (e) {
    return usageError(e, USAGE);
  }
  if (!cli) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  // The image is decoded first: a file that is no image fails in a moment, not after a model load.
  const image = await decodeImage(new Uint8Array(await readFile(cli.image)));
  const say = cli.quiet ? () => {} : (text: string) => void process.stderr.write(text);
  if (!cli.quiet && isBundledModel(cli.model) && (await demoNoteDue())) say(BUNDLED_MODEL_NOTE + "\n");
  const t0 = performance.now();
  const pg = await PaliGemma.load(cli.model, { device: cli.device, dtype: cli.dtype, onProgress: cli.quiet ? undefined : progressBar() });
  const t1 = performance.now();
  say(`model loaded on ${pg.model.backend.name} as ${pg.memory.dtype} in ${((t1 - t0) / 1000).toFixed(1)} s\n`);
  try {
    const gen = { maxNewTokens: cli.maxNewTokens };
    if (cli.task === "detect" || cli.task === "segment") {
      const labels = labelsOf(cli.text!);
      const found: Detection[] | Segmentation[] =
        cli.task === "detect" ? await pg.detect(image, labels, gen) : await pg.segment(image, labels, gen);
      if (cli.json) {
        process.stdout.write(toJson(found) + "\n");
      } else if (found.length === 0) {
        process.stdout.write(`no ${labels.join(", ")} found\n`);
      } else {
        for (const { label, box } of found) {
          const r = (x: number) => Math.round(x);
          process.stdout.write(`${label}: (${r(box.x0)}, ${r(box.y0)}) - (${r(box.x1)}, ${r(box.y1)})\n`);
        }
      }
      if (cli.out) await writeDrawing(cli.out, image, found);
    } else if (cli.json) {
      process.stdout.write(toJson(await pg.generate(image, prompt(cli), gen)) + "\n");
    } else {
      for await (const piece of pg.stream(image, prompt(cli), gen)) process.stdout.write(piece);
      process.stdout.write("\n");
    }
    say(`${cli.task} took ${((performance.now() - t1) / 1000).toFixed(2)} s\n`);
  } finally {
    pg.dispose();
  }
  return 0;
}

const QUANTIZE_USAGE = `usage: paligemma-edge quantize SRC DST --dtype q4|q8

  SRC            a Hugging Face repository (gated ones need HF_TOKEN) or a folder with
                 config.json and model.safetensors (bf16, f16 or f32; one file, or shards
                 with model.safetensors.index.json)
  DST            a new or empty folder; it gets the quantized weights (at most 2 GB per file),
                 config.json with quantization_config, and SRC's tokenizer and side files
  --dtype q4|q8  4 or 8 bits per weight, in groups of 32 with one f16 scale each
                 (the format: README, "Weights: dtypes and quantization")

Load DST like any model (--model DST); it gives the weights that --model SRC --dtype q4|q8
quantizes at load time, bit for bit, without reading the full-precision file each time.`;

/** `paligemma-edge quantize SRC DST --dtype q4|q8`: the exported quantize(), one tensor at a time. */
async function quantizeCommand(argv: string[]): Promise<number> {
  let src: string, dst: string, dtype: "q4" | "q8";
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { dtype: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
    });
    if (values.help) {
      process.stdout.write(QUANTIZE_USAGE + "\n");
      return 0;
    }
    if (positionals.length !== 2) {
      throw new UsageError(positionals.length < 2 ? "quantize needs SRC and DST" : `quantize takes SRC and DST, got ${positionals.length} arguments`);
    }
    [src, dst] = positionals;
    if (values.dtype === undefined) throw new UsageError("quantize needs --dtype q4 or --dtype q8");
    if (values.dtype !== "q4" && values.dtype !== "q8") throw new UsageError(`--dtype must be q4 or q8, got "${values.dtype}"`);
    dtype = values.dtype;
  } catch (e) {
    return usageError(e, QUANTIZE_USAGE);
  }
  const t0 = performance.now();
  const result = await quantize(src, dst, { dtype, onProgress: progressBar(process.stderr, "quantized") });
  const mb = (result.bytes / 2 ** 20).toFixed(1);
  process.stderr.write(
    `wrote ${dst}: ${result.files.join(", ")} (${mb} MB; ${result.quantized} matrices quantized to ${dtype}, ${result.copied} tensors copied) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}

async function writeDrawing(path: string, image: RawImage, found: readonly (Detection | Segmentation)[]) {
  const rgba = drawResults(image, found);
  // Node's fetch has no file: URLs, so jSquash's encoder gets its .wasm from here.
  const require = createRequire(import.meta.url);
  await initPngEncoder(await readFile(require.resolve("@jsquash/png/codec/pkg/squoosh_png_bg.wasm")));
  const png = await encodePng({
    width: image.width,
    height: image.height,
    data: new Uint8ClampedArray(rgba.buffer),
    colorSpace: "srgb",
  } as ImageData);
  await writeFile(path, new Uint8Array(png));
  const legend = [...labelColours(found)].map(([label, [r, g, b]]) => `${label} = rgb(${r}, ${g}, ${b})`);
  process.stderr.write(`wrote ${path}${legend.length ? ` (${legend.join(", ")})` : " (nothing found to draw)"}\n`);
}

/** Whether this call loads Dawn: a task on a device other than wasm (cache, quantize, --help and bad usage do not). */
function probesDawn(argv: string[]): boolean {
  try {
    const cli = parse(argv);
    return cli !== undefined && cli.device !== "wasm";
  } catch {
    return false;
  }
}

// Where Dawn is loaded, the parent only relays the stderr of the CLI it runs as its child (dawn-warnings.ts).
const argv = process.argv.slice(2);
const relayed = probesDawn(argv) ? await relayWithoutDawnWarnings() : undefined;
if (relayed !== undefined) process.exitCode = relayed;
else main(argv).then(
  (code) => (process.exitCode = code),
  (e) => {
    // SDK errors say what to do; anything else is a bug worth its stack.
    const known = e instanceof PaliGemmaError || (e as NodeJS.ErrnoException).code === "ENOENT";
    process.stderr.write(known ? `error: ${e.message}\n` : `${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
