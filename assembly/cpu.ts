// The WASM CPU backend's kernels, one file per op family under cpu/. Each takes
// pointers into this module's memory and sizes, and allocates nothing: the JS
// side (src/backends/wasm/) owns the memory and passes scratch where a kernel
// needs it. See src/backends/backend.ts for each op's contract.
export { heapBase, setThread, MAX_THREADS } from "./cpu/memory";
export { f16FirstNonFinite } from "./cpu/f16";
export { embed } from "./cpu/embed";
export { patchify } from "./cpu/patchify";
export { linear, linearPanelBytes, LINEAR_GELU, LINEAR_ACCUMULATE } from "./cpu/linear";
export { quantGemvPrepare, quantGemv, quantGemm, quantGemvScratchBytes, embedQ, QUANT_GEMM_MIN_ROWS } from "./cpu/linear-q";
export { layerNorm, rmsNorm } from "./cpu/norms";
export { geluMul, softcap } from "./cpu/activations";
export { rope } from "./cpu/rope";
export { attention, attentionScratchBytes } from "./cpu/attention";
export { scatterRows, gatherRows } from "./cpu/rows";
export { conv2d, convTranspose2d, convPanelBytes } from "./cpu/conv";
export { argmax, sample, sampleScratchBytes } from "./cpu/sample";
