export { loadTokenizer, type TokenizerSource } from "./load.js";
export type { Tokenizer, Encoding, EncodeOptions, DecodeOptions } from "./tokenizer.js";
