// paligemma-edge: the public API. Only Web-standard code is reachable from here;
// runtime adapters (src/runtime/*) add what differs per runtime.

// The SDK's face: load a model, run tasks.
export { PaliGemma, type PaliGemmaLoadOptions, type GenerateResult, type Segmentation, type Timings, type Detection } from "./paligemma.js";
export type { Box } from "./tasks/detect.js";
export type { GenerationOptions } from "./tasks/generate.js";
export { prompts } from "./tasks/prompts.js";
export { createWorkerEngine, type PaliGemmaEngine, type WorkerLike } from "./worker/engine.js";

// The model, for forward passes of your own.
export {
  PaliGemmaForConditionalGeneration, type AttentionChoice, type ForwardInputs, type ForwardOutput, type LoadOptions, type ModelOptions,
} from "./model/paligemma.js";
export { KVCache } from "./model/kv-cache.js";
export { memoryPlan, type DtypeOption, type MemoryPlan, type MemoryReport } from "./model/memory-plan.js";
export type { WeightDtype } from "./weights/quantize.js";
export { parseConfig, type PaliGemmaConfig, type TextConfig, type VisionConfig } from "./config.js";
export { createBackend, selectBackend, NoWebGPUError, type BackendInfo, type DeviceOption } from "./backends/select.js";
export type { Backend } from "./backends/backend.js";

// Pieces usable alone.
export { loadMaskDecoder, type MaskDecoder, type MaskDecoderOptions } from "./model/mask-decoder.js";
export { parseDetections } from "./tasks/detect.js";
export { parseSegments, type SegmentCodes } from "./tasks/segment.js";
export { stripLocationTokens } from "./tasks/text.js";
export { loadTokenizer, type TokenizerSource, type Tokenizer, type Encoding, type EncodeOptions, type DecodeOptions } from "./tokenizer/index.js";
export { PaliGemmaProcessor, type ProcessorTokenizer, type ProcessorOptions, type ProcessorInput, type ProcessorOutput } from "./processor.js";
export { decodeImage, setImageCodecWasm, type ImageFormat, type CodecWasmSource } from "./image/decode.js";
export { resizeImage } from "./image/resize.js";
export { toRGBImage, type ImageInput, type ImageDataLike } from "./image/input.js";
export { preprocessImage } from "./image/preprocess.js";
export { PALIGEMMA_NORMALIZATION, parsePreprocessorConfig, type PixelNormalization } from "./image/preprocessor-config.js";
export { DEFAULT_MAX_IMAGE_PIXELS, type ImageLimits, type RawImage } from "./image/raw-image.js";

// Model sources.
export { hubFiles } from "./weights/hub.js";
export type { CachedModel, CacheOptions } from "./weights/cache-manager.js";
export type { ModelCache, CachedKey, CacheMeta } from "./weights/cache.js";
export type { ModelSource, ModelFiles, ModelFile, FileContent, FetchOptions } from "./weights/files.js";
export type { LoadProgress, LoadStage } from "./weights/progress.js";

// Errors: every one a PaliGemmaError with a `code`.
export * from "./errors.js";
export { DeviceLostError, GPUOutOfMemoryError } from "./backends/webgpu/errors.js";
