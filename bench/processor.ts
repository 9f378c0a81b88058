// Processor speed, ours vs @huggingface/transformers' PaliGemma processor in the same run:
//   - images/s: a 640x480 JPEG's bytes -> [3, 224, 224] pixel values (decode, resize, normalise);
//     transformers.js decodes and resizes with sharp (native libvips) in Node;
//   - tokens/s encoding a long multilingual text with the real 256k Gemma vocabulary;
//   - tokenizer load ms from the tokenizer.json text.
//   node bench/run.mjs bench/processor.ts [--seconds 2]
import "../src/runtime/node.js";
import "../src/image/node-codecs.js";
import { readFileSync } from "node:fs";
import { AutoProcessor, AutoTokenizer, env, RawImage } from "@huggingface/transformers";
import { preprocessImage } from "../src/image/preprocess.js";
import { paligemmaTokenizerJson, transformersProcessorFolder } from "../tests/processor/paligemma-tokenizer.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const seconds = Number(arg("seconds", "2"));

/** Calls per second of `fn`, after a warm-up, over about `seconds`. */
async function rate(fn: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await fn();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

/** Median ms of `runs` calls (loading is one-off work: measure each). */
async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[runs >> 1];
}

const row = (what: string, ours: number, theirs: number, unit: string, higherIsBetter: boolean) => {
  const ratio = higherIsBetter ? ours / theirs : theirs / ours;
  console.log(
    `${what.padEnd(34)} ours ${ours.toFixed(1).padStart(8)} ${unit.padEnd(9)} transformers.js ${theirs.toFixed(1).padStart(8)} ${unit.padEnd(9)} ${ratio.toFixed(2)}x ${ratio >= 1 ? "faster" : "SLOWER"}`,
  );
};

const json = paligemmaTokenizerJson();
const [root, name] = transformersProcessorFolder(json);
env.allowRemoteModels = false;
env.localModelPath = root;
const hf = (await AutoProcessor.from_pretrained(name)) as unknown as {
  image_processor: (image: unknown) => Promise<{ pixel_values: { data: Float32Array } }>;
};

// Images: the same bytes, in to pixel values out.
const jpeg = new Uint8Array(readFileSync(new URL("../tests/fixtures/processor/landscape.jpg", import.meta.url)));
const ourImages = await rate(() => preprocessImage(jpeg, 224));
const theirImages = await rate(async () => hf.image_processor(await RawImage.fromBlob(new Blob([jpeg]))));
console.log(`processor bench (${seconds}s per figure; Node ${process.version})`);
row("images/s, 640x480 JPEG -> 224", ourImages, theirImages, "images/s", true);

// Tokenizer: load and encode, if the SDK's tokenizer is present.
const text = [
  "PaliGemma is a vision-language model that takes images and text as input and generates text. ",
  "Das Modell beantwortet Fragen zu Bildern, beschreibt sie und erkennt Objekte. ",
  "这个模型可以描述图片、回答问题并检测物体。 ",
  "Модель умеет сегментировать объекты и читать текст на изображениях. 🚗🐱 ",
  "detect cat ; dog ; <loc0012><loc0345> segment car   with   spaces\n",
].join("").repeat(200);
const tokenizerFile = `${root}/${name}/tokenizer.json`;
const theirLoad = await medianMs(3, () => AutoTokenizer.from_pretrained(name));
const theirTokenizer = (await AutoTokenizer.from_pretrained(name)) as unknown as {
  encode(text: string, options: object): number[];
};
const theirTokens = theirTokenizer.encode(text, { add_special_tokens: false }).length;
const theirEncode = (await rate(() => theirTokenizer.encode(text, { add_special_tokens: false }))) * theirTokens;

// A variable specifier: this bench type-checks and runs before src/tokenizer lands.
const tokenizerPath = "../src/tokenizer/index.js";
const tokenizerModule = (await import(/* @vite-ignore */ tokenizerPath).catch(() => null)) as {
  loadTokenizer?(json: string): Promise<{ encode(t: string, o: object): { ids: Int32Array } }>;
} | null;
const loadTokenizer = tokenizerModule?.loadTokenizer;
if (!loadTokenizer) {
  console.log(`tokenizer: src/tokenizer has no loadTokenizer yet; transformers.js loads in ${theirLoad.toFixed(0)} ms, encodes ${theirEncode.toFixed(0)} tokens/s`);
} else {
  // Both loads start from the file on disk, as transformers.js's from_pretrained does.
  const ourLoad = await medianMs(3, () => loadTokenizer(readFileSync(tokenizerFile, "utf8")));
  const ours = await loadTokenizer(readFileSync(tokenizerFile, "utf8"));
  const ourTokens = ours.encode(text, { addSpecialTokens: false }).ids.length;
  if (ourTokens !== theirTokens) console.log(`warning: ${ourTokens} tokens, transformers.js ${theirTokens}`);
  const ourEncode = (await rate(() => ours.encode(text, { addSpecialTokens: false }))) * ourTokens;
  row(`tokens/s, ${theirTokens} tokens of text`, ourEncode, theirEncode, "tokens/s", true);
  row("tokenizer load (256k vocab), ms", ourLoad, theirLoad, "ms", false);
}
