// PaliGemmaProcessor: prompts and images -> the model's inputs, as HF's
// PaliGemmaProcessor builds them. Each row is
//   <image> x numImageTokens, <bos>, tokens of (prompt + "\n")
// (the prefix the model attends to bidirectionally), right-padded with <pad> to
// the longest row; pixel values are preprocessImage's, one image per prompt.
import { InputError } from "./errors.js";
import type { ImageInput } from "./image/input.js";
import { preprocessImage } from "./image/preprocess.js";
import { PALIGEMMA_NORMALIZATION, type PixelNormalization } from "./image/preprocessor-config.js";
import { maxImagePixels } from "./image/raw-image.js";
import type { Tokenizer } from "./tokenizer/index.js";

/** What the processor needs of the SDK's Tokenizer. */
export type ProcessorTokenizer = Pick<Tokenizer, "encode" | "bosId" | "padId" | "imageTokenId">;

export interface ProcessorOptions {
  /** Image tokens per image: (imageSize / patchSize)^2, e.g. 256 at 224. */
  numImageTokens: number;
  /** The vision encoder's square input size: 224, 448 or 896. */
  imageSize: number;
  /** Default PaliGemma's (x/255, then (x - 0.5) / 0.5); see parsePreprocessorConfig for a checkpoint's own. */
  normalization?: PixelNormalization;
  /** Images with more pixels are refused before decoding; default 100 M. */
  maxImagePixels?: number;
}

export interface ProcessorInput {
  /** One prompt per image, e.g. "caption en" or "detect cat". */
  text: string | string[];
  images: ImageInput | ImageInput[];
}

export interface ProcessorOutput {
  /** [batch, length] token ids, right-padded with the pad id. */
  inputIds: Int32Array;
  /** [batch, length] 1 for tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** [batch, 3, imageSize, imageSize] in [-1, 1]. */
  pixelValues: Float32Array;
  batch: number;
  length: number;
}

export interface PaliGemmaProcessor {
  (input: ProcessorInput): Promise<ProcessorOutput>;
  readonly tokenizer: ProcessorTokenizer;
  readonly numImageTokens: number;
  readonly imageSize: number;
  readonly normalization: PixelNormalization;
  /** One row's token ids, unpadded: image tokens, <bos>, prompt + "\n". */
  promptIds(prompt: string): Int32Array;
}

const IMAGE_TOKEN = "<image>";

export function PaliGemmaProcessor(tokenizer: ProcessorTokenizer, options: ProcessorOptions): PaliGemmaProcessor {
  const { numImageTokens, imageSize, normalization = PALIGEMMA_NORMALIZATION } = options;
  const limits = { maxImagePixels: maxImagePixels(options) };
  for (const [name, value] of Object.entries({ numImageTokens, imageSize })) {
    if (!Number.isInteger(value) || value <= 0) throw new InputError(`${name} must be a positive integer, got ${value}`);
  }

  const promptIds = (prompt: string): Int32Array => {
    if (typeof prompt !== "string") throw new InputError(`a prompt must be a string, got ${typeof prompt}`);
    if (prompt.includes(IMAGE_TOKEN)) {
      throw new InputError(`the prompt contains "${IMAGE_TOKEN}": the processor adds the image tokens itself`);
    }
    const text = tokenizer.encode(prompt + "\n", { addSpecialTokens: false }).ids;
    const ids = new Int32Array(numImageTokens + 1 + text.length);
    ids.fill(tokenizer.imageTokenId, 0, numImageTokens);
    ids[numImageTokens] = tokenizer.bosId;
    ids.set(text, numImageTokens + 1);
    return ids;
  };

  const processor = async (input: ProcessorInput): Promise<ProcessorOutput> => {
    if (!input || typeof input !== "object") throw new InputError("call the processor with { text, images }");
    const texts = Array.isArray(input.text) ? input.text : [input.text];
    const images = Array.isArray(input.images) ? input.images : [input.images];
    if (texts.length === 0) throw new InputError("the batch is empty: pass at least one prompt and one image");
    if (texts.length !== images.length) {
      throw new InputError(`got ${texts.length} prompts and ${images.length} images: PaliGemma takes one image per prompt`);
    }
    const batch = texts.length;

    const rows = texts.map(promptIds);
    const length = Math.max(...rows.map((r) => r.length));
    const inputIds = new Int32Array(batch * length).fill(tokenizer.padId);
    const attentionMask = new Int32Array(batch * length);
    rows.forEach((row, b) => {
      inputIds.set(row, b * length);
      attentionMask.fill(1, b * length, b * length + row.length);
    });

    const plane = 3 * imageSize * imageSize;
    const pixelValues = new Float32Array(batch * plane);
    await Promise.all(
      images.map((image, b) => preprocessImage(image, imageSize, pixelValues.subarray(b * plane, (b + 1) * plane), normalization, limits)),
    );
    return { inputIds, attentionMask, pixelValues, batch, length };
  };

  return Object.assign(processor, { tokenizer, numImageTokens, imageSize, normalization, promptIds });
}
