// PaliGemmaProcessor against @huggingface/transformers' PaliGemmaProcessor (the
// oracle) on the same PaliGemma tokenizer: input ids and attention masks, single
// and batched; pixel values against the Pillow goldens; the typed errors.
import { readFileSync } from "node:fs";
import { AutoProcessor, env, RawImage } from "@huggingface/transformers";
import { Tokenizer } from "@huggingface/tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import "../../src/image/node-codecs.js";
import { preprocessImage } from "../../src/image/preprocess.js";
import { PaliGemmaProcessor, type ProcessorTokenizer } from "../../src/processor.js";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";
import { IMAGE_TOKEN_ID, paligemmaTokenizerJson, transformersProcessorFolder } from "./paligemma-tokenizer.js";

const SIZE = 224;
const TOKENS = 256;
const processorGolden = readTensors(`${FIXTURES}processor/golden.safetensors`);
const file = (path: string) => new Uint8Array(readFileSync(`${FIXTURES}${path}`));

// The SDK's own tokenizer (src/tokenizer) is being written beside this; until then the
// processor runs on @huggingface/tokenizers over the same tokenizer.json.
function referenceTokenizer(json: object): ProcessorTokenizer {
  const t = new Tokenizer(json, {});
  const id = (token: string) => t.token_to_id(token)!;
  return {
    encode: (text, options) => ({
      ids: Int32Array.from(t.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }).ids),
    }),
    bosId: id("<bos>"),
    padId: id("<pad>"),
    imageTokenId: id("<image>"),
  };
}

type HfProcessor = (images: unknown, text: unknown, options: object) => Promise<Record<string, { data: ArrayLike<bigint | number>; dims: number[] }>>;

let ours: PaliGemmaProcessor;
let hf: HfProcessor;
beforeAll(async () => {
  const json = paligemmaTokenizerJson();
  ours = PaliGemmaProcessor(referenceTokenizer(json), { numImageTokens: TOKENS, imageSize: SIZE });
  const [root, name] = transformersProcessorFolder(json, SIZE, TOKENS);
  env.allowRemoteModels = false;
  env.localModelPath = root;
  hf = (await AutoProcessor.from_pretrained(name)) as unknown as HfProcessor;
});

const image = () => new RawImage(new Uint8ClampedArray(8 * 6 * 3).fill(90), 8, 6, 3);
const numbers = (t: { data: ArrayLike<bigint | number> }) => Array.from(t.data, Number);

const PROMPTS = [
  "caption en",
  "detect cat ; dog",
  "segment the left car",
  "answer en Was steht auf dem Schild? 🚗",
  "",
  "  leading, trailing  and  double  spaces  ",
  "ocr\n",
  "<loc0100><loc0200><loc0300><loc0400> cat <seg012>",
  "描述这张图片 これは何ですか 이것은 무엇입니까",
  "caption es " + "una frase bastante larga con muchas palabras ".repeat(40),
];

describe("input ids equal transformers.js's PaliGemmaProcessor", () => {
  for (const prompt of PROMPTS) {
    it(JSON.stringify(prompt.slice(0, 40)), async () => {
      const expected = await hf(image(), prompt, { add_special_tokens: false });
      const out = await ours({ text: prompt, images: file("processor/tiny.png") });
      expect([out.batch, out.length]).toEqual(expected.input_ids.dims);
      expect(Array.from(out.inputIds)).toEqual(numbers(expected.input_ids));
      expect(Array.from(out.attentionMask)).toEqual(numbers(expected.attention_mask));
      // The layout itself: image tokens, then <bos>, then the prompt's tokens ending in "\n".
      expect(out.inputIds.subarray(0, TOKENS).every((id) => id === IMAGE_TOKEN_ID)).toBe(true);
      expect(out.inputIds[TOKENS]).toBe(2);
    });
  }

  it("a batch: right-padded with <pad>, attention 0 there", async () => {
    const prompts = ["caption en", "detect a very long list ; of ; things ; here", "ocr"];
    // transformers.js counts every image of the batch into each prompt unless the
    // prompt places its <image> itself, which HF Python does per sample.
    const expected = await hf([image(), image(), image()], prompts.map((p) => "<image>" + p), {
      add_special_tokens: false,
      padding: true,
    });
    const images = ["tiny.png", "upscale.png", "same.jpg"].map((f) => file(`processor/${f}`));
    const out = await ours({ text: prompts, images });
    expect([out.batch, out.length]).toEqual(expected.input_ids.dims);
    expect(Array.from(out.inputIds)).toEqual(numbers(expected.input_ids));
    expect(Array.from(out.attentionMask)).toEqual(numbers(expected.attention_mask));
    expect(out.attentionMask.subarray(0, out.length).includes(0)).toBe(true); // the short row is padded
    expect(out.inputIds[out.length - 1]).toBe(0);
  });
});

describe("pixel values", () => {
  it("one image per row, each the Pillow-exact preprocessing", async () => {
    const names = ["upscale", "landscape", "tiny"];
    const out = await ours({ text: ["a", "b", "c"], images: names.map((n) => file(`processor/${n}.png`)) });
    const plane = 3 * SIZE * SIZE;
    expect(out.pixelValues.length).toBe(3 * plane);
    names.forEach((n, b) => {
      const expected = processorGolden.get(`${n}.pixel_values`)!.data as Float32Array;
      expectClose(out.pixelValues.subarray(b * plane, (b + 1) * plane), expected, { atol: 0 }, n);
    });
  });

  it("other image sizes (448, 1024 tokens)", async () => {
    const p = PaliGemmaProcessor(ours.tokenizer, { numImageTokens: 1024, imageSize: 448 });
    const out = await p({ text: "caption en", images: file("processor/landscape.png") });
    expect(out.length).toBe(ours.promptIds("caption en").length - TOKENS + 1024);
    expectClose(out.pixelValues, await preprocessImage(file("processor/landscape.png"), 448), { atol: 0 }, "448");
  });
});

describe("errors", () => {
  const png = file("processor/tiny.png");
  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    ["more prompts than images", () => ours({ text: ["a", "b"], images: [png] }), "INVALID_INPUT", /2 prompts and 1 images/],
    ["no prompts", () => ours({ text: [], images: [] }), "INVALID_INPUT", /empty/],
    ["prompt with <image>", () => ours({ text: "<image>caption en", images: png }), "INVALID_INPUT", /image tokens itself/],
    ["a non-string prompt", () => ours({ text: [3 as unknown as string], images: [png] }), "INVALID_INPUT", /string/],
    [
      "an empty image",
      () => ours({ text: "a", images: { width: 0, height: 0, channels: 3, data: new Uint8Array(0) } }),
      "INVALID_IMAGE",
      /0x0/,
    ],
    ["a cut file", () => ours({ text: "a", images: png.subarray(0, 40) }), "INVALID_IMAGE", /the PNG file is broken: it ends at byte 40 without an IEND chunk: the file is truncated/],
    ["an unsupported format", () => ours({ text: "a", images: file("image/tiny.gif") }), "UNSUPPORTED_IMAGE_FORMAT", /GIF/],
  ];
  for (const [what, call, code, message] of cases) {
    it(`${what} -> ${code}`, async () => {
      const error = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code });
      expect(String((error as Error).message)).toMatch(message);
    });
  }

  it("bad options", () => {
    expect(() => PaliGemmaProcessor(ours.tokenizer, { numImageTokens: 0, imageSize: 224 })).toThrow(/numImageTokens/);
    expect(() => PaliGemmaProcessor(ours.tokenizer, { numImageTokens: 256, imageSize: 22.4 })).toThrow(/imageSize/);
  });
});
