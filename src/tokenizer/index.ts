export type { Tokenizer, Encoding, EncodeOptions, DecodeOptions } from "./tokenizer.js";
