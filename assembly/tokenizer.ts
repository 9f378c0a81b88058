// tokenizer.wasm: a Hugging Face BPE tokenizer (tokenizer.json) whose vocabulary,
// merge rules and encoding live in WASM memory. The JS side (src/tokenizer/) reads
// the small parts of the file, splits out added tokens and normalises; this module
// reads the large parts straight from the JSON bytes and runs BPE.
export { allocate, release } from "./image/memory";
export { indexJson, errorAddress } from "./tokenizer/json";
export { loadVocab, addTokens, findToken, vocabSize, tokenBytes, tokenLength } from "./tokenizer/vocab";
export { loadMerges } from "./tokenizer/merges";
export { configure, encode } from "./tokenizer/encode";
